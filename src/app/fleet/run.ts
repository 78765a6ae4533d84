import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { DASHBOARD_PATH } from './control/dashboard-files.js';
import { ControlServer } from './control/server.js';
import type { ControlEvent } from './control/protocol.js';
import { FleetRunner, type FleetOptions, type FleetStatus } from './runner.js';
import { checkThresholds, formatReport, mergeReports, parseFailOn, type FleetReport, type Threshold } from './report.js';
import { idTagPool, loadScenario, scenarioFile } from '../../sim/scenario.js';
import { ConfigError } from '../../lib/errors.js';
import { scriptRunProblems } from './script.js';
import { judgeReport, junitXml } from './verdicts.js';
import { shardPositions } from './shard.js';

export { FleetRunner, type FleetOptions, type FleetStatus } from './runner.js';

/** Exit codes of `evse-edge sim`. */
export const SIM_EXIT = { ok: 0, error: 1, usage: 2, thresholdCrossed: 3, interrupted: 130, terminated: 143 } as const;

export interface FleetRunIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream & { isTTY?: boolean };
  /** Register a stop request (Ctrl-C, SIGTERM: the signal's name); returns the unregister function. */
  onInterrupt?: (stop: (signal?: string) => void) => () => void;
}

export interface FleetRunRequest extends Omit<FleetOptions, 'onStatus'> {
  reportPath?: string;
  failOn?: string;
  json?: boolean;
  /** Write the verdicts (and --fail-on thresholds) as JUnit XML here. */
  junitPath?: string;
  /** The control API's address (HOST:PORT), if it is on. */
  controlListen?: string;
  /** Chargers whose OCPP frames are written as JSON lines to `file` (--trace). */
  trace?: { ids: string[]; file: string };
}

/**
 * The end of a run or a merge: the verdicts of the report's expectations, the report (table or
 * JSON, and to files), the thresholds checked; the exit code: 3 when an expectation failed or a
 * threshold was crossed.
 */
function conclude(report: FleetReport, thresholds: Threshold[], req: Pick<FleetRunRequest, 'reportPath' | 'json' | 'junitPath'>, io: Pick<FleetRunIo, 'out' | 'err'>): number {
  if (report.expectations?.length) report.verdicts = judgeReport(report);
  else delete report.verdicts;
  if (req.reportPath) writeFileSync(req.reportPath, JSON.stringify(report, null, 2) + '\n');
  io.out.write((req.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
  const failed = checkThresholds(report, thresholds);
  for (const f of failed) io.err.write(`threshold crossed: ${f.threshold.text} (measured ${f.note ?? Number(f.actual.toFixed(3))})\n`);
  const failedVerdicts = (report.verdicts ?? []).filter((v) => !v.passed);
  for (const v of failedVerdicts) io.err.write(`expectation failed: ${v.name} (measured ${v.measured}; expected ${v.expected})\n`);
  if (req.junitPath) {
    writeFileSync(req.junitPath, junitXml(report, thresholds.map((threshold) => ({ threshold, failed: failed.find((f) => f.threshold === threshold) }))));
  }
  return failed.length || failedVerdicts.length ? SIM_EXIT.thresholdCrossed : SIM_EXIT.ok;
}

export function statusLine(s: FleetStatus): string {
  const g = s.gauges;
  return `t=${(s.elapsedMs / 1000).toFixed(0)}s sim=${(s.simulatedMs / 60_000).toFixed(1)}min chargers=${g.chargers} connected=${g.connected} accepted=${g.accepted} charging=${g.charging} faulted=${g.faulted} ` +
    `msgs/s in=${s.messagesInPerS.toFixed(0)} out=${s.messagesOutPerS.toFixed(0)} calls/s=${s.callsPerS.toFixed(0)} errors=${s.errors} p50=${s.p50Ms.toFixed(1)}ms p95=${s.p95Ms.toFixed(1)}ms p99=${s.p99Ms.toFixed(1)}ms lag=${s.lagP99Ms.toFixed(0)}ms lagmax=${s.lagMaxMs.toFixed(0)}ms` +
    (s.counters.scriptPlanned ? ` script=${s.counters.scriptDone}/${s.counters.scriptPlanned}` : '') +
    (s.emfile ? ` EMFILE=${s.emfile} (open-file limit reached)` : '');
}

function statusBlock(s: FleetStatus): string[] {
  const g = s.gauges;
  return [
    `evse-edge sim  ${(s.elapsedMs / 1000).toFixed(0)} s wall, ${(s.simulatedMs / 60_000).toFixed(1)} min simulated`,
    `chargers ${g.chargers}  connected ${g.connected}  accepted ${g.accepted}  charging ${g.charging}  faulted ${g.faulted}`,
    `messages/s in ${s.messagesInPerS.toFixed(0)}  out ${s.messagesOutPerS.toFixed(0)}  (CALLs sent ${s.callsPerS.toFixed(0)}/s)  errors ${s.errors}`,
    `latency p50 ${s.p50Ms.toFixed(1)} ms  p95 ${s.p95Ms.toFixed(1)} ms  p99 ${s.p99Ms.toFixed(1)} ms  (last interval)`,
    `event-loop lag p99 ${s.lagP99Ms.toFixed(0)} ms  max ${s.lagMaxMs.toFixed(0)} ms${s.emfile ? `   EMFILE ${s.emfile}: open-file limit reached` : ''}`,
    ...(s.counters.scriptPlanned ? [`script: ${s.counters.scriptDone} of ${s.counters.scriptPlanned} steps and expectation windows done`] : []),
  ];
}

/**
 * Run a fleet for the command line: a status block (TTY) or line every interval on stderr, the
 * report on stdout (and as JSON to a file), thresholds checked. Returns the exit code.
 */
export async function runFleet(req: FleetRunRequest, io: FleetRunIo): Promise<{ code: number; report: FleetReport }> {
  const thresholds = req.failOn ? parseFailOn(req.failOn) : [];
  let shownLines = 0;
  const tty = Boolean(io.err.isTTY);
  const scripted = await scriptedRun(req);
  let control: ControlServer | undefined;
  const traceOut = req.trace?.ids.length ? createWriteStream(req.trace.file, { flags: 'a' }) : undefined;
  const traced = new Set(req.trace?.ids ?? []);
  const controlOn = Boolean(req.controlListen || traceOut);
  const runner = new FleetRunner({
    ...req,
    ...scripted.options,
    ...(controlOn ? {
      control: { ...req.control, ...(traceOut ? { traceIds: [...traced] } : {}) },
      onControlEvents: (events: ControlEvent[]) => {
        control?.publish(events);
        if (traceOut) for (const e of events) if (e.type === 'frame' && traced.has(e.id)) traceOut.write(JSON.stringify({ id: e.id, ...e.frame }) + '\n');
      },
    } : {}),
    onStatus: (s) => {
      if (tty) {
        const block = statusBlock(s);
        io.err.write((shownLines ? `\x1b[${shownLines}A\x1b[J` : '') + block.join('\n') + '\n');
        shownLines = block.length;
      } else io.err.write(statusLine(s) + '\n');
    },
    onWarning: (message) => {
      io.err.write(`warning: ${message}\n`);
      shownLines = 0;
    },
  });
  let interruptedBy: string | undefined;
  const off = io.onInterrupt?.((signal = 'SIGINT') => {
    interruptedBy ??= signal;
    runner.stop();
  });
  let report: FleetReport;
  try {
    if (req.controlListen) {
      control = new ControlServer({ listen: req.controlListen, fleet: runner, count: req.count });
      const url = await control.start();
      io.err.write(`control API: ${url} (GET / lists the routes; events: ${url.replace(/^http/, 'ws')}/events; Prometheus: ${url}/metrics)\n`);
      if (control.token) io.err.write(`control API token (shown once; send it as "Authorization: Bearer <token>"): ${control.token}\n`);
      io.err.write(`dashboard: ${url}${DASHBOARD_PATH}${control.token ? ' (add #token=<the token> to the address, or give it when the page asks)' : ''}\n`);
    }
    ({ report } = await runner.run());
  } finally {
    off?.();
    await control?.close();
    if (traceOut) await new Promise<void>((r) => traceOut.end(() => r()));
  }
  if (interruptedBy) {
    report.interrupted = { signal: interruptedBy, requestedDurationMs: req.durationMs ?? null, simulatedMs: report.simulatedMs, wallMs: report.wallMs };
  }
  if (scripted.expectations.length) report.expectations = [...scripted.expectations];
  const code = conclude(report, thresholds, req, io);
  // Ended by a signal: 128 + its number, as a shell reports it, whatever the thresholds say.
  if (interruptedBy) return { code: interruptedBy === 'SIGTERM' ? SIM_EXIT.terminated : SIM_EXIT.interrupted, report };
  return { code, report };
}

/**
 * A scripted scenario, checked against the run before it starts (its steps' connectors and
 * chargers); without --duration (or a stop condition), the run ends once every step has run on
 * its chargers and every expectation's window has closed.
 */
async function scriptedRun(req: FleetRunRequest): Promise<{ options: Partial<FleetOptions>; expectations: FleetReport['expectations'] & {} }> {
  const probe = new FleetRunner({ ...req, onStatus: undefined });
  const sc = probe.scenario;
  const problems = scriptRunProblems(sc, probe.charger, req.count, probe.ocpp);
  if (problems.length) {
    const file = typeof req.scenario === 'string' ? scenarioFile(req.scenario) : `(scenario ${sc.id})`;
    throw new ConfigError(problems.map((p) => ({ file, ...p })));
  }
  const options: Partial<FleetOptions> = { scenario: sc };
  if (sc.steps.length && req.durationMs === undefined && !req.stopWhen) {
    const chargers = shardPositions(req.count, req.shard ?? { index: 0, total: 1 }).length;
    options.stopWhen = (s) => s.counters.chargersStarted >= chargers && s.counters.scriptDone >= s.counters.scriptPlanned;
  }
  return { options, expectations: sc.expectations };
}

/** `sim merge`: combine shard reports into one. */
export function mergeReportFiles(files: string[]): FleetReport {
  return mergeReports(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as FleetReport));
}

/**
 * `sim merge` for the command line: the merged report on stdout (and as JSON to a file), the
 * thresholds checked. Returns the exit code.
 */
export function mergeFleetReports(files: string[], req: { reportPath?: string; json?: boolean; failOn?: string; junitPath?: string }, io: Pick<FleetRunIo, 'out' | 'err'>): number {
  const thresholds = req.failOn ? parseFailOn(req.failOn) : [];
  return conclude(mergeReportFiles(files), thresholds, req, io);
}

/** `sim idtags`: the idTags a scenario's drivers present, one per line, or as CSV for a central system's import. */
export function scenarioIdTags(scenario: string, o: { csv?: boolean } = {}): string {
  const tags = idTagPool(loadScenario(scenario));
  return (o.csv ? ['idTag,status', ...tags.map((t) => `${t},Accepted`)] : tags).join('\n') + '\n';
}
