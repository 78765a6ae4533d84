import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { ChargePoint } from '../../core/charge-point.js';
import type { VersionLink } from '../../ocpp/version.js';
import type { SqliteOutbox } from '../../store/index.js';

/** What the agent's /metrics reads (the Agent): the running charge point, its link and outbox. */
export interface MeasuredAgent {
  readonly chargePoint?: ChargePoint;
  readonly link?: VersionLink;
  readonly connection?: { readonly open: boolean };
  readonly outbox?: SqliteOutbox;
}

const LINK_STATES = ['offline', 'booting', 'pending', 'rejected', 'accepted'] as const;

/** "127.0.0.1:9464", "[::1]:9464" → host and port. */
export function parseMetricsListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[3]) > 65_535) throw new Error(`metrics.listen takes HOST:PORT, got "${text}"`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/**
 * The agent's optional Prometheus endpoint (config `metrics: {listen}`, loopback by default: it
 * authenticates nobody): the link's state, the outbox's depth and the age of its oldest message,
 * sessions open, meter read errors and active faults, read from the agent at each scrape.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private server?: Server;

  constructor(private readonly agent: MeasuredAgent, private readonly now: () => number = Date.now) {
    const reg = this.registry;
    const a = this.agent;
    const clock = this.now;
    new Gauge({
      name: 'evse_agent_link_state', help: 'The OCPP link\'s state: 1 for the current one', labelNames: ['state'], registers: [reg],
      collect() {
        const s = a.link?.state ?? 'offline';
        for (const x of LINK_STATES) this.set({ state: x }, x === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'evse_agent_connected', help: 'Whether the WebSocket to the central system is open', registers: [reg],
      collect() {
        this.set(a.connection?.open ? 1 : 0);
      },
    });
    new Gauge({
      name: 'evse_agent_outbox_depth', help: 'Transaction messages queued for the central system', registers: [reg],
      collect() {
        this.set(a.outbox?.summary().depth ?? 0);
      },
    });
    new Gauge({
      name: 'evse_agent_outbox_oldest_age_seconds', help: 'Age of the oldest message queued (0 when none)', registers: [reg],
      collect() {
        const oldest = a.outbox?.summary().oldestCreatedAt;
        this.set(oldest ? Math.max(0, (clock() - oldest) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'evse_agent_outbox_dead_letters', help: 'Messages the central system refused too often (kept as dead letters)', registers: [reg],
      collect() {
        this.set(a.outbox?.summary().deadLetters ?? 0);
      },
    });
    new Gauge({
      name: 'evse_agent_sessions_open', help: 'Charging sessions open', registers: [reg],
      collect() {
        const cp = a.chargePoint;
        this.set(cp ? cp.evseIds.filter((id) => cp.session(id)).length : 0);
      },
    });
    new Gauge({
      name: 'evse_agent_meter_read_errors', help: 'Failed meter reads of the EVSE, since the agent started', labelNames: ['evse'], registers: [reg],
      collect() {
        this.reset();
        for (const h of a.chargePoint?.hardwareHealth() ?? []) this.set({ evse: String(h.evseId) }, h.meterErrors);
      },
    });
    new Gauge({
      name: 'evse_agent_faults_active', help: 'Active hardware faults, by EVSE (0: the station) and OCPP error code', labelNames: ['evse', 'code'], registers: [reg],
      collect() {
        this.reset();
        const cp = a.chargePoint;
        if (!cp) return;
        const count = new Map<string, number>();
        const add = (evse: number, code: string) => count.set(`${evse}\u0000${code}`, (count.get(`${evse}\u0000${code}`) ?? 0) + 1);
        for (const f of cp.stationFaults()) add(0, f.errorCode);
        for (const h of cp.hardwareHealth()) for (const f of h.faults) add(h.evseId, f.errorCode);
        for (const [k, n] of count) {
          const [evse, code] = k.split('\u0000') as [string, string];
          this.set({ evse, code }, n);
        }
      },
    });
  }

  /** Listen on `listen` (HOST:PORT); resolves with the URL of /metrics. */
  async start(listen: string): Promise<string> {
    const { host, port } = parseMetricsListen(listen);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('GET /metrics\n');
        return;
      }
      this.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(text);
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err.message}\n`);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
