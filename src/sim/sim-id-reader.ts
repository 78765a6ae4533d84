import type { IdReader, PresentedToken } from '../core/ports.js';

/** A simulated RFID reader or touchscreen: tokens are presented by calling `present`. */
export class SimIdReader implements IdReader {
  private readonly listeners = new Set<(t: PresentedToken) => void>();
  onToken(listener: (t: PresentedToken) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  present(token: PresentedToken): void {
    for (const l of this.listeners) l(token);
  }
}
