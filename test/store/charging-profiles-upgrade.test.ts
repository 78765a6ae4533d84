/**
 * Charging profiles written by the 1.6-shaped release (schema 8) are converted to the core's
 * limit profiles on first open (migration 9) and limit exactly as before: the composite schedules
 * computed from the migrated rows equal those that release computed from its own rows
 * (test/fixtures/db/profiles-v16.expected.json), and the migration says what the 1.6 binding's
 * conversion says of the same profile.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SmartCharging, STATION, evseTarget, type CompositeSchedule } from '../../src/core/smart-charging/index.js';
import { createLog, MemorySink, silentLog } from '../../src/lib/log.js';
import { fromV16Profile, targetOfConnector, toV16Installed, type ChargingProfile } from '../../src/ocpp/v16/charging-profiles.js';
import { openDatabase, SqliteChargingProfiles, SqliteLedger, type SqliteDatabase } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations.js';
import { LEGACY_DB, CP as LEGACY_CP } from '../fixtures/db/make-legacy.js';
import { CONNECTORS, CP, ELECTRICAL, REQUESTS, ROWS, SESSIONS, STATION_ELECTRICAL, T0 } from '../fixtures/db/profiles-v16.js';

const expected = JSON.parse(readFileSync(new URL('../fixtures/db/profiles-v16.expected.json', import.meta.url), 'utf8')) as {
  requests: Record<string, CompositeSchedule>; legacy: Record<string, CompositeSchedule>;
};

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmpFile = () => {
  const d = mkdtempSync(join(tmpdir(), 'evse-edge-profiles-'));
  dirs.push(d);
  return join(d, 'agent.db');
};

/** A schema-8 database holding ROWS and SESSIONS as the 1.6-shaped release stored them. */
function writeSchema8(file: string): void {
  const db = new Database(file);
  for (let v = 0; v < 8; v++) db.exec(migrations[v]!);
  db.pragma('user_version = 8');
  const session = db.prepare(`INSERT INTO sessions (local_id, charge_point_id, connector_id, auth_method, started_at, start_clock_trusted, meter_start_wh,
    last_energy_wh, last_checkpoint_at, stopped_at, meter_stop_wh, stop_reason, transaction_ref, transaction_ref_version)
    VALUES (?, ?, ?, 'rfid', ?, 1, 0, 0, ?, ?, ?, ?, ?, ?)`);
  for (const s of SESSIONS) {
    session.run(s.localId, CP, s.connectorId, s.startedAt, s.startedAt, s.stoppedAt, s.stoppedAt === null ? null : 1_000, s.stoppedAt === null ? null : 'Local', s.ref, s.ref === null ? null : 'ocpp1.6');
  }
  // As SqliteChargingProfiles.put wrote them at schema 8.
  const put = db.prepare(`INSERT INTO charging_profiles (charge_point_id, charging_profile_id, connector_id, purpose, stack_level, profile, installed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  for (const r of ROWS) put.run(CP, r.profile.chargingProfileId, r.connectorId, r.profile.chargingProfilePurpose, r.profile.stackLevel, JSON.stringify(r.profile), r.installedAt);
  db.close();
}

function smartCharging(db: SqliteDatabase, cp: string, electrical = { station: STATION_ELECTRICAL, evses: new Map(CONNECTORS.map((id) => [id, ELECTRICAL])) }) {
  return new SmartCharging({ store: new SqliteChargingProfiles(db, cp), clock: { now: () => T0 }, electrical, log: silentLog });
}

describe('charging profiles of the 1.6-shaped release', () => {
  it('are converted on first open: the station, the purposes, transactions by their local session id', () => {
    const file = tmpFile();
    writeSchema8(file);
    const db = openDatabase(file, { log: createLog(new MemorySink()) });
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    const rows = new SqliteChargingProfiles(db, CP).all();
    expect(rows.map((r) => [r.target, r.profile.id, r.profile.purpose, r.profile.sessionId ?? null])).toEqual([
      [STATION, 1, 'StationMaximum', null],
      [STATION, 2, 'TransactionDefault', null],
      [evseTarget(1), 3, 'TransactionDefault', null],
      [evseTarget(1), 4, 'Transaction', 'sess-confirmed'], // transactionId 4242
      [evseTarget(1), 5, 'Transaction', 'sess-ended'], // transactionId 7: its session ended (it limits no running one)
      [evseTarget(2), 6, 'Transaction', null], // no transactionId: whichever session runs on EVSE 2
      [evseTarget(2), 7, 'Transaction', 'sess-unconfirmed'], // 999: the running session whose id was not confirmed yet
      // 8 named transaction 555 on connector 3, which holds no session: dropped.
    ]);
    expect(rows[0]!.profile).toEqual({
      id: 1, stackLevel: 0, purpose: 'StationMaximum', kind: 'Absolute', validTo: '2026-11-28T12:00:00.000Z',
      schedules: [{
        startSchedule: '2026-11-28T07:00:00.000Z', durationS: 10_800, unit: 'W',
        periods: [{ startPeriod: 0, limit: 44_160 }, { startPeriod: 3_600, limit: 13_800, numberPhases: 1 }, { startPeriod: 7_200, limit: 33_120.5 }],
      }],
    });
    expect(rows[1]!.profile).toMatchObject({ kind: 'Recurring', recurrence: 'Daily', schedules: [{ minRate: 6 }] });
    expect(rows.map((r) => r.installedAt)).toEqual(ROWS.slice(0, 7).map((r) => r.installedAt));

    // What the 1.6 binding converts each original profile to (its transactionId resolved the same way).
    const ledger = new SqliteLedger(db, CP, (t) => t);
    for (const [i, r] of ROWS.slice(0, 7).entries()) {
      const sessionOf = (id: number) => ledger.byTransactionRef({ version: 'ocpp1.6', id: String(id) })?.localId
        ?? ledger.active().find((s) => s.evseId === r.connectorId && ledger.transactionRefOf(s.localId) === null)?.localId;
      expect(rows[i]).toEqual({ target: targetOfConnector(r.connectorId), profile: fromV16Profile(r.profile as unknown as ChargingProfile, sessionOf), installedAt: r.installedAt });
      // And back: the profile as received (a transaction not confirmed yet has no id to give).
      const transactionIdOf = (localId: string) => {
        const ref = ledger.transactionRefOf(localId);
        return ref ? Number(ref.id) : undefined;
      };
      const { transactionId: _unconfirmed, ...withoutId } = r.profile;
      expect(toV16Installed(rows[i]!, transactionIdOf)).toEqual({ connectorId: r.connectorId, installedAt: r.installedAt, profile: r.profile.chargingProfileId === 7 ? withoutId : r.profile });
    }
    db.close();
  });

  it.each(REQUESTS)('limit as that release computed: $name', (r) => {
    const file = tmpFile();
    writeSchema8(file);
    const db = openDatabase(file, { log: createLog(new MemorySink()) });
    const session = SESSIONS.find((s) => s.localId === r.session);
    const schedule = smartCharging(db, CP).composite({
      target: targetOfConnector(r.connectorId), startMs: r.startMs, durationS: r.durationS, unit: r.unit, sharedBy: r.sharedBy,
      ...(session ? { transaction: { sessionId: session.localId, startedAt: session.startedAt } } : {}),
    });
    expect(schedule).toEqual(expected.requests[r.name]);
    db.close();
  });

  it('the legacy fixture\'s profiles (test/fixtures/db/legacy.sqlite, schema 7) limit as that release computed', () => {
    const file = tmpFile();
    copyFileSync(LEGACY_DB, file);
    const db = openDatabase(file, { log: createLog(new MemorySink()) });
    const e = { nominalVoltageV: 230, phases: 3 as const, maxCurrentA: 32, phaseSwitching: false };
    const sc = smartCharging(db, LEGACY_CP, { station: { ...e, maxCurrentA: 64 }, evses: new Map([[1, e], [2, e]]) });
    const open = new SqliteLedger(db, LEGACY_CP, (t) => t).active().find((s) => s.evseId === 2)!;
    const T = Date.parse('2026-11-28T08:00:00.000Z');
    expect({
      'connector 1, a transaction since 07:30Z': sc.composite({ target: evseTarget(1), startMs: T, durationS: 7_200, unit: 'A', transaction: { sessionId: open.localId, startedAt: T - 1_800_000 } }),
      'connector 2, no transaction': sc.composite({ target: evseTarget(2), startMs: T, durationS: 7_200, unit: 'W' }),
      'the charge point': sc.composite({ target: STATION, startMs: T, durationS: 7_200, unit: 'A' }),
    }).toEqual(expected.legacy);
    db.close();
  });
});
