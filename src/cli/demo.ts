import { Command } from 'commander';
import { DEMO_OCPP_VERSIONS, runDemo, type DemoOcppVersion } from '../app/demo.js';
import { UsageError } from '../lib/errors.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function demoCommand(): Command {
  return new Command('demo')
    .description('run the embedded central system and one simulated charger through two sessions')
    .option('--charge-seconds <s>', 'how long the vehicles charge', (v) => Number(v), 12)
    .option('--keep', 'keep the databases (printed path)')
    .option('--ocpp <version>', `OCPP version the charger and the central system speak: ${DEMO_OCPP_VERSIONS.join(' or ')}`, '1.6')
    .action(async (opts: { chargeSeconds: number; keep?: boolean; ocpp: string }) => {
      if (!DEMO_OCPP_VERSIONS.includes(opts.ocpp as DemoOcppVersion)) throw new UsageError(`--ocpp: ${opts.ocpp} is not one of ${DEMO_OCPP_VERSIONS.join(', ')}`);
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
        await runDemo({ out: process.stdout, chargeMs: opts.chargeSeconds * 1000, keepFiles: opts.keep, signal: abort.signal, ocpp: opts.ocpp as DemoOcppVersion });
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
