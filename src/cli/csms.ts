import { Command, InvalidArgumentError, Option } from 'commander';
import { csmsRecords, sessionsTable, startDevCsms } from '../app/csms.js';
import { createLog, streamSink } from '../lib/log.js';
import { onShutdown } from './shutdown.js';
import { csmsCallCommand, DEFAULT_CONTROL_PORT } from './csms-call.js';

const int = (v: string) => {
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`not a port: ${v}`);
  return n;
};

export function csmsCommand(): Command {
  const cmd = new Command('csms')
    .description('run the embedded development central system (ws://HOST:PORT/ocpp/<chargePointId>)')
    .option('-p, --port <port>', 'TCP port', int, 9220)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--db <file>', 'its SQLite file', './var/csms.db')
    .option('--heartbeat <seconds>', 'HeartbeatInterval given at boot', int, 300)
    .option('--id-tag <tag...>', 'idTags to accept (DEMO0001 and DEMO0002 always are)')
    .option('--accept-any', 'accept every idTag')
    .option('--control-port <port>', `loopback port of the control endpoint that \`csms call\` uses (default ${DEFAULT_CONTROL_PORT}, i.e. --port + 1; any free port with --port 0)`, int)
    .addOption(new Option('--log-level <level>', 'what to log').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .action(async (opts: { port: number; host: string; db: string; heartbeat: number; idTag?: string[]; acceptAny?: boolean; logLevel: 'info'; controlPort?: number }) => {
      const log = createLog(streamSink(opts.logLevel));
      const csms = await startDevCsms({
        port: opts.port, host: opts.host, dbPath: opts.db, log, heartbeatIntervalS: opts.heartbeat,
        idTags: opts.idTag, acceptUnknownIdTags: opts.acceptAny, controlPort: opts.controlPort,
      });
      onShutdown(log, () => csms.close());
    });
  cmd.addCommand(csmsCallCommand());
  cmd
    .command('sessions')
    .description('list the transactions the central system recorded')
    .option('--db <file>', 'its SQLite file', './var/csms.db')
    .option('--json', 'print JSON')
    .action((opts: { db: string; json?: boolean }, command: Command) => {
      // `csms sessions --db F`: commander hands --db to the parent `csms`, which has the same option.
      const parent = command.parent;
      const db = parent?.getOptionValueSource('db') === 'cli' ? (parent.opts() as { db: string }).db : opts.db;
      const { records, sessions } = csmsRecords(db);
      if (opts.json) process.stdout.write(JSON.stringify(records, null, 2) + '\n');
      else process.stdout.write(sessionsTable(sessions) + '\n');
    });
  return cmd;
}
