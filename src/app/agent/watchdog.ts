import type { Log } from '../../lib/log.js';
import type { ServiceNotifier } from './sd-notify.js';

/** One health condition: returns what is wrong, or undefined when healthy. */
export interface HealthCheck {
  name: string;
  check(): string | undefined;
}

export interface HealthWatchdogOptions {
  notifier: Pick<ServiceNotifier, 'watchdog' | 'status'>;
  intervalMs: number;
  checks: HealthCheck[];
  log: Log;
  /** A tick later than this is an unresponsive event loop; default half the interval. */
  maxLagMs?: number;
  now?: () => number;
}

/**
 * Pings the service manager's watchdog from the main event loop, and only while every check
 * passes: a blocked loop sends nothing (and the tick after it is skipped), a failing check
 * withholds the ping, so systemd restarts a process that is alive but not working.
 */
export class HealthWatchdog {
  private timer?: NodeJS.Timeout;
  private expectedAt = 0;
  private lastProblems = '';
  private readonly now: () => number;

  constructor(private readonly o: HealthWatchdogOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  start(): void {
    this.stop();
    this.tick(true);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** What is wrong now (the event loop aside). */
  problems(): string[] {
    const out: string[] = [];
    for (const c of this.o.checks) {
      let problem: string | undefined;
      try {
        problem = c.check();
      } catch (err) {
        problem = (err as Error).message;
      }
      if (problem) out.push(`${c.name}: ${problem}`);
    }
    return out;
  }

  private tick(first = false): void {
    const now = this.now();
    const lagMs = first ? 0 : now - this.expectedAt;
    const problems = this.problems();
    if (lagMs > (this.o.maxLagMs ?? this.o.intervalMs / 2)) problems.unshift(`event loop: blocked for about ${Math.round(lagMs)} ms`);
    const summary = problems.join('; ');
    if (problems.length === 0) {
      this.o.notifier.watchdog();
      if (this.lastProblems) {
        this.o.log.info('healthy again: watchdog pings resumed');
        this.o.notifier.status('running');
      }
    } else if (summary !== this.lastProblems) {
      this.o.log.error('unhealthy: watchdog pings withheld', { problems });
      this.o.notifier.status(`unhealthy: ${summary}`);
    }
    this.lastProblems = summary;
    this.expectedAt = this.now() + this.o.intervalMs;
    this.timer = setTimeout(() => this.tick(), this.o.intervalMs);
  }
}
