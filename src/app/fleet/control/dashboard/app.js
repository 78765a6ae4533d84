// The fleet's dashboard: reads the control API (GET /metrics, /chargers, /chargers/:id and its
// trace), follows the event stream (WebSocket /events) and drives chargers with the API's
// actions. Two views: the fleet (/dashboard/), one charger (/dashboard/?charger=ID). A bearer token, where the port
// needs one, comes from the URL fragment (#token=…) or a prompt; it is kept in this tab's
// sessionStorage, sent with each request, and never written anywhere else.
import { chartPoint, fleetFigures, parsePrometheus } from './metrics.js';
import { LineChart, formatNumber } from './chart.js';

const POLL_MS = 2000;
const TABLE_POLL_MS = 4000;
/** A large fleet's list is megabytes, gathered from every shard: fetched less often. */
const LARGE_FLEET = 2000;
const LARGE_TABLE_POLL_MS = 15000;
/** Events are drawn in batches, at most this often (a large fleet sends hundreds a second). */
const DRAW_EVENTS_MS = 500;
/** Rows drawn at most in the chargers' table and the trace (a fleet may hold 20,000 chargers). */
const MAX_ROWS = 500;
const MAX_TRACE_ROWS = 500;
const MAX_EVENTS = 200;
const TOKEN_KEY = 'evse-edge-control-token';

const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------- the token and the API

let token = takeTokenFromFragment() ?? sessionStorage.getItem(TOKEN_KEY) ?? undefined;

/** #token=… in the address: kept for this tab, then removed from the address (and its history). */
function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return undefined;
  const t = decodeURIComponent(m[1]);
  sessionStorage.setItem(TOKEN_KEY, t);
  history.replaceState(history.state, '', location.pathname + location.search);
  return t;
}

let declined = false;
/** Asks the person for the token (a prompt blocks the page, so one at a time); throws when they decline. */
function askToken() {
  const no = new Error('no token: this control port answers only with its bearer token (open the page as …/dashboard/#token=<token>, or reload and give it)');
  if (declined) throw no;
  const t = window.prompt('This control port needs its bearer token (evse-edge sim printed it when it started):');
  if (!t || !t.trim()) {
    declined = true;
    throw no;
  }
  token = t.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One request to the control API; JSON in and out (text for /metrics). Asks for the token on 401. */
async function api(method, path, body, retried = false) {
  const headers = {};
  const sent = token;
  if (sent) headers.authorization = `Bearer ${sent}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 401 && !retried) {
    // Another request may have asked already while this one was under way.
    if (token === sent) askToken();
    return api(method, path, body, true);
  }
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
  const json = isJson && text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message ?? `${res.status} ${res.statusText}`);
  return isJson ? json : text;
}

/** The event stream, reconnected when it drops. `onEvent` gets each event; returns a closer. */
function followEvents(query, onEvent) {
  let ws;
  let closed = false;
  let timer;
  const open = () => {
    const q = new URLSearchParams(query);
    if (token) q.set('access_token', token);
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events?${q}`);
    ws.onopen = () => setLink(true);
    ws.onmessage = (m) => {
      try {
        onEvent(JSON.parse(m.data));
      } catch (err) {
        showProblem(`an event could not be read: ${err.message}`);
      }
    };
    ws.onclose = () => {
      setLink(false);
      if (!closed) timer = setTimeout(open, POLL_MS);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    ws?.close();
  };
}

function setLink(live) {
  const s = $('#link-status');
  s.textContent = live ? 'live' : 'event stream reconnecting…';
  s.classList.toggle('live', live);
}

function showProblem(message) {
  const p = $('#problem');
  p.textContent = message;
  p.hidden = !message;
}

// ---------------------------------------------------------------- small DOM helpers

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function timeOf(iso) {
  const t = document.createElement('time');
  t.dateTime = iso;
  t.textContent = new Date(iso).toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(new Date(iso).getMilliseconds()).padStart(3, '0');
  return t;
}

function chargerLink(id) {
  const a = document.createElement('a');
  a.href = `?charger=${encodeURIComponent(id)}`;
  a.textContent = id;
  a.dataset.charger = id;
  return a;
}

/** A loop that runs `fn` now and every `ms` (a number, or a function giving it) until stopped; a failure is shown, not thrown. */
function every(ms, fn) {
  let stopped = false;
  let timer;
  const tick = async () => {
    try {
      await fn();
      showProblem('');
    } catch (err) {
      showProblem(err.message);
    }
    if (!stopped) timer = setTimeout(tick, typeof ms === 'function' ? ms() : ms);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// ---------------------------------------------------------------- the fleet view

const COUNTERS = [
  ['chargers', 'Chargers', (f) => f.chargers],
  ['available', 'Available', (f) => f.byState.available ?? 0],
  ['occupied', 'Occupied', (f) => f.byState.occupied ?? 0],
  ['charging', 'Charging', (f) => f.byState.charging ?? 0],
  ['faulted', 'Faulted', (f) => f.byState.faulted ?? 0],
  ['unavailable', 'Unavailable', (f) => f.byState.unavailable ?? 0],
  ['accepted', 'Accepted', (f) => f.byLink.accepted ?? 0],
  ['disconnected', 'Disconnected', (f) => f.byLink.disconnected ?? 0],
  ['connections', 'Connections', (f) => f.connections],
  ['reconnects', 'Reconnects', (f) => f.reconnects],
  ['sessions-open', 'Sessions open', (f) => f.sessionsOpen],
  ['sessions-started', 'Sessions started', (f) => f.sessionsStarted],
  ['energy', 'Energy, kWh', (f) => f.energyKWh],
  ['messages', 'Messages', (f) => f.messages],
  ['call-errors', 'CALLERRORs', (f) => f.callErrors],
  ['timeouts', 'Timeouts', (f) => f.timeouts],
  ['connect-failures', 'Connect failures', (f) => f.connectFailures],
];

function fleetView() {
  $('#fleet-view').hidden = false;
  const dl = $('#counters');
  dl.replaceChildren();
  const values = {};
  for (const [key, label] of COUNTERS) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.dataset.counter = key;
    dd.textContent = '–';
    div.append(dt, dd);
    dl.appendChild(div);
    values[key] = dd;
  }
  const charts = $('#charts');
  charts.replaceChildren();
  const rate = new LineChart(charts, { title: 'Messages per second', unit: 'msg/s', series: [{ key: 'messagesPerSec', label: 'msg/s', color: '#0b6bcb' }] });
  const latency = new LineChart(charts, {
    title: 'Round trip of CALLs, percentiles', unit: 'ms',
    series: [{ key: 'p50', label: 'p50', color: '#2e8540' }, { key: 'p95', label: 'p95', color: '#b58900' }, { key: 'p99', label: 'p99', color: '#c0392b' }],
  });

  let before;
  let beforeAt = 0;
  const stopFigures = every(POLL_MS, async () => {
    const at = Date.now();
    const figures = fleetFigures(parsePrometheus(await api('GET', '/metrics')));
    for (const [key, , get] of COUNTERS) values[key].textContent = formatNumber(get(figures));
    const p = chartPoint(figures, before, (at - beforeAt) / 1000);
    if (before) {
      rate.push({ at, messagesPerSec: p.messagesPerSec });
      latency.push({ at, p50: p.p50, p95: p.p95, p99: p.p99 });
    }
    before = figures;
    beforeAt = at;
  });

  const form = $('#charger-filter');
  const params = new URLSearchParams(location.search);
  for (const name of ['state', 'link', 'prefix']) if (params.get(name)) form.elements[name].value = params.get(name);
  let listed = 0;
  const tablePollMs = () => (listed > LARGE_FLEET ? LARGE_TABLE_POLL_MS : TABLE_POLL_MS);
  const refreshTable = async () => {
    const q = new URLSearchParams();
    for (const name of ['state', 'link', 'prefix']) if (form.elements[name].value) q.set(name, form.elements[name].value);
    const r = await api('GET', `/chargers?${q}`);
    listed = r.count;
    const body = $('#chargers tbody');
    body.replaceChildren();
    for (const c of r.chargers.slice(0, MAX_ROWS)) {
      const row = body.insertRow();
      row.dataset.charger = c.id;
      row.insertCell().appendChild(chargerLink(c.id));
      cell(row, c.version.replace(/^ocpp/, ''));
      cell(row, c.state, `state state-${c.state}`);
      cell(row, c.link);
      cell(row, c.network);
    }
    $('#charger-count').textContent = r.count > MAX_ROWS ? `${r.count} chargers, the first ${MAX_ROWS} shown` : `${r.count} charger${r.count === 1 ? '' : 's'}`;
  };
  let stopTable = every(tablePollMs, refreshTable);
  const onFilter = () => {
    // The filter in the address too, so a reload or a shared link keeps it.
    const q = new URLSearchParams();
    for (const name of ['state', 'link', 'prefix']) if (form.elements[name].value) q.set(name, form.elements[name].value);
    history.replaceState(null, '', q.size ? `?${q}` : location.pathname);
    stopTable();
    stopTable = every(tablePollMs, refreshTable);
  };
  const onSubmit = (e) => {
    e.preventDefault();
    onFilter();
  };
  form.addEventListener('change', onFilter);
  form.addEventListener('submit', onSubmit);

  const list = $('#events');
  let pending = [];
  let drawTimer;
  const drawEvents = () => {
    drawTimer = undefined;
    const items = pending.slice(-MAX_EVENTS).reverse().map((e) => {
      const li = document.createElement('li');
      li.append(timeOf(e.at ?? new Date().toISOString()), ' ', ...(e.id ? [chargerLink(e.id), ' '] : []), describeEvent(e));
      return li;
    });
    pending = [];
    list.prepend(...items);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  };
  const stopEvents = followEvents({ types: 'session-started,session-stopped,error,added,removed' }, (e) => {
    if (e.type === 'hello') return;
    pending.push(e);
    if (pending.length > MAX_EVENTS) pending.shift();
    drawTimer ??= setTimeout(drawEvents, DRAW_EVENTS_MS);
  });
  return () => {
    clearTimeout(drawTimer);
    stopFigures();
    stopTable();
    stopEvents();
    form.removeEventListener('change', onFilter);
    form.removeEventListener('submit', onSubmit);
  };
}

function describeEvent(e) {
  switch (e.type) {
    case 'session-started': return `session ${e.localId} started on ${e.evseId}`;
    case 'session-stopped': return `session ${e.localId} stopped (${e.reason}, ${formatNumber(e.energyWh / 1000)} kWh)`;
    case 'error': return `${e.kind}: ${e.message}`;
    case 'charger': return `${e.state}, link ${e.link}`;
    case 'dropped': return `${e.count} events dropped (this page read too slowly)`;
    default: return e.type;
  }
}

// ---------------------------------------------------------------- one charger's view

function chargerView(id) {
  $('#charger-view').hidden = false;
  document.title = `${id} · evse-edge sim`;
  $('#charger-title').textContent = id;
  const result = $('#action-result');

  const refresh = async () => {
    const c = await api('GET', `/chargers/${encodeURIComponent(id)}`);
    const facts = $('#charger-facts');
    facts.replaceChildren();
    for (const [label, value, cls] of [['State', c.state, `state state-${c.state}`], ['Link', c.link], ['Network', c.network], ['OCPP', c.version], ['Central system', c.url]]) {
      const div = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dd.dataset.fact = label.toLowerCase().replace(/ /g, '-');
      if (cls) dd.className = cls;
      div.append(dt, dd);
      facts.appendChild(div);
    }
    const body = $('#connectors tbody');
    body.replaceChildren();
    for (const k of c.connectors) {
      const row = body.insertRow();
      row.dataset.connector = String(k.id);
      cell(row, String(k.id));
      cell(row, k.status);
      cell(row, k.plugged ? 'plugged in' : '–');
      cell(row, k.session ? `${k.session.localId} · ${k.session.authMethod} · ${formatNumber(k.session.energyWh / 1000)} kWh${k.session.powerW !== undefined ? ` · ${formatNumber(k.session.powerW / 1000)} kW` : ''}` : '–');
      cell(row, k.faults.join(', ') || '–');
    }
    const choice = $('#connector-choice');
    if (choice.options.length !== c.connectors.length) {
      choice.replaceChildren(...c.connectors.map((k) => new Option(String(k.id), String(k.id))));
    }
  };

  // The trace: what the charger sent and received; the CALLs' actions remembered to name their answers.
  const actions = new Map();
  const traceBody = $('#trace tbody');
  traceBody.replaceChildren();
  const addFrame = (f) => {
    const [kind, messageId, third] = Array.isArray(f.frame) ? f.frame : [];
    const kindName = kind === 2 ? 'CALL' : kind === 3 ? 'CALLRESULT' : kind === 4 ? 'CALLERROR' : '?';
    if (kind === 2) actions.set(messageId, third);
    const row = traceBody.insertRow(0);
    row.className = `dir-${f.direction} kind-${kindName}`;
    row.insertCell().appendChild(timeOf(f.at));
    cell(row, f.direction === 'out' ? '→ out' : '← in');
    cell(row, kindName);
    cell(row, kind === 2 ? third : actions.get(messageId) ?? '', 'action');
    cell(row, f.latencyMs !== undefined ? `${formatNumber(f.latencyMs)} ms` : '');
    const payload = kind === 2 ? f.frame[3] : kind === 3 ? f.frame[2] : f.frame.slice(2);
    const text = JSON.stringify(payload);
    cell(row, text.length > 400 ? `${text.slice(0, 400)}…` : text, 'payload');
    while (traceBody.rows.length > MAX_TRACE_ROWS) traceBody.deleteRow(-1);
  };

  let stopped = false;
  let refreshSoon;
  let stopEvents = () => {};
  const start = async () => {
    try {
      await refresh();
      // Tracing on (the API keeps the last frames), then what it holds, then the live frames.
      await api('POST', `/chargers/${encodeURIComponent(id)}/trace`, { on: true, frames: MAX_TRACE_ROWS });
      const seen = new Set();
      const frameKey = (f) => `${f.at}|${f.direction}|${JSON.stringify(f.frame)}`;
      const early = [];
      let loaded = false;
      stopEvents = followEvents({ id, types: 'frame,charger,session-started,session-stopped,error' }, (e) => {
        if (e.type === 'frame') {
          if (!loaded) early.push(e.frame);
          else if (!seen.has(frameKey(e.frame))) addFrame(e.frame);
        } else if (e.type !== 'hello') {
          // Several events come with one change: one refresh for them.
          refreshSoon ??= setTimeout(() => {
            refreshSoon = undefined;
            if (!stopped) void refresh().catch((err) => showProblem(err.message));
          }, 200);
        }
      });
      if (stopped) stopEvents();
      const t = await api('GET', `/chargers/${encodeURIComponent(id)}/trace`);
      for (const f of t.frames) {
        seen.add(frameKey(f));
        addFrame(f);
      }
      loaded = true;
      for (const f of early) if (!seen.has(frameKey(f))) addFrame(f);
    } catch (err) {
      showProblem(err.status === 404 ? `no charger ${id} in the fleet (never added, or removed)` : err.message);
    }
  };
  void start();
  const stopPoll = every(POLL_MS * 2, refresh);

  const form = $('#actions');
  const onClick = async (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const action = button.dataset.action;
    if (action === 'reboot' && !window.confirm(`Reboot ${id} (hard, as a power loss)?`)) return;
    const f = form.elements;
    const connectorId = Number(f.connectorId.value) || undefined;
    const body = {
      plug: { connectorId }, unplug: { connectorId },
      present: { token: f.token.value, method: f.method.value, connectorId },
      fault: { fault: f.fault.value, connectorId }, 'clear-fault': { fault: f.fault.value, connectorId },
      'cut-network': { mode: f.mode.value }, 'restore-network': {}, reboot: {},
    }[action];
    result.classList.remove('failed');
    result.textContent = `${button.textContent}…`;
    try {
      await api('POST', `/chargers/${encodeURIComponent(id)}/${action}`, body);
      result.textContent = `${button.textContent}: done`;
      await refresh();
    } catch (err) {
      result.classList.add('failed');
      result.textContent = `${button.textContent}: ${err.message}`;
    }
  };
  form.addEventListener('click', onClick);
  return () => {
    stopped = true;
    clearTimeout(refreshSoon);
    stopEvents();
    stopPoll();
    form.removeEventListener('click', onClick);
  };
}

// ---------------------------------------------------------------- navigation

let leave = () => {};
function route() {
  leave();
  showProblem('');
  $('#fleet-view').hidden = true;
  $('#charger-view').hidden = true;
  document.title = 'evse-edge sim · fleet';
  const id = new URLSearchParams(location.search).get('charger');
  leave = id ? chargerView(id) : fleetView();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || a.origin !== location.origin || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  history.pushState(null, '', a.href);
  route();
});
window.addEventListener('popstate', route);
route();
