import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { processesNeeded, subShard } from '../../../src/app/fleet/processes.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { shardPositions } from '../../../src/app/fleet/shard.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const BIN = resolve(import.meta.dirname, '../../../bin/evse-edge.js');
const smoke = loadScenario('smoke');

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function server(): Promise<{ csms: TestCsms; url: string; attempts: number[] }> {
  const csms = new TestCsms();
  const attempts: number[] = [];
  // Every WebSocket handshake the server sees, accepted or not.
  csms.server.auth((accept: (o: { identity: string }) => void, _reject: unknown, hs: { identity: string }) => {
    attempts.push(Date.now());
    accept({ identity: hs.identity });
  });
  const url = await csms.start();
  servers.push(csms);
  return { csms, url, attempts };
}

const byAction = (actions: string[]) => actions.reduce<Record<string, number>>((o, a) => ({ ...o, [a]: (o[a] ?? 0) + 1 }), {});

describe('fleet at scale', () => {
  it('plans processes from the open-file limit and splits a shard into disjoint, complete sub-shards', () => {
    expect(processesNeeded(20_000, false, 20_000)).toBe(2);
    expect(processesNeeded(20_000, true, 20_000)).toBe(3);
    expect(processesNeeded(500, true, 20_000)).toBe(1);
    expect(processesNeeded(50_000, false, undefined)).toBe(1);
    const shard = { index: 1, total: 3 };
    const whole = shardPositions(1000, shard);
    const parts = [0, 1, 2, 3].map((i) => shardPositions(1000, subShard(shard, i, 4)));
    expect(parts.flat()).toEqual(whole);
  });

  it('runs in several processes; their merged report counts what the server received', async () => {
    const { csms, url } = await server();
    const { report } = await new FleetRunner({
      count: 60, scenario: smoke, processes: 2, urls: [url], timeScale: 600, durationMs: 600 * 60_000, startMs: START, seed: 3,
      // Until every charger is Accepted (two child processes start slowly on a busy machine), not for a fixed time.
      stopWhen: (s) => s.counters.chargersAccepted >= 60, drainMs: 30_000,
    }).run();
    expect(report.chargers).toBe(60);
    expect(report.shards).toEqual([{ index: 0, total: 1 }]);
    expect(report.threads).toBe(2);
    expect(new Set(csms.calls.map((c) => c.chargePointId)).size).toBe(60);
    expect(Object.fromEntries(Object.entries(report.stats.actions).map(([k, a]) => [k, a.count]))).toEqual(byAction(csms.calls.map((c) => c.action)));
    expect(report.stats.counters.chargersAccepted).toBe(60);
    expect(csms.validationFailures).toEqual([]);
  }, 180_000);

  it('starts app sessions by RemoteStartTransaction from the central system, counted as messages in and out', async () => {
    const { csms, url } = await server();
    const sent: string[] = [];
    let answered = 0;
    let accepted = 0;
    const scenario = { ...smoke, auth: { ...smoke.auth, rfidShare: 0, touchscreenShare: 0, appShare: 1, invalidShare: 0 } };
    const { report } = await new FleetRunner({
      count: 10, scenario, workers: 0, urls: [url], timeScale: 600, durationMs: 600 * 60_000, startMs: START, seed: 4,
      stopWhen: () => csms.callsOf('StartTransaction').length >= 1, drainMs: 30_000,
      appStart: async (cpId, idTag, connectorId) => {
        sent.push(cpId);
        const res = await csms.call(cpId, 'RemoteStartTransaction', { connectorId, idTag });
        answered++;
        if (res.status === 'Accepted') accepted++;
        return res.status === 'Accepted';
      },
    }).run();
    const c = report.stats.counters;
    expect(c.remoteStarts).toBeGreaterThan(0);
    expect(sent.length).toBe(c.remoteStarts);
    // The charger answered each RemoteStartTransaction that reached it (one not connected fails at the server).
    expect(answered).toBeGreaterThan(0);
    expect(c.callsFromCentral).toBe(answered);
    expect(c.remoteStartsRefused).toBe(c.remoteStarts - accepted);
    // Every StartTransaction followed an accepted RemoteStartTransaction: no other way to start here.
    expect(csms.callsOf('StartTransaction').length).toBeGreaterThan(0);
    expect(csms.callsOf('StartTransaction').length).toBeLessThanOrEqual(accepted);
    const results = Object.values(report.stats.actions).reduce((n, a) => n + a.ok + Object.values(a.errors).reduce((x, y) => x + y, 0), 0);
    expect(c.messagesIn).toBe(results + c.callsFromCentral);
    expect(c.messagesOut).toBe(csms.calls.length + c.callsFromCentral);
  }, 180_000);

  it('spreads the reconnect storm by jitter: reconnections land across many time buckets', async () => {
    const { url, attempts } = await server();
    const storm = loadScenario('reconnect-storm');
    // Storm after 300 simulated s (15 s wall: time for every charger to boot on a machine whose
    // two cores run other suites too; at 3 s, 41 of 150 had not booted at load 10);
    // back-off from 2 s: first retries 1-2 s later, uniform.
    const scenario = { ...storm, network: { ...storm.network, stormAtSeconds: 300 }, csms: { ...storm.csms, reconnectInitialDelayMs: 2_000 } };
    const count = 150;
    const { report } = await new FleetRunner({
      count, scenario, workers: 0, urls: [url], timeScale: 20, durationMs: 30 * 60_000, startMs: START, seed: 6,
      // Until every charger has reconnected after the storm, not for a fixed time.
      stopWhen: (s) => s.counters.reconnects >= count,
    }).run();
    expect(report.stats.counters.storms).toBe(count);
    expect(attempts.length).toBeGreaterThanOrEqual(2 * count);
    const wave = attempts.slice(count).sort((a, b) => a - b);
    const t0 = wave[0]!;
    const buckets = new Map<number, number>();
    for (const t of wave) buckets.set(Math.floor((t - t0) / 100), (buckets.get(Math.floor((t - t0) / 100)) ?? 0) + 1);
    // Without jitter the wave is one burst; with full jitter over ~1 s it covers most of ten 100 ms buckets.
    expect(buckets.size).toBeGreaterThanOrEqual(5);
    expect(Math.max(...buckets.values())).toBeLessThan(wave.length / 3);
    expect(report.stats.counters.reconnects).toBe(count);
  }, 180_000);

  it('says EMFILE clearly when one process cannot open the files its chargers need', async () => {
    const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${BIN}" sim --count 100 --processes 1 --duration 1m`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).not.toBe(0);
    expect(err).toMatch(/EMFILE/);
    expect(err).toMatch(/--processes \d+/);
  }, 30_000);
});
