import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runFleet, SIM_EXIT } from '../../../src/app/fleet/run.js';
import { Histogram } from '../../../src/app/fleet/histogram.js';
import type { FleetReport } from '../../../src/app/fleet/report.js';
import type { CentralSystem } from '../../../src/csms/central-system.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { loadFleetScenario, scriptRunProblems } from '../../../src/app/fleet/script.js';
import { parseOcppMix } from '../../../src/app/fleet/ocpp-mix.js';
import { chargerProfileSchema, loadProfile } from '../../../src/config/profiles.js';
import { TestCsms } from '../../helpers/ocpp-server.js';
import { runCli } from '../../helpers/cli.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
/** At the end, wait for every answer in flight however loaded the machine. */
const DRAIN_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'evse-edge-scripted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

/** A scenario with no random arrivals: only its steps happen. */
function scenarioFile(id: string, extra: { steps: unknown[]; expectations: unknown[] } & Record<string, unknown>): string {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({
    id,
    arrivals: { ratePerHour: Array(24).fill(0) },
    session: { dwellMinutes: { mean: 1, min: 1, max: 1 }, energyKWh: { mean: 1, min: 1, max: 1 } },
    vehicles: [{ name: 'compact-ev', share: 1, batteryWh: 40000, maxPowerW: 11000, socPctMin: 40, socPctMax: 40, targetSocPct: 90 }],
    auth: { rfidShare: 1, touchscreenShare: 0, appShare: 0, idTagPool: { prefix: 'SIMTAG', size: 100 }, invalidShare: 0 },
    ocpp: { MeterValueSampleInterval: 30, HeartbeatInterval: 300 },
    timing: { meterPollIntervalMs: 10000, checkpointIntervalMs: 60000 },
    ...extra,
  }, null, 2));
  return file;
}

/** JUnit XML read by another implementation (Python's ElementTree), as CI tools read it. */
interface JunitCase { name: string; classname: string; failure?: { message: string; type: string; text: string } }
interface Junit { tests: number; failures: number; suites: { name: string; tests: number; failures: number; cases: JunitCase[] }[] }
function parseJunit(file: string): Junit {
  const py = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == 'testsuites', root.tag
out = {'tests': int(root.get('tests')), 'failures': int(root.get('failures')), 'suites': []}
for s in root.findall('testsuite'):
    cases = []
    for c in s.findall('testcase'):
        f = c.find('failure')
        cases.append({'name': c.get('name'), 'classname': c.get('classname'),
                      **({'failure': {'message': f.get('message'), 'type': f.get('type'), 'text': f.text or ''}} if f is not None else {})})
    out['suites'].append({'name': s.get('name'), 'tests': int(s.get('tests')), 'failures': int(s.get('failures')), 'cases': cases})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' })) as Junit;
}

const sink = () => Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: false });
const text = () => {
  let s = '';
  return { stream: Object.assign(new Writable({ write: (c, _e, cb) => { s += String(c); cb(); } }), { isTTY: false }), get: () => s };
};

/** Plug in, present the charger's card, leave a minute later: what the central system must answer. */
const SESSION = {
  steps: [
    { id: 'plug', do: 'plug-in', atSeconds: 1, connector: 1 },
    { id: 'card', do: 'present-token', atSeconds: 3, connector: 1 },
    { id: 'leave', do: 'unplug', atSeconds: 60, connector: 1 },
  ],
  expectations: [
    { expect: 'answer', afterStep: 'card', withinSeconds: 600, action: 'Authorize', status: 'Accepted' },
    { expect: 'answer', afterStep: 'card', withinSeconds: 600, action: 'StartTransaction', status: 'Accepted' },
    { expect: 'no-callerror', afterStep: 'leave', withinSeconds: 60, action: 'StopTransaction' },
    { expect: 'no-callerror' },
    { name: 'every charger authorised', expect: 'count', action: 'Authorize', status: 'Accepted', atLeast: 6 },
    { expect: 'latency', action: 'Authorize', percentile: 'p95', belowMs: 60_000 },
  ],
};

describe('scripted scenarios', () => {
  it('passes against the embedded central system in two worker threads: a verdict per expectation, JUnit XML, exit 0', async () => {
    const file = scenarioFile('scripted-pass', SESSION);
    const junit = join(dir, 'pass.xml');
    const reportPath = join(dir, 'pass.json');
    const received: { action: string; chargePointId: string }[] = [];
    const out = text();
    const { code, report } = await runFleet(
      {
        count: 6, scenario: file, workers: 2, timeScale: 10, startMs: START, rampPerSec: 0, drainMs: DRAIN_MS, statusIntervalMs: 200,
        junitPath: junit, reportPath,
        onEmbeddedCsms: (c: CentralSystem) => c.on('call', (x) => received.push({ action: x.action, chargePointId: x.chargePointId })),
      },
      { out: out.stream, err: sink() },
    );
    expect(report.threads).toBe(2);
    // The run ended by itself once the script had played out (no --duration was given).
    expect(report.stats.counters.scriptDone).toBe(report.stats.counters.scriptPlanned);
    // 3 steps on 6 chargers, and 3 windows (2 after card, 1 after leave) on each.
    expect(report.stats.counters.scriptPlanned).toBe(6 * 3 + 6 * 3);
    expect(report.verdicts?.map((v) => [v.name, v.passed, v.measured])).toEqual([
      ['Authorize answered Accepted within 600 s after step card', true, '6 of 6 chargers'],
      ['StartTransaction answered Accepted within 600 s after step card', true, '6 of 6 chargers'],
      ['no CALLERROR to StopTransaction within 60 s after step leave', true, '6 of 6 chargers without one, 0 with a CALLERROR'],
      ['no CALLERROR', true, expect.stringMatching(/^0 CALLERRORs in \d+ CALLs$/)],
      ['every charger authorised', true, '6'],
      ['p95(Authorize) < 60000 ms', true, expect.stringMatching(/ ms \(6 answers\)$/)],
    ]);
    expect(code).toBe(SIM_EXIT.ok);
    // Every step ran on every charger: one card each, each the pool's tag of the charger's number.
    const authorizes = received.filter((x) => x.action === 'Authorize');
    expect(authorizes.map((x) => x.chargePointId).sort()).toEqual(['SIM-00001', 'SIM-00002', 'SIM-00003', 'SIM-00004', 'SIM-00005', 'SIM-00006']);
    expect(received.filter((x) => x.action === 'StopTransaction')).toHaveLength(6);
    // The JSON report: p50/p95/p99/max per action beside its histogram, and answers by status.
    const json = JSON.parse(readFileSync(reportPath, 'utf8')) as FleetReport;
    const auth = json.stats.actions.Authorize!;
    const h = Histogram.from(auth.latency);
    expect(auth.percentiles).toEqual({
      p50Ms: Number(h.percentileMs(50).toFixed(3)), p95Ms: Number(h.percentileMs(95).toFixed(3)),
      p99Ms: Number(h.percentileMs(99).toFixed(3)), maxMs: Number((h.maxUs / 1000).toFixed(3)),
    });
    expect(auth.percentiles!.maxMs).toBeGreaterThan(0);
    expect(auth.answers).toEqual({ Accepted: 6 });
    expect(json.verdicts).toEqual(report.verdicts);
    expect(json.expectations).toHaveLength(6);
    // The table shows the verdicts.
    expect(out.get()).toMatch(/PASS +Authorize answered Accepted within 600 s after step card +6 of 6 chargers/);
    expect(out.get()).toMatch(/expectations: 6 passed, 0 failed/);
    // JUnit: one passing testcase per expectation.
    const x = parseJunit(junit);
    expect(x).toMatchObject({ tests: 6, failures: 0 });
    expect(x.suites).toHaveLength(1);
    expect(x.suites[0]!.name).toBe('scripted-pass');
    expect(x.suites[0]!.cases.map((c) => c.name)).toEqual(report.verdicts!.map((v) => v.name));
    for (const c of x.suites[0]!.cases) {
      expect(c.classname).toBe('evse-edge.sim.scripted-pass');
      expect(c.failure).toBeUndefined();
    }
  }, 180_000);

  it('fails against a strict ocpp-rpc server that refuses a card and errs on another, in two processes: failures with measured vs expected, exit 3', async () => {
    const csms = new TestCsms();
    servers.push(csms);
    csms.on('Authorize', (p: { idTag: string }) => {
      // ocpp-rpc answers a handler's plain Error with a GenericError CALLERROR.
      if (p.idTag.startsWith('ERR')) throw new Error('this central system fails on ERR cards');
      return { idTagInfo: { status: p.idTag.startsWith('BAD') ? 'Invalid' : 'Accepted' } };
    });
    const url = await csms.start();
    const file = scenarioFile('scripted-fail', {
      steps: [
        { id: 'card', do: 'present-token', atSeconds: 1, connector: 1 },
        { id: 'bad-card', do: 'present-token', atSeconds: 2, connector: 2, idTag: 'BAD0001', chargers: [2] },
        { id: 'err-card', do: 'present-token', atSeconds: 2, connector: 2, idTag: 'ERR0001', chargers: [3] },
      ],
      expectations: [
        { expect: 'answer', afterStep: 'card', withinSeconds: 600, action: 'Authorize', status: 'Accepted' },
        // Never met: the window (60 s simulated, 6 s here) runs out.
        { name: 'bad card accepted', expect: 'answer', afterStep: 'bad-card', withinSeconds: 60, action: 'Authorize', status: 'Accepted' },
        { expect: 'no-callerror', afterStep: 'err-card', withinSeconds: 600, action: 'Authorize' },
        { expect: 'no-callerror', action: 'Authorize' },
        { expect: 'count', action: 'Authorize', status: 'Invalid', atLeast: 1 },
        { expect: 'latency', action: 'BootNotification', percentile: 'max', belowMs: 0.001 },
      ],
    });
    const junit = join(dir, 'fail.xml');
    const err = text();
    const { code, report } = await runFleet(
      {
        count: 4, scenario: file, processes: 2, workers: 0, urls: [url], timeScale: 10, startMs: START, rampPerSec: 0, drainMs: DRAIN_MS,
        statusIntervalMs: 200, junitPath: junit, failOn: 'p95(Authorize)<60s,p95(Heartbeat)<60s',
      },
      { out: sink(), err: err.stream },
    );
    // Two processes, one thread each.
    expect(report.threads).toBe(2);
    expect(csms.validationFailures).toEqual([]);
    expect(code).toBe(SIM_EXIT.thresholdCrossed);
    const v = report.verdicts!;
    expect(v.map((x) => x.passed)).toEqual([true, false, false, false, true, false]);
    expect(v[0]!.measured).toBe('4 of 4 chargers');
    expect(v[1]).toMatchObject({ name: 'bad card accepted', measured: '0 of 1 chargers', expected: 'every charger step bad-card ran on (1)' });
    expect(v[2]!.measured).toBe('0 of 1 chargers without one, 1 with a CALLERROR');
    expect(v[3]!.measured).toMatch(/^1 CALLERRORs \(GenericError:1\) in 6 Authorize CALLs$/);
    expect(v[4]!.measured).toBe('1');
    expect(v[5]!.measured).toMatch(/ ms \(4 answers\)$/);
    expect(err.get()).toMatch(/expectation failed: bad card accepted \(measured 0 of 1 chargers; expected every charger step bad-card ran on \(1\)\)/);
    // No charger sends Heartbeat in so short a run: a threshold that measured nothing fails.
    expect(err.get()).toMatch(/threshold crossed: p95\(Heartbeat\)<60s \(measured no Heartbeat CALL in the report\)/);
    const x = parseJunit(junit);
    expect(x).toMatchObject({ tests: 8, failures: 5 });
    const cases = x.suites[0]!.cases;
    expect(cases.map((c) => c.name)).toEqual([...v.map((y) => y.name), 'p95(Authorize)<60s', 'p95(Heartbeat)<60s']);
    const failed = cases.filter((c) => c.failure);
    expect(failed.map((c) => c.name)).toEqual([v[1]!.name, v[2]!.name, v[3]!.name, v[5]!.name, 'p95(Heartbeat)<60s']);
    expect(failed[0]!.failure).toMatchObject({ type: 'expectation', message: 'measured 0 of 1 chargers, expected every charger step bad-card ran on (1)' });
    expect(failed[3]!.failure!.message).toMatch(/^measured [\d.]+ ms \(4 answers\), expected below 0.001 ms$/);
    expect(failed[4]!.failure).toMatchObject({ type: 'threshold', message: 'measured no Heartbeat CALL in the report, expected p95(Heartbeat)<60s' });
    expect(cases.find((c) => c.name === 'p95(Authorize)<60s')!.classname).toBe('evse-edge.sim.scripted-fail.fail-on');
  }, 180_000);

  it('sim merge judges the expectations on the shards\' figures added up, and writes JUnit', async () => {
    const file = scenarioFile('scripted-shards', SESSION);
    const files: string[] = [];
    for (const index of [0, 1]) {
      const reportPath = join(dir, `shard-${index}.json`);
      const { report } = await runFleet(
        {
          count: 6, shard: { index, total: 2 }, scenario: file, workers: 0, timeScale: 10, startMs: START, rampPerSec: 0, drainMs: DRAIN_MS,
          statusIntervalMs: 200, reportPath,
        },
        { out: sink(), err: sink() },
      );
      // Half the fleet: 3 chargers authorised, fewer than the 6 the count expects.
      expect(report.verdicts!.find((x) => x.name === 'every charger authorised')).toMatchObject({ passed: false, measured: '3' });
      expect(report.verdicts![0]!.measured).toBe('3 of 3 chargers');
      files.push(reportPath);
    }
    const junit = join(dir, 'merged.xml');
    const merged = join(dir, 'merged.json');
    const r = await runCli(['sim', 'merge', ...files, '--junit', junit, '--report', merged], { timeoutMs: 60_000 });
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(readFileSync(merged, 'utf8')) as FleetReport;
    expect(m.verdicts!.every((x) => x.passed)).toBe(true);
    expect(m.verdicts![0]!.measured).toBe('6 of 6 chargers');
    expect(m.verdicts!.find((x) => x.name === 'every charger authorised')!.measured).toBe('6');
    expect(m.stats.actions.Authorize!.answers).toEqual({ Accepted: 6 });
    const x = parseJunit(junit);
    expect(x).toMatchObject({ tests: 6, failures: 0 });
    // One shard alone fails its CI gate (exit 3), with the failure in the XML.
    const one = await runCli(['sim', 'merge', files[0]!, '--junit', junit], { timeoutMs: 60_000 });
    expect(one.code, one.err).toBe(3);
    expect(parseJunit(junit).suites[0]!.cases.find((c) => c.name === 'every charger authorised')!.failure!.message).toBe('measured 3, expected at least 6');
  }, 180_000);
});

describe('scripted steps', () => {
  it('fault, clear-fault, cut and restore the network, drop the link, app start: what the central system sees of each', async () => {
    const csms = new TestCsms();
    servers.push(csms);
    const url = await csms.start();
    const connections = new Map<string, number>();
    csms.server.on('client', (c: { identity: string }) => connections.set(c.identity, (connections.get(c.identity) ?? 0) + 1));
    const file = scenarioFile('scripted-steps', {
      steps: [
        { do: 'fault', atSeconds: 1, connector: 2, errorCode: 'GroundFailure', forSeconds: 10 },
        { do: 'fault', atSeconds: 1, errorCode: 'ReaderFailure' },
        { do: 'clear-fault', atSeconds: 12, errorCode: 'ReaderFailure' },
        { do: 'cut-network', atSeconds: 20 },
        { do: 'restore-network', atSeconds: 40 },
        { do: 'drop-link', atSeconds: 60 },
        { id: 'app', do: 'app-start', atSeconds: 80, connector: 1 },
        { do: 'plug-in', atSeconds: 81, connector: 1 },
      ],
      expectations: [{ expect: 'answer', afterStep: 'app', withinSeconds: 600, action: 'StartTransaction', status: 'Accepted' }],
    });
    const { code, report } = await runFleet(
      { count: 2, scenario: file, workers: 0, urls: [url], timeScale: 10, startMs: START, rampPerSec: 0, drainMs: DRAIN_MS, statusIntervalMs: 200 },
      { out: sink(), err: sink() },
    );
    expect(csms.validationFailures).toEqual([]);
    expect(report.verdicts).toEqual([expect.objectContaining({ passed: true, measured: '2 of 2 chargers' })]);
    expect(code).toBe(SIM_EXIT.ok);
    expect(report.stats.counters).toMatchObject({ flaps: 2, storms: 2, sessionsStarted: 2, remoteStarts: 2 });
    for (const id of ['SIM-00001', 'SIM-00002']) {
      const statuses = csms.callsOf('StatusNotification', id).map((c) => c.params as { connectorId: number; status: string; errorCode: string });
      // The ground fault faults connector 2 and clears after 10 s; the reader's is the station's (connector 0).
      const c2 = statuses.filter((s) => s.connectorId === 2);
      const faultedAt = c2.findIndex((s) => s.status === 'Faulted' && s.errorCode === 'GroundFailure');
      expect(faultedAt).toBeGreaterThanOrEqual(0);
      expect(c2.slice(faultedAt + 1).some((s) => s.status === 'Available' && s.errorCode === 'NoError')).toBe(true);
      const c0 = statuses.filter((s) => s.connectorId === 0);
      const readerAt = c0.findIndex((s) => s.errorCode === 'ReaderFailure');
      expect(readerAt).toBeGreaterThanOrEqual(0);
      expect(c0.slice(readerAt + 1).some((s) => s.errorCode === 'NoError')).toBe(true);
      // Connected at boot, again after the network came back, and again after the link dropped.
      expect(connections.get(id)).toBe(3);
      expect(csms.callsOf('StartTransaction', id)).toHaveLength(1);
    }
  }, 180_000);
});

describe('the shipped example', () => {
  it('scripted-session passes from the command line: exit 0, a passing JUnit testcase per expectation', async () => {
    // x5: its 30 s windows are 6 s of wall time, ample on a busy machine.
    const junit = join(dir, 'example.xml');
    const r = await runCli(['sim', '-n', '2', '-s', 'scripted-session', '--time-scale', '5', '--ramp', '0', '--junit', junit, '--status-interval', '0.5'], { timeoutMs: 120_000 });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/expectations: 6 passed, 0 failed/);
    const x = parseJunit(junit);
    expect(x).toMatchObject({ tests: 6, failures: 0 });
    expect(x.suites[0]!.cases.every((c) => !c.failure && c.classname === 'evse-edge.sim.scripted-session')).toBe(true);
  }, 150_000);
});

describe('scripted scenarios on OCPP 2.0.1', () => {
  it('reads the answer\'s status from idTokenInfo: Authorize and TransactionEvent Accepted after the card', async () => {
    const file = scenarioFile('scripted-201', {
      steps: [
        { do: 'plug-in', atSeconds: 1, connector: 1 },
        { id: 'card', do: 'present-token', atSeconds: 2, connector: 1 },
      ],
      expectations: [
        { expect: 'answer', afterStep: 'card', withinSeconds: 600, action: 'Authorize', status: 'Accepted' },
        { expect: 'answer', afterStep: 'card', withinSeconds: 600, action: 'TransactionEvent', status: 'Accepted' },
        { expect: 'count', action: 'BootNotification', status: 'Accepted', atLeast: 3 },
      ],
    });
    const { code, report } = await runFleet(
      { count: 3, scenario: file, ocpp: '2.0.1', workers: 0, timeScale: 10, startMs: START, rampPerSec: 0, drainMs: DRAIN_MS, statusIntervalMs: 200 },
      { out: sink(), err: sink() },
    );
    expect(report.verdicts!.map((v) => [v.passed, v.measured])).toEqual([[true, '3 of 3 chargers'], [true, '3 of 3 chargers'], [true, '3']]);
    expect(code).toBe(SIM_EXIT.ok);
    expect(report.stats.actions.TransactionEvent!.answers!.Accepted).toBe(3);
  }, 120_000);
});

describe('scripted scenarios: validation', () => {
  const problems = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`);
      throw err;
    }
    throw new Error('no ConfigError');
  };

  it('refuses an unknown step kind, an unknown action, a step no expectation can find, each with the file and the field path', () => {
    const kind = scenarioFile('bad-kind', { steps: [{ do: 'teleport', atSeconds: 1 }], expectations: [] });
    expect(problems(() => loadFleetScenario(kind))).toEqual([
      `${kind}: steps[0].do: expected one of "plug-in", "unplug", "present-token", "app-start", "cut-network", "restore-network", "drop-link", "fault", "clear-fault", got "teleport"`,
    ]);
    const action = scenarioFile('bad-action', {
      steps: [{ id: 'card', do: 'present-token', atSeconds: 1 }],
      expectations: [
        { expect: 'answer', afterStep: 'card', withinSeconds: 5, action: 'Authorise', status: 'Accepted' },
        { expect: 'count', action: 'RemoteStartTransaction', atLeast: 1 },
      ],
    });
    const p = problems(() => loadFleetScenario(action));
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(new RegExp(`^${action}: expectations\\[0\\]\\.action: unknown action "Authorise" \\(did you mean Authorize\\?\\): not a CALL a charger sends`));
    expect(p[1]).toMatch(/expectations\[1\]\.action: unknown action "RemoteStartTransaction"/);
    const refs = scenarioFile('bad-refs', {
      steps: [{ id: 'card', do: 'present-token', atSeconds: 1 }, { id: 'card', do: 'unplug', atSeconds: 2 }, { do: 'plug-in', atSeconds: 0, vehicle: 'tractor' }],
      expectations: [
        { expect: 'answer', afterStep: 'crad', withinSeconds: 5, action: 'Authorize', status: 'Accepted' },
        { expect: 'answer', action: 'Authorize', status: 'Accepted' },
        { expect: 'no-callerror', afterStep: 'card' },
        { expect: 'latency', percentile: 'p42', belowMs: 5 },
      ],
    });
    expect(problems(() => loadFleetScenario(refs)).map((x) => x.slice(refs.length + 2))).toEqual([
      'expectations[3].percentile: expected one of "p50", "p95", "p99", "max", got "p42"',
    ]);
    const refs2 = scenarioFile('bad-refs2', {
      steps: [{ id: 'card', do: 'present-token', atSeconds: 1 }, { id: 'card', do: 'unplug', atSeconds: 2 }, { do: 'plug-in', atSeconds: 0, vehicle: 'tractor' }],
      expectations: [
        { expect: 'answer', afterStep: 'crad', withinSeconds: 5, action: 'Authorize', status: 'Accepted' },
        { expect: 'answer', action: 'Authorize', status: 'Accepted' },
        { expect: 'no-callerror', afterStep: 'card' },
      ],
    });
    expect(problems(() => loadFleetScenario(refs2)).map((x) => x.slice(refs2.length + 2))).toEqual([
      'steps[1].id: "card" is already the id of steps[0]',
      'steps[2].vehicle: no vehicle "tractor" (known: compact-ev)',
      'expectations[0].afterStep: no step has the id "crad" (known: card)',
      'expectations[1].afterStep: is required: an answer is awaited after a step (over the run, use "expect": "count" with a status)',
      'expectations[2].withinSeconds: is required with afterStep',
    ]);
  });

  it('refuses, before the run, a step on a connector the charger lacks or a charger beyond the fleet', async () => {
    const file = scenarioFile('bad-run', {
      steps: [{ do: 'plug-in', atSeconds: 1, connector: 3 }, { do: 'unplug', atSeconds: 2, chargers: [1, 9] }],
      expectations: [],
    });
    await expect(runFleet({ count: 2, scenario: file, workers: 0 }, { out: sink(), err: sink() })).rejects.toSatisfy((err: unknown) => {
      const p = (err as ConfigError).problems.map((x) => `${x.file}: ${x.path}: ${x.message}`);
      expect(p).toEqual([
        `${file}: steps[0].connector: charger "sim-ac-2x22kw" has no connector 3 (it has 1, 2)`,
        `${file}: steps[1].chargers[1]: charger 9 is beyond the fleet (--count 2)`,
      ]);
      return true;
    });
    // An action of the other OCPP version: no charger of a 2.0.1 fleet sends StartTransaction.
    const v16 = scenarioFile('v16-only', {
      steps: [{ id: 'card', do: 'present-token', atSeconds: 1 }],
      expectations: [
        { expect: 'answer', afterStep: 'card', withinSeconds: 5, action: 'StartTransaction', status: 'Accepted' },
        { expect: 'count', action: 'TransactionEvent', atLeast: 1 },
      ],
    });
    await expect(runFleet({ count: 2, scenario: v16, workers: 0, ocpp: '2.0.1' }, { out: sink(), err: sink() })).rejects.toSatisfy((err: unknown) => {
      expect((err as ConfigError).problems).toEqual([{
        file: v16, path: 'expectations[0].action',
        message: 'no charger of this fleet sends StartTransaction: it speaks OCPP 2.0.1 (2.0.1 reports transactions with TransactionEvent)',
      }]);
      return true;
    });
    // A mix sends both.
    const mixed = loadFleetScenario(scenarioFile('v16-mixed', {
      steps: [], expectations: [{ expect: 'count', action: 'StartTransaction', atLeast: 1 }, { expect: 'count', action: 'TransactionEvent', atLeast: 1 }],
    }));
    const charger = loadProfile('chargers', mixed.charger, chargerProfileSchema);
    expect(scriptRunProblems(mixed, charger, 2, parseOcppMix('1.6=50,2.0.1=50'))).toEqual([]);
    expect(scriptRunProblems(mixed, charger, 2, parseOcppMix('1.6')).map((p) => p.path)).toEqual(['expectations[1].action']);
  });

  it('the command line exits 2 on a bad scenario (file and field path) and on --fail-on with an unknown action', async () => {
    const action = scenarioFile('cli-bad-action', {
      steps: [{ id: 'card', do: 'present-token', atSeconds: 1 }],
      expectations: [{ expect: 'answer', afterStep: 'card', withinSeconds: 5, action: 'Authorise', status: 'Accepted' }],
    });
    const bad = await runCli(['sim', '-n', '1', '-s', action], { timeoutMs: 60_000 });
    expect(bad.code, bad.err).toBe(2);
    expect(bad.err).toContain(`${action}: expectations[0].action: unknown action "Authorise" (did you mean Authorize?)`);
    const failOn = await runCli(['sim', '-n', '1', '--fail-on', 'p95(Authorise)<500ms'], { timeoutMs: 60_000 });
    expect(failOn.code, failOn.err).toBe(2);
    expect(failOn.err).toMatch(/--fail-on: "p95\(Authorise\)<500ms": unknown action "Authorise" \(did you mean Authorize\?\)/);
    const merge = await runCli(['sim', 'merge', join(dir, 'none.json'), '--fail-on', 'max(StartTransactio)<1s'], { timeoutMs: 60_000 });
    expect(merge.code, merge.err).toBe(2);
    expect(merge.err).toMatch(/did you mean StartTransaction\?/);
  }, 120_000);
});
