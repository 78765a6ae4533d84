import type { IdReader, PresentedToken } from '../core/ports.js';

/** A simulated RFID reader or touchscreen: tokens are presented by calling `present`. */
export class SimIdReader implements IdReader {
  /** Replaced, never changed in place, so a report goes to the listeners of its moment (an array: a fleet holds thousands of these, each with one listener). */
  private listeners: readonly ((t: PresentedToken) => void)[] = [];
  onToken(listener: (t: PresentedToken) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  present(token: PresentedToken): void {
    for (const l of this.listeners) l(token);
  }
}
