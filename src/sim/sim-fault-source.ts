import type { FaultReport, FaultSource } from '../core/ports.js';

/** A FaultSource the fleet's driver raises and clears faults through (a real driver reports the same way). */
export class SimFaultSource implements FaultSource {
  private readonly listeners = new Set<(f: FaultReport) => void>();
  onFault(listener: (f: FaultReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  report(f: FaultReport): void {
    for (const l of this.listeners) l(f);
  }
}
