import { afterEach, describe, expect, it } from 'vitest';
import { chargerProfileSchema, loadProfile } from '../../../src/config/profiles.js';
import { FleetHost } from '../../../src/app/fleet/host.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const DURATION_MS = 15 * 60_000;
const smoke = loadScenario('smoke');
const charger = loadProfile('chargers', smoke.charger, chargerProfileSchema);

let csms: TestCsms | undefined;
const hosts: FleetHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop(0)));
  await csms?.stop();
});

/** 20 smoke chargers for 15 simulated minutes (3 s of wall time) against a strict server. */
async function runHost(url: string, housekeepingMs: number, sweepBatch?: number): Promise<FleetHost> {
  const host = new FleetHost({
    chargers: Array.from({ length: 20 }, (_, i) => ({ id: `HK-${String(i).padStart(3, '0')}`, index: i })),
    scenario: smoke, charger, seed: 5, urls: [url], timeScale: 300, startMs: START, durationMs: DURATION_MS,
    rampPerSec: 0, runStartedAt: Date.now(), housekeepingMs, sweepBatch,
  });
  hosts.push(host);
  host.start();
  // The scenario's last events have run, and every finished session's Stop is acknowledged.
  await waitFor(() => host.snapshot(false).simNowMs >= START + DURATION_MS + 60_000, 20_000, 'the end of the scenario');
  await waitFor(() => host.snapshot(false).inFlight === 0, 10_000, 'no CALL in flight');
  return host;
}

describe('fleet store housekeeping', () => {
  it('drops acknowledged sessions and delivered MeterValues rows on its timer, in batches over several turns; without it they stay', async () => {
    csms = new TestCsms();
    const url = await csms.start();

    const kept = await runHost(url, 3_600_000);
    const stoppedKept = kept.snapshot(false).stats.counters.sessionsStopped;
    expect(stoppedKept).toBeGreaterThan(5);
    // No housekeeping yet: every acknowledged session and delivered sample row is still there.
    const before = kept.storeRows();
    expect(before.acknowledgedStops).toBeGreaterThan(5);
    expect(before.deliveredMeterRows).toBeGreaterThan(0);
    await kept.stop(0);
    hosts.splice(hosts.indexOf(kept), 1);

    // One session per turn: a sweep goes on over as many turns as it needs.
    const cleaned = await runHost(url, 100, 1);
    const stopped = cleaned.snapshot(false).stats.counters.sessionsStopped;
    expect(stopped).toBeGreaterThan(5);
    expect(csms.callsOf('MeterValues').length).toBeGreaterThan(0);
    const after = await waitFor(() => {
      const r = cleaned.storeRows();
      return r.acknowledgedStops === 0 && r.deliveredMeterRows === 0 ? r : undefined;
    }, 5_000, 'housekeeping');
    // What is left is sessions still running (or whose Stop is not yet acknowledged).
    expect(after.sessions).toBeLessThanOrEqual(cleaned.snapshot(false).stats.counters.sessionsStarted - stopped);
  });
});
