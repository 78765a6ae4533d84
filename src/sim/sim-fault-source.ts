import type { FaultReport, FaultSource } from '../core/ports.js';

/** A FaultSource the fleet's driver raises and clears faults through (a real driver reports the same way). */
export class SimFaultSource implements FaultSource {
  /** Replaced, never changed in place, so a report goes to the listeners of its moment (an array: a fleet holds thousands of these, each with one listener). */
  private listeners: readonly ((f: FaultReport) => void)[] = [];
  onFault(listener: (f: FaultReport) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  report(f: FaultReport): void {
    for (const l of this.listeners) l(f);
  }
}
