import { Command } from 'commander';
import { install } from '../app/tools/install.js';

export function installCommand(): Command {
  return new Command('install')
    .description('install the agent as a systemd service: user, unit, starter config (run as root)')
    .option('--root <dir>', 'install under this directory instead of / (no user is created)')
    .option('--charge-point-id <id>', 'the chargePointId for the starter config', 'CHANGE-ME')
    .action((opts: { root?: string; chargePointId: string }) => {
      process.stdout.write(`${install(opts).join('\n')}\n`);
    });
}
