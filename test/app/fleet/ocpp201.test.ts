import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { parseOcppMix, versionOf } from '../../../src/app/fleet/ocpp-mix.js';
import { formatReport, type FleetReport } from '../../../src/app/fleet/report.js';
import { chargerId } from '../../../src/app/fleet/shard.js';
import type { CentralSystem } from '../../../src/csms/central-system.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms, type RecordedCall } from '../../helpers/ocpp-server.js';
import { runCli } from '../../helpers/cli.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const smoke = loadScenario('smoke');
/** At the end, wait for every answer in flight however loaded the machine (the report is compared with what the server received). */
const DRAIN_MS = 30_000;

function countByAction(actions: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of actions) out[a] = (out[a] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

let servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('--ocpp: the versions of a fleet', () => {
  it('reads one version or a mix by share; anything else is refused', () => {
    expect(parseOcppMix('2.0.1')).toEqual([{ version: 'ocpp2.0.1', percent: 100 }]);
    expect(parseOcppMix('ocpp1.6')).toEqual([{ version: 'ocpp1.6', percent: 100 }]);
    expect(parseOcppMix('1.6=70,2.0.1=30')).toEqual([{ version: 'ocpp1.6', percent: 70 }, { version: 'ocpp2.0.1', percent: 30 }]);
    expect(parseOcppMix('1.6=100,2.0.1=0')).toEqual([{ version: 'ocpp1.6', percent: 100 }]);
    for (const bad of ['', '2.1', '1.6=70,2.0.1=20', '1.6,2.0.1', '1.6=50,1.6=50', '2.0.1=abc', '1.5']) {
      expect(() => parseOcppMix(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_FLEET_OCPP' }));
    }
  });

  it('gives each charger a version by its id and the seed, in the mix\'s shares', () => {
    const mix = parseOcppMix('1.6=70,2.0.1=30');
    const ids = Array.from({ length: 10_000 }, (_, i) => chargerId('SIM-', i));
    const of = (seed: number) => ids.map((id) => versionOf(mix, id, seed));
    const run1 = of(1);
    expect(of(1)).toEqual(run1);
    const share = run1.filter((v) => v === 'ocpp2.0.1').length / ids.length;
    expect(share).toBeGreaterThan(0.28);
    expect(share).toBeLessThan(0.32);
    // Another seed draws other chargers.
    expect(of(2)).not.toEqual(run1);
    expect(versionOf(undefined, 'SIM-00001', 1)).toBe('ocpp1.6');
    expect(versionOf(parseOcppMix('2.0.1'), 'SIM-00001', 1)).toBe('ocpp2.0.1');
  });

  it('from the command line: a bad --ocpp is a usage error (exit 2)', async () => {
    for (const bad of ['2.1', '1.6=70,2.0.1=20']) {
      const r = await runCli(['sim', '--ocpp', bad, '--count', '1', '--url', 'ws://127.0.0.1:9/ocpp']);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/--ocpp: /);
    }
  }, 60_000);
});

describe('a fleet on OCPP 2.0.1', () => {
  it('runs a few hundred 2.0.1 chargers against a strict 2.0.1 server: schema-valid, one CALL outstanding, all Accepted, seqNo from 0', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    // Tags of the invalid prefix are unknown to this central system.
    csms.on('Authorize', (p: { idToken: { idToken: string } }) => ({ idTokenInfo: { status: p.idToken.idToken.startsWith('BAD') ? 'Invalid' : 'Accepted' } }));
    const url = await csms.start();
    servers.push(csms);
    const tx = () => csms.callsOf('TransactionEvent');
    const deadline = Date.now() + 90_000;
    const { report } = await new FleetRunner({
      count: 200, scenario: smoke, ocpp: '2.0.1', workers: 2, urls: [url], timeScale: 120, startMs: START, seed: 5, statusIntervalMs: 200, drainMs: DRAIN_MS,
      stopWhen: (st) => (st.counters.chargersAccepted === 200 && tx().filter((c) => c.params.eventType === 'Started').length > 20
        && tx().some((c) => c.params.eventType === 'Updated')) || Date.now() > deadline,
    }).run();
    expect(report.stats.counters.chargersAccepted).toBe(200);
    expect(report.stats.versions).toEqual({ 'ocpp2.0.1': expect.objectContaining({ chargersStarted: 200, chargersAccepted: 200 }) });
    expect(csms.validationFailures).toEqual([]);
    expect(csms.maxOutstanding.size).toBe(200);
    expect(Math.max(...csms.maxOutstanding.values())).toBe(1);
    // Every boot Accepted, by this server's answers.
    expect(csms.callsOf('BootNotification').length).toBe(200);
    // 2.0.1 messages only: no 1.6 transaction message reached it (strict mode would have refused them anyway).
    expect(csms.callsOf('StartTransaction')).toEqual([]);
    // Per transaction, the events in the order received: Started with seqNo 0, then 1, 2, …
    const byTx = new Map<string, RecordedCall[]>();
    for (const c of tx()) {
      const id = `${c.chargePointId}/${c.params.transactionInfo.transactionId}`;
      byTx.set(id, [...(byTx.get(id) ?? []), c]);
    }
    expect(byTx.size).toBeGreaterThan(20);
    for (const [id, events] of byTx) {
      expect(events[0]!.params.eventType, id).toBe('Started');
      expect(events.map((e) => e.params.seqNo), id).toEqual(events.map((_e, i) => i));
    }
    // The report counts what the server received, all of it as 2.0.1.
    const received = countByAction(csms.calls.map((c) => c.action));
    expect(Object.fromEntries(Object.entries(report.stats.actions).map(([k, a]) => [k, a.count]))).toEqual(received);
    expect(report.stats.versions!['ocpp2.0.1']!.calls).toEqual(received);
  }, 180_000); // the wait above (90 s at most) and the drain (30 s at most) on a loaded machine

  it('runs 2.0.1 chargers in several processes; the merged report splits by version what the server received', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    servers.push(csms);
    const { report } = await new FleetRunner({
      count: 60, scenario: smoke, ocpp: '2.0.1', processes: 2, urls: [url], timeScale: 600, durationMs: 600 * 60_000, startMs: START, seed: 3,
      // Until every charger is Accepted (two child processes start slowly on a busy machine), not for a fixed time.
      stopWhen: (st) => st.counters.chargersAccepted >= 60, drainMs: DRAIN_MS,
    }).run();
    expect(report.threads).toBe(2);
    expect(csms.validationFailures).toEqual([]);
    expect(new Set(csms.calls.map((c) => c.chargePointId)).size).toBe(60);
    expect(report.stats.versions).toEqual({ 'ocpp2.0.1': { chargersStarted: 60, chargersAccepted: 60, calls: countByAction(csms.calls.map((c) => c.action)) } });
  }, 180_000);

  it('runs a mix of 1.6 and 2.0.1 chargers against the embedded central system; the report splits by version what it received', async () => {
    const received: { action: string; protocol: string }[] = [];
    let embedded: CentralSystem | undefined;
    const count = 120;
    const deadline = Date.now() + 60_000;
    const { report } = await new FleetRunner({
      count, scenario: smoke, ocpp: '1.6=60,2.0.1=40', workers: 0, timeScale: 300, startMs: START, seed: 11, drainMs: DRAIN_MS, statusIntervalMs: 250,
      stopWhen: (st) => (st.counters.chargersAccepted === count && st.counters.sessionsStarted > 10) || Date.now() > deadline,
      onEmbeddedCsms: (c) => {
        embedded = c;
        c.on('call', (x) => received.push({ action: x.action, protocol: c.protocolOf(x.chargePointId) ?? '?' }));
      },
    }).run();
    expect(embedded).toBeDefined();
    expect(report.stats.counters.chargersAccepted).toBe(count);
    const expected = { 'ocpp1.6': 0, 'ocpp2.0.1': 0 };
    for (let i = 0; i < count; i++) expected[versionOf(parseOcppMix('1.6=60,2.0.1=40'), chargerId('SIM-', i), 11)]++;
    expect(expected['ocpp1.6']).toBeGreaterThan(0);
    expect(expected['ocpp2.0.1']).toBeGreaterThan(0);
    const versions = report.stats.versions!;
    expect(Object.keys(versions)).toEqual(['ocpp1.6', 'ocpp2.0.1']);
    for (const v of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      expect(versions[v]!.chargersStarted, v).toBe(expected[v]);
      expect(versions[v]!.chargersAccepted, v).toBe(expected[v]);
      expect(versions[v]!.calls, v).toEqual(countByAction(received.filter((r) => r.protocol === v).map((r) => r.action)));
    }
    expect(received.filter((r) => r.protocol === '?')).toEqual([]);
    // Each version sent its own transaction messages.
    expect(versions['ocpp1.6']!.calls.StartTransaction).toBeGreaterThan(0);
    expect(versions['ocpp2.0.1']!.calls.TransactionEvent).toBeGreaterThan(0);
    expect(versions['ocpp2.0.1']!.calls.StartTransaction).toBeUndefined();
    // The table prints them.
    const table = formatReport(report as FleetReport);
    expect(table).toMatch(/calls by version\s+OCPP 1\.6\s+OCPP 2\.0\.1/);
    expect(table).toContain(`chargers by version: OCPP 1.6 ${expected['ocpp1.6']} (accepted ${expected['ocpp1.6']}), OCPP 2.0.1 ${expected['ocpp2.0.1']} (accepted ${expected['ocpp2.0.1']})`);
    expect(table).toMatch(new RegExp(`TransactionEvent\\s+0\\s+${versions['ocpp2.0.1']!.calls.TransactionEvent}`));
  }, 120_000);
});
