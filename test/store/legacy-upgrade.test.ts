import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLog, MemorySink } from '../../src/lib/log.js';
import {
  openDatabase, SqliteAuthorizationData, SqliteChargingProfiles, SqliteLedger, SqliteOutbox, SqliteReservations, SqliteSettings,
} from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations.js';
import { CP, LEGACY_DB, LEGACY_EXPECTED, startOnCopy, transactionCalls, type Expected } from '../fixtures/db/make-legacy.js';
import { TestCsms } from '../helpers/ocpp-server.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'evse-edge-legacy-'));
  dirs.push(d);
  return d;
};
const expected = JSON.parse(readFileSync(LEGACY_EXPECTED, 'utf8')) as Expected;

async function waitFor<T>(fn: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * test/fixtures/db/legacy.sqlite was written by the release of commit 8c8448f (schema 7, its
 * outbox of 1.6 payloads), legacy.expected.json records what that release sent when it started
 * on it. A charger upgraded in the field must lose nothing and send nothing differently.
 */
describe('a database written by the 1.6-only release', () => {
  it('is migrated on first open and keeps its settings, authorisation data, profiles, reservations and sessions', () => {
    const file = join(tmp(), 'agent.db');
    copyFileSync(LEGACY_DB, file);
    const logs = new MemorySink();
    const db = openDatabase(file, { log: createLog(logs) });
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);

    const settings = new SqliteSettings(db, CP, new Map());
    expect(['HeartbeatInterval', 'ConnectionTimeOut', 'TransactionMessageAttempts', 'StopTxnSampledData', 'MeterValuesSampledData'].map((k) => settings.get(k)))
      .toEqual(['300', '45', '4', 'Energy.Active.Import.Register', 'Energy.Active.Import.Register,Power.Active.Import']);
    const auth = new SqliteAuthorizationData(db, CP, () => Date.parse('2026-12-01T00:00:00Z'));
    expect(auth.localListVersion()).toBe(3);
    expect(auth.localListSize()).toBe(2);
    expect(auth.localListEntry('LIST-ACCEPTED')).toEqual({ status: 'Accepted', expiryDate: '2099-01-01T00:00:00.000Z', groupId: 'FLEET-A' }); // the core's AuthorizationInfo: 1.6's parentIdTag is its groupId
    expect(auth.localListEntry('LIST-BLOCKED')).toEqual({ status: 'Blocked' });
    expect(auth.cacheEntry('CACHED-1')).toEqual({ status: 'Accepted', expiryDate: '2099-06-01T00:00:00.000Z' });
    expect(auth.cacheEntry('CACHED-2')).toEqual({ status: 'Expired' });
    // In the core's words since schema 9 (the station, not connector 0; test/store/charging-profiles-upgrade.test.ts checks they limit as before).
    const profiles = new SqliteChargingProfiles(db, CP).all();
    expect(profiles.map((p) => [p.target, p.profile.id, p.profile.purpose])).toEqual([[{ kind: 'station' }, 11, 'StationMaximum'], [{ kind: 'evse', evseId: 1 }, 12, 'TransactionDefault']]);
    expect(profiles[1]!.profile.schedules[0].periods).toEqual([{ startPeriod: 0, limit: 22_000 }, { startPeriod: 3_600, limit: 11_000 }]);
    expect(new SqliteReservations(db, CP).all()).toEqual([expect.objectContaining({ reservationId: 77, target: { kind: 'evse', evseId: 2 }, expiresAt: Date.parse('2099-01-01T00:00:00.000Z') })]);

    const ledger = new SqliteLedger(db, CP, (t) => t);
    const open = ledger.active();
    expect(open.map((s) => [s.evseId, s.transactionId, s.meterStartWh, s.lastEnergyWh])).toEqual([[1, null, 4_900, 5_600], [2, 103, 2_800, 3_350]]);
    expect(ledger.byTransactionId(102)).toMatchObject({ evseId: 2, meterStartWh: 500, meterStopWh: 2_800, stopReason: 'EVDisconnected' });
    expect(ledger.byTransactionId(101)).toMatchObject({ evseId: 1, meterStopWh: 3_400, stopReason: 'Local' });
    expect(ledger.transactionRefOf(open[1]!.localId)).toEqual({ version: 'ocpp1.6', id: '103' });
    expect(ledger.highestRegisterWh(2)).toBe(3_350);

    const outbox = new SqliteOutbox(db, CP);
    expect(outbox.summary()).toEqual({ depth: 11, oldestCreatedAt: Date.parse('2026-11-28T08:40:00.000Z'), deadLetters: 1 });
    expect(outbox.head(20).map((e) => e.kind)).toEqual(['meter', 'meter', 'stop', 'security', 'start', 'meter', 'meter', 'stop', 'start', 'meter', 'meter']);
    expect(outbox.deadLetters()).toEqual([expect.objectContaining({ kind: 'meter', attempts: 4, lastError: 'callerror FormationViolation: rejected' })]);
    db.close();
  });

  it('delivers its queued messages unchanged, once each and in order, and recovers its open sessions as that release did', async () => {
    // The restart happens when legacy.expected.json was recorded (2026-12-03 13:43 UTC), whatever
    // today's date: whether a meter reading at restart continues an open session depends on the
    // time since its last checkpoint (meter-guard: could a 22 kW connector have drawn that much
    // since?). At that moment EVSE 2's simulated register could have been reached and EVSE 1's
    // could not; from 19:50 that day EVSE 1's could too, and the test failed. Only Date is faked,
    // and it runs on: timers and I/O are real.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-12-03T13:43:00.000Z'), shouldAdvanceTime: true });
    const csms = new TestCsms();
    csms.nextTx = 201;
    const url = await csms.start();
    const dir = tmp();
    const t = await startOnCopy(url, dir);
    try {
      await waitFor(() => t.agent.outbox!.summary().depth === 0 && t.agent.ledger!.active().length === 0, 30_000, 'the queue drained and the open sessions closed');
      const before = transactionCalls(csms).length;
      expect(t.agent.outbox!.retryDeadLetters()).toBe(1);
      t.agent.link!.kick();
      await waitFor(() => transactionCalls(csms).length > before && t.agent.outbox!.summary().depth === 0, 30_000, 'the requeued dead letter delivered');
      expect(transactionCalls(csms)).toEqual(expected.calls);
      expect(csms.validationFailures).toEqual([]);
      // The sessions started offline got the central system's ids; the open ones closed PowerLoss.
      const recent = t.agent.ledger!.recent(10);
      expect(recent.map((s) => [s.evseId, s.transactionId, s.stopReason])).toEqual([
        [2, 103, 'PowerLoss'], [1, 202, 'PowerLoss'], [1, 201, 'Remote'], [2, 102, 'EVDisconnected'], [1, 101, 'Local'],
      ]);
    } finally {
      await t.cleanup();
      await csms.stop();
      vi.useRealTimers();
    }
  }, 60_000);
});
