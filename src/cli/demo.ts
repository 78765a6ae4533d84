import { Command } from 'commander';
import { runDemo } from '../app/demo.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function demoCommand(): Command {
  return new Command('demo')
    .description('run the embedded central system and one simulated charger through two sessions')
    .option('--charge-seconds <s>', 'how long the vehicles charge', (v) => Number(v), 12)
    .option('--keep', 'keep the databases (printed path)')
    .action(async (opts: { chargeSeconds: number; keep?: boolean }) => {
      // Ctrl-C: stop the charger and the central system, remove the temporary files, exit 130
      // (SIGTERM: 143); a second signal leaves at once.
      const abort = new AbortController();
      let received: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (received) process.exit(SIGNAL_EXIT[signal] ?? 1);
        received = signal;
        process.stderr.write(`${signal}: stopping the demo and removing its files (again to quit at once)\n`);
        abort.abort(new Error(`interrupted by ${signal}`));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runDemo({ out: process.stdout, chargeMs: opts.chargeSeconds * 1000, keepFiles: opts.keep, signal: abort.signal });
      } catch (err) {
        if (!received) throw err;
        process.exit(SIGNAL_EXIT[received] ?? 1);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      // A signal during the last step: the demo completed its cleanup, still report the interruption.
      if (received) process.exit(SIGNAL_EXIT[received] ?? 1);
    });
}
