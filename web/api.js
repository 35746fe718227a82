// api.js - helpers shared by the dashboard (results.js) and the chat app (chat.js):
// JSON requests against the edge, readable error text for the contract's
// {"error","detail","field"} bodies, a tiny DOM builder, and an SSE reader over fetch()
// for streams that need an Authorization header (EventSource cannot send one).

// Sends a request; resolves to {status, ok, body} where body is parsed JSON, the raw text
// when the answer is not JSON, or null when it is empty. Network failures resolve to
// status 0 with a synthetic error body, so callers handle every outcome the same way.
export async function request(method, path, { json, token, signal } = {}) {
  const headers = { Accept: 'application/json' };
  // Every POST of the api is JSON, even one without a body (logout): it answers 415 otherwise.
  if (json !== undefined || method !== 'GET') headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, cache: 'no-store',
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return { status: 0, ok: false, body: { error: 'network', detail: String(e.message || e) } };
  }
  const text = await res.text();
  let body = null;
  if (text) {
    try { body = JSON.parse(text); } catch { body = text; }
  }
  return { status: res.status, ok: res.ok, body, retryAfter: res.headers.get('Retry-After') };
}

// "422 weak_password: password must have at least 10 characters (field: password)".
export function errorText(r) {
  const b = r.body;
  if (b && typeof b === 'object' && b.error) {
    let s = `${r.status || ''} ${b.error}`.trim();
    if (b.detail) s += `: ${b.detail}`;
    if (b.field) s += ` (field: ${b.field})`;
    if (r.retryAfter) s += ` - retry after ${r.retryAfter} s`;
    return s;
  }
  // Not the contract's JSON (e.g. an HTML error page of a proxy): its text, tags stripped.
  const raw = typeof b === 'string' ? b.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160) : '';
  return `HTTP ${r.status}${raw ? `: ${raw}` : ''}`;
}

// el('div', {class: 'x', onclick: f}, 'text', child, ...) -> element. Strings become text
// nodes (never HTML), so server data cannot inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const fmtInt = (n) => (Number(n) || 0).toLocaleString('en-US');
export const fmtTime = (ms) => (ms ? new Date(Number(ms)).toLocaleTimeString() : '');

// Reads a text/event-stream answer through fetch(), calling onEvent({event, id, data}) per
// dispatched event. Resolves when the server ends the stream; rejects on network errors and
// on a non-2xx answer (the error carries .response = {status, body} for errorText()).
export async function readEventStream(path, { token, lastEventId, signal, onEvent, onOpen }) {
  const headers = { Accept: 'text/event-stream' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const res = await fetch(path, { headers, signal, cache: 'no-store' });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    const err = new Error(`stream answered ${res.status}`);
    err.response = { status: res.status, body };
    throw err;
  }
  if (onOpen) onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { event: 'message', id: undefined, data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {               // blank line: dispatch
        if (ev.data.length) onEvent({ event: ev.event, id: ev.id, data: ev.data.join('\n') });
        ev = { event: 'message', id: undefined, data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;   // comment (keep-alive ping)
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') ev.event = val;
      else if (field === 'data') ev.data.push(val);
      else if (field === 'id') ev.id = val;
    }
  }
}
