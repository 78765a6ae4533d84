import type { CallOutcome } from '../../ocpp/connection.js';
import { CHARGE_POINT_ACTIONS } from '../../ocpp/v16/messages.js';
import { STATION_ACTIONS } from '../../ocpp/v201/messages.js';
import type { ChargerProfile } from '../../config/profiles.js';
import type { OcppSubprotocol } from '../../ocpp/version.js';
import type { OcppMix } from './ocpp-mix.js';
import { ConfigError } from '../../lib/errors.js';
import type { ConnectorErrorCode } from '../../core/ports.js';
import { idTagPool, loadScenario, scenarioFile, type Scenario, type ScenarioExpectation, type ScenarioStep } from '../../sim/scenario.js';
import type { SimVehicle } from '../../sim/sim-connector.js';
import type { DrivenChargePoint } from './driver.js';
import { answerStatus, type FleetMetrics } from './metrics.js';
import type { Scheduler } from './scheduler.js';

/** The CALLs a charger sends, per OCPP version (subprotocol). */
const ACTIONS_OF: Record<OcppSubprotocol, readonly string[]> = { 'ocpp1.6': CHARGE_POINT_ACTIONS, 'ocpp2.0.1': STATION_ACTIONS };

/** Every CALL a simulated charger sends, in OCPP 1.6 or 2.0.1: what the report's figures are kept by. */
export const CHARGER_ACTIONS: readonly string[] = [...new Set<string>([...CHARGE_POINT_ACTIONS, ...STATION_ACTIONS])].sort();

const distance = (a: string, b: string): number => {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return d[b.length]!;
};

/** Why `action` is not one a charger sends (with the nearest name), or undefined when it is. */
export function unknownActionProblem(action: string): string | undefined {
  if (CHARGER_ACTIONS.includes(action)) return undefined;
  const near = CHARGER_ACTIONS.map((a) => ({ a, d: distance(a.toLowerCase(), action.toLowerCase()) })).sort((x, y) => x.d - y.d)[0];
  const hint = near && near.d <= Math.max(2, Math.floor(action.length / 4)) ? ` (did you mean ${near.a}?)` : '';
  return `unknown action "${action}"${hint}: not a CALL a charger sends in OCPP 1.6 or 2.0.1 (${CHARGER_ACTIONS.join(', ')})`;
}

/** The scenario's expectations that name an action no charger sends. */
export function scriptActionProblems(sc: Scenario): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  sc.expectations.forEach((e, i) => {
    const problem = e.action === undefined ? undefined : unknownActionProblem(e.action);
    if (problem) out.push({ path: `expectations[${i}].action`, message: problem });
  });
  return out;
}

/** A fleet scenario: loadScenario, and its expectations' action names checked (every problem, with the file). */
export function loadFleetScenario(ref: string, baseDir?: string): Scenario {
  const sc = loadScenario(ref, baseDir);
  const problems = scriptActionProblems(sc);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ file: scenarioFile(ref, baseDir), ...p })));
  return sc;
}

/**
 * What only the run can check: the steps' connectors exist on the charger profile the run uses,
 * their charger numbers are within the fleet, and the expectations' actions are sent by some
 * charger of the fleet's OCPP versions (StartTransaction is 1.6's; 2.0.1 has TransactionEvent).
 */
export function scriptRunProblems(sc: Scenario, charger: ChargerProfile, count: number, ocpp: OcppMix): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const versions = ocpp.map((s) => s.version);
  sc.expectations.forEach((e, i) => {
    if (e.action === undefined || versions.some((v) => ACTIONS_OF[v].includes(e.action!))) return;
    const names = versions.map((v) => `OCPP ${v.replace(/^ocpp/, '')}`).join(' and ');
    const hint = e.action === 'StartTransaction' || e.action === 'StopTransaction' ? ' (2.0.1 reports transactions with TransactionEvent)' : '';
    out.push({ path: `expectations[${i}].action`, message: `no charger of this fleet sends ${e.action}: it speaks ${names}${hint}` });
  });
  const connectors = charger.connectors.map((c) => c.id);
  sc.steps.forEach((st, i) => {
    const c = 'connector' in st ? st.connector : undefined;
    if (c !== undefined && c !== 0 && !connectors.includes(c)) {
      out.push({ path: `steps[${i}].connector`, message: `charger "${charger.id}" has no connector ${c} (it has ${connectors.join(', ')})` });
    }
    if (c === 0 && st.do === 'fault' && st.errorCode === 'PowerMeterFailure') {
      out.push({ path: `steps[${i}].connector`, message: 'a meter fault is on a connector (1 or more)' });
    }
    st.chargers?.forEach((n, k) => {
      if (n > count) out.push({ path: `steps[${i}].chargers[${k}]`, message: `charger ${n} is beyond the fleet (--count ${count})` });
    });
  });
  return out;
}

/** A charger a script drives: what the random driver drives, plus its number and its CALLs' outcomes. */
export interface ScriptedCharger extends DrivenChargePoint {
  /** Its position in the fleet, from 1 (SIM-00001). */
  number: number;
  /** The connection whose CALLs are watched (its onCallEnded is chained, only while a window is open). */
  connection: { onCallEnded?: (o: CallOutcome) => void };
}

/** An expectation watched on one charger after one step. */
interface Watch {
  expectation: number;
  e: Extract<ScenarioExpectation, { expect: 'answer' | 'no-callerror' }>;
  untilMs: number;
  done: boolean;
}

/** The expectations, by index, that watch the chargers of each step id. */
function watchersByStep(sc: Scenario): Map<string, number[]> {
  const out = new Map<string, number[]>();
  sc.expectations.forEach((e, i) => {
    if ((e.expect === 'answer' || e.expect === 'no-callerror') && e.afterStep !== undefined) {
      out.set(e.afterStep, [...(out.get(e.afterStep) ?? []), i]);
    }
  });
  return out;
}

/**
 * A scenario's scripted steps on one thread's chargers: each step runs on each of its chargers
 * `atSeconds` of simulated time after that charger's first Accepted boot (so a ramp or a busy
 * machine never makes a step find its charger still booting), and the expectations that watch a
 * step observe that charger's CALLs for their window. What they saw is counted in the thread's
 * metrics (`watched`), which merge across threads, processes and shard reports; progress goes to
 * the counters scriptPlanned/scriptDone, so a run can end once its script has played out.
 */
export class FleetScript {
  private readonly watchers: Map<string, number[]>;
  private readonly pool: string[];
  private readonly pending = new Set<() => void>();
  /** Chargers built and not yet accepted, with the steps that wait for that. */
  private readonly waiting = new Map<ScriptedCharger, ScenarioStep[]>();
  private stopped = false;

  constructor(private readonly sc: Scenario, private readonly scheduler: Scheduler, private readonly metrics: FleetMetrics) {
    this.watchers = watchersByStep(sc);
    this.pool = idTagPool(sc);
  }

  get active(): boolean {
    return this.sc.steps.length > 0;
  }

  private stepsOf(cp: ScriptedCharger): ScenarioStep[] {
    return this.sc.steps.filter((st) => !st.chargers || st.chargers.includes(cp.number));
  }

  /** A charger was built: count what the script plans for it. */
  plan(cp: ScriptedCharger): void {
    const steps = this.stepsOf(cp);
    if (steps.length) this.waiting.set(cp, steps);
    for (const st of steps) {
      this.metrics.add('scriptPlanned');
      for (const i of (st.id !== undefined && this.watchers.get(st.id)) || []) {
        this.metrics.watch(i, 'chargers');
        this.metrics.add('scriptPlanned');
      }
    }
  }

  /** The charger's first boot was Accepted: its steps are scheduled from now. */
  accepted(cp: ScriptedCharger): void {
    const steps = this.waiting.get(cp);
    if (this.stopped || !steps) return;
    this.waiting.delete(cp);
    const t0 = this.scheduler.now();
    for (const st of steps) {
      const at = t0 + Math.round(st.atSeconds * 1000);
      const cancel = () => {
        timer.cancel();
        this.notRun(st);
      };
      this.pending.add(cancel);
      const timer = this.scheduler.at(at, () => {
        this.pending.delete(cancel);
        if (this.stopped) return;
        this.watch(cp, st);
        this.run(cp, st);
        this.metrics.add('scriptDone');
      });
    }
  }

  private notRun(st: ScenarioStep): void {
    this.metrics.add('scriptDone');
    for (const i of (st.id !== undefined && this.watchers.get(st.id)) || []) {
      this.metrics.watch(i, 'notRun');
      this.metrics.add('scriptDone');
    }
  }

  private watch(cp: ScriptedCharger, st: ScenarioStep): void {
    const list = (st.id !== undefined && this.watchers.get(st.id)) || [];
    if (list.length === 0) return;
    const now = this.scheduler.now();
    const watches: Watch[] = list.map((i) => {
      const e = this.sc.expectations[i] as Watch['e'];
      return { expectation: i, e, untilMs: now + Math.round((e.withinSeconds ?? 0) * 1000), done: false };
    });
    const conn = cp.connection;
    const before = conn.onCallEnded;
    const settle = (w: Watch, met: boolean) => {
      if (w.done) return;
      w.done = true;
      if (met) this.metrics.watch(w.expectation, 'met');
      this.metrics.add('scriptDone');
      if (watches.every((x) => x.done)) {
        // The last window closed: the connection reports to the metrics alone again (unless
        // another step chained itself on top since, which then keeps calling this one).
        if (conn.onCallEnded === listener) conn.onCallEnded = before;
        else live = false;
      }
    };
    let live = true;
    const listener = (o: CallOutcome) => {
      before?.(o);
      if (!live) return;
      const t = this.scheduler.now();
      for (const w of watches) {
        if (w.done || t > w.untilMs) continue;
        if (w.e.action !== undefined && w.e.action !== o.action) continue;
        if (w.e.expect === 'answer' && o.result === 'ok' && answerStatus(o.response) === w.e.status) settle(w, true);
        else if (w.e.expect === 'no-callerror' && o.result === 'callerror') settle(w, false);
      }
    };
    conn.onCallEnded = listener;
    for (const w of watches) {
      // When the window closes: an answer not seen fails, no CALLERROR seen passes.
      const close = () => settle(w, w.e.expect === 'no-callerror');
      const timer = this.scheduler.at(w.untilMs, () => {
        this.pending.delete(end);
        close();
      });
      const end = () => {
        timer.cancel();
        close();
      };
      this.pending.add(end);
    }
  }

  private vehicle(name?: string): SimVehicle {
    const v = this.sc.vehicles.find((x) => x.name === name) ?? this.sc.vehicles[0]!;
    return { batteryWh: v.batteryWh, maxPowerW: v.maxPowerW, socPct: (v.socPctMin + v.socPctMax) / 2, targetSocPct: v.targetSocPct };
  }

  private tagOf(cp: ScriptedCharger, idTag?: string): string {
    return idTag ?? this.pool[(cp.number - 1) % this.pool.length]!;
  }

  private run(cp: ScriptedCharger, st: ScenarioStep): void {
    switch (st.do) {
      case 'plug-in':
        cp.connectors.get(st.connector)?.plug(this.vehicle(st.vehicle));
        return;
      case 'unplug':
        cp.connectors.get(st.connector)?.unplug();
        return;
      case 'present-token':
        cp.reader.present({ token: { id: this.tagOf(cp, st.idTag), type: st.method === 'touchscreen' ? 'KeyCode' : 'ISO14443' }, method: st.method, evseId: st.connector });
        return;
      case 'app-start':
        void cp.remoteStart(this.tagOf(cp, st.idTag), st.connector);
        return;
      case 'cut-network':
        cp.goOffline();
        return;
      case 'restore-network':
        cp.goOnline();
        return;
      case 'drop-link':
        cp.dropLink();
        return;
      case 'fault': {
        const source = faultSource(st.errorCode, st.connector);
        if (st.errorCode === 'PowerMeterFailure' && st.connector) cp.connectors.get(st.connector)?.failReads(Number.MAX_SAFE_INTEGER);
        cp.faults.report({ source, errorCode: st.errorCode, info: 'scripted fault', active: true });
        if (st.forSeconds !== undefined) this.scheduler.at(this.scheduler.now() + Math.round(st.forSeconds * 1000), () => this.clear(cp, st.errorCode, st.connector));
        return;
      }
      case 'clear-fault':
        this.clear(cp, st.errorCode, st.connector);
    }
  }

  private clear(cp: ScriptedCharger, errorCode: ConnectorErrorCode, connector?: number): void {
    if (this.stopped) return;
    if (errorCode === 'PowerMeterFailure' && connector) cp.connectors.get(connector)?.failReads(0);
    cp.faults.report({ source: faultSource(errorCode, connector), errorCode, active: false });
  }

  /** The run ends: steps not run count as such, open windows close with what they saw. */
  stop(): void {
    if (this.stopped) return;
    for (const end of [...this.pending]) end();
    this.pending.clear();
    for (const steps of this.waiting.values()) for (const st of steps) this.notRun(st);
    this.waiting.clear();
    this.stopped = true;
  }
}

/** The fault's source: a meter's is the meter's ("meter:1"), as the random driver's; others the step's, on the connector or the station. */
function faultSource(errorCode: string, connector?: number): string {
  if (errorCode === 'PowerMeterFailure' && connector) return `meter:${connector}`;
  if (errorCode === 'ReaderFailure' && !connector) return 'reader';
  return connector ? `script-${errorCode}:${connector}` : `script-${errorCode}`;
}
