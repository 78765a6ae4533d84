import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner, type FleetStatus } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { FaultProxy } from '../../helpers/fault-proxy.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('stopping an interrupted fleet (SIGTERM, Ctrl-C)', () => {
  it('drops its links at once and reports, even when the central system answers nothing, not even the closing handshake', async () => {
    const csms = new TestCsms();
    const port = Number(new URL(await csms.start()).port);
    cleanups.push(() => csms.stop());
    const proxy = await new FaultProxy({ host: '127.0.0.1', port }).start();
    cleanups.push(() => proxy.stop());
    let accepted = 0;
    const runner = new FleetRunner({
      count: 60, scenario: loadScenario('smoke'), workers: 2, urls: [proxy.url()], timeScale: 60, startMs: START, seed: 7,
      statusIntervalMs: 200, onStatus: (s: FleetStatus) => (accepted = s.gauges.accepted),
    });
    const done = runner.run();
    const deadline = Date.now() + 30_000;
    while (accepted < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toBe(60);
    // A partition (or a central system too busy to read): CALLs in flight get no answer, and a
    // polite close would wait for ws's 30 s close timeout on every link.
    proxy.blackhole();
    const t0 = Date.now();
    runner.stop();
    const { report } = await done;
    const stopS = (Date.now() - t0) / 1000;
    expect(report.chargers).toBe(60);
    expect(report.stats.counters.chargersAccepted).toBe(60);
    // A Kubernetes pod has 30 s after SIGTERM; ws's close timeout alone is 30 s.
    expect(stopS).toBeLessThan(15);
  });
});
