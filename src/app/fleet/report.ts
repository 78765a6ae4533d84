import { formatTable } from '../../lib/table.js';
import { EvseError } from '../../lib/errors.js';
import { Histogram } from './histogram.js';
import { emptyStats, mergeStats, type StatsJson } from './metrics.js';
import { unknownActionProblem } from './script.js';
import type { ScenarioExpectation } from '../../sim/scenario.js';

export const REPORT_VERSION = 1;

export interface FleetReport {
  version: number;
  scenario: string;
  seed: number;
  timeScale: number;
  /** Chargers in this report, and the shards it covers. */
  chargers: number;
  shards: { index: number; total: number }[];
  urls: string[];
  startedAt: string;
  wallMs: number;
  simulatedMs: number;
  threads: number;
  cpuMs: number;
  /** Worst event-loop lag of any simulator thread. */
  lag: { p99Ms: number; maxMs: number };
  /** The simulator was too busy: its latency figures are not valid. */
  overloaded: boolean;
  /** The run was ended by a signal before its duration: what was asked and what ran. */
  interrupted?: { signal: string; requestedDurationMs: number | null; simulatedMs: number; wallMs: number };
  stats: StatsJson;
  /** A scripted scenario's expectations (so that `sim merge` judges shard reports without the file). */
  expectations?: ScenarioExpectation[];
  /** One verdict per expectation, computed from this report's figures (see verdicts.ts). */
  verdicts?: Verdict[];
}

/** An expectation judged: what was measured against what was expected. */
export interface Verdict {
  name: string;
  passed: boolean;
  /** The measured figure (ms, a count, or chargers that met it). */
  value: number;
  measured: string;
  expected: string;
}

/** Event-loop lag p99 above which the simulator counts as overloaded. */
export const OVERLOAD_LAG_P99_MS = 50;

export class ReportError extends EvseError {}

export function emptyReport(): FleetReport {
  return {
    version: REPORT_VERSION, scenario: '', seed: 0, timeScale: 1, chargers: 0, shards: [], urls: [], startedAt: '',
    wallMs: 0, simulatedMs: 0, threads: 0, cpuMs: 0, lag: { p99Ms: 0, maxMs: 0 }, overloaded: false, stats: emptyStats(),
  };
}

/** Combine reports of disjoint shards: counts add, histograms merge, lag takes the worst. */
export function mergeReports(reports: FleetReport[]): FleetReport {
  if (reports.length === 0) throw new ReportError('ERR_REPORT_NONE', 'no reports to merge');
  for (const r of reports) {
    if (r.version !== REPORT_VERSION) throw new ReportError('ERR_REPORT_VERSION', `report version ${r.version} is not ${REPORT_VERSION}`);
  }
  const seen = new Set<string>();
  for (const r of reports) {
    for (const s of r.shards) {
      const key = `${s.index}/${s.total}`;
      if (seen.has(key)) throw new ReportError('ERR_REPORT_DUPLICATE_SHARD', `shard ${key} appears twice`);
      seen.add(key);
    }
  }
  const [first, ...rest] = reports;
  let out: FleetReport = structuredClone(first!);
  for (const r of rest) {
    out = {
      ...out,
      scenario: out.scenario === r.scenario ? out.scenario : `${out.scenario}+${r.scenario}`,
      chargers: out.chargers + r.chargers,
      shards: [...out.shards, ...r.shards].sort((a, b) => a.index - b.index),
      urls: [...new Set([...out.urls, ...r.urls])],
      startedAt: out.startedAt < r.startedAt ? out.startedAt : r.startedAt,
      wallMs: Math.max(out.wallMs, r.wallMs),
      simulatedMs: Math.max(out.simulatedMs, r.simulatedMs),
      threads: out.threads + r.threads,
      cpuMs: out.cpuMs + r.cpuMs,
      lag: { p99Ms: Math.max(out.lag.p99Ms, r.lag.p99Ms), maxMs: Math.max(out.lag.maxMs, r.lag.maxMs) },
      overloaded: out.overloaded || r.overloaded,
      ...(out.interrupted ?? r.interrupted ? { interrupted: out.interrupted ?? r.interrupted } : {}),
      stats: mergeStats(out.stats, r.stats),
    };
  }
  return out;
}

export interface Totals {
  calls: number;
  failures: number;
  callErrors: number;
  timeouts: number;
  latency: Histogram;
}

export function totals(r: FleetReport, action?: string): Totals {
  const latency = new Histogram();
  let calls = 0;
  let callErrors = 0;
  let timeouts = 0;
  let failures = 0;
  for (const [name, a] of Object.entries(r.stats.actions)) {
    if (action && name !== action) continue;
    calls += a.count;
    const ce = Object.values(a.errors).reduce((x, y) => x + y, 0);
    callErrors += ce;
    timeouts += a.timeouts;
    failures += ce + a.timeouts + a.invalid;
    latency.merge(a.latency);
  }
  return { calls, failures, callErrors, timeouts, latency };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

export function formatReport(r: FleetReport): string {
  const rows = Object.entries(r.stats.actions).map(([name, a]) => {
    const h = Histogram.from(a.latency);
    const errs = Object.entries(a.errors).map(([c, n]) => `${c}:${n}`).join(' ');
    return [name, a.count, errs || '0', a.timeouts, a.lost, ms(h.percentileMs(50)), ms(h.percentileMs(95)), ms(h.percentileMs(99)), ms(h.maxUs / 1000)];
  });
  const t = totals(r);
  rows.push(['(all)', t.calls, String(t.callErrors), t.timeouts, Object.values(r.stats.actions).reduce((n, a) => n + a.lost, 0),
    ms(t.latency.percentileMs(50)), ms(t.latency.percentileMs(95)), ms(t.latency.percentileMs(99)), ms(t.latency.maxUs / 1000)]);
  const c = r.stats.counters;
  const cpuS = r.cpuMs / 1000;
  const lines = [
    formatTable(['action', 'count', 'CALLERROR', 'timeouts', 'lost', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], rows),
    '',
    ...versionLines(r),
    ...incomingLines(r),
    ...securityEventLines(r),
    `chargers ${r.chargers} (accepted ${c.chargersAccepted}, ${c.chargersAccepted >= r.chargers ? 'all by' : 'the last at'} ${(r.stats.lastAcceptedAtMs / 1000).toFixed(1)} s${c.bootsPending || c.bootsRejected ? `; boot answered Pending to ${c.bootsPending ?? 0}, Rejected to ${c.bootsRejected ?? 0}` : ''})  connections opened ${c.connectionsOpened}, closed ${c.connectionsClosed}, reconnects ${c.reconnects}, failed attempts ${c.connectFailures ?? 0}${c.emfile ? `  EMFILE ${c.emfile} (open-file limit reached)` : ''}`,
    `sessions started ${c.sessionsStarted}, stopped ${c.sessionsStopped} (${(c.energyWh / 1000).toFixed(1)} kWh), open at the end ${c.sessionsOpenAtEnd ?? 0} (${((c.energyOpenWh ?? 0) / 1000).toFixed(1)} kWh so far); arrivals ${c.arrivals} (balked ${c.balked}), auth refused by the central system ${c.authRefused}, refused without its answer (timeout, failure, offline rules) ${c.authRefusedLocally ?? 0}, remote starts ${c.remoteStarts} (refused ${c.remoteStartsRefused}), faults ${c.faults}, flaps ${c.flaps}, storms ${c.storms}, dead letters ${c.deadLetters}${c.signedValuesSent ? `; signed meter values sent ${c.signedValuesSent}` : ''}${c.csrsSent || c.certificatesAccepted || c.certificatesRejected ? `; certificate renewal: CSRs sent ${c.csrsSent ?? 0}, certificates accepted ${c.certificatesAccepted ?? 0}, rejected ${c.certificatesRejected ?? 0}` : ''}`,
    `messages out ${c.messagesOut}, in ${c.messagesIn}; wall ${(r.wallMs / 1000).toFixed(1)} s, simulated ${(r.simulatedMs / 60_000).toFixed(1)} min (x${r.timeScale}); CPU ${cpuS.toFixed(1)} s (${cpuS > 0 ? Math.round((c.messagesOut + c.messagesIn) / cpuS) : 0} messages per CPU-second); threads ${r.threads}`,
    ...verdictLines(r),
    ...(r.interrupted ? [`interrupted by ${r.interrupted.signal}: ran ${(r.interrupted.simulatedMs / 60_000).toFixed(1)} min simulated (${(r.interrupted.wallMs / 1000).toFixed(1)} s wall) of ${r.interrupted.requestedDurationMs === null ? 'an open-ended run' : `${(r.interrupted.requestedDurationMs / 60_000).toFixed(1)} min requested`}`] : []),
    `simulator event-loop lag p99 ${ms(r.lag.p99Ms)} ms, max ${ms(r.lag.maxMs)} ms${r.overloaded ? `  OVERLOADED: latency figures are not valid (lag p99 above ${OVERLOAD_LAG_P99_MS} ms)` : ''}`,
  ];
  return lines.join('\n');
}

/** The CALLs from the central system per action, and the chargers' answers by status (a campaign's reach). */
function incomingLines(r: FleetReport): string[] {
  const incoming = Object.entries(r.stats.incoming ?? {});
  if (incoming.length === 0) return [];
  const answers = (a: Record<string, number>) => Object.entries(a).map(([status, n]) => `${status} ${n}`).join(', ');
  return [`from the central system: ${incoming.map(([action, x]) => `${action} ${x.received}${Object.keys(x.answers).length ? ` (${answers(x.answers)})` : ''}`).join('; ')}`];
}

/** The SecurityEventNotifications the chargers delivered, by type. */
function securityEventLines(r: FleetReport): string[] {
  const sent = Object.entries(r.stats.securityEvents ?? {});
  if (sent.length === 0) return [];
  return [`security events sent: ${sent.map(([type, n]) => `${type} ${n}`).join(', ')}`];
}

/** The verdicts of a scripted scenario's expectations, as a table. */
function verdictLines(r: FleetReport): string[] {
  if (!r.verdicts?.length) return [];
  const failed = r.verdicts.filter((v) => !v.passed).length;
  return [
    '',
    formatTable(['verdict', 'expectation', 'measured', 'expected'], r.verdicts.map((v) => [v.passed ? 'PASS' : 'FAIL', v.name, v.measured, v.expected])),
    `expectations: ${r.verdicts.length - failed} passed, ${failed} failed`,
    '',
  ];
}

/** "OCPP 2.0.1" for "ocpp2.0.1". */
const versionName = (subprotocol: string) => `OCPP ${subprotocol.replace(/^ocpp/, '')}`;

/** The figures split by OCPP version: CALLs per action per version, and chargers (accepted) per version. */
function versionLines(r: FleetReport): string[] {
  const versions = Object.entries(r.stats.versions ?? {});
  if (versions.length === 0) return [];
  const actions = [...new Set(versions.flatMap(([, v]) => Object.keys(v.calls)))].sort();
  const rows = actions.map((a) => [a, ...versions.map(([, v]) => v.calls[a] ?? 0)]);
  rows.push(['(all)', ...versions.map(([, v]) => Object.values(v.calls).reduce((n, x) => n + x, 0))]);
  return [
    formatTable(['calls by version', ...versions.map(([name]) => versionName(name))], rows),
    `chargers by version: ${versions.map(([name, v]) => `${versionName(name)} ${v.chargersStarted} (accepted ${v.chargersAccepted})`).join(', ')}`,
    '',
  ];
}

// ------------------------------------------------------------------ --fail-on

export interface Threshold {
  text: string;
  metric: 'p50' | 'p95' | 'p99' | 'max' | 'errors' | 'timeouts' | 'callerrors' | 'lag' | 'accepted';
  action?: string;
  op: '<' | '<=' | '>' | '>=';
  value: number;
  /** A share (of calls, or of chargers for accepted) rather than a count or ms. */
  percent: boolean;
}

/** "p95<500ms,errors<0.1%,p99(StartTransaction)<1s,lag<50ms,accepted>=100%" */
export function parseFailOn(expr: string): Threshold[] {
  return expr.split(',').map((x) => x.trim()).filter(Boolean).map((text) => {
    const m = /^(p50|p95|p99|max|errors|timeouts|callerrors|lag|accepted)(?:\(([A-Za-z]+)\))?\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*(ms|s|%)?$/.exec(text);
    if (!m) throw new ReportError('ERR_FAIL_ON_SYNTAX', `cannot read threshold "${text}" (e.g. p95<500ms, errors<0.1%, accepted>=100%)`);
    const [, metric, action, op, num, unit] = m;
    const unknown = action === undefined ? undefined : unknownActionProblem(action);
    if (unknown) throw new ReportError('ERR_FAIL_ON_ACTION', `"${text}": ${unknown}`);
    if (action !== undefined && (metric === 'lag' || metric === 'accepted')) throw new ReportError('ERR_FAIL_ON_SYNTAX', `"${text}": ${metric} is the fleet's, not an action's`);
    const latency = ['p50', 'p95', 'p99', 'max', 'lag'].includes(metric!);
    if (latency && unit === '%') throw new ReportError('ERR_FAIL_ON_SYNTAX', `"${text}": a latency takes ms or s`);
    if (!latency && (unit === 'ms' || unit === 's')) throw new ReportError('ERR_FAIL_ON_SYNTAX', `"${text}": a count takes a number or %`);
    const value = Number(num) * (unit === 's' ? 1000 : 1);
    return { text, metric: metric as Threshold['metric'], action, op: op as Threshold['op'], value, percent: unit === '%' };
  });
}

/**
 * The thresholds the report does not meet, each with the measured value. A threshold on an
 * action the run never sent fails (`note` says so): a gate that measured nothing does not pass.
 */
export function checkThresholds(r: FleetReport, thresholds: Threshold[]): { threshold: Threshold; actual: number; note?: string }[] {
  const failed: { threshold: Threshold; actual: number; note?: string }[] = [];
  for (const t of thresholds) {
    const tot = totals(r, t.action);
    if (t.action !== undefined && tot.calls === 0) {
      failed.push({ threshold: t, actual: 0, note: `no ${t.action} CALL in the report` });
      continue;
    }
    let actual: number;
    switch (t.metric) {
      case 'p50': case 'p95': case 'p99':
        actual = tot.latency.percentileMs(Number(t.metric.slice(1)));
        break;
      case 'max':
        actual = tot.latency.maxUs / 1000;
        break;
      case 'lag':
        actual = r.lag.p99Ms;
        break;
      case 'accepted':
        actual = t.percent ? (r.chargers ? (r.stats.counters.chargersAccepted / r.chargers) * 100 : 0) : r.stats.counters.chargersAccepted;
        break;
      default: {
        const n = t.metric === 'errors' ? tot.failures : t.metric === 'timeouts' ? tot.timeouts : tot.callErrors;
        actual = t.percent ? (tot.calls ? (n / tot.calls) * 100 : 0) : n;
      }
    }
    const ok = t.op === '<' ? actual < t.value : t.op === '<=' ? actual <= t.value : t.op === '>' ? actual > t.value : actual >= t.value;
    if (!ok) failed.push({ threshold: t, actual });
  }
  return failed;
}
