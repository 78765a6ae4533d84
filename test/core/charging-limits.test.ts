/**
 * Smart-charging limits as the power path sees them: the current offered at start, when a
 * profile changes, at a schedule's boundaries to the millisecond, shared between sessions, and a
 * limit of 0 that suspends a session without ending it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { charging, harness, profile, T0, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

const offersAt = (h: Harness, id = 1) => h.connector(id).powerPath.offers.map((o) => [o.currentA, (o.at - T0) / 1000]);

describe('the current offered', () => {
  it.each([
    { name: 'no profile: the connector maximum', install: [], offered: 32 },
    { name: 'a TxDefaultProfile of 16 A on the connector', install: [[1, profile({ id: 1, periods: [[0, 16]] })]], offered: 16 },
    { name: 'a TxDefaultProfile of 16 A on connector 0 (every connector)', install: [[0, profile({ id: 1, periods: [[0, 16]] })]], offered: 16 },
    { name: 'a limit above the hardware: the hardware maximum', install: [[1, profile({ id: 1, periods: [[0, 63]] })]], offered: 32 },
    { name: 'a ChargePointMaxProfile of 20 A below a TxDefaultProfile of 25 A', install: [[0, profile({ id: 1, purpose: 'ChargePointMaxProfile', periods: [[0, 20]] })], [1, profile({ id: 2, periods: [[0, 25]] })]], offered: 20 },
    { name: 'the higher stack level wins', install: [[1, profile({ id: 1, stackLevel: 0, periods: [[0, 10]] })], [1, profile({ id: 2, stackLevel: 1, periods: [[0, 24]] })]], offered: 24 },
  ] as const)('$name: $offered A at start, in the Begin sample too', async ({ install, offered }) => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    for (const [connectorId, p] of install) await h.installProfile(connectorId, p);
    await h.plug();
    await h.present('TAG-A');
    expect(h.offers()).toEqual([[offered, false]]);
    const [begin] = h.ledger.samples(h.session().localId);
    expect(begin!.offered).toEqual({ currentA: offered, powerW: Math.min(22_080, offered * 230 * 3) });
    expect(h.status()).toBe('Charging');
  });
});

describe('limits that change', () => {
  it('a profile installed during a session applies at once; cleared, the maximum again', async () => {
    h = await charging();
    await h.advance(10_000);
    await h.installProfile(1, profile({ id: 1, periods: [[0, 10]] }));
    await h.advance(10_000);
    await h.clearProfiles();
    expect(offersAt(h)).toEqual([[32, 0], [10, 10], [32, 20]]);
  });

  it('a relative schedule steps down at its period boundary, to the millisecond', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.installProfile(1, profile({ id: 1, periods: [[0, 16], [600, 8]] }));
    await h.plug();
    await h.advance(30_000);
    await h.present('TAG-A');
    await h.advance(599_999);
    expect(h.connector().powerPath.offered).toBe(16);
    await h.advance(1);
    expect(offersAt(h)).toEqual([[16, 30], [8, 630]]);
  });

  it('an absolute schedule that starts later takes over at its start', async () => {
    h = await charging();
    await h.installProfile(1, profile({ id: 1, startSchedule: T0 + 300_000, periods: [[0, 6], [300, 12]] }));
    await h.advance(900_000);
    expect(offersAt(h)).toEqual([[32, 0], [6, 300], [12, 600]]);
  });

  it('the samples carry the limit in force when each was taken', async () => {
    h = await charging();
    await h.advance(30_000);
    await h.installProfile(1, profile({ id: 1, periods: [[0, 10]] }));
    await h.advance(30_000);
    const periodic = h.ledger.samples(h.session().localId).filter((s) => s.context === 'Sample.Periodic');
    expect(periodic.map((s) => s.offered)).toEqual([{ currentA: 10, powerW: 6_900 }]);
  });

  it('a TxProfile applies to its own transaction only', async () => {
    h = await charging();
    await h.confirmStart(h.session().localId, 5);
    await h.installProfile(1, profile({ id: 1, purpose: 'TxProfile', transactionId: 99, periods: [[0, 8]] }));
    await h.installProfile(1, profile({ id: 2, purpose: 'TxProfile', transactionId: 5, periods: [[0, 12]] }));
    expect(h.offers()).toEqual([[32, false], [12, false]]);
  });
});

describe('a clock set by the central system', () => {
  // The limit is computed for the clock's time and re-computed only when the next boundary's timer
  // fires (or profiles or sessions change). The Clock port does not say when it is set, so a
  // correction leaves the limit of the old time in force: here a charger an hour fast applied an
  // absolute schedule that starts at 12:00 at 11:00 true time, and set back to 11:30 it keeps that
  // limit instead of offering 32 A until 12:00. The fix needs the port to announce a set clock.
  it.fails('GAP: a clock set back re-applies the limit in force at the corrected time', async () => {
    h = await charging({ now: T0 + 3_600_000, clockTrusted: false });
    await h.installProfile(1, profile({ id: 1, startSchedule: T0, periods: [[0, 10]] }));
    expect(h.connector().powerPath.offered).toBe(10);
    h.clock.set(T0 - 1_800_000);
    await h.advance(1_000);
    expect(h.connector().powerPath.offered).toBe(32);
  });
});

describe('suspended by the charger (SuspendedEVSE)', () => {
  it('a limit of 0 suspends the session without ending it; a limit again resumes it', async () => {
    h = await charging();
    await h.installProfile(1, profile({ id: 1, periods: [[0, 0]] }));
    expect(h.status()).toBe('SuspendedEVSE');
    expect(h.session().stopReason).toBeNull();
    await h.clearProfiles();
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging', 'SuspendedEVSE', 'Charging']);
    expect(h.offers()).toEqual([[32, false], [0, true], [32, false]]);
  });

  it('a schedule with a pause: SuspendedEVSE for exactly its period', async () => {
    h = await charging();
    await h.installProfile(1, profile({ id: 1, periods: [[0, 16], [60, 0], [120, 16]] }));
    await h.advance(59_999);
    expect(h.status()).toBe('Charging');
    await h.advance(1);
    expect(h.status()).toBe('SuspendedEVSE');
    await h.advance(59_999);
    expect(h.status()).toBe('SuspendedEVSE');
    await h.advance(1);
    expect(h.status()).toBe('Charging');
    expect(h.statusLog.filter((s) => s.connectorId === 1).slice(-2).map((s) => [s.status, (s.at - T0) / 1000])).toEqual([['SuspendedEVSE', 60], ['Charging', 120]]);
  });

  it('a vehicle that pauses under a limit of 0 is still SuspendedEVSE (the charger suspends first)', async () => {
    h = await charging();
    await h.installProfile(1, profile({ id: 1, periods: [[0, 0]] }));
    await h.vehicle('connected');
    expect(h.status()).toBe('SuspendedEVSE');
  });
});

describe('a charge-point limit shared by its sessions', () => {
  it('ChargePointMaxProfile 40 A: one session gets 32 A, two share 20 A each, the last one 32 A again', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' }, 'TAG-B': { status: 'Accepted' } } });
    await h.installProfile(0, profile({ id: 1, purpose: 'ChargePointMaxProfile', periods: [[0, 40]] }));
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    await h.advance(1_000);
    await h.plug(2);
    await h.present('TAG-B', { connectorId: 2 });
    await h.advance(1_000);
    await h.present('TAG-A', { connectorId: 1 });
    expect(offersAt(h, 1)).toEqual([[32, 0], [20, 1], [0, 2]]);
    expect(offersAt(h, 2)).toEqual([[20, 1], [32, 2]]);
  });
});
