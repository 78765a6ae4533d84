import { Command, CommanderError } from 'commander';
import { VERSION } from '../app/version.js';
import { ConfigError, UsageError } from '../lib/errors.js';
import { commandOf, COMMANDS } from './commands.js';
import { throwOnUsageErrors, usageExitCode } from './usage.js';

// A reader that stops early (`| head`) closes the pipe: that ends the program quietly, as
// SIGPIPE ends other tools (status 141, so that a service manager still sees a failure).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141);
  throw err;
});

const program = new Command('evse-edge')
  .description('OCPP 1.6J and 2.0.1 edge agent for EV chargers, its development central system, and a fleet simulator')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .enablePositionalOptions()
  .exitOverride();

try {
  // Only the command that runs is loaded; the others are listed by name and summary.
  const wanted = commandOf(process.argv.slice(2));
  for (const entry of COMMANDS) {
    program.addCommand(entry === wanted ? (await entry.load())() : new Command(entry.name).description(entry.summary));
  }
  throwOnUsageErrors(program);
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
