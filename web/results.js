// results.js - the results dashboard (index.html). Lists the polls (GET /api/polls), charts
// the chosen poll (GET .../results; charts.js): totals per choice, and for a poll with
// attributes the top departments, the shares in a chosen department and municipality, the top
// polling stations and the per-attribute breakdown table; the last votes (GET .../recent);
// stays live with an EventSource on .../stream ("results" events carry a full snapshot) and
// falls back to polling every 2 s when the stream fails, trying the stream again every 30 s.
// The vote form offers the selected poll with the attributes it requires (POST /api/votes).
import { request, errorText, el, fmtInt, fmtTime } from './api.js';
import { PALETTE, PLACE_COLOR, barChart, donutChart, destroyCharts } from './charts.js';

const POLL_MS = 2000;          // fallback polling interval
const STREAM_RETRY_MS = 30000; // how long to poll before trying the stream again
const RECENT_MIN_GAP_MS = 2000;
const RECENT_LIMIT = 10;
const TOP_DEPARTMENTS = 5;
const TOP_STATIONS = 5;
const SHARE_ATTRS = ['department', 'municipality']; // the two donuts' pickers

const $ = (id) => document.getElementById(id);
const state = {
  polls: [], poll: null, snap: null, attr: null,
  es: null, pollTimer: 0, streamRetry: 0, recentTimer: 0, recentAt: 0,
  charts: {}, share: {}, fetched: {},
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
  for (const card of document.querySelectorAll('.attr-only')) card.hidden = attrs.length === 0;
  $('shares-card').hidden = !SHARE_ATTRS.every((a) => attrs.includes(a));
  try {
    setupCharts(attrs);
  } catch (e) { // web/vendor/ missing (build.sh setup not run): tables and form still work
    state.charts = {};
    for (const box of document.querySelectorAll('.chart')) {
      box.replaceChildren(el('p', { class: 'notice err' }, `Charts unavailable: ${e.message}`));
    }
  }
  setupVoteForm(poll);
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
  const r = await request('GET', `/api/polls/${encodeURIComponent(id)}/recent?limit=${RECENT_LIMIT}`);
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
  renderCharts();
  renderBreakdown();
  updatePickers();
  fillVoteLists();
}

// ---- charts ---------------------------------------------------------------------------
// A choice keeps its colour in every chart: its place in the catalog picks it.
function choiceColor(c) {
  const i = (state.poll.choices || []).indexOf(c);
  return PALETTE[(i < 0 ? PALETTE.length - 1 : i) % PALETTE.length];
}

function setupCharts(attrs) {
  destroyCharts(state.charts);
  state.charts = {
    totals: barChart($('chart-totals'), {
      title: 'Votes per choice', head: 'choice', table: $('numbers-totals'),
    }),
  };
  state.share = {};
  state.fetched = {};
  if (!attrs.length) return;
  const count = () => Number(state.snap?.count) || 0;
  state.charts.departments = barChart($('chart-departments'), {
    title: `Top ${TOP_DEPARTMENTS} departments by votes`, head: 'department',
    table: $('numbers-departments'), sumOf: count,
  });
  state.charts.stations = barChart($('chart-stations'), {
    title: `Top ${TOP_STATIONS} polling stations by votes`, head: 'station',
    table: $('numbers-stations'), sumOf: count,
  });
  for (const a of SHARE_ATTRS) {
    if (!attrs.includes(a)) continue;
    state.charts[`share-${a}`] = donutChart($(`chart-share-${a}`), {
      title: 'Party shares in', legend: $(`legend-share-${a}`),
    });
  }
}

// [{value, total, choices}] of attr, most votes first: the full tallies when the snapshot
// has them, else its top list.
function valuesOf(attr) {
  const s = state.snap || {};
  const full = s.by_attr && s.by_attr[attr];
  const rows = full
    ? Object.entries(full).map(([value, choices]) => ({
      value, choices, total: Object.values(choices).reduce((t, n) => t + (Number(n) || 0), 0),
    }))
    : [...((s.top && s.top[attr]) || [])];
  return rows.sort((a, b) => b.total - a.total || String(a.value).localeCompare(b.value));
}

function placeRows(attr, n) {
  return valuesOf(attr).slice(0, n).map((v) => ({ label: v.value, value: v.total, color: PLACE_COLOR }));
}

function choiceRows(choices) {
  return choiceList(state.snap?.totals).map((c) => ({ label: c, value: Number(choices?.[c]) || 0, color: choiceColor(c) }));
}

function renderCharts() {
  const totals = state.snap?.totals || {};
  const rows = choiceRows(totals).sort((a, b) => b.value - a.value);
  state.charts.totals?.update(rows);
  if (!(state.poll.attrs || []).length) return;
  state.charts.departments?.update(placeRows('department', TOP_DEPARTMENTS));
  state.charts.stations?.update(placeRows('station', TOP_STATIONS));
  for (const a of SHARE_ATTRS) renderShare(a);
}

// The chosen value's tallies: from the snapshot's by_attr, or, for an attribute with too many
// values to be listed there, from GET .../results?attr=A&value=V (fetched after each change).
function renderShare(attr) {
  const chart = state.charts[`share-${attr}`];
  const value = state.share[attr];
  if (!chart) return;
  if (!value) { chart.update([], ''); return; }
  const full = state.snap?.by_attr?.[attr];
  if (full) { chart.update(choiceRows(full[value] || {}), value); return; }
  const got = state.fetched[attr];
  if (got && got.value === value) chart.update(choiceRows(got.choices), value);
  fetchBreakdown(attr, value);
}

async function fetchBreakdown(attr, value) {
  const id = state.poll.id;
  const q = new URLSearchParams({ attr, value, top: '1' });
  const r = await request('GET', `/api/polls/${encodeURIComponent(id)}/results?${q}`);
  if (id !== state.poll?.id || state.share[attr] !== value) return;
  if (!r.ok || !r.body?.breakdown) { pageError(`Results of ${attr} ${value}: ${errorText(r)}`); return; }
  const before = JSON.stringify(state.fetched[attr]);
  state.fetched[attr] = r.body.breakdown;
  if (JSON.stringify(r.body.breakdown) !== before) renderShare(attr);
}

// The donuts' pickers list the values by votes; the choice made stays while the list moves.
function updatePickers() {
  for (const a of SHARE_ATTRS) {
    const sel = $(`share-${a}`);
    if (!state.charts[`share-${a}`]) continue;
    const values = valuesOf(a).map((v) => v.value);
    if (!state.share[a] && values.length) {
      state.share[a] = values[0];
      renderShare(a);
    }
    if (state.share[a] && !values.includes(state.share[a])) values.unshift(state.share[a]);
    const now = [...sel.options].map((o) => o.value);
    if (now.length === values.length && now.every((v, i) => v === values[i])) continue;
    // Only rebuilt when the set or order changed; focus and selection survive.
    sel.replaceChildren(...values.map((v) => el('option', { value: v }, v)));
    sel.value = state.share[a] || '';
  }
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
  const head = el('tr', {}, el('th', { scope: 'col' }, 'time'), el('th', { scope: 'col' }, 'choice'),
    attrs.length ? el('th', { scope: 'col' }, 'where') : null);
  // department / municipality: the first two attributes; the row's tooltip has them all.
  const rows = votes.map((v) => el('tr', { title: [v.id, ...attrs.map((a) => v.attrs?.[a])].filter(Boolean).join('  ') },
    el('td', {}, fmtTime(v.received_at)), el('td', {}, v.choice ?? ''),
    attrs.length ? el('td', { class: 'wrap' }, attrs.slice(0, 2).map((a) => v.attrs?.[a]).filter(Boolean).join(' / ')) : null));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'no votes yet')));
  $('recent').replaceChildren(el('thead', {}, head), el('tbody', {}, rows));
}

// ---- the vote form: the selected poll, with an input per attribute it requires --------
function setupVoteForm(poll) {
  const choices = poll.choices || [];
  // Voting is open to the page when the poll lists its choices (a catalog without them
  // would only produce 422s).
  $('vote-card').hidden = choices.length === 0;
  $('vote-poll-title').textContent = poll.title || poll.id;
  $('vote-result').textContent = '';
  $('vote-choice').replaceChildren(...choices.map((c) => el('option', { value: c }, c)));
  $('vote-attrs').replaceChildren(...(poll.attrs || []).flatMap((a) => [
    el('label', { for: `vote-attr-${a}` }, a),
    el('input', { id: `vote-attr-${a}`, name: a, required: true, maxlength: 128, autocomplete: 'off', list: `vote-list-${a}` }),
    el('datalist', { id: `vote-list-${a}` }),
  ]));
  fillVoteLists();
}

// Suggestions for the attribute inputs: the values the results know (any value is allowed).
function fillVoteLists() {
  for (const a of state.poll?.attrs || []) {
    const list = $(`vote-list-${a}`);
    if (!list || list.childElementCount) continue;
    const values = valuesOf(a).map((v) => v.value).sort((x, y) => x.localeCompare(y));
    list.replaceChildren(...values.map((v) => el('option', { value: v })));
  }
}

async function submitVote(e) {
  e.preventDefault();
  const poll = state.poll;
  const btn = e.submitter || $('vote-form').querySelector('button');
  const out = $('vote-result');
  const attrs = {};
  for (const a of poll.attrs || []) {
    const input = $(`vote-attr-${a}`);
    input.removeAttribute('aria-invalid');
    attrs[a] = input.value.trim();
  }
  btn.disabled = true;
  const r = await request('POST', '/api/votes', { json: { poll: poll.id, choice: $('vote-choice').value, attrs } });
  btn.disabled = false;
  if (r.status === 202 && r.body?.id) {
    out.className = 'notice ok';
    out.replaceChildren('202 accepted, id ', el('code', {}, r.body.id));
  } else {
    out.className = 'notice err';
    out.textContent = errorText(r);
    const field = String(r.body?.field || '').replace(/^attrs\./, '');
    $(`vote-attr-${field}`)?.setAttribute('aria-invalid', 'true');
  }
}

$('vote-form').addEventListener('submit', submitVote);
for (const a of SHARE_ATTRS) {
  $(`share-${a}`).addEventListener('change', (e) => { state.share[a] = e.target.value; renderShare(a); });
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
