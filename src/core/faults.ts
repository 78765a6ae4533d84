/**
 * Faults: raised and cleared by drivers (FaultSource), by the application (the store) and by the
 * core itself (meter plausibility, power switch), kept per connector or for the station.
 */
import type { ConnectorState, CoreBase } from './core-state.js';
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
      cleared(c: ConnectorState): void;
    },
  ) {}

  /** A fault the core raises on a connector. */
  set(c: ConnectorState, source: string, errorCode: ConnectorErrorCode, info?: string): void {
    c.faults.set(source, { source, errorCode, info, active: true });
    this.statuses.refresh(c);
  }

  clear(c: ConnectorState, source: string): void {
    if (c.faults.delete(source)) this.statuses.refresh(c);
  }

  /** Whether a fault from `source` is active (on the station or any connector). */
  has(source: string): boolean {
    return this.b.station.faults.has(source) || [...this.b.connectors.values()].some((c) => c.faults.has(source));
  }

  stationFaults(): FaultReport[] {
    return [...this.b.station.faults.values()];
  }

  /** A fault raised or cleared by a driver or the application. */
  report(f: FaultReport): void {
    if (f.source === 'store' && !f.active) this.hooks.storeWritable();
    // A fault names its connector in its source ("meter:1"), or the station ("reader").
    const m = /:(\d+)$/.exec(f.source);
    const c = m ? this.b.connectors.get(Number(m[1])) : undefined;
    const faults = c ? c.faults : this.b.station.faults;
    if (f.active) faults.set(f.source, f);
    else faults.delete(f.source);
    if (c) {
      this.b.emit('fault', { connectorId: c.id, fault: f });
      this.statuses.refresh(c);
      if (!f.active) this.hooks.cleared(c);
    } else {
      this.b.emit('fault', { connectorId: 0, fault: f });
      this.statuses.refreshStation();
    }
  }
}
