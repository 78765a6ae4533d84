import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Scenario } from '../../sim/scenario.js';
import type { FleetReport } from './report.js';
import { mergeReports } from './report.js';
import { addGauges, COUNTER_NAMES, emptyGauges } from './metrics.js';
import type { Shard } from './shard.js';
import type { FleetOptions, FleetStatus } from './options.js';
import { forkProcess } from './entry.js';
import { emptyAnswer, type ControlAnswer, type ControlEvent, type ControlRequest, type ControlTarget } from './control/protocol.js';

/** What a child process is asked to run: a FleetOptions without callbacks, on a sub-shard. */
export type ChildFleetOptions = Omit<FleetOptions, 'onStatus' | 'onEmbeddedCsms' | 'onWarning' | 'appStart' | 'scenario' | 'onControlEvents'> & { scenario: string | Scenario };

export type ToChild = { type: 'run'; options: ChildFleetOptions } | { type: 'stop' } | { type: 'finish' } | { type: 'control'; id: number; req: ControlRequest };
export type FromChild =
  | { type: 'status'; status: FleetStatus }
  | { type: 'control-answer'; id: number; answer: ControlAnswer }
  | { type: 'control-events'; events: ControlEvent[] }
  | { type: 'warning'; message: string }
  | { type: 'done'; report: FleetReport; events: string[] }
  | { type: 'error'; code?: string; message: string };

/** Sockets and files a process may keep open besides its chargers' (stdio, SQLite, workers). */
export const FILES_RESERVED = 200;
/** Share of the open-file limit a process plans to use, leaving room for reconnects in flight. */
const FILES_SHARE = 0.9;

/**
 * How many processes a fleet of `chargers` needs: each charger holds one socket, two when the
 * embedded central system (one per process) serves it, and one process may open `limit` files.
 */
export function processesNeeded(chargers: number, embedded: boolean, limit: number | undefined): number {
  if (limit === undefined) return 1;
  const perProcess = Math.max(1, Math.floor((limit * FILES_SHARE - FILES_RESERVED) / (embedded ? 2 : 1)));
  return Math.max(1, Math.ceil(chargers / perProcess));
}

/**
 * Process `i` of `processes` within shard S/N is shard S·P+i of N·P: the blocks of a shard's
 * processes are contiguous and cover the shard exactly (see shardPositions).
 */
export function subShard(shard: Shard, i: number, processes: number): Shard {
  return { index: shard.index * processes + i, total: shard.total * processes };
}

/** Combine the latest status of each process into one. */
export function combineStatuses(list: FleetStatus[], elapsedMs: number): FleetStatus {
  const calls = list.reduce((n, s) => n + s.callsPerS, 0);
  const w = (f: (s: FleetStatus) => number) => (calls ? list.reduce((x, s) => x + f(s) * s.callsPerS, 0) / calls : 0);
  return {
    elapsedMs,
    simulatedMs: Math.max(0, ...list.map((s) => s.simulatedMs)),
    gauges: list.reduce((g, s) => addGauges(g, s.gauges), emptyGauges()),
    callsPerS: calls,
    messagesInPerS: list.reduce((n, s) => n + s.messagesInPerS, 0),
    messagesOutPerS: list.reduce((n, s) => n + s.messagesOutPerS, 0),
    errors: list.reduce((n, s) => n + s.errors, 0),
    p50Ms: w((s) => s.p50Ms), p95Ms: w((s) => s.p95Ms), p99Ms: Math.max(0, ...list.map((s) => s.p99Ms)),
    lagP99Ms: Math.max(0, ...list.map((s) => s.lagP99Ms)),
    lagMaxMs: Math.max(0, ...list.map((s) => s.lagMaxMs)),
    emfile: list.reduce((n, s) => n + s.emfile, 0),
    counters: Object.fromEntries(COUNTER_NAMES.map((k) => [k, list.reduce((n, s) => n + s.counters[k], 0)])) as FleetStatus['counters'],
  };
}

export interface ProcessFleet {
  /** Interrupt: each child stops at once (Ctrl-C, SIGTERM) and still reports. */
  stop(): void;
  /** End as a duration does: each child awaits its answers in flight and closes its links politely. */
  finish(): void;
  done: Promise<{ report: FleetReport; events: string[] }>;
  /** Each process, as a target of control requests (a process gone answers nothing). */
  children: ControlTarget[];
}

/**
 * Run a shard of the fleet in `processes` child processes (each one a FleetRunner with its
 * worker threads and, without --url, its own embedded central system): a process may open only
 * so many files (20,000 here), and a charger holds a socket. Their reports merge into one.
 */
export function runInProcesses(
  o: FleetOptions, shard: Shard, processes: number,
  hooks: { onStatus?: (s: FleetStatus) => void; onWarning?: (message: string) => void; runStartedAt: number; startMs: number },
): ProcessFleet {
  const children: ChildProcess[] = [];
  const answers: Map<number, (a: ControlAnswer) => void>[] = [];
  let nextControlId = 0;
  const targets: ControlTarget[] = Array.from({ length: processes }, (_, i) => ({
    control: (req) => new Promise<ControlAnswer>((resolve) => {
      const child = children[i];
      if (!child?.connected) return resolve(emptyAnswer(req));
      const id = ++nextControlId;
      answers[i]!.set(id, resolve);
      child.send({ type: 'control', id, req } satisfies ToChild, undefined, undefined, (err) => {
        if (err && answers[i]!.delete(id)) resolve(emptyAnswer(req));
      });
    }),
  }));
  const statuses: (FleetStatus | undefined)[] = [];
  const results: ({ report: FleetReport; events: string[] } | undefined)[] = [];
  let failure: Error | undefined;
  let stopping = false;
  let finishing = false;
  const tellAll = (m: ToChild) => {
    for (const c of children) {
      // A child already gone: its 'exit' tells; the others still stop and report.
      if (c.connected) c.send(m, undefined, undefined, () => {});
    }
  };
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    tellAll({ type: 'stop' });
  };
  const finishAll = () => {
    if (stopping || finishing) return;
    finishing = true;
    tellAll({ type: 'finish' });
  };
  const statusTimer = hooks.onStatus
    ? setInterval(() => {
      const list = statuses.filter((s): s is FleetStatus => Boolean(s));
      if (list.length) hooks.onStatus!(combineStatuses(list, Date.now() - hooks.runStartedAt));
    }, o.statusIntervalMs ?? 5_000)
    : undefined;
  // About one thread per core across the processes. A process with one thread's worth of
  // chargers hosts them in its main thread: a worker would only add an isolate (tens of MB).
  const perProcess = Math.max(1, Math.round(availableParallelism() / processes));
  const workers = o.workers ?? (perProcess === 1 ? 0 : perProcess);
  const done = Promise.all(Array.from({ length: processes }, (_, i) => new Promise<void>((resolve) => {
    // No inherited flags (profilers, inspectors).
    const child = forkProcess('process-child', { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children[i] = child;
    answers[i] = new Map();
    const options: ChildFleetOptions = {
      count: o.count, scenario: o.scenario, charger: o.charger, prefix: o.prefix, digits: o.digits, shard: subShard(shard, i, processes),
      seed: o.seed, timeScale: o.timeScale, durationMs: o.durationMs, rampPerSec: o.rampPerSec === undefined ? undefined : o.rampPerSec / processes,
      urls: o.urls, ocpp: o.ocpp, security: o.security, signedMeters: o.signedMeters, workers, startMs: hooks.startMs, statusIntervalMs: o.statusIntervalMs, recordEvents: o.recordEvents, logLevel: o.logLevel,
      processes: 1, runStartedAt: hooks.runStartedAt, drainMs: o.drainMs, ...(o.control ? { control: o.control } : {}),
    };
    child.on('message', (m: FromChild) => {
      if (m.type === 'control-answer') {
        answers[i]!.get(m.id)?.(m.answer);
        answers[i]!.delete(m.id);
      } else if (m.type === 'control-events') o.onControlEvents?.(m.events);
      else if (m.type === 'status') statuses[i] = m.status;
      else if (m.type === 'warning') hooks.onWarning?.(`process ${i + 1}/${processes}: ${m.message}`);
      else if (m.type === 'done') results[i] = { report: m.report, events: m.events };
      else if (m.type === 'error') {
        failure ??= Object.assign(new Error(`process ${i + 1}/${processes}: ${m.message}`), { code: m.code });
        stopAll();
      }
    });
    child.on('error', (err) => {
      failure ??= new Error(`process ${i + 1}/${processes} of the fleet: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      // Its control requests end at once: the chargers it held are gone.
      for (const [, resolve] of answers[i]!) resolve({ op: 'list', chargers: [] });
      answers[i]!.clear();
      if (!results[i] && !failure) {
        failure = new Error(`process ${i + 1}/${processes} of the fleet exited (${signal ?? `code ${code}`}) without its report`);
        stopAll();
      }
      resolve();
    });
    child.send({ type: 'run', options } satisfies ToChild);
  }))).then(() => {
    if (statusTimer) clearInterval(statusTimer);
    if (failure) throw failure;
    const ok = results as { report: FleetReport; events: string[] }[];
    const report = mergeReports(ok.map((r) => r.report));
    report.shards = [shard];
    return { report, events: ok.flatMap((r) => r.events) };
  });
  return { stop: stopAll, finish: finishAll, done, children: targets };
}
