import { afterEach, describe, expect, it } from 'vitest';
import { chargerProfileSchema, loadProfile } from '../../../src/config/profiles.js';
import { FleetHost } from '../../../src/app/fleet/host.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('starting a fleet without --ramp', () => {
  it('builds its chargers in slices, letting the event loop run between them, and every one is Accepted', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const scenario = loadScenario('smoke');
    const count = 1_500;
    const host = new FleetHost({
      chargers: Array.from({ length: count }, (_, i) => ({ id: `RAMP-${String(i).padStart(5, '0')}`, index: i })),
      scenario, charger: loadProfile('chargers', scenario.charger, chargerProfileSchema), seed: 1, urls: [url],
      timeScale: 1, startMs: START, rampPerSec: 0, runStartedAt: Date.now(),
    });
    // What the event loop saw: after start() returns, the first turn of the loop (an immediate)
    // must find the chargers still being built, i.e. start() did not build them all in one go.
    const builtAtFirstTurn = new Promise<number>((resolve) => setImmediate(() => resolve(host.chargerCount)));
    host.start();
    cleanups.push(() => host.stop(undefined, true));
    const atFirstTurn = await builtAtFirstTurn;
    expect(atFirstTurn).toBeGreaterThan(0);
    expect(atFirstTurn).toBeLessThan(count);
    const deadline = Date.now() + 60_000;
    while (host.metrics.gauges.accepted < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(host.chargerCount).toBe(count);
    expect(host.metrics.gauges.accepted).toBe(count);
  });

  it('waits while the event loop is busy, then builds the rest: a ramp never runs ahead of what the thread absorbs', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const scenario = loadScenario('smoke');
    const count = 1_500;
    const host = new FleetHost({
      chargers: Array.from({ length: count }, (_, i) => ({ id: `BUSY-${String(i).padStart(5, '0')}`, index: i })),
      scenario, charger: loadProfile('chargers', scenario.charger, chargerProfileSchema), seed: 1, urls: [url],
      timeScale: 1, startMs: START, rampPerSec: 0, runStartedAt: Date.now(),
    });
    // The thread kept busy: every 20 ms, 18 ms of work (a utilisation of about 0.9).
    const busy = setInterval(() => {
      const until = Date.now() + 18;
      while (Date.now() < until) { /* busy */ }
    }, 20);
    host.start();
    cleanups.push(() => host.stop(undefined, true));
    await new Promise((r) => setTimeout(r, 1_500));
    const builtWhileBusy = host.chargerCount;
    clearInterval(busy);
    // Before the first measurement (50 ms) it builds; then it waits. Without the wait, slices of
    // 20 ms between the busy turns built most of them in that time (1,500 in the case above).
    expect(builtWhileBusy).toBeGreaterThan(0);
    expect(builtWhileBusy).toBeLessThan(count / 2);
    const deadline = Date.now() + 60_000;
    while (host.metrics.gauges.accepted < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(host.chargerCount).toBe(count);
    expect(host.metrics.gauges.accepted).toBe(count);
  });
});
