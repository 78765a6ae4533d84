import { Command } from 'commander';
import { runDemo } from '../app/demo.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description('run the embedded central system and one simulated charger through two sessions')
    .option('--charge-seconds <s>', 'how long the vehicles charge', (v) => Number(v), 12)
    .option('--keep', 'keep the databases (printed path)')
    .action(async (opts: { chargeSeconds: number; keep?: boolean }) => {
      await runDemo({ out: process.stdout, chargeMs: opts.chargeSeconds * 1000, keepFiles: opts.keep });
    });
}
