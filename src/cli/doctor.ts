import { Command } from 'commander';
import { runDoctor } from '../app/tools/doctor.js';

/** Where `evse-edge install` puts the config. */
export const DEFAULT_CONFIG = '/etc/evse-edge/agent.json';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check a controller: config, serial ports, central system (TLS, WebSocket upgrade, subprotocol, Basic auth), database, clock, broker')
    .option('-c, --config <file>', 'the agent config file', DEFAULT_CONFIG)
    .option('--json', 'print the results as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const results = await runDoctor(opts.config);
      if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else {
        const width = Math.max(...results.map((r) => r.name.length));
        for (const r of results) process.stdout.write(`${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}\n`);
      }
      if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
    });
}
