import type { Timer } from '../../core/ports.js';
import type { SettableClock } from '../../ocpp/v16/link.js';

/** Wall ms within which an event counts as due when the scheduler's timer fires (see run()). */
const EARLY_WALL_MS = 2;
/** Events run per slice at most (see SchedulerOptions.maxEventsPerSlice). */
const MAX_EVENTS_PER_SLICE = 128;

/** A scheduled event; it is its own Timer (no closure and object per timer). */
class Entry implements Timer {
  cancelled = false;
  constructor(readonly at: number, readonly seq: number, readonly fn: () => void) {}
  cancel(): void {
    this.cancelled = true;
  }
}

export interface SchedulerOptions {
  /** Simulated epoch ms at which the run starts. */
  startMs: number;
  /** Simulated ms per wall ms. */
  timeScale: number;
  /** Wall clock, ms (performance.now by default). */
  wallNow?: () => number;
  /**
   * Run due events for at most this many wall ms before yielding to the event loop (so socket
   * reads and answers are not held up behind a burst of events). Default 5.
   */
  sliceMs?: number;
  /**
   * Run at most this many events per slice (default 128). The wall-clock budget sees only an
   * event's synchronous part: a meter poll starts a read and returns within microseconds, and
   * the sample it records, stores and sends runs as a microtask after the slice. 10,000 chargers'
   * clock-aligned polls due at one instant then fit in one 5 ms slice, and their microtasks held
   * the event loop for 1.7 s (a CPU profile of 10,000 chargers in one thread).
   */
  maxEventsPerSlice?: number;
  onError?: (err: unknown) => void;
  /** Events due after this simulated time never run (the end of a run of fixed duration). */
  untilMs?: number;
}

/**
 * One timer heap for every charge point in a thread, implementing the core's Clock port: one
 * real timer is armed for the earliest due event, however many chargers wait. Simulated time
 * runs `timeScale` times faster than wall time and never goes backwards; seeded drivers plan
 * with absolute times through at(), so what they do is the same on every run.
 */
export class Scheduler {
  private readonly heap: Entry[] = [];
  private seq = 0;
  private wallStart: number;
  private lastMs: number;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private armedFor = Number.POSITIVE_INFINITY;
  private running = false;
  private readonly wallNow: () => number;
  /** Events run so far. */
  fired = 0;

  constructor(private readonly o: SchedulerOptions) {
    this.wallNow = o.wallNow ?? (() => performance.now());
    this.wallStart = this.wallNow();
    this.lastMs = o.startMs;
  }

  get startMs(): number {
    return this.o.startMs;
  }

  get timeScale(): number {
    return this.o.timeScale;
  }

  get pending(): number {
    return this.heap.length;
  }

  now(): number {
    if (!this.running) return this.lastMs;
    const t = this.o.startMs + (this.wallNow() - this.wallStart) * this.o.timeScale;
    if (t > this.lastMs) this.lastMs = t;
    return Math.floor(this.lastMs);
  }

  /** Start the simulated clock at startMs now (wall). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.wallStart = this.wallNow() - (this.lastMs - this.o.startMs) / this.o.timeScale;
    this.arm();
  }

  /** Freeze simulated time; due events wait. */
  stop(): void {
    this.now();
    this.running = false;
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const e = new Entry(this.now() + Math.max(0, ms), ++this.seq, fn);
    this.push(e);
    if (e.at < this.armedFor) this.arm();
    return e;
  }

  /**
   * Schedule at an absolute simulated time. Drivers plan with these exact times (never with
   * now(), which depends on how busy the thread is), so a seed gives the same plan every run.
   */
  at(atMs: number, fn: () => void): Timer {
    const e = new Entry(atMs, ++this.seq, fn);
    this.push(e);
    if (e.at < this.armedFor) this.arm();
    return e;
  }

  /** A charger's view: its own SettableClock over this scheduler. */
  clock(): SettableClock {
    // Simulated time is authoritative: a central system's currentTime does not move it (the
    // fleet may run faster than real time), and it counts as trusted from the start. One
    // object shared by every charger of the thread (it holds no per-charger state).
    if (this.sharedClock) return this.sharedClock;
    const scheduler = this;
    this.sharedClock = {
      now() {
        return scheduler.now();
      },
      trusted() {
        return true;
      },
      setTimeout(fn, ms) {
        return scheduler.setTimeout(fn, ms);
      },
      set() {
        return 0;
      },
    };
    return this.sharedClock;
  }

  private sharedClock?: SettableClock;

  /** Simulated time has reached `untilMs` and every event due by then has run. */
  finished(): boolean {
    if (this.o.untilMs === undefined || this.now() < this.o.untilMs) return false;
    const head = this.peek();
    return !head || head.at > this.o.untilMs;
  }

  private arm(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.immediate = undefined;
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (!this.running) return;
    const head = this.peek();
    if (!head || head.at > (this.o.untilMs ?? Number.POSITIVE_INFINITY)) return;
    const waitWallMs = Math.max(0, (head.at - this.now()) / this.o.timeScale);
    this.armedFor = head.at;
    this.timer = setTimeout(this.runDueOnTimer, Math.min(waitWallMs, 2 ** 31 - 1));
  }

  /** run() for setImmediate (the check phase, after the loop's poll phase): made once, not a closure at every arm. */
  private readonly runDue = (): void => {
    this.immediate = undefined;
    this.run();
  };

  /**
   * run() for the timer: once per timers phase. The microtasks a slice leaves (a meter poll's
   * sample, stored and sent) may schedule the next event, and Node can then fire the re-armed
   * timer again within the same timers phase, before the loop reaches its poll phase: 137 runs
   * in a row, 470 ms without reading a socket, at 10,000 chargers in one thread. A second run in
   * one timers phase waits for the check phase instead, after I/O.
   */
  private readonly runDueOnTimer = (): void => {
    if (this.ranInTimersPhase) {
      this.runAfterIO();
      return;
    }
    this.ranInTimersPhase = true;
    // Queued before any deferred run, so it runs first in the check phase.
    this.timersPhaseEnded ??= setImmediate(this.endTimersPhase);
    this.run();
  };

  private ranInTimersPhase = false;
  private timersPhaseEnded?: NodeJS.Immediate;
  private readonly endTimersPhase = (): void => {
    this.ranInTimersPhase = false;
    this.timersPhaseEnded = undefined;
  };

  private run(): void {
    // One run at a time, one timer or immediate after it: a timer armed by an event of an
    // earlier slice (at() and setTimeout() re-arm while nothing is armed) is cleared, and the
    // events of this slice do not arm one; the run's end arms what is next. Otherwise a slice
    // that ended with events still due left a second timer behind, each such slice added
    // one more run per turn, and late in a long run 10,000 chargers' meter polls ran in turns
    // of 1.8 s (--cpu-prof: one check phase running the scheduler ten times).
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = -1;
    const sliceEnd = this.wallNow() + (this.o.sliceMs ?? 5);
    const maxEvents = this.o.maxEventsPerSlice ?? MAX_EVENTS_PER_SLICE;
    let more = false;
    // Node arms a timer from the event loop's cached time, taken when the turn began: a timer
    // armed late in a busy turn fires early by the turn's length, and on a busy fleet thread
    // nearly every wake-up found nothing due yet and re-armed. Events due within EARLY_WALL_MS
    // (wall) run now; the clock first moves to the event's time, so no event sees a time
    // before its own and time never goes backwards.
    // The horizon is read from the wall clock, not from now(): an event run early must not pull
    // the next one forward, or time would run ahead of the wall clock.
    this.now();
    const wallTime = this.o.startMs + (this.wallNow() - this.wallStart) * this.o.timeScale;
    const horizon = Math.min(wallTime + EARLY_WALL_MS * this.o.timeScale, this.o.untilMs ?? Number.POSITIVE_INFINITY);
    for (let n = 1; this.running; n++) {
      const head = this.peek();
      if (!head || head.at > horizon) break;
      this.pop();
      if (head.at > this.lastMs) this.lastMs = head.at;
      try {
        head.fn();
      } catch (err) {
        this.o.onError?.(err);
      }
      this.fired++;
      // The clock is read every 16 events: most events take microseconds.
      if (n >= maxEvents || ((n & 15) === 0 && this.wallNow() >= sliceEnd)) {
        // Go on after I/O if an event is still due; if none is, the timer armed below waits for
        // the next (an immediate queued for nothing ran a turn later and found nothing due).
        const next = this.peek();
        more = next !== undefined && next.at <= horizon;
        break;
      }
    }
    // Due events remain: go on after the I/O that is waiting.
    if (more) this.runAfterIO();
    else this.arm();
  }

  /** Run again in the check phase (setImmediate runs after the poll phase); at() and setTimeout() do not re-arm meanwhile. */
  private runAfterIO(): void {
    this.armedFor = -1;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate ??= setImmediate(this.runDue);
  }

  private peek(): Entry | undefined {
    while (this.heap.length && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      // A plain swap: a destructuring swap allocates (3 % of a fleet's allocations).
      const t = h[i]!;
      h[i] = h[p]!;
      h[p] = t;
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        const t = h[i]!;
        h[i] = h[m]!;
        h[m] = t;
        i = m;
      }
    }
    return top;
  }
}
