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
  /** Signed meter values (OCMF records) the chargers delivered: in MeterValues, StopTransaction, TransactionEvent. */
  'signedValuesSent',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** One OCPP version's share of the figures (chargers speaking it, the CALLs they sent by action). */
export interface VersionStatsJson {
  chargersStarted: number;
  chargersAccepted: number;
  /** CALLs sent, per action. */
  calls: Record<string, number>;
}

export interface StatsJson {
  actions: Record<string, ActionStatsJson>;
  /** The same split by OCPP version (subprotocol); absent in reports written before 2.0.1. */
  versions?: Record<string, VersionStatsJson>;
  counters: Record<CounterName, number>;
  /** Wall ms from the run's start until the last charger's first Accepted boot. */
  lastAcceptedAtMs: number;
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
      a = { count: 0, ok: 0, errors: {}, timeouts: 0, lost: 0, invalid: 0, latency: new Histogram() };
      this.actions.set(o.action, a);
    }
    a.count++;
    this.counters.messagesOut++;
    switch (o.result) {
      case 'ok':
        a.ok++;
        this.counters.messagesIn++;
        a.latency.recordMs(o.latencyMs);
        this.interval.recordMs(o.latencyMs);
        return;
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

  toJSON(): StatsJson {
    const actions: Record<string, ActionStatsJson> = {};
    for (const k of [...this.actions.keys()].sort()) {
      const a = this.actions.get(k)!;
      actions[k] = { count: a.count, ok: a.ok, errors: { ...a.errors }, timeouts: a.timeouts, lost: a.lost, invalid: a.invalid, latency: a.latency.toJSON() };
    }
    const versions: Record<string, VersionStatsJson> = {};
    for (const v of [...this.versions.keys()].sort()) {
      const x = this.versions.get(v)!;
      versions[v] = { chargersStarted: x.chargersStarted, chargersAccepted: x.chargersAccepted, calls: Object.fromEntries([...x.calls].sort(([a], [b]) => (a < b ? -1 : 1))) };
    }
    return { actions, ...(this.versions.size ? { versions } : {}), counters: { ...this.counters }, lastAcceptedAtMs: this.lastAcceptedAtMs };
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
      actions[k] = structuredClone((x ?? y)!);
      continue;
    }
    const errors: Record<string, number> = { ...x.errors };
    for (const [code, n] of Object.entries(y.errors)) errors[code] = (errors[code] ?? 0) + n;
    actions[k] = {
      count: x.count + y.count, ok: x.ok + y.ok, errors, timeouts: x.timeouts + y.timeouts, lost: x.lost + y.lost,
      invalid: x.invalid + y.invalid, latency: Histogram.from(x.latency).merge(y.latency).toJSON(),
    };
  }
  const versions = mergeVersions(a.versions, b.versions);
  const counters = { ...a.counters };
  for (const n of COUNTER_NAMES) counters[n] = (a.counters[n] ?? 0) + (b.counters[n] ?? 0);
  return { actions, ...(versions ? { versions } : {}), counters, lastAcceptedAtMs: Math.max(a.lastAcceptedAtMs, b.lastAcceptedAtMs) };
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
