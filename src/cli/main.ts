import { Command, CommanderError } from 'commander';
import { VERSION } from '../app/version.js';
import { ConfigError, UsageError } from '../lib/errors.js';
import { agentCommand } from './agent.js';
import { csmsCommand } from './csms.js';
import { demoCommand } from './demo.js';
import { diagCommand } from './diag.js';
import { doctorCommand } from './doctor.js';
import { installCommand } from './install.js';
import { modbusCommand } from './modbus.js';
import { rfidCommand } from './rfid.js';
import { schemaCommand } from './schema.js';
import { sessionsCommand } from './sessions.js';
import { simCommand } from './sim.js';
import { throwOnUsageErrors, usageExitCode } from './usage.js';

// A reader that stops early (`| head`) closes the pipe: that ends the program quietly, as
// SIGPIPE ends other tools (status 141, so that a service manager still sees a failure).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141);
  throw err;
});

const program = new Command('evse-edge')
  .description('OCPP 1.6J edge agent for EV chargers, its development central system, and a fleet simulator')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .enablePositionalOptions()
  .exitOverride();

program.addCommand(agentCommand());
program.addCommand(csmsCommand());
program.addCommand(demoCommand());
program.addCommand(diagCommand());
program.addCommand(simCommand());
program.addCommand(modbusCommand());
program.addCommand(rfidCommand());
program.addCommand(sessionsCommand());
program.addCommand(schemaCommand());
program.addCommand(installCommand());
program.addCommand(doctorCommand());
throwOnUsageErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(usageExitCode(err));
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`invalid configuration:\n${err.problems.map((p) => `  ${p.file}: ${p.path || '(root)'}: ${p.message}`).join('\n')}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`evse-edge: ${err.message}\n`);
    process.exit(2);
  }
  // An expected failure (a peer not answering, a file missing) reads as one line; the stack is
  // for EVSE_EDGE_DEBUG=1.
  const e = err as Error & { code?: string };
  process.stderr.write(`evse-edge: ${process.env.EVSE_EDGE_DEBUG ? e.stack : `${e.message}${e.code ? ` (${e.code})` : ''}`}\n`);
  process.exit(1);
}
