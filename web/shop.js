// shop.js - the bookstore (shop.html). Catalog: GET /api/books?q=&seller=&before= (keyset
// pages, only books with copies left); a book: GET /api/books/{id}; Buy: POST /api/orders
// {book, copies} at the edge (202 {id, status: "pending"}); sell: POST /api/books; my orders:
// GET /api/orders, kept live by the `order` events of GET /api/chat/stream (read with fetch():
// the stream needs the Authorization header). The session is the chat page's (sessionStorage).
import { request, errorText, el, fmtTime, readEventStream } from './api.js';

const SESSION_KEY = 'vote-chat-session';
const $ = (id) => document.getElementById(id);
const state = { session: null, next: null, book: null, orders: new Map(), stream: null };

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s?.token && (!s.expires_at || s.expires_at * 1000 > Date.now())) return s;
  } catch { /* corrupt entry: signed out */ }
  return null;
}

function notice(id, kind, text) {
  $(id).className = `notice ${kind}`;
  $(id).textContent = text || '';
}

const price = (cents) => `$${(Number(cents) / 100).toFixed(2)}`;

// ---- catalog --------------------------------------------------------------------------
async function loadBooks(more) {
  const p = new URLSearchParams({ limit: '20' });
  if ($('q').value.trim()) p.set('q', $('q').value.trim());
  if ($('seller').value.trim()) p.set('seller', $('seller').value.trim());
  if (more && state.next) p.set('before', state.next);
  const r = await request('GET', `/api/books?${p}`);
  if (!r.ok) { notice('catalog-result', 'err', errorText(r)); return; }
  notice('catalog-result', 'ok', '');
  if (!more) $('books').replaceChildren();
  for (const b of r.body.books) {
    $('books').append(el('li', {},
      el('a', { href: `#book-${b.id}`, onclick: (e) => { e.preventDefault(); showBook(b.id); } }, b.title),
      ' ', el('span', { class: 'muted' }, `${b.author} - ${b.condition} - ${price(b.price_cents)} - ${b.copies_left} left`)));
  }
  if (!r.body.books.length && !more) $('books').append(el('li', { class: 'muted' }, 'No books with copies left match.'));
  state.next = r.body.next_before;
  $('more').classList.toggle('hidden', !r.body.has_more);
}

async function showBook(id) {
  const r = await request('GET', `/api/books/${id}`);
  if (!r.ok) { notice('catalog-result', 'err', errorText(r)); return; }
  state.book = r.body;
  $('book-title').textContent = r.body.title;
  $('book-meta').textContent = `${r.body.author} - ${r.body.condition} - ${price(r.body.price_cents)} - `
    + `${r.body.copies_left} of ${r.body.copies} left - sold by ${r.body.seller}`;
  $('copies').max = String(Math.min(10, Math.max(1, r.body.copies_left)));
  notice('buy-result', 'ok', '');
  $('book-card').classList.remove('hidden');
}

async function onBuy(e) {
  e.preventDefault();
  if (!state.session) { notice('buy-result', 'err', 'Sign in on the chat page first.'); return; }
  const r = await request('POST', '/api/orders', {
    token: state.session.token, json: { book: state.book.id, copies: Number($('copies').value) },
  });
  if (r.status !== 202) { notice('buy-result', 'err', errorText(r)); return; }
  notice('buy-result', 'ok', `Order ${r.body.id} placed: pending. Its status follows under "My orders".`);
  upsertOrder({ id: r.body.id, book: state.book.id, copies: Number($('copies').value), status: 'pending' });
}

// ---- selling ---------------------------------------------------------------------------
async function onSell(e) {
  e.preventDefault();
  if (!state.session) { notice('sell-result', 'err', 'Sign in on the chat page first.'); return; }
  const book = {
    title: $('title').value.trim(), author: $('author').value.trim(), condition: $('condition').value,
    price_cents: Math.round(Number($('price').value) * 100), copies: Number($('sell-copies').value),
  };
  const r = await request('POST', '/api/books', { token: state.session.token, json: book });
  if (r.status !== 201) { notice('sell-result', 'err', errorText(r)); return; }
  notice('sell-result', 'ok', `Published as book ${r.body.id}.`);
  $('sell-form').reset();
  loadBooks(false);
}

// ---- my orders, live -------------------------------------------------------------------
function upsertOrder(o) {
  const old = state.orders.get(o.id) || {};
  state.orders.set(o.id, { ...old, ...o });
  const rows = [...state.orders.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  $('orders').replaceChildren(...rows.map((x) => el('tr', {},
    el('td', {}, el('code', {}, x.id.slice(-8))),
    el('td', {}, x.book ? `book ${x.book} x${x.copies}` : ''),
    el('td', {}, el('span', { class: `badge${x.status === 'shipped' ? ' live' : /failed|rejected/.test(x.status) ? ' warn' : ''}` },
      x.reason ? `${x.status}: ${x.reason}` : x.status)),
    el('td', { class: 'muted' }, fmtTime(x.updated_at || Date.now())))));
}

async function loadOrders() {
  const r = await request('GET', '/api/orders?limit=50', { token: state.session.token });
  if (r.ok) r.body.orders.forEach(upsertOrder);
}

async function follow() {
  state.stream = new AbortController();
  for (;;) {
    try {
      await readEventStream('/api/chat/stream', {
        token: state.session.token, signal: state.stream.signal,
        onOpen: () => { $('live').textContent = 'live'; $('live').className = 'badge live'; loadOrders(); },
        onEvent: (ev) => { if (ev.event === 'order') upsertOrder({ ...JSON.parse(ev.data), updated_at: Date.now() }); },
      });
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.response?.status === 401) { $('live').textContent = 'signed out'; return; }
    }
    $('live').textContent = 'reconnecting'; $('live').className = 'badge warn';
    await new Promise((res) => { setTimeout(res, 2000); });
  }
}

// ---- start -----------------------------------------------------------------------------
$('search-form').addEventListener('submit', (e) => { e.preventDefault(); loadBooks(false); });
$('more').addEventListener('click', () => loadBooks(true));
$('buy-form').addEventListener('submit', onBuy);
$('sell-form').addEventListener('submit', onSell);
state.session = loadSession();
if (state.session) {
  $('whoami').textContent = `signed in as ${state.session.username}`;
  $('signin-hint').classList.add('hidden');
  follow();
}
loadBooks(false);
