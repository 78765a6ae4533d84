import type { Timer } from '../../core/ports.js';
import { Prng, seedOf } from '../../sim/prng.js';
import type { SimConnector, SimVehicle } from '../../sim/sim-connector.js';
import type { SimIdReader } from '../../sim/sim-id-reader.js';
import type { SimFaultSource } from '../../sim/sim-fault-source.js';
import type { Scenario } from '../../sim/scenario.js';
import type { Scheduler } from './scheduler.js';

/** What the driver needs of the charge point it drives. */
export interface DrivenChargePoint {
  id: string;
  connectors: Map<number, SimConnector>;
  reader: SimIdReader;
  faults: SimFaultSource;
  remoteStart(idTag: string, connectorId: number): Promise<boolean>;
  goOffline(): void;
  goOnline(): void;
  dropLink(): void;
}

export type DriverEventKind = 'arrive' | 'balk' | 'present' | 'remote-start' | 'depart' | 'fault' | 'fault-clear' | 'offline' | 'online' | 'storm';

export interface DriverEventSink {
  (cpId: string, connectorId: number, kind: DriverEventKind, atMs: number, detail?: string): void;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const draw = (p: Prng, d: { mean: number; sd: number; min: number; max: number }) => clamp(d.sd > 0 ? p.normal(d.mean, d.sd) : d.mean, d.min, d.max);

/**
 * The simulated drivers of one charge point: vehicles arrive at each connector as a
 * non-homogeneous Poisson process (hourly rates, by thinning), plug in, authorise by card,
 * PIN or app, charge, and leave; faults and network flaps are drawn per arrival and per
 * charger. Every plan is drawn from per-connector seeded PRNGs in a fixed order and scheduled
 * at absolute simulated times, so the same seed gives the same events whatever the OCPP
 * traffic does.
 */
export class SimDriver {
  private readonly timers = new Set<Timer>();
  private readonly busyUntil = new Map<number, number>();
  private stopped = false;
  private readonly pool: { prefix: string; digits: number };

  constructor(
    private readonly cp: DrivenChargePoint,
    private readonly sc: Scenario,
    private readonly scheduler: Scheduler,
    private readonly seed: number,
    private readonly emit: DriverEventSink,
  ) {
    this.pool = { prefix: sc.auth.idTagPool.prefix, digits: Math.max(4, String(sc.auth.idTagPool.size).length) };
  }

  start(fromMs: number): void {
    for (const connectorId of this.cp.connectors.keys()) {
      const prng = new Prng(seedOf(`${this.cp.id}/${connectorId}`, this.seed));
      this.scheduleArrival(connectorId, prng, fromMs);
    }
    const net = new Prng(seedOf(`${this.cp.id}/network`, this.seed));
    const n = this.sc.network;
    if (net.next() < n.flapShare) {
      const at = fromMs + Math.floor(net.next() * n.flapWithinMinutes * 60_000);
      const forMs = Math.round(draw(net, n.offlineSeconds) * 1000);
      this.at(at, () => {
        this.emit(this.cp.id, 0, 'offline', at, String(forMs));
        this.cp.goOffline();
        this.at(at + forMs, () => {
          this.emit(this.cp.id, 0, 'online', at + forMs);
          this.cp.goOnline();
        });
      });
    }
    if (n.stormAtSeconds !== undefined) {
      const at = fromMs + n.stormAtSeconds * 1000;
      this.at(at, () => {
        this.emit(this.cp.id, 0, 'storm', at);
        this.cp.dropLink();
      });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  private at(atMs: number, fn: () => void): void {
    if (this.stopped) return;
    const t = this.scheduler.at(atMs, () => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    });
    this.timers.add(t);
  }

  /** Next arrival after `fromMs` by thinning against the day's peak rate. */
  private nextArrival(prng: Prng, fromMs: number): number | undefined {
    const rates = this.sc.arrivals.ratePerHour;
    const peak = Math.max(...rates);
    if (peak <= 0) return undefined;
    let t = fromMs;
    for (let i = 0; i < 10_000; i++) {
      t += prng.exponential(3_600_000 / peak);
      const hour = new Date(t).getUTCHours();
      if (prng.next() * peak < rates[hour]!) return Math.round(t);
    }
    return undefined;
  }

  private scheduleArrival(connectorId: number, prng: Prng, fromMs: number): void {
    const t = this.nextArrival(prng, fromMs);
    if (t === undefined) return;
    this.at(t, () => this.arrive(connectorId, prng, t));
  }

  private pickVehicle(prng: Prng): Scenario['vehicles'][number] {
    const total = this.sc.vehicles.reduce((s, v) => s + v.share, 0);
    let x = prng.next() * total;
    for (const v of this.sc.vehicles) {
      x -= v.share;
      if (x < 0) return v;
    }
    return this.sc.vehicles[this.sc.vehicles.length - 1]!;
  }

  private arrive(connectorId: number, prng: Prng, t: number): void {
    const sc = this.sc;
    // Draw the whole visit first, always in the same order, whether or not it happens.
    const model = this.pickVehicle(prng);
    const socPct = prng.between(model.socPctMin, model.socPctMax);
    const wantWh = draw(prng, sc.session.energyKWh) * 1000;
    const presentMs = Math.round(draw(prng, sc.session.presentDelaySeconds) * 1000);
    const dwellMs = Math.max(Math.round(draw(prng, sc.session.dwellMinutes) * 60_000), presentMs + 60_000);
    const a = sc.auth;
    const m = prng.next() * (a.rfidShare + a.touchscreenShare + a.appShare);
    const method = m < a.rfidShare ? 'rfid' : m < a.rfidShare + a.touchscreenShare ? 'touchscreen' : 'app';
    const invalid = prng.next() < a.invalidShare;
    const tagNo = prng.int(1, a.idTagPool.size);
    const idTag = invalid ? `${a.invalidPrefix}${String(tagNo).padStart(this.pool.digits, '0')}` : `${this.pool.prefix}${String(tagNo).padStart(this.pool.digits, '0')}`;
    const meterFault = prng.next() < sc.faults.meterTimeoutShare;
    const readerFault = prng.next() < sc.faults.readerFailureShare;
    const faultAtMs = t + presentMs + Math.floor(prng.next() * (dwellMs - presentMs));
    const faultForMs = Math.round(draw(prng, sc.faults.durationSeconds) * 1000);
    this.scheduleArrival(connectorId, prng, t);

    if ((this.busyUntil.get(connectorId) ?? 0) > t) {
      this.emit(this.cp.id, connectorId, 'balk', t);
      return;
    }
    const sim = this.cp.connectors.get(connectorId)!;
    this.busyUntil.set(connectorId, t + dwellMs + 1);
    const vehicle: SimVehicle = {
      batteryWh: model.batteryWh, maxPowerW: model.maxPowerW, socPct,
      targetSocPct: Math.min(model.targetSocPct, socPct + (wantWh / model.batteryWh) * 100),
    };
    this.emit(this.cp.id, connectorId, 'arrive', t, model.name);
    sim.plug(vehicle);
    if (readerFault && method !== 'app') {
      const at = t + Math.floor(presentMs / 2);
      this.at(at, () => {
        this.emit(this.cp.id, 0, 'fault', at, 'ReaderFailure');
        this.cp.faults.report({ source: 'reader', errorCode: 'ReaderFailure', info: 'simulated reader failure', active: true });
      });
      this.at(at + faultForMs, () => {
        this.emit(this.cp.id, 0, 'fault-clear', at + faultForMs, 'ReaderFailure');
        this.cp.faults.report({ source: 'reader', errorCode: 'ReaderFailure', active: false });
      });
    }
    this.at(t + presentMs, () => {
      if (method === 'app') {
        this.emit(this.cp.id, connectorId, 'remote-start', t + presentMs, idTag);
        void this.cp.remoteStart(idTag, connectorId);
      } else {
        this.emit(this.cp.id, connectorId, 'present', t + presentMs, `${method}:${idTag}`);
        this.cp.reader.present({ token: { id: idTag, type: method === 'touchscreen' ? 'KeyCode' : 'ISO14443' }, method, evseId: connectorId });
      }
    });
    if (meterFault) {
      this.at(faultAtMs, () => {
        this.emit(this.cp.id, connectorId, 'fault', faultAtMs, 'PowerMeterFailure');
        sim.failReads(Math.max(1, Math.ceil(faultForMs / Math.max(1, sc.timing.meterPollIntervalMs))));
        this.cp.faults.report({ source: `meter:${connectorId}`, errorCode: 'PowerMeterFailure', info: 'simulated meter timeout', active: true });
      });
      this.at(faultAtMs + faultForMs, () => {
        this.emit(this.cp.id, connectorId, 'fault-clear', faultAtMs + faultForMs, 'PowerMeterFailure');
        this.cp.faults.report({ source: `meter:${connectorId}`, errorCode: 'PowerMeterFailure', active: false });
      });
    }
    this.at(t + dwellMs, () => {
      this.emit(this.cp.id, connectorId, 'depart', t + dwellMs);
      sim.unplug();
    });
  }
}
