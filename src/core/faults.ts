/**
 * Faults: raised and cleared by drivers (FaultSource), by the application (the store) and by the
 * core itself (meter plausibility, power switch), kept per EVSE or for the station.
 */
import type { EvseState, CoreBase } from './core-state.js';
import type { ConnectorErrorCode, FaultReport } from './ports.js';
import type { StatusBoard } from './status.js';

/** The store's fault: the session ledger refused a write. */
export const STORE_FAULT: FaultReport = { source: 'store', errorCode: 'InternalError', info: 'session ledger not writable', active: true };

export class Faults {
  constructor(
    private readonly b: CoreBase,
    private readonly statuses: StatusBoard,
    private readonly hooks: {
      /** The store is writable again (a 'store' fault cleared). */
      storeWritable(): void;
      /** A connector's fault cleared: a waiting authorisation may start now. */
      cleared(c: EvseState): void;
    },
  ) {}

  /** A fault the core raises on an EVSE. */
  set(c: EvseState, source: string, errorCode: ConnectorErrorCode, info?: string): void {
    c.raise({ source, errorCode, info, active: true });
    this.statuses.refresh(c);
  }

  clear(c: EvseState, source: string): void {
    if (c.clearFault(source)) this.statuses.refresh(c);
  }

  /** Whether a fault from `source` is active (on the station or any EVSE). */
  has(source: string): boolean {
    return this.b.station.faults.has(source) || [...this.b.evses.values()].some((c) => c.faults.has(source));
  }

  stationFaults(): FaultReport[] {
    return [...this.b.station.faults.values()];
  }

  /** A fault raised or cleared by a driver or the application. */
  report(f: FaultReport): void {
    if (f.source === 'store' && !f.active) this.hooks.storeWritable();
    // A fault names its EVSE in its source ("meter:1"), or none: the station's ("reader").
    const m = /:(\d+)$/.exec(f.source);
    const c = m ? this.b.evses.get(Number(m[1])) : undefined;
    const holder = c ?? this.b.station;
    if (f.active) holder.raise(f);
    else holder.clearFault(f.source);
    if (c) {
      this.b.emit('fault', { evseId: c.id, fault: f });
      this.statuses.refresh(c);
      if (!f.active) this.hooks.cleared(c);
    } else {
      this.b.emit('station-fault', { fault: f });
      this.statuses.refreshStation();
    }
  }
}
