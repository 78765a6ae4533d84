/**
 * The EVSE control board (control pilot, contactor) over Modbus, driven by its profile.
 * Implements PowerPath: offer(A) writes the current setpoint (0 or below the profile's minimum
 * stops charging), the vehicle state is polled and mapped to VehicleState, and unlock answers
 * NotSupported unless the profile names a lock register. Losing the board raises InternalError
 * for `evse:<connectorId>`; it clears when the board answers again.
 */
import { PollLoop } from './poll-loop.js';
import type { Clock, FaultReport, FaultSource, PowerPath, VehicleState } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { ModbusBus, RequestOptions } from './bus.js';
import { ModbusError } from './errors.js';
import type { EvseProfile } from './evse-profile.js';
import { systemClock } from './meter.js';

export interface EvseBoardOptions {
  bus: ModbusBus;
  profile: EvseProfile;
  unitId: number;
  connectorId: number;
  timeoutMs?: number;
  retries?: number;
  pollIntervalMs?: number;
  clock?: Pick<Clock, 'now' | 'setTimeout'>;
  log?: Log;
}

export const EVSE_DEFAULTS = { timeoutMs: 500, retries: 2, pollIntervalMs: 500 };

export class EvseBoard implements PowerPath, FaultSource {
  private state: VehicleState = 'disconnected';
  private rawState: number | undefined;
  private readonly vehicleListeners = new Set<(s: VehicleState) => void>();
  private readonly faultListeners = new Set<(f: FaultReport) => void>();
  private readonly clock: Pick<Clock, 'now' | 'setTimeout'>;
  private loop?: PollLoop;
  private faulted = false;

  constructor(private readonly opts: EvseBoardOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get source(): string {
    return `evse:${this.opts.connectorId}`;
  }

  private get req(): RequestOptions {
    return {
      unitId: this.opts.unitId,
      timeoutMs: this.opts.timeoutMs ?? EVSE_DEFAULTS.timeoutMs,
      retries: this.opts.retries ?? EVSE_DEFAULTS.retries,
    };
  }

  private wire(address: number): number {
    return address - this.opts.profile.addressBase;
  }

  vehicle(): VehicleState {
    return this.state;
  }

  onVehicleChange(listener: (state: VehicleState) => void): () => void {
    this.vehicleListeners.add(listener);
    return () => this.vehicleListeners.delete(listener);
  }

  onFault(listener: (fault: FaultReport) => void): () => void {
    this.faultListeners.add(listener);
    return () => this.faultListeners.delete(listener);
  }

  /** Allow up to `maxCurrentA` (clamped to the profile's maximum); 0 or below the minimum stops charging. */
  async offer(maxCurrentA: number): Promise<void> {
    const c = this.opts.profile.current;
    const raw = maxCurrentA < c.minCurrentA || maxCurrentA <= 0 ? c.offValue : Math.round(Math.min(maxCurrentA, c.maxCurrentA) / c.scale);
    await this.guard(() => this.opts.bus.write(this.req, this.opts.profile.writeFunctionCode as 6 | 16, this.wire(c.address), [raw]));
  }

  /** The board needs no preparation; the vehicle state is polled. */
  invite(): void {}

  /** A board has a plug lock when its profile gives the lock register. */
  hasLock(): boolean {
    return Boolean(this.opts.profile.lock);
  }

  async unlock(): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'> {
    const lock = this.opts.profile.lock;
    if (!lock) return 'NotSupported';
    try {
      await this.guard(() => this.opts.bus.write(this.req, this.opts.profile.writeFunctionCode as 6 | 16, this.wire(lock.address), [lock.unlockValue]));
      return 'Unlocked';
    } catch {
      return 'UnlockFailed';
    }
  }

  /** The setpoint register's value, in amperes (0 when charging is off). */
  async currentSetpointA(): Promise<number> {
    const c = this.opts.profile.current;
    const b = await this.guard(() => this.opts.bus.read(this.req, c.functionCode as 3 | 4, this.wire(c.address), 1));
    const raw = b.readUInt16BE(0);
    return raw === c.offValue ? 0 : raw * c.scale;
  }

  /** Read the vehicle state once and notify listeners of a change. */
  async poll(): Promise<VehicleState> {
    const v = this.opts.profile.vehicleState;
    const b = await this.guard(() => this.opts.bus.read(this.req, v.functionCode as 3 | 4, this.wire(v.address), 1));
    const raw = b.readUInt16BE(0);
    this.rawState = raw;
    const next = v.values[String(raw)];
    if (next === undefined) {
      this.opts.log?.warn('unknown vehicle state value', { source: this.source, raw });
      throw new ModbusError('ERR_MODBUS_UNEXPECTED', `vehicle state register holds ${raw}, not in the profile`);
    }
    if (next !== this.state) {
      this.state = next;
      for (const l of this.vehicleListeners) l(next);
    }
    return next;
  }

  /** The last raw vehicle state register value (diagnostics). */
  get rawVehicleState(): number | undefined {
    return this.rawState;
  }

  start(): void {
    this.loop ??= new PollLoop(this.clock, this.opts.pollIntervalMs ?? EVSE_DEFAULTS.pollIntervalMs, () => this.poll());
    this.loop.start();
  }

  stop(): void {
    this.loop?.stop();
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const v = await fn();
      this.setFault(false);
      return v;
    } catch (err) {
      const e = err as ModbusError;
      if (e.code !== 'ERR_MODBUS_STOPPED' && e.code !== 'ERR_MODBUS_EXCEPTION') this.setFault(true, `${e.code}: ${e.message}`);
      throw err;
    }
  }

  private setFault(active: boolean, info?: string): void {
    if (active === this.faulted) return;
    this.faulted = active;
    const report: FaultReport = { source: this.source, errorCode: 'InternalError', active };
    if (info !== undefined) report.info = info;
    for (const l of this.faultListeners) l(report);
  }
}
