import type { Log } from '../lib/log.js';

/**
 * SIGINT/SIGTERM: run `stop` once, then exit; a second signal exits at once. With
 * `deadlineMs`, a stop that hangs is cut short: `onDeadline` runs (close what must be closed)
 * and the process exits 1, well inside the service manager's stop timeout.
 */
export function onShutdown(log: Log, stop: () => Promise<void>, opts: { deadlineMs?: number; onDeadline?: () => void } = {}): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info('shutting down', { signal });
    if (opts.deadlineMs) {
      setTimeout(() => {
        log.error('shutdown took too long: exiting', { deadlineMs: opts.deadlineMs });
        try {
          opts.onDeadline?.();
        } finally {
          process.exit(1);
        }
      }, opts.deadlineMs).unref();
    }
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
