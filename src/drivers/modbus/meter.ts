/**
 * A connector's energy meter read over Modbus, driven by its profile. Implements Meter (a
 * fresh reading per read()) and FaultSource: after the bus's retries fail it raises
 * PowerMeterFailure for `meter:<connectorId>`, and clears it when the meter answers again. It
 * asks the core to read it while idle too (idlePollIntervalMs), so recovery is seen even when no
 * session runs: the core's meter loop is the only one, and the core's meter guard
 * (core/meter-guard.ts) the only check of the values (a register going backwards, an
 * unreadable or implausible one); this driver reports what the meter says.
 */
import type { Clock, FaultReport, FaultSource, Meter, MeterReading, MeterSigner } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import { decodeValues, planReads, RegisterImage, type ReadRequest } from './codec.js';
import type { ModbusBus } from './bus.js';
import { ModbusError } from './errors.js';
import { READING_MEASURANDS, type MeterProfile } from './meter-profile.js';
import { ModbusOcmfSigner } from './ocmf-signer.js';

export interface ModbusMeterOptions {
  bus: ModbusBus;
  profile: MeterProfile;
  /** Device (slave) address on the bus. */
  unitId: number;
  connectorId: number;
  /** Per-device answer timeout. */
  timeoutMs?: number;
  /** Attempts after the first, per request. */
  retries?: number;
  /** How often the core reads the meter while no session runs; 0: only in sessions. */
  pollIntervalMs?: number;
  clock?: Pick<Clock, 'now' | 'setTimeout'> & Partial<Pick<Clock, 'trusted'>>;
  log?: Log;
  /** OCMF payload fields the charger owns (GI, GS, CT, CI…), written to a signing meter before each transaction. */
  ocmfMetadata?: Record<string, string | boolean | string[]>;
}

export const METER_DEFAULTS = { timeoutMs: 500, retries: 2, pollIntervalMs: 1000 };

/** Node's own clock, for callers that pass none. */
export const systemClock: Pick<Clock, 'now' | 'setTimeout'> = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export class ModbusMeter implements Meter, FaultSource {
  private readonly plan: ReadRequest[];
  private readonly listeners = new Set<(f: FaultReport) => void>();
  private readonly clock: Pick<Clock, 'now' | 'setTimeout'>;
  private inflight: Promise<MeterReading> | undefined;
  private faulted = false;
  /** Values of the last reading in base units, keyed "measurand|phase" (diagnostics). */
  lastValues: ReadonlyMap<string, number> = new Map();
  /** A calibration-law meter's signing (the profile's `signing`): transaction begin and end, signed. */
  readonly signer?: MeterSigner;

  constructor(private readonly opts: ModbusMeterOptions) {
    this.plan = planReads(opts.profile);
    this.clock = opts.clock ?? systemClock;
    if (opts.profile.signing) {
      this.signer = new ModbusOcmfSigner({
        bus: opts.bus, signing: opts.profile.signing, clock: this.clock, log: opts.log, metadata: opts.ocmfMetadata,
        request: { unitId: opts.unitId, timeoutMs: opts.timeoutMs ?? METER_DEFAULTS.timeoutMs, retries: opts.retries ?? METER_DEFAULTS.retries },
        readPlain: () => this.read(),
      });
    }
  }

  get source(): string {
    return `meter:${this.opts.connectorId}`;
  }

  /** The requests one reading takes (few, grouped). */
  get requests(): readonly ReadRequest[] {
    return this.plan;
  }

  get isFaulted(): boolean {
    return this.faulted;
  }

  onFault(listener: (fault: FaultReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The core reads this meter while idle too: the fault state stays current and recovery is seen. */
  get idlePollIntervalMs(): number {
    return this.opts.pollIntervalMs ?? METER_DEFAULTS.pollIntervalMs;
  }

  /** A fresh reading; concurrent callers share one bus transaction. */
  read(): Promise<MeterReading> {
    this.inflight ??= this.readOnce().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async readOnce(): Promise<MeterReading> {
    const { bus, unitId } = this.opts;
    const req = { unitId, timeoutMs: this.opts.timeoutMs ?? METER_DEFAULTS.timeoutMs, retries: this.opts.retries ?? METER_DEFAULTS.retries };
    const image = new RegisterImage();
    try {
      for (const r of this.plan) image.add(r.functionCode, r.address, await bus.read(req, r.functionCode as 3 | 4, r.address, r.count));
    } catch (err) {
      const e = err as ModbusError;
      if (e.code !== 'ERR_MODBUS_STOPPED') this.setFault(true, `${e.code}: ${e.message}`);
      throw err;
    }
    const takenAt = this.clock.now();
    const values = decodeValues(this.opts.profile, image);
    const reading = toReading(values, takenAt);
    // The meter answered: communication is fine, whatever the core's guard thinks of the value.
    this.setFault(false);
    this.lastValues = values;
    return reading;
  }

  private setFault(active: boolean, info?: string): void {
    if (active === this.faulted) return;
    this.faulted = active;
    const report: FaultReport = { source: this.source, errorCode: 'PowerMeterFailure', active };
    if (info !== undefined) report.info = info;
    if (active) this.opts.log?.warn('meter not answering', { source: this.source, info });
    else this.opts.log?.info('meter answers again', { source: this.source });
    for (const l of this.listeners) l(report);
  }
}

export { READING_MEASURANDS };

/** Map decoded values (base units) onto a MeterReading; phases the profile lacks stay absent. */
export function toReading(values: ReadonlyMap<string, number>, takenAt: number): MeterReading {
  const reading: MeterReading = { takenAt, energyWh: values.get('Energy.Active.Import.Register|') ?? NaN };
  const power = values.get('Power.Active.Import|');
  if (power !== undefined) reading.powerW = power;
  const phases = (measurand: string, names: string[]) => {
    const out: number[] = [];
    for (const n of names) {
      const v = values.get(`${measurand}|${n}`);
      if (v === undefined) break;
      out.push(v);
    }
    return out.length ? out : undefined;
  };
  const currents = phases('Current.Import', ['L1', 'L2', 'L3']);
  if (currents) reading.currentA = currents;
  const voltages = phases('Voltage', ['L1-N', 'L2-N', 'L3-N']) ?? phases('Voltage', ['L1', 'L2', 'L3']);
  if (voltages) reading.voltageV = voltages;
  const f = values.get('Frequency|');
  if (f !== undefined) reading.frequencyHz = f;
  return reading;
}
