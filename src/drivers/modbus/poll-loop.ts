import type { Clock, Timer } from '../../core/ports.js';

/** Runs `poll` every `everyMs` after the last one ended (never two at once) until stopped. */
export class PollLoop {
  private timer?: Timer;
  private running = false;

  constructor(private readonly clock: Pick<Clock, 'setTimeout'>, private readonly everyMs: number, private readonly poll: () => Promise<unknown>) {}

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running || this.everyMs <= 0) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      this.poll()
        .catch(() => undefined)
        .finally(() => {
          if (this.running) this.timer = this.clock.setTimeout(tick, this.everyMs);
        });
    };
    tick();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
