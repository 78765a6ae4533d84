import { Command, CommanderError } from 'commander';
import { VERSION } from '../app/version.js';
import { ConfigError } from '../lib/errors.js';
import { agentCommand } from './agent.js';
import { csmsCommand } from './csms.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { installCommand } from './install.js';
import { modbusCommand } from './modbus.js';
import { rfidCommand } from './rfid.js';
import { schemaCommand } from './schema.js';
import { sessionsCommand } from './sessions.js';
import { simCommand } from './sim.js';

const program = new Command('evse-edge')
  .description('OCPP 1.6J edge agent for EV chargers, its development central system, and a fleet simulator')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(agentCommand());
program.addCommand(csmsCommand());
program.addCommand(demoCommand());
program.addCommand(simCommand());
program.addCommand(modbusCommand());
program.addCommand(rfidCommand());
program.addCommand(sessionsCommand());
program.addCommand(schemaCommand());
program.addCommand(installCommand());
program.addCommand(doctorCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`invalid configuration:\n${err.problems.map((p) => `  ${p.file}: ${p.path || '(root)'}: ${p.message}`).join('\n')}\n`);
    process.exit(2);
  }
  process.stderr.write(`evse-edge: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
