import { EvseError } from '../lib/errors.js';
import type { Clock, Meter, MeterReading, PowerPath, Timer, VehicleState } from '../core/ports.js';
import { Prng } from './prng.js';
import { SimMeterSigner, type SimMeterSignerOptions } from './sim-meter-signer.js';

export interface SimVehicle {
  batteryWh: number;
  /** The on-board charger's limit (AC) or the car's limit (DC), W. */
  maxPowerW: number;
  socPct: number;
  targetSocPct: number;
}

export interface SimConnectorOptions {
  clock: Clock;
  phases: 1 | 3;
  /** A DC connector: one current and voltage, at the vehicle's DC side. */
  dc?: boolean;
  nominalVoltageV: number;
  maxCurrentA: number;
  /** Energy register at start, Wh. */
  initialEnergyWh: number;
  seed: number;
  /** A vehicle arrives this long after the connector invites one (0: never by itself). */
  arrivalDelayMs: number;
  /** The driver unplugs this long after charging ends (0: never by itself). */
  departureDelayMs: number;
  /** The vehicle that arrives when invited. */
  vehicle: () => SimVehicle;
  /** A calibration-law meter: it signs transaction begin and end readings (OCMF) with this key. */
  signing?: Omit<SimMeterSignerOptions, 'clock'>;
}

/** The measurands a simulated connector's meter and vehicle give (SoC while a vehicle is plugged). */
export const SIM_MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage', 'SoC'] as const;

/**
 * A simulated connector: its EVSE board (contactor, current limit, control pilot), the vehicle
 * plugged into it and its energy meter. Energy is integrated lazily from the power drawn, so
 * an idle fleet costs no timers.
 */
export class SimConnector {
  readonly meter: Meter;
  readonly powerPath: PowerPath;
  private energyWh: number;
  private lastAt: number;
  private offeredA = 0;
  private ev?: SimVehicle;
  private state: VehicleState = 'disconnected';
  /** Replaced, never changed in place (see SimFaultSource). */
  private listeners: readonly ((s: VehicleState) => void)[] = [];
  private readonly prng: Prng;
  private pendingTimer?: Timer;
  /** Reads that will fail (fault injection). */
  private failingReads = 0;

  constructor(private readonly o: SimConnectorOptions) {
    this.energyWh = o.initialEnergyWh;
    this.lastAt = o.clock.now();
    this.prng = new Prng(o.seed);
    // Method shorthand, not named arrows: the loader's keepNames gives every named arrow a
    // property store of its own (about 250 bytes), and a fleet holds thousands of these.
    const self = this;
    this.meter = {
      read() {
        return self.read();
      },
      resume(registerWh) {
        self.resume(registerWh);
      },
      ...(o.signing ? { signer: new SimMeterSigner({ ...o.signing, clock: o.clock }, () => self.read()) } : {}),
    };
    this.powerPath = {
      vehicle() {
        return self.state;
      },
      onVehicleChange(l) {
        self.listeners = [...self.listeners, l];
        return () => {
          self.listeners = self.listeners.filter((x) => x !== l);
        };
      },
      async offer(a, opts) {
        return self.offer(a, opts?.suspend ?? false);
      },
      invite() {
        return self.invite();
      },
      hasLock() {
        return true;
      },
      async unlock() {
        return 'Unlocked' as const;
      },
    };
  }

  /** Plug a vehicle in now. */
  plug(vehicle: SimVehicle = this.o.vehicle()): void {
    if (this.ev) return;
    this.advance();
    this.ev = vehicle;
    this.setState(this.offeredA > 0 ? 'charging' : 'connected');
  }

  unplug(): void {
    if (!this.ev) return;
    this.advance();
    this.ev = undefined;
    this.pendingTimer?.cancel();
    this.setState('disconnected');
  }

  get vehicle(): SimVehicle | undefined {
    return this.ev;
  }

  get registerWh(): number {
    this.advance();
    return this.energyWh;
  }

  /**
   * A real meter's register is non-volatile; this one lives in memory and restarts at its seeded
   * value. At start it resumes at the highest register the store recorded, so it never goes
   * backwards for one charger (never lowered).
   */
  resume(registerWh: number): void {
    this.advance();
    if (Number.isFinite(registerWh) && registerWh > this.energyWh) this.energyWh = registerWh;
  }

  /** Make the next `n` reads fail like a meter that does not answer. */
  failReads(n: number): void {
    this.failingReads = n;
  }

  /** Power drawn now, W. */
  powerW(): number {
    const ev = this.ev;
    if (!ev || this.offeredA <= 0 || ev.socPct >= ev.targetSocPct) return 0;
    const offered = this.offeredA * this.o.nominalVoltageV * this.o.phases;
    // Constant power to 80 % state of charge, then tapering to a tenth at 100 %.
    const taper = ev.socPct <= 80 ? 1 : Math.max(0.1, 1 - ((ev.socPct - 80) / 20) * 0.9);
    return Math.min(offered, ev.maxPowerW) * taper;
  }

  private advance(): void {
    const now = this.o.clock.now();
    const dtMs = now - this.lastAt;
    if (dtMs <= 0) return;
    const p = this.powerW();
    this.lastAt = now;
    if (p <= 0) return;
    const wh = (p * dtMs) / 3_600_000;
    this.energyWh += wh;
    const ev = this.ev!;
    ev.socPct = Math.min(100, ev.socPct + (wh / ev.batteryWh) * 100);
    if (ev.socPct >= ev.targetSocPct && this.state === 'charging') {
      // Full: the vehicle stops drawing (SuspendedEV).
      this.setState('connected');
      this.scheduleDeparture();
    }
  }

  private async read(): Promise<MeterReading> {
    if (this.failingReads > 0) {
      this.failingReads--;
      throw new EvseError('ERR_METER_TIMEOUT', 'simulated meter did not answer');
    }
    this.advance();
    const p = this.powerW();
    const v = Array.from({ length: this.o.phases }, () => this.o.nominalVoltageV + this.prng.between(-2, 2));
    const perPhaseA = p / (this.o.nominalVoltageV * this.o.phases);
    return {
      takenAt: this.o.clock.now(),
      energyWh: Math.round(this.energyWh * 10) / 10,
      powerW: Math.round(p),
      currentA: v.map(() => Math.round(perPhaseA * 100) / 100),
      voltageV: v.map((x) => Math.round(x * 10) / 10),
      ...(this.o.dc ? { dc: true } : {}),
      ...(this.ev ? { socPct: Math.round(this.ev.socPct) } : {}),
    };
  }

  /** `suspend`: a charging limit of 0 in a running session: the driver does not leave. */
  private offer(a: number, suspend = false): void {
    this.advance();
    const wasOffering = this.offeredA > 0;
    this.offeredA = Math.max(0, Math.min(a, this.o.maxCurrentA));
    if (!this.ev) return;
    if (this.offeredA > 0 && this.powerW() > 0) this.setState('charging');
    else this.setState('connected');
    if (wasOffering && this.offeredA === 0 && !suspend) this.scheduleDeparture();
  }

  private invite(): void {
    if (this.ev || this.o.arrivalDelayMs <= 0) return;
    this.pendingTimer?.cancel();
    this.pendingTimer = this.o.clock.setTimeout(() => this.plug(), this.o.arrivalDelayMs);
  }

  private scheduleDeparture(): void {
    if (this.o.departureDelayMs <= 0) return;
    this.pendingTimer?.cancel();
    this.pendingTimer = this.o.clock.setTimeout(() => {
      if (this.offeredA === 0 || (this.ev && this.ev.socPct >= this.ev.targetSocPct)) this.unplug();
    }, this.o.departureDelayMs);
  }

  private setState(s: VehicleState): void {
    if (s === this.state) return;
    this.state = s;
    for (const l of this.listeners) l(s);
  }
}
