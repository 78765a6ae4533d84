import { Command, InvalidArgumentError, Option } from 'commander';
import { CentralSystem } from '../csms/central-system.js';
import { CsmsStore } from '../csms/csms-store.js';
import { createLog, streamSink } from '../lib/log.js';
import { onShutdown } from './shutdown.js';
import { sessionsTable } from '../csms/report.js';
import { ControlEndpoint } from '../csms/control.js';
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
      const csms = new CentralSystem({
        port: opts.port, host: opts.host, dbPath: opts.db, log, heartbeatIntervalS: opts.heartbeat,
        idTags: opts.idTag, acceptUnknownIdTags: opts.acceptAny,
      });
      const port = await csms.listen();
      // Loopback only, whatever --host says: whoever reaches it can drive every connected charger.
      const control = new ControlEndpoint({ csms, port: opts.controlPort ?? (opts.port === 0 ? 0 : port + 1), log });
      try {
        await control.listen();
      } catch (err) {
        await csms.close();
        const e = err as NodeJS.ErrnoException;
        throw new Error(`the control endpoint cannot listen on 127.0.0.1:${opts.controlPort ?? port + 1}${e.code === 'EADDRINUSE' ? ': the port is in use (another csms?); choose --control-port' : `: ${e.message}`}`);
      }
      onShutdown(log, async () => {
        await control.close();
        await csms.close();
      });
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
      const store = new CsmsStore(db);
      // JSON: each version's own records (1.6 first, as before 2.0.1); the table: one row per session of either.
      const json = opts.json ? [...store.transactions(), ...store.transactionsV201()] : undefined;
      const rows = store.sessions();
      store.close();
      if (json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
      else process.stdout.write(sessionsTable(rows) + '\n');
    });
  return cmd;
}
