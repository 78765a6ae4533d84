import type { Clock, Timer } from './ports.js';

/** Before this instant a wall clock is certainly wrong (no charger runs in 2023 any more). */
export const EARLIEST_PLAUSIBLE_MS = Date.UTC(2024, 0, 1);

/**
 * The wall clock with an offset learnt from the central system. It is trusted once the
 * central system has set it, or when the OS says it is synchronised.
 */
export class SystemClock implements Clock {
  private offsetMs = 0;
  private isTrusted: boolean;
  constructor(opts: { osSynced?: boolean } = {}) {
    this.isTrusted = Boolean(opts.osSynced) && Date.now() >= EARLIEST_PLAUSIBLE_MS;
  }
  now(): number {
    return Date.now() + this.offsetMs;
  }
  trusted(): boolean {
    return this.isTrusted;
  }
  /** The correction applied to the machine's clock, ms. */
  get offset(): number {
    return this.offsetMs;
  }
  /** Set from the central system's currentTime. Returns the correction applied, ms. */
  set(epochMs: number): number {
    const before = this.now();
    this.offsetMs = epochMs - Date.now();
    this.isTrusted = true;
    return epochMs - before;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }
}

/** A clock that moves only when told to: for tests of pure logic. */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  constructor(private t = Date.UTC(2026, 0, 1), private isTrusted = true) {}
  now() { return this.t; }
  trusted() { return this.isTrusted; }
  setTrusted(v: boolean) { this.isTrusted = v; }
  setTimeout(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return { cancel: () => { this.timers = this.timers.filter((x) => x.id !== id); } };
  }
  /** Move time forward, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

export function isoMs(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
