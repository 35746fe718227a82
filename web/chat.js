// chat.js - the chat app (chat.html). Accounts: POST /api/auth/register, /login (the token is
// kept in sessionStorage), /logout. Conversations: GET /api/chat/conversations; history:
// GET /api/chat/conversations/{peer}/messages?limit=50 and "load older" with before=<oldest id>;
// send: POST /api/chat/messages {to,text} (202 {id, conversation}). Live delivery comes from
// GET /api/chat/stream, which authenticates by the Authorization header only, so the stream is
// read with fetch() (readEventStream) rather than EventSource, resuming with Last-Event-ID.
import { request, errorText, el, fmtTime, readEventStream } from './api.js';

const SESSION_KEY = 'vote-chat-session';
const PAGE = 50;
const $ = (id) => document.getElementById(id);

const state = {
  session: null,        // {token, expires_at, username}
  convs: [],            // [{peer, last_message, unread}]
  peer: null,           // open conversation
  msgs: new Map(),      // id -> message of the open conversation (pending: answered 202, not yet stored)
  nextBefore: null,     // cursor for "load older"
  lastEventId: null,    // newest message id seen: stream resume point
  stream: null,         // AbortController of the live stream
};

// ---- session --------------------------------------------------------------------------
function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s?.token && (!s.expires_at || s.expires_at * 1000 > Date.now())) return s;
  } catch { /* corrupt entry: start over */ }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

function notice(id, kind, text) {
  const n = $(id);
  n.className = `notice ${kind}`;
  n.textContent = text || '';
}

// Marks the input named by an error's "field" so the user sees what to fix.
function markField(r) {
  for (const f of ['username', 'password', 'peer', 'text']) $(f).removeAttribute('aria-invalid');
  const field = r?.body?.field;
  if (field === 'to') $('peer').setAttribute('aria-invalid', 'true');
  else if (field && $(field)) $(field).setAttribute('aria-invalid', 'true');
}

async function onAuth(e) {
  e.preventDefault();
  const action = e.submitter?.value === 'register' ? 'register' : 'login';
  const creds = { username: $('username').value.trim(), password: $('password').value };
  const buttons = $('auth-form').querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (action === 'register') {
      const r = await request('POST', '/api/auth/register', { json: creds });
      markField(r);
      if (r.status !== 201) { notice('auth-result', 'err', errorText(r)); return; }
      notice('auth-result', 'ok', `Account ${creds.username} created; logging in...`);
    }
    const r = await request('POST', '/api/auth/login', { json: creds });
    markField(r);
    if (r.status !== 200 || !r.body?.token) { notice('auth-result', 'err', errorText(r)); return; }
    const session = { token: r.body.token, expires_at: r.body.expires_at, username: r.body.username || creds.username };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    $('password').value = '';
    notice('auth-result', 'ok', '');
    signedIn(session);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

async function logout() {
  const r = await request('POST', '/api/auth/logout', { token: state.session.token });
  // 401: the token is dead already. Anything else but 204 means it may still work: say so.
  if (r.status !== 204 && r.status !== 401) { notice('chat-result', 'err', `Logout failed, still signed in: ${errorText(r)}`); return; }
  signedOut('Logged out.');
}

function signedIn(session) {
  state.session = session;
  $('auth-card').classList.add('hidden');
  $('chat-card').classList.remove('hidden');
  const exp = session.expires_at ? ` (until ${fmtTime(session.expires_at * 1000)})` : '';
  $('whoami').replaceChildren(`signed in as ${session.username}${exp} `,
    el('button', { class: 'secondary', onclick: logout }, 'Log out'));
  loadConversations().then(() => {
    startStream();
    const peer = new URLSearchParams(location.hash.slice(1)).get('peer');
    if (peer) openConversation(peer);
  });
}

function signedOut(message, isError = false) {
  state.stream?.abort();
  Object.assign(state, { session: null, convs: [], peer: null, stream: null, lastEventId: null, nextBefore: null });
  state.msgs.clear();
  sessionStorage.removeItem(SESSION_KEY);
  history.replaceState(null, '', location.pathname);
  $('whoami').replaceChildren();
  $('chat-card').classList.add('hidden');
  $('auth-card').classList.remove('hidden');
  notice('auth-result', isError ? 'err' : 'ok', message);
  notice('chat-result', '', '');
  $('message-list').replaceChildren();
  $('thread-title').textContent = 'No conversation open';
}

// A 401 on any authenticated call: the token expired or was revoked.
function unauthorized(r) {
  if (r.status !== 401) return false;
  signedOut(`Session ended: ${errorText(r)}. Please log in again.`, true);
  return true;
}

// ---- conversations --------------------------------------------------------------------
async function loadConversations() {
  const r = await request('GET', '/api/chat/conversations', { token: state.session.token });
  if (unauthorized(r)) return;
  if (!r.ok) { notice('chat-result', 'err', `Conversations: ${errorText(r)}`); return; }
  state.convs = Array.isArray(r.body?.conversations) ? r.body.conversations : [];
  for (const c of state.convs) bumpLastEventId(c.last_message?.id);
  renderConversations();
}

function renderConversations() {
  $('convs-empty').classList.toggle('hidden', state.convs.length > 0);
  $('convs').replaceChildren(...state.convs.map((c) => el('li', {
    class: c.peer === state.peer ? 'active' : '', onclick: () => openConversation(c.peer),
  }, el('span', { class: 'peer' }, c.peer),
  el('span', { class: 'last' }, c.last_message ? `${c.last_message.from === state.session.username ? 'you: ' : ''}${c.last_message.text}` : ''),
  c.unread > 0 && c.peer !== state.peer ? el('span', { class: 'badge' }, String(c.unread)) : null)));
}

// Keeps the conversation list current from a message seen live or sent.
function touchConversation(m) {
  const me = state.session.username;
  const peer = m.from === me ? m.to : m.from;
  let c = state.convs.find((x) => x.peer === peer);
  if (!c) { c = { peer, last_message: null, unread: 0 }; state.convs.push(c); }
  // Only a message newer than the last one known counts: a resumed stream replays some.
  if (!c.last_message?.id || m.id > c.last_message.id) {
    c.last_message = m;
    if (m.from !== me && peer !== state.peer) c.unread = (c.unread || 0) + 1;
  }
  state.convs.sort((a, b) => String(b.last_message?.id || '').localeCompare(String(a.last_message?.id || '')));
  renderConversations();
}

// ---- one conversation -----------------------------------------------------------------
async function openConversation(peer) {
  peer = peer.trim().toLowerCase();
  if (!peer) return;
  state.peer = peer;
  state.msgs.clear();
  state.nextBefore = null;
  $('peer').value = '';
  $('thread-title').textContent = `with ${peer}`;
  $('message-list').replaceChildren();
  $('older').classList.add('hidden');
  notice('chat-result', '', '');
  history.replaceState(null, '', `#peer=${encodeURIComponent(peer)}`);
  const ok = await loadPage(null);
  if (!ok || state.peer !== peer) return;
  $('text').disabled = false;
  $('send').disabled = false;
  $('text').focus();
  const c = state.convs.find((x) => x.peer === peer);
  if (c) c.unread = 0;
  renderConversations();
}

// Loads the newest page (before = null) or the page before the oldest shown message.
async function loadPage(before) {
  const peer = state.peer;
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (before) q.set('before', before);
  const r = await request('GET', `/api/chat/conversations/${encodeURIComponent(peer)}/messages?${q}`,
    { token: state.session.token });
  if (unauthorized(r)) return false;
  if (peer !== state.peer) return false;
  markField(r);
  if (!r.ok) { notice('chat-result', 'err', errorText(r)); return false; }
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  for (const m of r.body?.messages || []) addMessage(m, false);
  state.nextBefore = r.body?.has_more ? r.body.next_before : null;
  $('older').classList.toggle('hidden', !state.nextBefore);
  renderMessages();
  box.scrollTop = before ? box.scrollHeight - fromBottom : box.scrollHeight;
  return true;
}

function addMessage(m, fromStream) {
  if (!m?.id) return;
  bumpLastEventId(m.id);
  const known = state.msgs.get(m.id);
  if (known && !known.pending) return;   // duplicate (backlog after resume, history + stream)
  state.msgs.set(m.id, m);
  if (fromStream) renderMessages(true);
}

function renderMessages(stickToBottom = false) {
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const me = state.session.username;
  const list = [...state.msgs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (!list.length) {
    $('message-list').replaceChildren(el('p', { class: 'muted' }, 'No messages yet: say hello.'));
    return;
  }
  $('message-list').replaceChildren(...list.map((m) => el('div', {
    class: `msg${m.from === me ? ' mine' : ''}${m.pending ? ' pending' : ''}`, title: m.id,
  }, m.text, el('span', { class: 'meta' }, m.pending ? 'sent, waiting for delivery...' : fmtTime(m.received_at)))));
  if (stickToBottom && atBottom) box.scrollTop = box.scrollHeight;
}

async function onSend(e) {
  e.preventDefault();
  const peer = state.peer;
  const text = $('text').value;
  if (!peer || !text) return;
  $('send').disabled = true;
  const r = await request('POST', '/api/chat/messages', { json: { to: peer, text }, token: state.session.token });
  $('send').disabled = false;
  if (unauthorized(r)) return;
  markField(r);
  if (r.status !== 202 || !r.body?.id) { notice('chat-result', 'err', errorText(r)); return; }
  notice('chat-result', '', '');
  $('text').value = '';
  const m = { id: r.body.id, conversation: r.body.conversation, from: state.session.username, to: peer, text, pending: true };
  if (peer === state.peer && !state.msgs.has(m.id)) {
    state.msgs.set(m.id, m);
    renderMessages();
    $('messages').scrollTop = $('messages').scrollHeight;
  }
  touchConversation(m);
}

// ---- live stream ----------------------------------------------------------------------
function bumpLastEventId(id) {
  if (id && (!state.lastEventId || id > state.lastEventId)) state.lastEventId = id;
}

async function startStream() {
  if (!state.session || state.stream) return;
  const ctl = new AbortController();
  state.stream = ctl;
  let delay = 1000;
  while (!ctl.signal.aborted && state.session) {
    try {
      await readEventStream('/api/chat/stream', {
        token: state.session.token, lastEventId: state.lastEventId, signal: ctl.signal,
        onOpen: () => { delay = 1000; $('stream-state').replaceChildren(el('span', { class: 'badge live' }, 'live')); },
        onEvent: onStreamEvent,
      });
    } catch (err) {
      if (ctl.signal.aborted) return;
      if (err.response && unauthorized(err.response)) return;
      if (err.response) notice('chat-result', 'err', `Live stream: ${errorText(err.response)}`);
    }
    if (ctl.signal.aborted) return;
    $('stream-state').replaceChildren(el('span', { class: 'badge warn' }, `reconnecting in ${delay / 1000} s`));
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

function onStreamEvent(ev) {
  if (ev.event !== 'message') return;
  let m;
  try { m = JSON.parse(ev.data); } catch { return; }
  if (!m?.id) return;
  const me = state.session.username;
  const peer = m.from === me ? m.to : m.from;
  if (peer === state.peer) addMessage(m, true);
  else bumpLastEventId(m.id);
  touchConversation(m);
}

// ---- wiring ---------------------------------------------------------------------------
$('auth-form').addEventListener('submit', onAuth);
$('peer-form').addEventListener('submit', (e) => { e.preventDefault(); openConversation($('peer').value); });
$('send-form').addEventListener('submit', onSend);
$('older').addEventListener('click', () => { if (state.nextBefore) loadPage(state.nextBefore); });
window.addEventListener('hashchange', () => {
  const peer = new URLSearchParams(location.hash.slice(1)).get('peer');
  if (state.session && peer && peer !== state.peer) openConversation(peer);
});
const saved = loadSession();
if (saved) signedIn(saved);
