// results.js - the results dashboard (index.html). Lists the polls (GET /api/polls), shows
// the chosen poll's totals as bars and its per-attribute breakdown (GET .../results), the
// recent votes (GET .../recent?limit=20), stays live with an EventSource on .../stream
// ("results" events carry a full snapshot) and falls back to polling every 2 s when the
// stream fails, trying the stream again every 30 s. The vote form posts to /api/votes.
import { request, errorText, el, fmtInt, fmtTime } from './api.js';

const POLL_MS = 2000;          // fallback polling interval
const STREAM_RETRY_MS = 30000; // how long to poll before trying the stream again
const RECENT_MIN_GAP_MS = 2000;

const $ = (id) => document.getElementById(id);
const state = {
  polls: [], poll: null, snap: null, attr: null,
  es: null, pollTimer: 0, streamRetry: 0, recentTimer: 0, recentAt: 0,
};

function setLive(kind, text) {
  $('live-state').replaceChildren(el('span', { class: `badge ${kind}` }, text));
}
function pageError(text) { $('page-error').textContent = text || ''; }

// ---- polls ----------------------------------------------------------------------------
async function loadPolls() {
  const r = await request('GET', '/api/polls');
  if (!r.ok || !Array.isArray(r.body?.polls)) {
    pageError(`Cannot list the polls: ${errorText(r)}`);
    setLive('warn', 'offline');
    setTimeout(loadPolls, 5000);
    return;
  }
  pageError('');
  state.polls = r.body.polls;
  const sel = $('poll');
  sel.replaceChildren(...state.polls.map((p) => el('option', { value: p.id }, p.title || p.id)));
  sel.disabled = false;
  const wanted = new URLSearchParams(location.hash.slice(1)).get('poll');
  const first = state.polls.find((p) => p.id === wanted) || state.polls[0];
  setupVoteForm();
  if (first) selectPoll(first.id);
}

function selectPoll(id) {
  const poll = state.polls.find((p) => p.id === id);
  if (!poll) return;
  stopLive();
  state.poll = poll;
  state.snap = null;
  $('poll').value = id;
  $('poll-title').textContent = poll.id;
  history.replaceState(null, '', `#poll=${encodeURIComponent(id)}`);
  const attrs = Array.isArray(poll.attrs) ? poll.attrs : [];
  $('breakdown-card').hidden = attrs.length === 0;
  state.attr = attrs.includes('department') ? 'department' : attrs[0] || null;
  $('attr').replaceChildren(...attrs.map((a) => el('option', { value: a }, a)));
  if (state.attr) $('attr').value = state.attr;
  renderSnapshot(null);
  $('recent').replaceChildren();
  refreshResults();
  refreshRecent();
  openStream();
}

// ---- live updates: SSE first, polling as the fallback -----------------------------------
function openStream() {
  const id = state.poll.id;
  if (typeof EventSource !== 'function') { startPolling('no EventSource'); return; }
  const es = new EventSource(`/api/polls/${encodeURIComponent(id)}/stream`);
  state.es = es;
  setLive('', 'connecting');
  es.onopen = () => {
    if (state.es !== es) return;
    stopPolling();
    setLive('live', 'live (stream)');
  };
  es.addEventListener('results', (e) => {
    if (state.es !== es) return;
    try { renderSnapshot(JSON.parse(e.data)); } catch { return; }
    scheduleRecent();
  });
  es.onerror = () => {
    if (state.es !== es) return;
    // EventSource would retry on its own; we poll instead so the page never goes stale.
    es.close();
    state.es = null;
    startPolling('stream unavailable');
  };
}

function startPolling(why) {
  if (state.pollTimer) return;
  setLive('warn', `polling every ${POLL_MS / 1000} s (${why})`);
  const tick = () => { refreshResults(); refreshRecent(); };
  tick();
  state.pollTimer = setInterval(tick, POLL_MS);
  clearTimeout(state.streamRetry);
  state.streamRetry = setTimeout(() => { if (!state.es && state.poll) openStream(); }, STREAM_RETRY_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  clearTimeout(state.streamRetry);
  state.pollTimer = 0;
  state.streamRetry = 0;
}

function stopLive() {
  if (state.es) state.es.close();
  state.es = null;
  stopPolling();
  clearTimeout(state.recentTimer);
  state.recentTimer = 0;
}

// Recent votes follow results events, at most once per RECENT_MIN_GAP_MS.
function scheduleRecent() {
  if (state.recentTimer) return;
  const wait = Math.max(0, state.recentAt + RECENT_MIN_GAP_MS - Date.now());
  state.recentTimer = setTimeout(() => { state.recentTimer = 0; refreshRecent(); }, wait);
}

// ---- data -----------------------------------------------------------------------------
async function refreshResults() {
  const id = state.poll.id;
  const r = await request('GET', `/api/polls/${encodeURIComponent(id)}/results`);
  if (id !== state.poll?.id) return;
  if (!r.ok) { pageError(`Results: ${errorText(r)}`); return; }
  pageError('');
  renderSnapshot(r.body);
}

async function refreshRecent() {
  const id = state.poll.id;
  state.recentAt = Date.now();
  const r = await request('GET', `/api/polls/${encodeURIComponent(id)}/recent?limit=20`);
  if (id !== state.poll?.id) return;
  if (!r.ok) { pageError(`Recent votes: ${errorText(r)}`); return; }
  renderRecent(Array.isArray(r.body?.votes) ? r.body.votes : []);
}

// ---- rendering ------------------------------------------------------------------------
// Choices in catalog order plus any the store has that the catalog does not list.
function choiceList(totals) {
  const list = [...(state.poll.choices || [])];
  for (const c of Object.keys(totals || {})) if (!list.includes(c)) list.push(c);
  return list;
}

function renderSnapshot(snap) {
  if (snap && typeof snap === 'object') {
    // A stream event and a polled answer can cross: never go back in time.
    if (state.snap && snap.generated_at && state.snap.generated_at > snap.generated_at) return;
    state.snap = snap;
  }
  const s = state.snap || {};
  const totals = s.totals || {};
  $('count').textContent = s.count === undefined ? '-' : fmtInt(s.count);
  $('dupes').textContent = s.duplicates === undefined ? '-' : fmtInt(s.duplicates);
  $('generated').textContent = s.generated_at ? fmtTime(s.generated_at) : '-';
  renderBars(totals);
  renderBreakdown();
}

function renderBars(totals) {
  const rows = choiceList(totals).map((c, i) => ({ c, i, n: Number(totals[c]) || 0 }));
  rows.sort((a, b) => b.n - a.n || a.i - b.i);
  const sum = rows.reduce((t, r) => t + r.n, 0);
  const max = rows.length ? rows[0].n : 0;
  $('bars').replaceChildren(...rows.flatMap((r, k) => [
    el('span', { class: 'name', title: r.c }, r.c),
    el('div', { class: 'track' },
      el('div', { class: k === 0 && r.n > 0 ? 'fill lead' : 'fill', style: { width: `${max ? (100 * r.n) / max : 0}%` } })),
    el('span', { class: 'num' }, `${fmtInt(r.n)}  ${sum ? ((100 * r.n) / sum).toFixed(1) : '0.0'}%`),
  ]));
}

// by_attr[attr] is {value: {choice: n}} when the attribute has few enough values; otherwise
// only top[attr] ([{value, total, choices}], the values with most votes) is sent.
function renderBreakdown() {
  const table = $('breakdown');
  const attr = state.attr;
  const s = state.snap;
  if (!attr || !s) { table.replaceChildren(); return; }
  let rows;
  const full = s.by_attr && s.by_attr[attr];
  if (full) {
    rows = Object.entries(full).map(([value, choices]) => ({
      value, choices, total: Object.values(choices).reduce((t, n) => t + (Number(n) || 0), 0),
    }));
    $('breakdown-note').textContent = `${rows.length} values`;
  } else {
    rows = (s.top && s.top[attr]) || [];
    $('breakdown-note').textContent = rows.length ? `top ${rows.length} values by votes` : '';
  }
  rows.sort((a, b) => b.total - a.total || String(a.value).localeCompare(b.value));
  const choices = choiceList(s.totals);
  const head = el('tr', {}, el('th', {}, attr), el('th', { class: 'n' }, 'total'),
    choices.map((c) => el('th', { class: 'n', title: c }, c)));
  const body = rows.map((r) => {
    const best = Math.max(0, ...choices.map((c) => Number(r.choices?.[c]) || 0));
    return el('tr', {}, el('td', {}, r.value), el('td', { class: 'n' }, fmtInt(r.total)),
      choices.map((c) => {
        const n = Number(r.choices?.[c]) || 0;
        return el('td', { class: n && n === best ? 'n best' : 'n' }, n ? fmtInt(n) : '');
      }));
  });
  if (!body.length) body.push(el('tr', {}, el('td', { colspan: choices.length + 2, class: 'muted' }, 'no votes yet')));
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, body));
}

function renderRecent(votes) {
  const attrs = state.poll.attrs || [];
  const head = el('tr', {}, el('th', {}, 'time'), el('th', {}, 'choice'), attrs.length ? el('th', {}, 'where') : null);
  // department / municipality: the first two attributes; the row's tooltip has them all.
  const rows = votes.map((v) => el('tr', { title: [v.id, ...attrs.map((a) => v.attrs?.[a])].filter(Boolean).join('  ') },
    el('td', {}, fmtTime(v.received_at)), el('td', {}, v.choice ?? ''),
    attrs.length ? el('td', { class: 'wrap' }, attrs.slice(0, 2).map((a) => v.attrs?.[a]).filter(Boolean).join(' / ')) : null));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'no votes yet')));
  $('recent').replaceChildren(el('thead', {}, head), el('tbody', {}, rows));
}

// ---- the vote form (polls without required attributes: the band contest) ---------------
function setupVoteForm() {
  const poll = state.polls.find((p) => p.id === 'band-contest')
    || state.polls.find((p) => !p.attrs || p.attrs.length === 0);
  if (!poll) return;
  $('vote-card').hidden = false;
  $('vote-poll-title').textContent = poll.title || poll.id;
  $('vote-choice').replaceChildren(...(poll.choices || []).map((c) => el('option', { value: c }, c)));
  $('vote-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = e.submitter || $('vote-form').querySelector('button');
    const out = $('vote-result');
    btn.disabled = true;
    const r = await request('POST', '/api/votes', { json: { poll: poll.id, choice: $('vote-choice').value } });
    btn.disabled = false;
    if (r.status === 202 && r.body?.id) {
      out.className = 'notice ok';
      out.replaceChildren('202 accepted, id ', el('code', {}, r.body.id));
    } else {
      out.className = 'notice err';
      out.textContent = errorText(r);
    }
  });
}

$('poll').addEventListener('change', (e) => selectPoll(e.target.value));
$('attr').addEventListener('change', (e) => { state.attr = e.target.value; renderBreakdown(); });
window.addEventListener('hashchange', () => {
  const id = new URLSearchParams(location.hash.slice(1)).get('poll');
  if (id && id !== state.poll?.id) selectPoll(id);
});
window.addEventListener('pagehide', stopLive);
window.addEventListener('pageshow', (e) => { if (e.persisted && state.poll) selectPoll(state.poll.id); });
loadPolls();
