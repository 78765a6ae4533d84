import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { UsageError } from '../lib/errors.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { mergeFleetReports, runFleet, scenarioIdTags } from '../app/fleet/run.js';
import { parseFailOn } from '../app/fleet/report.js';
import { defaultRampPerSec } from '../app/fleet/runner.js';
import { parseShard } from '../app/fleet/shard.js';
import { parseOcppMix } from '../app/fleet/ocpp-mix.js';
import { parseListen } from '../app/fleet/control/server.js';
import type { FleetSecurity } from '../app/fleet/host.js';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};
const nonNegativeInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
};
const positiveNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
};
/** "200/s", "200" (per second) or "12000/min". */
export function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|min))?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError('expected a rate like 200/s');
  return Number(m[1]) / (m[2] === 'min' ? 60 : 1);
}
/** "30m", "2h", "90s", "1500ms", "1d"; a bare number is seconds. */
export function parseDurationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError('expected a duration like 30m, 2h or 90s');
  const unit = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'];
  return Math.round(Number(m[1]) * unit);
}
const collect = (v: string, acc: string[]) => [...acc, v];
/** An argument the parser refuses is the caller's usage error (exit 2), not a failure of the run. */
function asUsage<T>(parse: () => T, option: string): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

interface SimOpts {
  count: number; scenario: string; charger?: string; url: string[]; ramp?: number; duration?: number; seed: number;
  timeScale: number; report?: string; failOn?: string; junit?: string; shard?: string; prefix: string; digits: number; workers?: number; processes?: number;
  statusInterval: number; start?: string; logLevel?: 'debug' | 'info' | 'warn' | 'error'; json?: boolean;
  password?: string; ca?: string; cert?: string; key?: string; ocpp: string; signed?: boolean;
  control?: string; trace?: string[]; traceFile: string;
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--ca: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca: ${file} holds no PEM certificate`);
  return pem;
}

/** The chargers' credentials: --password (or SIM_CSMS_PASSWORD) and --ca, read here once. */
function fleetSecurity(o: SimOpts): FleetSecurity | undefined {
  const password = o.password ?? process.env.SIM_CSMS_PASSWORD;
  const ca = o.ca === undefined ? undefined : readCa(o.ca);
  if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError('--cert and --key go together (Security Profile 3)');
  const clientCert = o.cert !== undefined && o.key !== undefined ? { cert: o.cert, key: o.key } : undefined;
  if (password === undefined && ca === undefined && !clientCert) return undefined;
  return { ...(password !== undefined ? { password } : {}), ...(ca !== undefined ? { ca } : {}), ...(clientCert ? { clientCert } : {}) };
}

/** `evse-edge sim`: a fleet of simulated chargers against a central system. */
export function simCommand(): Command {
  const cmd = new Command('sim')
    .description('run a fleet of simulated chargers (the same core and OCPP stack as the agent) against a central system')
    .option('-n, --count <n>', 'chargers in the whole fleet (all shards)', positiveInt, 10)
    .option('-s, --scenario <id>', 'scenario in profiles/scenarios (smoke, commuter-day, fast-dc, reconnect-storm, scripted-session) or a path', 'smoke')
    .option('--charger <id>', 'charger profile (default: the scenario\'s)')
    .option('--ocpp <versions>', 'OCPP version of the chargers: 1.6, 2.0.1, or a mix by share of the chargers, e.g. 1.6=70,2.0.1=30 (each charger\'s drawn by its id and the seed)', '1.6')
    .option('--url <ws-url>', 'central system, e.g. ws://csms.example/ocpp (repeatable: round-robin); default: the embedded one', collect, [] as string[])
    .option('--password <text>', 'HTTP Basic password of every charger (Security Profile 1 and 2); {id} becomes the charger id, e.g. "load-{id}"; default: SIM_CSMS_PASSWORD')
    .option('--ca <file>', 'PEM file of the CA that signed a wss:// central system\'s certificate (a private CA); default: the system\'s CAs')
    .option('--cert <file>', 'client certificate (PEM) of each charger, Security Profile 3; {id} in the path becomes the charger id, e.g. certs/{id}.crt')
    .option('--key <file>', 'its private key (PEM), e.g. certs/{id}.key')
    .option('--ramp <rate>', 'chargers started per second, e.g. 200/s (default: 200/s per core, printed at start; 0: all at once)', parseRate)
    .option('--duration <time>', 'simulated duration, e.g. 30m, 2h (default: until Ctrl-C)', parseDurationMs)
    .option('--signed', 'simulated signing meters: each signs its transactions\' begin and end values (OCMF, ECDSA secp256r1) with its own key; the report counts the signed values sent')
    .option('--seed <n>', 'seed: the same seed and scenario give the same events per charger', nonNegativeInt, 1)
    .option('--time-scale <n>', 'simulated time runs N times faster than wall time', positiveNumber, 1)
    .option('--start <iso-time>', 'simulated start time (default: now); arrival rates follow its hour of day (UTC)')
    .option('--report <file>', 'write the report as JSON')
    .option('--json', 'print the report as JSON instead of a table')
    .option('--fail-on <thresholds>', 'exit 3 when crossed, e.g. "p95<500ms,errors<0.1%,p95(Authorize)<300ms"')
    .option('--junit <file>', 'write the verdicts of the scenario\'s expectations (and the --fail-on thresholds) as JUnit XML, one testcase each')
    .option('--shard <I/N>', 'run only slice I of N (0-based); default from JOB_COMPLETION_INDEX and SIM_SHARD_TOTAL')
    .option('--prefix <text>', 'charger id prefix', 'SIM-')
    .option('--digits <n>', 'digits of the charger number (at least 5)', positiveInt, 5)
    .option('--workers <n>', 'worker threads per process (default: about one per core; 0: none)', nonNegativeInt)
    .option('--processes <n>', 'processes, each with its worker threads (default: as the open-file limit requires, a socket per charger)', positiveInt)
    .option('--status-interval <seconds>', 'status every N seconds', positiveNumber, 5)
    // The control API and traces (issue 19).
    .option('--control [host:port]', 'control API: HTTP JSON, WebSocket events (/events) and Prometheus /metrics; loopback by default (127.0.0.1:9400); bound elsewhere it needs the bearer token printed at start')
    .option('--trace <charger-ids...>', 'write these chargers\' OCPP frames (both directions, timestamps, latencies) as JSON lines to --trace-file')
    .option('--trace-file <file>', 'where --trace writes', 'evse-edge-trace.jsonl')
    .addOption(new Option('--log-level <level>', 'chargers\' own logs on stderr; default none').choices(['debug', 'info', 'warn', 'error']))
    .action(async (o: SimOpts) => {
      if (o.failOn) asUsage(() => parseFailOn(o.failOn!), '--fail-on');
      const shard = asUsage(() => parseShard(o.shard), '--shard');
      const ocpp = asUsage(() => parseOcppMix(o.ocpp), '--ocpp');
      const startMs = o.start ? Date.parse(o.start) : undefined;
      if (startMs !== undefined && !Number.isFinite(startMs)) throw new UsageError(`--start: not a time: ${o.start}`);
      if (o.ramp === undefined) {
        o.ramp = defaultRampPerSec();
        process.stderr.write(`ramp: ${o.ramp} chargers/s, the default for ${availableParallelism()} cores (--ramp to change, --ramp 0 for all at once)\n`);
      }
      const controlListen = o.control === undefined ? undefined : (o.control as string | true) === true ? '127.0.0.1:9400' : o.control;
      if (controlListen !== undefined) asUsage(() => parseListen(controlListen), '--control');
      const { code } = await runFleet(
        {
          count: o.count, scenario: o.scenario, charger: o.charger, ocpp, urls: o.url, security: fleetSecurity(o), signedMeters: o.signed, rampPerSec: o.ramp, durationMs: o.duration, seed: o.seed,
          timeScale: o.timeScale, startMs, reportPath: o.report, failOn: o.failOn, junitPath: o.junit, shard, prefix: o.prefix,
          digits: Math.max(5, o.digits), workers: o.workers, processes: o.processes, statusIntervalMs: o.statusInterval * 1000, logLevel: o.logLevel, json: o.json,
          ...(controlListen !== undefined ? { controlListen } : {}), ...(o.trace?.length ? { trace: { ids: o.trace, file: o.traceFile } } : {}),
        },
        {
          out: process.stdout, err: process.stderr,
          onInterrupt: (stop) => {
            let count = 0;
            const handler = (signal: NodeJS.Signals) => {
              // First signal: stop cleanly and still write the report (marked interrupted); second: leave at once.
              if (++count > 1) process.exit(signal === 'SIGTERM' ? 143 : 130);
              process.stderr.write(`${signal}: stopping, closing chargers and writing the report (Ctrl-C again to quit at once)\n`);
              stop(signal);
            };
            process.on('SIGINT', handler);
            process.on('SIGTERM', handler);
            return () => {
              process.off('SIGINT', handler);
              process.off('SIGTERM', handler);
            };
          },
        },
      );
      process.exitCode = code;
    });
  cmd
    .command('idtags')
    .description('the idTags a scenario\'s drivers present, one per line: load them into the central system under test (the invalid ones, --invalidPrefix, must stay unknown to it)')
    .argument('[scenario]', 'scenario in profiles/scenarios, or a path', 'smoke')
    .option('--csv', 'CSV with a header (idTag,status), for a central system\'s import')
    .action((scenario: string, o: { csv?: boolean }) => {
      process.stdout.write(scenarioIdTags(scenario, o));
    });
  cmd
    .command('merge')
    .description('merge shard reports (histograms merged, never percentiles averaged)')
    .argument('<reports...>', 'report JSON files')
    .option('--report <file>', 'write the merged report as JSON')
    .option('--json', 'print JSON instead of a table')
    .option('--fail-on <thresholds>', 'exit 3 when crossed, e.g. "p95<500ms,errors<0.1%"')
    .option('--junit <file>', 'write the verdicts of the reports\' expectations (judged on the merged figures) and the thresholds as JUnit XML')
    .action((files: string[], own: { report?: string; json?: boolean; failOn?: string; junit?: string }, command: Command) => {
      // `sim merge … --fail-on X --report F`: commander hands both to the parent `sim`, which has
      // the same options; read them there when they were given (else a CI gate never fails).
      const parent = command.parent;
      const fromParent = (name: 'report' | 'failOn' | 'junit') =>
        parent?.getOptionValueSource(name) === 'cli' ? (parent.opts() as { report?: string; failOn?: string; junit?: string })[name] : undefined;
      const o = { ...own, report: own.report ?? fromParent('report'), failOn: own.failOn ?? fromParent('failOn'), junit: own.junit ?? fromParent('junit') };
      if (o.failOn) asUsage(() => parseFailOn(o.failOn!), '--fail-on');
      process.exitCode = mergeFleetReports(files, { reportPath: o.report, json: o.json, failOn: o.failOn, junitPath: o.junit }, { out: process.stdout, err: process.stderr });
    });
  return cmd;
}
