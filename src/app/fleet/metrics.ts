import type { CallOutcome } from '../../ocpp/connection.js';
import { Histogram, type HistogramJson } from './histogram.js';

export interface ActionStatsJson {
  /** CALLs sent (answered, refused, timed out or lost with the link). */
  count: number;
  ok: number;
  /** CALLERRORs by OCPP-J error code. */
  errors: Record<string, number>;
  timeouts: number;
  /** Sent, then the link dropped before an answer. */
  lost: number;
  /** Refused by our own strict-mode validation before sending (a bug of ours). */
  invalid: number;
  latency: HistogramJson;
  /** Percentiles of `latency`, ms, for readers of the JSON (always computed from the histogram, never merged). */
  percentiles?: LatencyPercentiles;
  /** Answers by their status (idTagInfo/idTokenInfo status, or status), where the answer has one. */
  answers?: Record<string, number>;
}

export interface LatencyPercentiles {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** p50/p95/p99/max of a histogram, ms (3 decimals). */
export function percentilesOf(h: Histogram): LatencyPercentiles {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { p50Ms: r(h.percentileMs(50)), p95Ms: r(h.percentileMs(95)), p99Ms: r(h.percentileMs(99)), maxMs: r(h.maxUs / 1000) };
}

/** The status an answer carries: 1.6's idTagInfo, 2.0.1's idTokenInfo, or its own status. */
export function answerStatus(response: unknown): string | undefined {
  if (!response || typeof response !== 'object') return undefined;
  const r = response as { status?: unknown; idTagInfo?: { status?: unknown }; idTokenInfo?: { status?: unknown } };
  const st = r.idTagInfo?.status ?? r.idTokenInfo?.status ?? r.status;
  return typeof st === 'string' ? st : undefined;
}

/**
 * A scripted scenario's expectations watched on chargers (after a step), by expectation index:
 * chargers watched, those that met it, those the step never ran on (not accepted in time).
 */
export interface WatchedJson {
  chargers: number;
  met: number;
  notRun: number;
}

export const COUNTER_NAMES = [
  'chargersStarted', 'chargersAccepted', 'connectionsOpened', 'connectionsClosed', 'reconnects',
  /** Connection attempts that failed (refused, HTTP status, TLS, timeout). */
  'connectFailures',
  /** Chargers whose BootNotification was answered Pending, or Rejected, at least once (they retry after the interval). */
  'bootsPending', 'bootsRejected',
  'sessionsStarted', 'sessionsStopped', 'energyWh',
  /** Tokens the central system refused (its Authorize answer was not Accepted). */
  'authRefused',
  /**
   * Tokens refused without the central system's answer: its Authorize timed out, failed or
   * could not be sent, and the offline rules (local list, cache, unknown ids) refused; or a
   * reservation for another tag. Never a refusal by the central system.
   */
  'authRefusedLocally',
  'deadLetters',
  'arrivals', 'balked', 'tokens', 'remoteStarts', 'remoteStartsRefused', 'faults', 'flaps', 'storms',
  'messagesOut', 'messagesIn', 'warnings', 'emfile', 'badMessages',
  /** CALLs from the central system (each a message in, and its answer a message out). */
  'callsFromCentral',
  /** Sessions still open when the run ended, and the energy metered in them so far. */
  'sessionsOpenAtEnd', 'energyOpenWh',
  /**
   * A scripted scenario's progress: steps to run on chargers and windows to watch (planned when
   * a charger is built), and those run, closed or given up (done). Equal: the script has played out.
   */
  'scriptPlanned', 'scriptDone',
  /** Signed meter values (OCMF records) the chargers delivered: in MeterValues, StopTransaction, TransactionEvent. */
  'signedValuesSent',
  /**
   * A certificate-renewal campaign: signing requests (a new key and its CSR) the chargers made and
   * sent in SignCertificate, and the signed chains (CertificateSigned) they installed or refused.
   */
  'csrsSent', 'certificatesAccepted', 'certificatesRejected',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** One OCPP version's share of the figures (chargers speaking it, the CALLs they sent by action). */
export interface VersionStatsJson {
  chargersStarted: number;
  chargersAccepted: number;
  /** CALLs sent, per action. */
  calls: Record<string, number>;
}

/** CALLs of one action from the central system, and how the chargers answered them. */
export interface IncomingStatsJson {
  received: number;
  /** By the answer's `status` (Accepted, Rejected, …); CALLERROR for an error answer; answers without a status are not split. */
  answers: Record<string, number>;
}

export interface StatsJson {
  actions: Record<string, ActionStatsJson>;
  /** CALLs from the central system per action (e.g. a display-message campaign); absent in reports written before. */
  incoming?: Record<string, IncomingStatsJson>;
  /** The same split by OCPP version (subprotocol); absent in reports written before 2.0.1. */
  versions?: Record<string, VersionStatsJson>;
  counters: Record<CounterName, number>;
  /** Wall ms from the run's start until the last charger's first Accepted boot. */
  lastAcceptedAtMs: number;
  /** Scripted scenarios: expectations watched after a step, by expectation index. */
  watched?: Record<string, WatchedJson>;
  /** SecurityEventNotifications the chargers delivered (answered), by type as their version names it; absent when none. */
  securityEvents?: Record<string, number>;
}

export interface Gauges {
  chargers: number;
  connected: number;
  accepted: number;
  charging: number;
  faulted: number;
}

export const emptyGauges = (): Gauges => ({ chargers: 0, connected: 0, accepted: 0, charging: 0, faulted: 0 });

/** An action's figures while they are counted: the JSON form with a live histogram. */
type ActionStats = Omit<ActionStatsJson, 'latency'> & { latency: Histogram };

/**
 * The figures of one thread's chargers: per OCPP action counts, errors and a latency histogram,
 * plus counters. Merging two StatsJson is adding them (see mergeStats).
 */
export class FleetMetrics {
  private readonly actions = new Map<string, ActionStats>();
  readonly counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<CounterName, number>;
  /** Latencies since the last status line. */
  readonly interval = new Histogram();
  intervalErrors = 0;
  lastAcceptedAtMs = 0;
  readonly gauges = emptyGauges();
  private readonly versions = new Map<string, { chargersStarted: number; chargersAccepted: number; calls: Map<string, number> }>();
  private readonly incoming = new Map<string, IncomingStatsJson>();
  private readonly securityEvents = new Map<string, number>();

  /** A charger delivered a SecurityEventNotification of this type. */
  securityEventSent(type: string): void {
    this.securityEvents.set(type, (this.securityEvents.get(type) ?? 0) + 1);
  }

  /** A CALL from the central system was answered: `result` the payload, undefined for a CALLERROR. */
  onIncoming(action: string, result: unknown): void {
    let x = this.incoming.get(action);
    if (!x) this.incoming.set(action, (x = { received: 0, answers: {} }));
    x.received++;
    const status = result === undefined ? 'CALLERROR' : answerStatus(result);
    if (status !== undefined) x.answers[status] = (x.answers[status] ?? 0) + 1;
  }

  private version(v: string) {
    let x = this.versions.get(v);
    if (!x) this.versions.set(v, (x = { chargersStarted: 0, chargersAccepted: 0, calls: new Map() }));
    return x;
  }

  /** A charger speaking version `v` started (`accepted`: its first boot was Accepted). */
  addCharger(v: string, what: 'chargersStarted' | 'chargersAccepted'): void {
    this.version(v)[what]++;
  }

  /** What counts the CALLs of the chargers of version `v` (one function per version, shared by its chargers). */
  onCallOf(v: string): (o: CallOutcome) => void {
    const calls = this.version(v).calls;
    return (o) => {
      calls.set(o.action, (calls.get(o.action) ?? 0) + 1);
      this.onCall(o);
    };
  }

  onCall(o: CallOutcome): void {
    let a = this.actions.get(o.action);
    if (!a) {
      a = { count: 0, ok: 0, errors: {}, timeouts: 0, lost: 0, invalid: 0, latency: new Histogram(), answers: {} };
      this.actions.set(o.action, a);
    }
    a.count++;
    this.counters.messagesOut++;
    switch (o.result) {
      case 'ok': {
        a.ok++;
        const status = answerStatus(o.response);
        if (status !== undefined) a.answers![status] = (a.answers![status] ?? 0) + 1;
        this.counters.messagesIn++;
        a.latency.recordMs(o.latencyMs);
        this.interval.recordMs(o.latencyMs);
        return;
      }
      case 'callerror': {
        const code = o.errorCode ?? 'GenericError';
        a.errors[code] = (a.errors[code] ?? 0) + 1;
        this.counters.messagesIn++;
        a.latency.recordMs(o.latencyMs);
        this.interval.recordMs(o.latencyMs);
        break;
      }
      case 'timeout':
        a.timeouts++;
        break;
      case 'invalid-request':
        a.invalid++;
        break;
      default:
        a.lost++;
    }
    this.intervalErrors++;
  }

  add(name: CounterName, n = 1): void {
    this.counters[name] += n;
  }

  /** Scripted expectations watched on this thread's chargers (see script.ts). */
  readonly watched = new Map<number, WatchedJson>();

  watch(expectation: number, what: keyof WatchedJson): void {
    let w = this.watched.get(expectation);
    if (!w) this.watched.set(expectation, (w = { chargers: 0, met: 0, notRun: 0 }));
    w[what]++;
  }

  toJSON(): StatsJson {
    const actions: Record<string, ActionStatsJson> = {};
    for (const k of [...this.actions.keys()].sort()) {
      const a = this.actions.get(k)!;
      actions[k] = {
        count: a.count, ok: a.ok, errors: { ...a.errors }, timeouts: a.timeouts, lost: a.lost, invalid: a.invalid, latency: a.latency.toJSON(),
        percentiles: percentilesOf(a.latency), answers: { ...a.answers },
      };
    }
    const versions: Record<string, VersionStatsJson> = {};
    for (const v of [...this.versions.keys()].sort()) {
      const x = this.versions.get(v)!;
      versions[v] = { chargersStarted: x.chargersStarted, chargersAccepted: x.chargersAccepted, calls: Object.fromEntries([...x.calls].sort(([a], [b]) => (a < b ? -1 : 1))) };
    }
    const incoming: Record<string, IncomingStatsJson> = {};
    for (const k of [...this.incoming.keys()].sort()) {
      const x = this.incoming.get(k)!;
      incoming[k] = { received: x.received, answers: { ...x.answers } };
    }
    const watched = this.watched.size ? Object.fromEntries([...this.watched].sort(([a], [b]) => a - b).map(([k, w]) => [String(k), { ...w }])) : undefined;
    const securityEvents = this.securityEvents.size ? Object.fromEntries([...this.securityEvents].sort(([a], [b]) => (a < b ? -1 : 1))) : undefined;
    return {
      actions, ...(this.versions.size ? { versions } : {}), ...(this.incoming.size ? { incoming } : {}),
      counters: { ...this.counters }, lastAcceptedAtMs: this.lastAcceptedAtMs, ...(watched ? { watched } : {}),
      ...(securityEvents ? { securityEvents } : {}),
    };
  }
}

export function emptyStats(): StatsJson {
  return new FleetMetrics().toJSON();
}

/** a + b: counts added, histograms merged (never percentiles averaged). */
export function mergeStats(a: StatsJson, b: StatsJson): StatsJson {
  const actions: Record<string, ActionStatsJson> = {};
  for (const k of [...new Set([...Object.keys(a.actions), ...Object.keys(b.actions)])].sort()) {
    const x = a.actions[k];
    const y = b.actions[k];
    if (!x || !y) {
      const only = structuredClone((x ?? y)!);
      actions[k] = { ...only, percentiles: percentilesOf(Histogram.from(only.latency)) };
      continue;
    }
    const errors: Record<string, number> = { ...x.errors };
    for (const [code, n] of Object.entries(y.errors)) errors[code] = (errors[code] ?? 0) + n;
    const answers: Record<string, number> = { ...x.answers };
    for (const [status, n] of Object.entries(y.answers ?? {})) answers[status] = (answers[status] ?? 0) + n;
    const latency = Histogram.from(x.latency).merge(y.latency);
    actions[k] = {
      count: x.count + y.count, ok: x.ok + y.ok, errors, timeouts: x.timeouts + y.timeouts, lost: x.lost + y.lost,
      invalid: x.invalid + y.invalid, latency: latency.toJSON(), percentiles: percentilesOf(latency), answers,
    };
  }
  const watched = mergeWatched(a.watched, b.watched);
  const versions = mergeVersions(a.versions, b.versions);
  const incoming = mergeIncoming(a.incoming, b.incoming);
  const securityEvents = mergeCounts(a.securityEvents, b.securityEvents);
  const counters = { ...a.counters };
  for (const n of COUNTER_NAMES) counters[n] = (a.counters[n] ?? 0) + (b.counters[n] ?? 0);
  return {
    actions, ...(versions ? { versions } : {}), ...(incoming ? { incoming } : {}), counters,
    lastAcceptedAtMs: Math.max(a.lastAcceptedAtMs, b.lastAcceptedAtMs), ...(watched ? { watched } : {}),
    ...(securityEvents ? { securityEvents } : {}),
  };
}

function mergeCounts(a?: Record<string, number>, b?: Record<string, number>): Record<string, number> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, number> = {};
  for (const k of [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort()) out[k] = (a?.[k] ?? 0) + (b?.[k] ?? 0);
  return out;
}

function mergeIncoming(a?: Record<string, IncomingStatsJson>, b?: Record<string, IncomingStatsJson>): Record<string, IncomingStatsJson> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, IncomingStatsJson> = {};
  for (const k of [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort()) {
    const answers: Record<string, number> = { ...a?.[k]?.answers };
    for (const [status, n] of Object.entries(b?.[k]?.answers ?? {})) answers[status] = (answers[status] ?? 0) + n;
    out[k] = { received: (a?.[k]?.received ?? 0) + (b?.[k]?.received ?? 0), answers };
  }
  return out;
}

function mergeWatched(a?: Record<string, WatchedJson>, b?: Record<string, WatchedJson>): Record<string, WatchedJson> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, WatchedJson> = {};
  for (const k of [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort((p, q) => Number(p) - Number(q))) {
    const x = a?.[k];
    const y = b?.[k];
    out[k] = { chargers: (x?.chargers ?? 0) + (y?.chargers ?? 0), met: (x?.met ?? 0) + (y?.met ?? 0), notRun: (x?.notRun ?? 0) + (y?.notRun ?? 0) };
  }
  return out;
}

function mergeVersions(a?: Record<string, VersionStatsJson>, b?: Record<string, VersionStatsJson>): Record<string, VersionStatsJson> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, VersionStatsJson> = {};
  for (const v of [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort()) {
    const x = a?.[v];
    const y = b?.[v];
    const calls: Record<string, number> = { ...x?.calls };
    for (const [k, n] of Object.entries(y?.calls ?? {})) calls[k] = (calls[k] ?? 0) + n;
    out[v] = {
      chargersStarted: (x?.chargersStarted ?? 0) + (y?.chargersStarted ?? 0),
      chargersAccepted: (x?.chargersAccepted ?? 0) + (y?.chargersAccepted ?? 0),
      calls: Object.fromEntries(Object.entries(calls).sort(([p], [q]) => (p < q ? -1 : 1))),
    };
  }
  return out;
}

export function addGauges(a: Gauges, b: Gauges): Gauges {
  return {
    chargers: a.chargers + b.chargers, connected: a.connected + b.connected, accepted: a.accepted + b.accepted,
    charging: a.charging + b.charging, faulted: a.faulted + b.faulted,
  };
}
