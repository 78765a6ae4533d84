import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { chargerProfileSchema, loadProfile, type ChargerProfile } from '../../../config/profiles.js';
import { EvseError } from '../../../lib/errors.js';
import { OCPP_SUBPROTOCOLS, type OcppSubprotocol } from '../../../ocpp/version.js';
import { serveDashboard } from './dashboard-files.js';
import { FleetPrometheus } from './prometheus.js';
import {
  CHARGER_STATES, FAULT_KINDS, LINK_STATES, NETWORK_CUTS, TOKEN_METHODS,
  type ChargerAction, type ControlAnswer, type ControlEvent, type ControlRequest, type Selection,
} from './protocol.js';

export const controlDefaults = {
  host: '127.0.0.1',
  port: 9400,
  /** Most chargers one request may add. */
  maxAdd: 10_000,
  maxBodyBytes: 1_000_000,
  /** A client of the event stream that reads slower than this is behind, and loses events until it catches up. */
  maxBufferedBytes: 4_000_000,
} as const;

export class ControlError extends EvseError {
  constructor(code: string, message: string, readonly status: number) {
    super(code, message);
  }
}

/** "127.0.0.1:9400", "[::1]:9400", "0.0.0.0:9400", ":9400" or "9400". */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ControlError('ERR_CONTROL_LISTEN', `--control takes HOST:PORT (e.g. 127.0.0.1:9400), got "${text}"`, 400);
  }
  return { host: m[1] ?? (m[2] || controlDefaults.host), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** What the control server drives: the fleet runner's control. */
export interface ControlledFleet {
  control(req: ControlRequest): Promise<ControlAnswer>;
}

export interface ControlServerOptions {
  listen: string;
  fleet: ControlledFleet;
  /** The fleet's size at start: chargers added get positions from here on. */
  count: number;
  /** Loads a charger profile by id or path (default: profiles/chargers). */
  loadCharger?: (id: string) => ChargerProfile;
  /** The bearer token; default: generated when the address is not loopback, none otherwise. */
  token?: string;
}

const bad = (message: string) => new ControlError('ERR_CONTROL_REQUEST', message, 400);
const notFound = (id: string, a?: ControlAnswer) => (a?.unanswered
  ? new ControlError('ERR_CONTROL_SHARD_SILENT', `${a.unanswered} shard(s) of the fleet did not answer in time: ${id} may be held by one of them (the machine is overloaded?); try again`, 503)
  : new ControlError('ERR_CONTROL_NOT_FOUND', `no charger ${id} in the fleet (never added, or removed)`, 404));

function oneOf<T extends string>(list: readonly T[], v: unknown, what: string): T {
  if (typeof v !== 'string' || !list.includes(v as T)) throw bad(`${what} must be one of ${list.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function optionalInt(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`${what} must be an integer ≥ 0, got ${JSON.stringify(v)}`);
  return v;
}

/** The action `verb` (from the path) with its parameters (the JSON body), checked. */
export function parseAction(verb: string, body: Record<string, unknown>): ChargerAction {
  const connectorId = optionalInt(body.connectorId, 'connectorId');
  const c = connectorId === undefined ? {} : { connectorId };
  switch (verb) {
    case 'plug': return { do: 'plug', ...c };
    case 'unplug': return { do: 'unplug', ...c };
    case 'present': {
      if (typeof body.token !== 'string' || body.token.length === 0 || body.token.length > 36) throw bad('token must be a string of 1 to 36 characters');
      return { do: 'present', token: body.token, method: oneOf(TOKEN_METHODS, body.method ?? 'rfid', 'method'), ...c };
    }
    case 'fault': return { do: 'fault', fault: oneOf(FAULT_KINDS, body.fault, 'fault'), ...c };
    case 'clear-fault': return { do: 'fault', fault: oneOf(FAULT_KINDS, body.fault, 'fault'), clear: true, ...c };
    case 'cut-network': return { do: 'network', cut: oneOf(NETWORK_CUTS, body.mode ?? 'close', 'mode') };
    case 'restore-network': return { do: 'restore-network' };
    case 'set-url': {
      if (typeof body.url !== 'string' || !/^wss?:\/\/[^\s/]+/.test(body.url)) throw bad('url must be a ws:// or wss:// URL');
      return { do: 'set-url', url: body.url };
    }
    case 'reboot': return { do: 'reboot' };
    case 'trace': return { do: 'trace', on: body.on !== false, ...(optionalInt(body.frames, 'frames') ? { size: body.frames as number } : {}) };
    default: throw new ControlError('ERR_CONTROL_ACTION', `unknown action "${verb}": plug, unplug, present, fault, clear-fault, cut-network, restore-network, set-url, reboot, trace`, 404);
  }
}

/** A selection from query parameters or a JSON body: ids, state, link, prefix. */
export function parseSelection(q: Record<string, unknown>): Selection {
  const sel: Selection = {};
  if (q.ids !== undefined) {
    const ids = typeof q.ids === 'string' ? q.ids.split(',').filter(Boolean) : q.ids;
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw bad('ids must be a list of charger ids');
    sel.ids = ids as string[];
  }
  if (q.state !== undefined) sel.state = oneOf(CHARGER_STATES, q.state, 'state');
  if (q.link !== undefined) sel.link = oneOf(LINK_STATES, q.link, 'link');
  if (q.prefix !== undefined) {
    if (typeof q.prefix !== 'string') throw bad('prefix must be a string');
    sel.prefix = q.prefix;
  }
  return sel;
}

/**
 * The fleet's control API: HTTP JSON (chargers, actions, traces, Prometheus /metrics) and a
 * WebSocket event stream (/events). Loopback by default; bound elsewhere, every request needs
 * the bearer token (Authorization: Bearer …, or ?access_token=… where a browser cannot set a header).
 */
export class ControlServer {
  private server?: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Map<WebSocket, { id?: string; types?: Set<string>; dropped: number }>();
  readonly token?: string;
  private nextIndex: number;
  readonly prometheus: FleetPrometheus;

  constructor(private readonly o: ControlServerOptions) {
    const { host } = parseListen(o.listen);
    this.token = o.token ?? (isLoopback(host) ? undefined : randomBytes(24).toString('base64url'));
    this.nextIndex = o.count;
    this.prometheus = new FleetPrometheus(async () => {
      const a = await o.fleet.control({ op: 'stats' });
      if (a.op !== 'stats') throw new Error('no figures');
      return a.figures;
    });
  }

  /** Listen; resolves with the URL. */
  async start(): Promise<string> {
    const { host, port } = parseListen(this.o.listen);
    const server = createServer((req, res) => void this.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const hostOk = Boolean(this.token) || isLoopback((req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));
      if (url.pathname !== '/events' || !this.authorised(req, url) || !hostOk) {
        socket.end(`HTTP/1.1 ${url.pathname !== '/events' ? '404 Not Found' : '401 Unauthorized'}\r\nConnection: close\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const types = url.searchParams.get('types');
        this.clients.set(ws, { id: url.searchParams.get('id') ?? undefined, types: types ? new Set(types.split(',')) : undefined, dropped: 0 });
        ws.on('close', () => this.clients.delete(ws));
        ws.on('error', () => this.clients.delete(ws));
        ws.send(JSON.stringify({ type: 'hello', at: new Date().toISOString() }));
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Send events to every client of the stream (each its filter). */
  publish(events: ControlEvent[]): void {
    for (const [ws, c] of this.clients) {
      const list = events.filter((e) => (!c.id || e.id === c.id) && (!c.types || c.types.has(e.type)));
      if (list.length === 0) continue;
      if (ws.bufferedAmount > controlDefaults.maxBufferedBytes) {
        c.dropped += list.length;
        continue;
      }
      if (c.dropped) {
        ws.send(JSON.stringify({ type: 'dropped', count: c.dropped, at: new Date().toISOString() }));
        c.dropped = 0;
      }
      for (const e of list) ws.send(JSON.stringify(e));
    }
  }

  async close(): Promise<void> {
    for (const ws of this.clients.keys()) ws.terminate();
    this.clients.clear();
    this.wss.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  private authorised(req: IncomingMessage, url: URL): boolean {
    if (!this.token) return true;
    const header = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('access_token') ?? '';
    const a = Buffer.from(header);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      // The dashboard's static files: no figures in them, so no token (the page sends it to the API).
      if (await serveDashboard(req, res, url)) return;
      if (!this.authorised(req, url)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
        res.end(JSON.stringify({ error: { code: 'ERR_CONTROL_TOKEN', message: 'this control port needs its bearer token (printed at start): Authorization: Bearer <token>' } }));
        return;
      }
      // Without a token (loopback), a web page must not drive the fleet: a Host that is not a
      // loopback name (DNS rebinding) is refused, and a body must be declared JSON, which a
      // cross-site form cannot send without the browser asking first (CORS preflight, unanswered).
      if (!this.token && !isLoopback((req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'))) {
        throw new ControlError('ERR_CONTROL_HOST', 'this control port answers loopback names only (Host: 127.0.0.1, localhost or [::1]); bind it elsewhere to get a token', 403);
      }
      if ((req.method === 'POST' || req.method === 'DELETE') && !/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
        throw new ControlError('ERR_CONTROL_CONTENT_TYPE', 'send the request with Content-Type: application/json (an empty body is {})', 415);
      }
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const text = await this.prometheus.scrape();
        res.writeHead(200, { 'content-type': this.prometheus.contentType });
        res.end(text);
        return;
      }
      const body = req.method === 'POST' || req.method === 'DELETE' ? await readJson(req) : {};
      const { status, json } = await this.route(req.method ?? 'GET', url, body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    } catch (err) {
      const e = err as Error & { code?: string; status?: number };
      const status = err instanceof ControlError ? err.status : e.code === 'ERR_FLEET_NOT_READY' ? 503 : 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: e.code ?? 'ERR_CONTROL_INTERNAL', message: e.message } }));
    }
  }

  private async ask(req: ControlRequest): Promise<ControlAnswer> {
    return this.o.fleet.control(req);
  }

  private async route(method: string, url: URL, body: Record<string, unknown>): Promise<{ status: number; json: unknown }> {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const query = Object.fromEntries(url.searchParams);
    if (method === 'GET' && parts.length === 0) {
      return { status: 200, json: { api: 'evse-edge sim control', endpoints: ROUTES } };
    }
    if (parts[0] === 'chargers') {
      if (parts.length === 1 && method === 'GET') {
        const a = await this.ask({ op: 'list', selection: parseSelection(query) });
        return { status: 200, json: a.op === 'list' ? { count: a.chargers.length, chargers: a.chargers, ...(a.unanswered ? { unansweredShards: a.unanswered } : {}) } : {} };
      }
      if (parts.length === 1 && method === 'POST') return this.add(body);
      const id = parts[1]!;
      if (parts.length === 2 && method === 'GET') {
        const a = await this.ask({ op: 'get', id });
        if (a.op !== 'get' || !a.charger) throw notFound(id, a);
        return { status: 200, json: a.charger };
      }
      if (parts.length === 2 && method === 'DELETE') {
        const a = await this.ask({ op: 'remove', selection: { ids: [id] } });
        if (a.op !== 'remove' || a.removed.length === 0) throw notFound(id, a);
        return { status: 200, json: { removed: a.removed } };
      }
      if (parts.length === 3 && parts[2] === 'trace' && method === 'GET') {
        const a = await this.ask({ op: 'trace', id });
        if (a.op !== 'trace' || !a.frames) throw notFound(id, a);
        return { status: 200, json: { id, frames: a.frames } };
      }
      if (parts.length === 3 && method === 'POST') {
        const action = parseAction(parts[2]!, body);
        const a = await this.ask({ op: 'act', selection: { ids: [id] }, action });
        const r = a.op === 'act' ? a.results[0] : undefined;
        if (!r) throw notFound(id, a);
        if (!r.ok) throw new ControlError('ERR_CONTROL_ACTION_FAILED', r.error ?? 'failed', 409);
        return { status: 200, json: r };
      }
    }
    if (parts[0] === 'actions' && parts.length === 2 && method === 'POST') {
      const action = parseAction(parts[1]!, body);
      const selection = parseSelection((body.select ?? {}) as Record<string, unknown>);
      const a = await this.ask({ op: 'act', selection, action });
      const results = a.op === 'act' ? a.results : [];
      // Ids asked for that no shard holds: said, not skipped in silence.
      const missing = (selection.ids ?? []).filter((x) => !results.some((r) => r.id === x));
      const all = [...results, ...missing.map((x) => ({ id: x, ok: false, error: `no charger ${x} in the fleet (never added, or removed)` }))];
      return { status: 200, json: { matched: results.length, ok: all.filter((r) => r.ok).length, failed: all.filter((r) => !r.ok).length, results: all, ...(a.unanswered ? { unansweredShards: a.unanswered } : {}) } };
    }
    if (parts[0] === 'remove' && parts.length === 1 && method === 'POST') {
      const selection = parseSelection((body.select ?? {}) as Record<string, unknown>);
      if (Object.keys(selection).length === 0) throw bad('select which chargers to remove (ids, state, link or prefix); an empty selection would remove every one');
      const a = await this.ask({ op: 'remove', selection });
      return { status: 200, json: { removed: a.op === 'remove' ? a.removed : [] } };
    }
    throw new ControlError('ERR_CONTROL_ROUTE', `no route ${method} ${url.pathname}: see GET /`, 404);
  }

  private async add(body: Record<string, unknown>): Promise<{ status: number; json: unknown }> {
    const count = optionalInt(body.count, 'count') ?? 1;
    if (count < 1 || count > controlDefaults.maxAdd) throw bad(`count must be 1 to ${controlDefaults.maxAdd}`);
    if (typeof body.prefix !== 'string' || !/^[A-Za-z0-9._-]{1,30}$/.test(body.prefix)) throw bad('prefix (the new chargers\' id prefix) must be 1 to 30 letters, digits, ".", "_" or "-"');
    const digits = optionalInt(body.digits, 'digits') ?? 5;
    let version: OcppSubprotocol | undefined;
    if (body.ocpp !== undefined) {
      const v = typeof body.ocpp === 'string' && !body.ocpp.startsWith('ocpp') ? `ocpp${body.ocpp}` : body.ocpp;
      version = oneOf(OCPP_SUBPROTOCOLS, v, 'ocpp');
    }
    let profile: ChargerProfile | undefined;
    if (body.profile !== undefined) {
      if (typeof body.profile !== 'string') throw bad('profile must be a charger profile id');
      try {
        profile = (this.o.loadCharger ?? ((id: string) => loadProfile('chargers', id, chargerProfileSchema)))(body.profile);
      } catch (err) {
        throw bad(`profile ${body.profile}: ${(err as Error).message}`);
      }
    }
    if (body.url !== undefined && (typeof body.url !== 'string' || !/^wss?:\/\/[^\s/]+/.test(body.url))) throw bad('url must be a ws:// or wss:// URL');
    const url = body.url as string | undefined;
    const ids = Array.from({ length: count }, (_, k) => `${body.prefix as string}${String(k + 1).padStart(digits, '0')}`);
    const existing = await this.ask({ op: 'list', selection: { ids } });
    if (existing.op === 'list' && existing.chargers.length) {
      throw new ControlError('ERR_CONTROL_EXISTS', `${existing.chargers.length} of these ids are in the fleet already, e.g. ${existing.chargers[0]!.id}: choose another prefix`, 409);
    }
    const chargers = ids.map((id) => ({ id, index: this.nextIndex++ }));
    const a = await this.ask({ op: 'add', chargers, ...(profile ? { profile } : {}), ...(version ? { version } : {}), ...(url ? { url } : {}) });
    const added = a.op === 'add' ? a.added : [];
    return { status: 201, json: { added } };
  }
}

/** The routes, as GET / lists them. */
const ROUTES = [
  'GET /chargers?state=&link=&prefix=&ids=a,b',
  'POST /chargers {prefix, count, profile?, ocpp?: "1.6"|"2.0.1", digits?, url?}',
  'GET /chargers/:id', 'DELETE /chargers/:id', 'GET /chargers/:id/trace',
  'POST /chargers/:id/{plug|unplug|present|fault|clear-fault|cut-network|restore-network|set-url|reboot|trace} {connectorId?, token?, method?, fault?, mode?, url?, on?, frames?}',
  'POST /actions/:action {select: {ids?, state?, link?, prefix?}, ...parameters}',
  'POST /remove {select}',
  'GET /metrics (Prometheus)', 'GET /dashboard/ (the dashboard, in a browser)', 'WebSocket /events?id=&types=charger,session-started,session-stopped,error,frame',
];

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > controlDefaults.maxBodyBytes) throw new ControlError('ERR_CONTROL_BODY', 'request body too large', 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the body must be a JSON object');
  return v as Record<string, unknown>;
}
