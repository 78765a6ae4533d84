import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { chargerProfileSchema, loadProfile, type ChargerProfile } from '../../config/profiles.js';
import { CentralSystem } from '../../csms/central-system.js';
import { EvseError } from '../../lib/errors.js';
import { silentLog } from '../../lib/log.js';
import { FleetHost, type AppStart, type HostOptions, type HostSnapshot } from './host.js';
import { addGauges, COUNTER_NAMES, emptyGauges, emptyStats, mergeStats, type CounterName } from './metrics.js';
import { OVERLOAD_LAG_P99_MS, REPORT_VERSION, type FleetReport } from './report.js';
import { idTagPool, type Scenario } from '../../sim/scenario.js';
import { loadFleetScenario } from './script.js';
import { chargerId, shardPositions } from './shard.js';
import type { FromWorker, ToWorker } from './worker.js';
import { FILES_RESERVED, processesNeeded, runInProcesses } from './processes.js';
import { startWorker } from './entry.js';
import { DEFAULT_OCPP_MIX, parseOcppMix, type OcppMix } from './ocpp-mix.js';
import { emptyAnswer, fanOut, SHARD_ANSWER_MS, type ControlAnswer, type ControlEvent, type ControlRequest, type ControlTarget } from './control/protocol.js';

export const fleetDefaults = {
  prefix: 'SIM-',
  digits: 5,
  seed: 1,
  timeScale: 1,
  rampPerSec: 0,
  statusIntervalMs: 5_000,
  /** Chargers per worker thread below which fewer threads are used. */
  minChargersPerWorker: 200,
  drainMs: 5_000,
  /**
   * The ramp `evse-edge sim` uses when none is given, per core of the machine: chargers
   * connecting and booting faster than this stall the event loop (all at once: seconds at
   * 8,000), which falsifies every latency the run reports.
   */
  rampPerSecPerCore: 200,
} as const;

/** The ramp a user gets by default: what this machine's cores absorb without a stall. */
export function defaultRampPerSec(cores = availableParallelism()): number {
  return fleetDefaults.rampPerSecPerCore * Math.max(1, cores);
}

export type { FleetOptions, FleetStatus } from './options.js';
import type { FleetOptions, FleetStatus } from './options.js';

export class FleetError extends EvseError {}

/** The open-file limit of this process (soft), or undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

interface HostHandle extends ControlTarget {
  snapshot(): Promise<HostSnapshot | undefined>;
  /** `fast`: an interrupted run; `catchUp`: the duration ended (see FleetHost.stop). */
  stop(fast: boolean, catchUp: boolean): Promise<{ snapshot: HostSnapshot; events: string[] }>;
}

function inThread(opts: HostOptions, appStart: AppStart | undefined, onControlEvents: (events: ControlEvent[]) => void): HostHandle {
  const host = new FleetHost(opts, appStart);
  const control = opts.control ? host.attachControl(onControlEvents) : undefined;
  host.start();
  return {
    control: async (req) => (control ? control.control(req) : emptyAnswer(req)),
    snapshot: async () => host.snapshot(),
    stop: async (fast, catchUp) => ({ snapshot: await host.stop(undefined, fast, catchUp), events: host.events }),
  };
}

function inWorker(opts: HostOptions, onError: (err: Error) => void, appStart: AppStart | undefined, onControlEvents: (events: ControlEvent[]) => void): HostHandle {
  const worker = startWorker('worker', { workerData: { ...opts, appStartByRunner: Boolean(appStart) } });
  const answers = new Map<number, (a: ControlAnswer) => void>();
  let nextControlId = 0;
  let gone = false;
  const forgetAll = () => {
    gone = true;
    for (const resolve of answers.values()) resolve({ op: 'list', chargers: [] });
    answers.clear();
  };
  worker.on('exit', forgetAll);
  let waiting: ((s: HostSnapshot | undefined) => void)[] = [];
  let onStopped: ((m: { snapshot: HostSnapshot; events: string[] }) => void) | undefined;
  let last: HostSnapshot | undefined;
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'control-answer') {
      answers.get(m.id)?.(m.answer);
      answers.delete(m.id);
    } else if (m.type === 'control-events') onControlEvents(m.events);
    else if (m.type === 'snapshot') {
      last = m.snapshot;
      for (const w of waiting.splice(0)) w(m.snapshot);
    } else if (m.type === 'stopped') onStopped?.({ snapshot: m.snapshot, events: m.events });
    else if (m.type === 'error') onError(new FleetError('ERR_FLEET_WORKER', m.message));
    else if (m.type === 'app-start' && appStart) {
      const reply = (ok: boolean) => worker.postMessage({ type: 'app-start-result', id: m.id, ok } satisfies ToWorker);
      appStart(m.chargePointId, m.idTag, m.connectorId).then(reply, () => reply(false));
    }
  });
  worker.on('error', (err) => onError(err));
  return {
    // A worker gone answers nothing: its requests end at once (fanOut reads a wrong op as empty).
    control: (req) => new Promise<ControlAnswer>((resolve) => {
      if (gone) return resolve(emptyAnswer(req));
      const id = ++nextControlId;
      answers.set(id, resolve);
      worker.postMessage({ type: 'control', id, req } satisfies ToWorker);
    }),
    snapshot: () => new Promise((resolve) => {
      waiting.push(resolve);
      worker.postMessage({ type: 'snapshot' });
      // A worker too busy to answer: report what it said last.
      setTimeout(() => {
        if (waiting.includes(resolve)) {
          waiting = waiting.filter((w) => w !== resolve);
          resolve(last);
        }
      }, 2_000).unref();
    }),
    stop: (fast, catchUp) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new FleetError('ERR_FLEET_WORKER_STOP', 'a worker did not stop in time'));
      // Closing thousands of links politely takes a while on a busy machine; dropping them does not.
      }, fast ? 10_000 : (opts.drainMs ?? fleetDefaults.drainMs) + 10_000 + opts.chargers.length * 5);
      onStopped = (m) => {
        clearTimeout(timer);
        void worker.terminate().then(() => resolve(m));
      };
      worker.postMessage({ type: 'stop', fast, catchUp } satisfies ToWorker);
    }),
  };
}

/**
 * Ask every target and merge the answers; chargers to add are dealt out to the targets in turn
 * (each gets its share, so no two hold the same id).
 */
export async function controlAll(targets: ControlTarget[], req: ControlRequest): Promise<ControlAnswer> {
  if (req.op !== 'add') return fanOut(targets, req, SHARD_ANSWER_MS);
  const shares = targets.map((): { id: string; index: number }[] => []);
  req.chargers.forEach((c, k) => shares[k % targets.length]!.push(c));
  const answers = await Promise.all(targets.map((t, i) => (shares[i]!.length ? fanOut([t], { ...req, chargers: shares[i]! }, SHARD_ANSWER_MS) : emptyAnswer(req))));
  return { op: 'add', added: answers.flatMap((a) => (a.op === 'add' ? a.added : [])) };
}

/**
 * The fleet: N simulated chargers (this shard's slice of the ids) spread over worker threads,
 * against one or more central systems (the embedded one by default). run() resolves with the
 * report when the duration has passed or stop() was called.
 */
export class FleetRunner {
  private stopRequested?: () => void;
  private readonly stopSignal = new Promise<void>((r) => (this.stopRequested = r));
  readonly scenario: Scenario;
  readonly charger: ChargerProfile;
  /** The OCPP versions the chargers speak, by share. */
  readonly ocpp: OcppMix;
  csms?: CentralSystem;

  constructor(private readonly o: FleetOptions) {
    this.scenario = typeof o.scenario === 'string' ? loadFleetScenario(o.scenario) : o.scenario;
    this.charger = loadProfile('chargers', o.charger ?? this.scenario.charger, chargerProfileSchema);
    this.ocpp = typeof o.ocpp === 'string' ? parseOcppMix(o.ocpp) : o.ocpp ?? DEFAULT_OCPP_MIX;
    if (!Number.isInteger(o.count) || o.count < 1) throw new FleetError('ERR_FLEET_COUNT', `--count must be a positive integer, got ${o.count}`);
  }

  /**
   * Ask a running fleet to stop (Ctrl-C, SIGTERM): run() still resolves with the report, within
   * seconds: answers in flight get a second, then every link is dropped without its closing
   * handshake, in every worker at once.
   */
  stop(): void {
    this.interrupted = true;
    this.stopRequested?.();
  }

  /** End the run as the end of its duration does: answers in flight are awaited, links close politely. */
  finish(): void {
    this.stopRequested?.();
  }

  private interrupted = false;
  /** Where control requests go once the run has started: its hosts, or its processes. */
  private controlTargets?: ControlTarget[];

  /**
   * A control request (the control API): asked of every host or process, answers merged. Chargers
   * to add are spread over them. Fails with ERR_FLEET_NOT_READY before the run has started.
   */
  async control(req: ControlRequest): Promise<ControlAnswer> {
    const targets = this.controlTargets;
    if (!targets) throw new FleetError('ERR_FLEET_NOT_READY', 'the fleet is not running yet');
    return controlAll(targets, req);
  }

  async run(): Promise<{ report: FleetReport; events: string[] }> {
    const o = this.o;
    const shard = o.shard ?? { index: 0, total: 1 };
    const positions = shardPositions(o.count, shard);
    const prefix = o.prefix ?? fleetDefaults.prefix;
    const digits = Math.max(o.digits ?? fleetDefaults.digits, String(o.count).length);
    const embedded = !o.urls || o.urls.length === 0;
    const limit = openFileLimit();
    const processes = o.processes ?? processesNeeded(positions.length, embedded, limit);
    const seed = o.seed ?? fleetDefaults.seed;
    const timeScale = o.timeScale ?? fleetDefaults.timeScale;
    const startMs = o.startMs ?? Date.now();
    const startedAt = new Date();
    const runStartedAt = o.runStartedAt ?? Date.now();
    if (processes > 1) {
      const stopWhen = o.stopWhen;
      const onStatus = stopWhen ? (s: FleetStatus) => {
        o.onStatus?.(s);
        if (stopWhen(s)) fleet.finish();
      } : o.onStatus;
      const fleet = runInProcesses({ ...o, scenario: this.scenario, ocpp: this.ocpp }, shard, processes, { onStatus, onWarning: o.onWarning, runStartedAt, startMs });
      this.controlTargets = fleet.children;
      void this.stopSignal.then(() => (this.interrupted ? fleet.stop() : fleet.finish()));
      const out = await fleet.done;
      out.report.startedAt = startedAt.toISOString();
      out.report.wallMs = Date.now() - runStartedAt;
      return out;
    }
    const fdsNeeded = positions.length * (embedded ? 2 : 1) + FILES_RESERVED;
    if (limit !== undefined && fdsNeeded > limit) {
      throw new FleetError('ERR_FLEET_EMFILE', `${positions.length} chargers${embedded ? ' and the embedded central system serving them' : ''} need about ${fdsNeeded} open files, but one process may open ${limit} (EMFILE). Run them in several processes: --processes ${processesNeeded(positions.length, embedded, limit)} (or leave --processes out), or several machines with --shard I/N.`);
    }
    const cpu0 = process.cpuUsage();
    const mainLag = monitorEventLoopDelay({ resolution: 10 });
    mainLag.enable();

    let urls = o.urls ?? [];
    if (embedded) {
      const hb = Number(this.scenario.ocpp.HeartbeatInterval ?? 300);
      this.csms = new CentralSystem({ port: 0, log: silentLog, heartbeatIntervalS: hb, idTags: idTagPool(this.scenario) });
      const port = await this.csms.listen();
      o.onEmbeddedCsms?.(this.csms);
      urls = [`ws://127.0.0.1:${port}/ocpp`];
    }
    // App starts: the central system sends RemoteStartTransaction, as a driver's app makes it do.
    const csms = this.csms;
    // A 2.0.1 charger is asked with RequestStartTransaction (the token the central system's, its own remoteStartId).
    let remoteStartId = 0;
    const appStart: AppStart | undefined = o.appStart ?? (csms
      ? async (cpId, idTag, connectorId) => (csms.protocolOf(cpId) === 'ocpp2.0.1'
        ? await csms.callV201(cpId, 'RequestStartTransaction', { idToken: { idToken: idTag, type: 'Central' }, remoteStartId: ++remoteStartId, evseId: connectorId })
        : await csms.call(cpId, 'RemoteStartTransaction', { connectorId, idTag })).status === 'Accepted'
      : undefined);
    const workers = Math.max(0, o.workers ?? Math.min(availableParallelism(), Math.ceil(positions.length / fleetDefaults.minChargersPerWorker)));
    const threads = Math.max(1, workers);
    const slices: { id: string; index: number; number: number }[][] = Array.from({ length: threads }, () => []);
    positions.forEach((pos, k) => slices[k % threads]!.push({ id: chargerId(prefix, pos, digits), index: k, number: pos + 1 }));
    let failure: Error | undefined;
    const hosts: HostHandle[] = slices.map((chargers) => {
      const hostOpts: HostOptions = {
        chargers, scenario: this.scenario, charger: this.charger, seed, urls, ocpp: this.ocpp, security: o.security, signedMeters: o.signedMeters, timeScale, startMs, durationMs: o.durationMs,
        rampPerSec: o.rampPerSec ?? fleetDefaults.rampPerSec, runStartedAt, logLevel: o.logLevel, recordEvents: o.recordEvents, drainMs: o.drainMs,
        ...(o.control ? { control: o.control } : {}),
      };
      const onControlEvents = (events: ControlEvent[]) => o.onControlEvents?.(events);
      return workers === 0 ? inThread(hostOpts, appStart, onControlEvents) : inWorker(hostOpts, (err) => {
        failure ??= err;
        this.stop();
      }, appStart, onControlEvents);
    });
    this.controlTargets = hosts;

    const statusEvery = o.statusIntervalMs ?? fleetDefaults.statusIntervalMs;
    // Each interval's rates are counted from where the previous status ended, from the run's
    // start for the first, so the statuses' rates times their intervals add up to the totals.
    let lastStatusAt = runStartedAt;
    let lastMessages = { in: 0, out: 0 };
    // One status at a time: a tick whose snapshots outlast the interval would otherwise overlap
    // the next, and the later-started one, finishing first, would count messages twice.
    let statusInFlight = false;
    let emfileWarned = false;
    let connectWarned = false;
    const statusTimer = o.onStatus || o.onWarning || o.stopWhen
      ? setInterval(async () => {
        if (statusInFlight) return;
        statusInFlight = true;
        const snaps = await Promise.all(hosts.map((h) => h.snapshot()))
          .then((all) => all.filter((x): x is HostSnapshot => Boolean(x)))
          .finally(() => { statusInFlight = false; });
        const emfile = snaps.reduce((n, s) => n + s.stats.counters.emfile, 0);
        if (emfile > 0 && !emfileWarned) {
          emfileWarned = true;
          o.onWarning?.(`EMFILE: the open-file limit of this process (${limit ?? 'unknown'}) was reached with ${positions.length} chargers; connections fail until files are freed. Run more processes (--processes) or raise the limit (ulimit -n).`);
        }
        const failure = snaps.find((s) => s.lastConnectFailure)?.lastConnectFailure;
        if (failure && !connectWarned) {
          connectWarned = true;
          o.onWarning?.(`connection attempts to the central system fail, e.g. ${failure}${/HTTP 40[13]/.test(failure) ? ' (check --password)' : /client certificate|certificate required|bad certificate/i.test(failure) ? ' (check --cert and --key)' : /CERT|SELF_SIGNED|UNABLE_TO/.test(failure) ? ' (check --ca)' : ''}; the chargers keep retrying with back-off`);
        }
        if (!o.onStatus && !o.stopWhen) return;
        const now = Date.now();
        const dt = Math.max(1, now - lastStatusAt) / 1000;
        lastStatusAt = now;
        const calls = snaps.reduce((n, s) => n + s.interval.calls, 0);
        const messages = { in: snaps.reduce((n, s) => n + s.stats.counters.messagesIn, 0), out: snaps.reduce((n, s) => n + s.stats.counters.messagesOut, 0) };
        const messagesPerS = { in: Math.max(0, messages.in - lastMessages.in) / dt, out: Math.max(0, messages.out - lastMessages.out) / dt };
        lastMessages = messages;
        const w = (f: (s: HostSnapshot) => number) => (calls ? snaps.reduce((x, s) => x + f(s) * s.interval.calls, 0) / calls : 0);
        const status: FleetStatus = {
          elapsedMs: now - runStartedAt,
          simulatedMs: Math.max(0, ...snaps.map((s) => s.simNowMs - startMs)),
          gauges: snaps.reduce((g, s) => addGauges(g, s.gauges), emptyGauges()),
          callsPerS: calls / dt,
          messagesInPerS: messagesPerS.in,
          messagesOutPerS: messagesPerS.out,
          errors: snaps.reduce((n, s) => n + s.interval.errors, 0),
          // Interval percentiles are per thread; the status line weights them (the report merges histograms).
          p50Ms: w((s) => s.interval.p50Ms), p95Ms: w((s) => s.interval.p95Ms), p99Ms: Math.max(0, ...snaps.map((s) => s.interval.p99Ms)),
          lagP99Ms: Math.max(0, ...snaps.map((s) => s.interval.lagP99Ms)),
          lagMaxMs: Math.max(0, ...snaps.map((s) => s.interval.lagMaxMs)),
          emfile: snaps.reduce((n, s) => n + s.stats.counters.emfile, 0),
          counters: Object.fromEntries(COUNTER_NAMES.map((k) => [k, snaps.reduce((n, s) => n + s.stats.counters[k], 0)])) as Record<CounterName, number>,
        };
        o.onStatus?.(status);
        if (o.stopWhen?.(status)) this.stopRequested?.();
      }, statusEvery)
      : undefined;

    // The end of the duration is not an interruption: links close politely.
    let durationEnded = false;
    const durationTimer = o.durationMs !== undefined ? setTimeout(() => {
      durationEnded = true;
      this.stopRequested?.();
    }, o.durationMs / timeScale) : undefined;
    await this.stopSignal;
    clearTimeout(durationTimer);
    if (statusTimer) clearInterval(statusTimer);
    // The run's lag ends where it stops, as each host's does (its snapshot is taken before its
    // links close): closing thousands of links is not a turn any latency of the run waited on.
    mainLag.disable();
    const results = await Promise.all(hosts.map((h) => h.stop(this.interrupted, durationEnded)));
    await this.csms?.close();
    const cpu = process.cpuUsage(cpu0);
    if (failure) throw failure;
    const stats = results.reduce((s, r) => mergeStats(s, r.snapshot.stats), emptyStats());
    const lag = {
      p99Ms: Math.max(mainLag.percentile(99) / 1e6, ...results.map((r) => r.snapshot.lag.p99Ms)),
      maxMs: Math.max(mainLag.max / 1e6, ...results.map((r) => r.snapshot.lag.maxMs)),
    };
    const report: FleetReport = {
      version: REPORT_VERSION, scenario: this.scenario.id, seed, timeScale, chargers: positions.length, shards: [shard],
      urls: embedded ? ['(embedded)'] : urls, startedAt: startedAt.toISOString(), wallMs: Date.now() - runStartedAt,
      simulatedMs: Math.max(0, ...results.map((r) => r.snapshot.simNowMs - startMs)), threads, cpuMs: (cpu.user + cpu.system) / 1000,
      lag, overloaded: lag.p99Ms > OVERLOAD_LAG_P99_MS, stats,
    };
    return { report, events: results.flatMap((r) => r.events) };
  }
}
