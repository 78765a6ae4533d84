import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runFleet, SIM_EXIT, statusLine } from '../../../src/app/fleet/run.js';
import type { CentralSystem } from '../../../src/csms/central-system.js';
import { FleetRunner, type FleetStatus } from '../../../src/app/fleet/runner.js';
import { formatReport, mergeReports, type FleetReport } from '../../../src/app/fleet/report.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';
import { runCli } from '../../helpers/cli.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const smoke = loadScenario('smoke');
/**
 * The report is compared with what the central system received: at the end, wait for every
 * answer in flight however loaded the machine (the default 5 s is a user's bound).
 */
const DRAIN_MS = 30_000;

/** Per action, the CALLs a server received. */
function countByAction(actions: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of actions) out[a] = (out[a] ?? 0) + 1;
  return out;
}
const reportCounts = (r: FleetReport) => Object.fromEntries(Object.entries(r.stats.actions).map(([k, a]) => [k, a.count]));

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function strictServer(): Promise<{ csms: TestCsms; url: string }> {
  const csms = new TestCsms();
  // Tags of the invalid prefix are unknown to this central system.
  csms.on('Authorize', (p: { idTag: string }) => ({ idTagInfo: { status: p.idTag.startsWith('BAD') ? 'Invalid' : 'Accepted' } }));
  const url = await csms.start();
  servers.push(csms);
  return { csms, url };
}

describe('fleet simulator', () => {
  it('runs a few hundred chargers against the embedded central system; the report counts what it received', async () => {
    const received: string[] = [];
    const statuses: FleetStatus[] = [];
    let embedded: CentralSystem | undefined;
    // Until it has done what is counted below, not for 20 simulated minutes (4 s), which a
    // loaded machine filled with as few as 4 sessions.
    const deadline = Date.now() + 60_000;
    const { report } = await new FleetRunner({
      count: 300, scenario: smoke, workers: 0, timeScale: 300, startMs: START, seed: 11, drainMs: DRAIN_MS,
      statusIntervalMs: 250, onStatus: (st) => statuses.push(st),
      stopWhen: (st) => (st.counters.sessionsStarted > 10 && st.counters.authRefused > 0 && st.counters.callsFromCentral > 0 && statuses.length > 2)
        || Date.now() > deadline,
      onEmbeddedCsms: (c) => {
        embedded = c;
        c.on('call', (x) => received.push(x.action));
      },
    }).run();
    expect(embedded).toBeDefined();
    expect(report.chargers).toBe(300);
    // Every Accepted boot the central system gave is counted (the machine decides how many in time).
    expect(report.stats.counters.chargersAccepted).toBeGreaterThan(0);
    expect(report.stats.counters.chargersAccepted).toBe(received.filter((a) => a === 'BootNotification').length);
    expect(report.stats.counters.sessionsStarted).toBeGreaterThan(10);
    expect(report.stats.counters.authRefused).toBeGreaterThan(0);
    // Every session started either stopped or was still open at the end, with what it metered.
    const c = report.stats.counters;
    expect(c.sessionsOpenAtEnd).toBe(c.sessionsStarted - c.sessionsStopped);
    expect(c.sessionsOpenAtEnd).toBeGreaterThan(0);
    expect(c.energyOpenWh).toBeGreaterThan(0);
    // App starts reached the chargers as RemoteStartTransaction from the embedded central system.
    expect(report.stats.counters.callsFromCentral).toBeGreaterThan(0);
    expect(report.stats.counters.callsFromCentral).toBeLessThanOrEqual(report.stats.counters.remoteStarts);
    expect(reportCounts(report)).toEqual(countByAction(received));
    // The live status: messages per second in and out over each interval, which add up to no
    // more than the run's totals.
    expect(statuses.length).toBeGreaterThan(2);
    expect(statuses.some((st) => st.messagesOutPerS > 0 && st.messagesInPerS > 0)).toBe(true);
    const seenOut = statuses.reduce((n, st, i) => n + st.messagesOutPerS * ((st.elapsedMs - (statuses[i - 1]?.elapsedMs ?? 0)) / 1000), 0);
    expect(seenOut).toBeLessThanOrEqual(report.stats.counters.messagesOut * 1.1);
    expect(statusLine(statuses.at(-1)!)).toMatch(/msgs\/s in=\d+ out=\d+ calls\/s=\d+/);
    const failures = Object.values(report.stats.actions).reduce((n, a) => n + a.invalid + a.timeouts + Object.values(a.errors).reduce((x, y) => x + y, 0), 0);
    expect(failures).toBe(0);
  }, 120_000); // the wait above (60 s at most) and the drain (30 s at most) on a loaded machine

  it('speaks schema-valid OCPP to a strict ocpp-rpc server, from worker threads, one CALL outstanding per charger', async () => {
    const { csms, url } = await strictServer();
    // Answers held 0-20 ms: a charger that sent its next CALL before the answer would show here.
    csms.answerDelayMs = () => Math.random() * 20;
    // Until every charger is Accepted and the central system has seen transactions and meter
    // values, not for a fixed time: the chargers are built in slices, and a loaded machine
    // connects the last ones late. At x120, not x600: at x600 a starved thread falls ever
    // further behind simulated time (tens of thousands of CALLs queued), and its last
    // chargers then wait for it.
    const deadline = Date.now() + 90_000;
    const { report } = await new FleetRunner({
      count: 200, scenario: smoke, workers: 2, urls: [url], timeScale: 120, startMs: START, seed: 5, statusIntervalMs: 200, drainMs: DRAIN_MS,
      stopWhen: (st) => (st.counters.chargersAccepted === 200 && csms.callsOf('StartTransaction').length > 20 && csms.callsOf('MeterValues').length > 0)
        || Date.now() > deadline,
    }).run();
    expect(report.stats.counters.chargersAccepted).toBe(200);
    expect(report.threads).toBe(2);
    expect(csms.validationFailures).toEqual([]);
    expect(csms.maxOutstanding.size).toBe(200);
    expect(Math.max(...csms.maxOutstanding.values())).toBe(1);
    expect(new Set(csms.calls.map((c) => c.chargePointId)).size).toBe(200);
    expect(csms.callsOf('StartTransaction').length).toBeGreaterThan(20);
    expect(csms.callsOf('MeterValues').length).toBeGreaterThan(0);
    expect(reportCounts(report)).toEqual(countByAction(csms.calls.map((c) => c.action)));
    // Ids SIM-00001 … SIM-00200.
    expect(csms.calls.some((c) => c.chargePointId === 'SIM-00200')).toBe(true);
  }, 180_000); // the wait above (90 s at most) and the drain (30 s at most) on a loaded machine

  it('counts a token as refused by the central system only when its Authorize answer said so', async () => {
    // A central system that answers Invalid for the scenario's invalid tags, and fails (a
    // CALLERROR, as an overloaded backend does) every Authorize of the others: the chargers
    // refuse those by their offline rules, which the report must not count as its refusals.
    const csms = new TestCsms();
    csms.on('Authorize', (p: { idTag: string }) => {
      if (p.idTag.startsWith('BAD')) return { idTagInfo: { status: 'Invalid' } };
      throw new Error('backend overloaded');
    });
    const url = await csms.start();
    servers.push(csms);
    // RFID cards only: every refusal is a presented token's (app starts authorise otherwise).
    const rfid = { ...smoke, auth: { ...smoke.auth, rfidShare: 1, touchscreenShare: 0, appShare: 0 } };
    const { report } = await new FleetRunner({
      count: 40, scenario: rfid, workers: 0, urls: [url], timeScale: 600, durationMs: 60 * 60_000, startMs: START, seed: 3, drainMs: DRAIN_MS,
    }).run();
    const answers = csms.callsOf('Authorize');
    const invalidAsked = answers.filter((c) => c.params.idTag.startsWith('BAD')).length;
    const failedAsked = answers.length - invalidAsked;
    expect(invalidAsked).toBeGreaterThan(0);
    expect(failedAsked).toBeGreaterThan(0);
    const c = report.stats.counters;
    expect(c.authRefused).toBe(invalidAsked);
    // Each failed Authorize, and tokens presented while the link was not up, refused locally.
    expect(c.authRefusedLocally).toBeGreaterThanOrEqual(failedAsked);
    expect(Object.values(report.stats.actions.Authorize!.errors).reduce((x, y) => x + y, 0)).toBe(failedAsked);
    expect(formatReport(report)).toContain(`auth refused by the central system ${invalidAsked}, refused without its answer (timeout, failure, offline rules) ${c.authRefusedLocally}`);
  });

  it('gives the same driver events twice under a seed, and others under another seed', async () => {
    const run = async (seed: number) => {
      const { url } = await strictServer();
      const { events } = await new FleetRunner({
        count: 8, scenario: smoke, workers: 0, urls: [url], timeScale: 3600, durationMs: 2 * 3_600_000, startMs: START, seed, recordEvents: true,
      }).run();
      return events.sort();
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a.length).toBeGreaterThan(20);
    expect(a.some((e) => / present /.test(e)) && a.some((e) => / depart/.test(e))).toBe(true);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('merges shard reports into the report of the whole fleet', async () => {
    const { csms, url } = await strictServer();
    // Each shard (15 chargers) until all of its chargers are Accepted, not for a fixed time.
    const deadline = Date.now() + 25_000;
    const opts = {
      count: 30, scenario: smoke, workers: 0, urls: [url], timeScale: 600, startMs: START, seed: 9, drainMs: DRAIN_MS, statusIntervalMs: 100,
      stopWhen: (st: FleetStatus) => st.counters.chargersAccepted === 15 || Date.now() > deadline,
    };
    const r0 = (await new FleetRunner({ ...opts, shard: { index: 0, total: 2 } }).run()).report;
    const idsAfter0 = new Set(csms.calls.map((c) => c.chargePointId));
    const r1 = (await new FleetRunner({ ...opts, shard: { index: 1, total: 2 } }).run()).report;
    const ids1 = new Set(csms.calls.map((c) => c.chargePointId).filter((id) => !idsAfter0.has(id)));
    expect(idsAfter0.size + ids1.size).toBe(30);
    const merged = mergeReports([r0, r1]);
    expect(merged.chargers).toBe(30);
    expect(merged.shards).toEqual([{ index: 0, total: 2 }, { index: 1, total: 2 }]);
    expect(reportCounts(merged)).toEqual(countByAction(csms.calls.map((c) => c.action)));
    expect(merged.stats.counters.chargersAccepted).toBe(30);

    // The same from the command line, as a CI job gates on shard reports: --fail-on and --report
    // given after `merge` are the merge's (commander parses them on the parent `sim` too).
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-merge-'));
    try {
      const files = [r0, r1].map((r, i) => {
        const f = join(dir, `shard-${i}.json`);
        writeFileSync(f, JSON.stringify(r));
        return f;
      });
      const out = join(dir, 'merged.json');
      const gate = await runCli(['sim', 'merge', ...files, '--fail-on', 'p95<0.001ms', '--report', out], { timeoutMs: 60_000 });
      expect(gate.code, gate.err).toBe(3);
      expect((JSON.parse(readFileSync(out, 'utf8')) as FleetReport).chargers).toBe(30);
      const pass = await runCli(['sim', 'merge', ...files, '--fail-on', 'p95<60s'], { timeoutMs: 60_000 });
      expect(pass.code, pass.err).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('counts boots answered Pending or Rejected, which retry after the interval and are never Accepted here', async () => {
    const { csms, url } = await strictServer();
    csms.on('BootNotification', (_p: unknown, client: { identity: string }) => ({
      status: client.identity === 'SIM-00001' ? 'Rejected' : client.identity === 'SIM-00002' ? 'Pending' : 'Accepted',
      currentTime: new Date().toISOString(), interval: 60,
    }));
    // Until ten are Accepted and both refused ones asked again, not for a fixed time.
    const deadline = Date.now() + 25_000;
    const { report } = await new FleetRunner({
      count: 12, scenario: smoke, workers: 0, urls: [url], timeScale: 600, startMs: START, seed: 2, statusIntervalMs: 100,
      stopWhen: (st) => (st.counters.chargersAccepted === 10 && csms.callsOf('BootNotification', 'SIM-00001').length > 1
        && csms.callsOf('BootNotification', 'SIM-00002').length > 1) || Date.now() > deadline,
    }).run();
    const c = report.stats.counters;
    expect(c.chargersAccepted).toBe(10);
    expect(c).toMatchObject({ bootsRejected: 1, bootsPending: 1 });
    // Both asked again after the interval (60 s simulated, about 0.1 s here).
    expect(csms.callsOf('BootNotification', 'SIM-00001').length).toBeGreaterThan(1);
    expect(csms.callsOf('BootNotification', 'SIM-00002').length).toBeGreaterThan(1);
    // Until Accepted, nothing but BootNotification from either (R4).
    for (const id of ['SIM-00001', 'SIM-00002']) {
      expect(new Set(csms.calls.filter((x) => x.chargePointId === id).map((x) => x.action))).toEqual(new Set(['BootNotification']));
    }
    expect(formatReport(report)).toMatch(/chargers 12 \(accepted 10, the last at [\d.]+ s; boot answered Pending to 1, Rejected to 1\)/);
  });

  it('fast-dc charges at DC power: current and voltage without phases, state of charge, schema-valid', async () => {
    const { csms, url } = await strictServer();
    const { report } = await new FleetRunner({
      count: 20, scenario: loadScenario('fast-dc'), workers: 0, urls: [url], timeScale: 600, durationMs: 90 * 60_000,
      startMs: Date.UTC(2026, 0, 5, 10, 0, 0), seed: 4,
    }).run();
    expect(csms.validationFailures).toEqual([]);
    expect(report.stats.counters.sessionsStarted).toBeGreaterThan(0);
    const values = csms.callsOf('MeterValues').flatMap((c) => c.params.meterValue.flatMap((mv: { sampledValue: { measurand: string; phase?: string; value: string; location?: string }[] }) => mv.sampledValue));
    const of = (m: string) => values.filter((v) => v.measurand === m);
    // Well above what any AC connector gives (22 kW).
    expect(Math.max(...of('Power.Active.Import').map((v) => Number(v.value)))).toBeGreaterThan(50_000);
    expect(of('Current.Import').length).toBeGreaterThan(0);
    for (const v of [...of('Current.Import'), ...of('Voltage')]) expect(v.phase).toBeUndefined();
    expect(of('SoC').length).toBeGreaterThan(0);
    for (const v of of('SoC')) expect(v.location).toBe('EV');
  });

  it('--fail-on sets the exit code', async () => {
    const { url } = await strictServer();
    const sink = () => Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: false });
    // Until every charger is Accepted (the first threshold asks for all), not for a fixed time.
    const deadline = Date.now() + 25_000;
    const base = {
      count: 5, scenario: smoke, workers: 0, urls: [url], timeScale: 600, startMs: START, statusIntervalMs: 100,
      stopWhen: (st: FleetStatus) => st.counters.chargersAccepted === 5 || Date.now() > deadline,
    };
    const pass = await runFleet({ ...base, failOn: 'errors<100%,accepted>=100%' }, { out: sink(), err: sink() });
    expect(pass.code).toBe(SIM_EXIT.ok);
    const fail = await runFleet({ ...base, failOn: 'p99<0.001ms' }, { out: sink(), err: sink() });
    expect(fail.code).toBe(SIM_EXIT.thresholdCrossed);
  });
});
