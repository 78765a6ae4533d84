import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { bucketUpperUs, type HistogramJson } from '../histogram.js';
import { CHARGER_STATES, LINK_STATES, type ShardFigures } from './protocol.js';

/** Upper bounds (seconds) of the latency histograms' buckets: 1 ms to 60 s. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/**
 * Our log-linear histogram as Prometheus's cumulative buckets: each of ours counts under the
 * first bound at or above its highest value (so a count may sit one bucket higher, never lower).
 */
export function cumulativeBuckets(h: HistogramJson, boundsS: readonly number[] = LATENCY_BUCKETS_S): number[] {
  const counts = boundsS.map(() => 0);
  for (const [k, n] of Object.entries(h.buckets)) {
    const upperS = bucketUpperUs(Number(k)) / 1e6;
    const i = boundsS.findIndex((b) => upperS <= b);
    if (i >= 0) counts[i]! += n;
  }
  for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
  return counts;
}

type Values = { labels: Record<string, string | number>; value: number; metricName?: string }[];

/** A metric whose values are computed at each scrape (prom-client's Metric shape, for a histogram we merge ourselves). */
function computedMetric(name: string, help: string, type: 'histogram', values: () => Values): Metric {
  return { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) } as unknown as Metric;
}

/**
 * The fleet's Prometheus registry, served by the control port: what every shard counted, sent
 * to the main thread at each scrape (`figures`) and exposed once. Counters and histograms (not
 * summaries: histograms add up across shards and scrapes), gauges for what is true now, and the
 * main process's own metrics (prom-client's defaults, event-loop lag among them).
 */
export class FleetPrometheus {
  readonly registry = new Registry();
  private current?: ShardFigures;

  constructor(private readonly figures: () => Promise<ShardFigures>) {
    const reg = this.registry;
    collectDefaultMetrics({ register: reg, prefix: 'evse_sim_main_' });
    const cur = () => this.current;
    const actions = () => Object.entries(cur()?.stats.actions ?? {});
    const counters = () => cur()?.stats.counters;
    new Counter({
      name: 'evse_sim_ocpp_calls_total', help: 'CALLs the chargers sent, by action and how they ended (ok, callerror, timeout, lost, invalid)',
      labelNames: ['action', 'result'], registers: [reg],
      collect() {
        this.reset();
        for (const [action, a] of actions()) {
          const callerrors = Object.values(a.errors).reduce((x, y) => x + y, 0);
          this.inc({ action, result: 'ok' }, a.ok);
          this.inc({ action, result: 'callerror' }, callerrors);
          this.inc({ action, result: 'timeout' }, a.timeouts);
          this.inc({ action, result: 'lost' }, a.lost);
          this.inc({ action, result: 'invalid' }, a.invalid);
        }
      },
    });
    new Counter({
      name: 'evse_sim_ocpp_callerrors_total', help: 'CALLERRORs the central system answered, by action and OCPP-J error code',
      labelNames: ['action', 'code'], registers: [reg],
      collect() {
        this.reset();
        for (const [action, a] of actions()) for (const [code, n] of Object.entries(a.errors)) this.inc({ action, code }, n);
      },
    });
    new Counter({
      name: 'evse_sim_security_events_total', help: 'SecurityEventNotifications the chargers delivered, by type (as their OCPP version names it)',
      labelNames: ['type'], registers: [reg],
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(cur()?.stats.securityEvents ?? {})) this.inc({ type }, n);
      },
    });
    reg.registerMetric(computedMetric('evse_sim_ocpp_call_duration_seconds', 'Round trip of the CALLs answered (CALLRESULT or CALLERROR), by action', 'histogram', () => {
      const out: Values = [];
      for (const [action, a] of actions()) {
        const cum = cumulativeBuckets(a.latency);
        LATENCY_BUCKETS_S.forEach((le, i) => out.push({ metricName: 'evse_sim_ocpp_call_duration_seconds_bucket', labels: { action, le }, value: cum[i]! }));
        out.push({ metricName: 'evse_sim_ocpp_call_duration_seconds_bucket', labels: { action, le: '+Inf' }, value: a.latency.count });
        out.push({ metricName: 'evse_sim_ocpp_call_duration_seconds_sum', labels: { action }, value: a.latency.sumUs / 1e6 });
        out.push({ metricName: 'evse_sim_ocpp_call_duration_seconds_count', labels: { action }, value: a.latency.count });
      }
      return out;
    }));
    const counter = (name: string, help: string, value: () => number | undefined) => new Counter({
      name, help, registers: [reg],
      collect() {
        this.reset();
        this.inc(value() ?? 0);
      },
    });
    counter('evse_sim_connections_opened_total', 'WebSocket connections the chargers opened', () => counters()?.connectionsOpened);
    counter('evse_sim_connections_closed_total', 'WebSocket connections of the chargers that closed', () => counters()?.connectionsClosed);
    counter('evse_sim_connect_failures_total', 'Connection attempts that failed (refused, HTTP status, TLS, timeout)', () => counters()?.connectFailures);
    counter('evse_sim_reconnects_total', 'Accepted boots after a charger\'s first', () => counters()?.reconnects);
    counter('evse_sim_sessions_started_total', 'Charging sessions started', () => counters()?.sessionsStarted);
    counter('evse_sim_sessions_stopped_total', 'Charging sessions stopped', () => counters()?.sessionsStopped);
    counter('evse_sim_energy_wh_total', 'Energy of the sessions stopped, Wh', () => counters()?.energyWh);
    counter('evse_sim_messages_in_total', 'OCPP messages the chargers received', () => counters()?.messagesIn);
    counter('evse_sim_messages_out_total', 'OCPP messages the chargers sent', () => counters()?.messagesOut);
    counter('evse_sim_calls_from_central_total', 'CALLs from the central system the chargers answered', () => counters()?.callsFromCentral);
    new Gauge({
      name: 'evse_sim_chargers', help: 'Chargers by the state of their connectors', labelNames: ['state'], registers: [reg],
      collect() {
        for (const s of CHARGER_STATES) this.set({ state: s }, cur()?.byState[s] ?? 0);
      },
    });
    new Gauge({
      name: 'evse_sim_chargers_link', help: 'Chargers by the state of their link to the central system', labelNames: ['link'], registers: [reg],
      collect() {
        for (const s of LINK_STATES) this.set({ link: s }, cur()?.byLink[s] ?? 0);
      },
    });
    new Gauge({
      name: 'evse_sim_connections', help: 'Chargers connected now', registers: [reg],
      collect() {
        this.set(cur()?.gauges.connected ?? 0);
      },
    });
    new Gauge({
      name: 'evse_sim_sessions_open', help: 'Charging sessions open now', registers: [reg],
      collect() {
        this.set(cur()?.sessionsOpen ?? 0);
      },
    });
    new Gauge({
      name: 'evse_sim_event_loop_lag_p99_seconds', help: 'Event-loop lag p99 of the busiest thread hosting chargers, since it started', registers: [reg],
      collect() {
        this.set((cur()?.lagP99Ms ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'evse_sim_shards_answering', help: 'Threads hosting chargers that answered this scrape', registers: [reg],
      collect() {
        this.set(cur()?.shards ?? 0);
      },
    });
  }

  /** The exposition text: the shards' figures gathered once per scrape. */
  async scrape(): Promise<string> {
    this.current = await this.figures();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
