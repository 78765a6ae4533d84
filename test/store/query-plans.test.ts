import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/ports.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import {
  openDatabase, probeWritable, SessionRecords, SqliteAuditLog, SqliteAuthorizationData, SqliteChargingProfiles, SqliteLedger,
  SqliteDisplayMessages, SqliteOutbox, SqliteReservations, SqliteSettings, type SqliteDatabase,
} from '../../src/store/index.js';
import { SqliteSecurityEvents } from '../../src/store/security-events.js';

/**
 * Every statement the store prepares, checked with EXPLAIN QUERY PLAN: none may read a whole
 * table (SQLite's "SCAN <table>") on a per-message or per-session path, where the cost grows
 * with the size of the store (at 20,000 fleet chargers, one such DELETE per purged session
 * was a third of a worker's CPU). A plan is a property of the schema and the SQL, not of the
 * machine: this test runs the same on a charger's ARM CPU.
 *
 * The statements are those the store's views prepare while every one of their methods runs on
 * a real database file; a second check reads src/store for the SQL it contains, so that a
 * statement no method here exercises fails the test instead of passing unchecked.
 */

/** Full scans that are justified: sweeps that run seldom, or tables that stay tiny. */
const ALLOWED_SCANS: { sql: string; table: string; why: string }[] = [
  { sql: 'SELECT local_id FROM sessions WHERE stop_acked_at IS NOT NULL AND stopped_at < ?', table: 'sessions',
    why: 'retention sweep (daily on a charger, every 10 s in a fleet): one scan finds every session to delete' },
  { sql: 'SELECT COUNT(*) AS n FROM sessions WHERE stop_acked_at IS NULL AND started_at < ?', table: 'sessions',
    why: 'retention sweep: counts what it keeps, once per sweep' },
  { sql: 'DELETE FROM audit_log WHERE at < ?', table: 'audit_log', why: 'retention sweep, once per sweep' },
  { sql: "AS dead FROM sessions ORDER BY started_at, local_id", table: 'sessions', why: 'a full export (every session) reads every row by definition' },
  { sql: "AS dead FROM sessions WHERE started_at >= ?", table: 'sessions', why: 'an export of a period, across charge points: a report, not a message path' },
  { sql: 'UPDATE sessions SET customer_ref = NULL, id_tag = NULL WHERE customer_ref = ?', table: 'sessions', why: 'never scans (sessions_customer); listed for the erasure family' },
  { sql: 'customer_ref IN (SELECT customer_ref FROM erasure_requests)', table: 'erasure_requests',
    why: 'holds only the erasures still waiting for a StopTransaction acknowledgement: empty or a handful of rows' },
  { sql: 'DELETE FROM auth_cache WHERE id_tag = ?', table: 'auth_cache', why: 'an erasure request (a person\'s rights), not a message path; the cache is bounded' },
];

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const sample = (takenAt: number, energyWh: number, context: Sample['context'] = 'Sample.Periodic', clockTrusted = true): Sample => ({
  takenAt, clockTrusted, context, measurands: ['Energy.Active.Import.Register'],
  reading: { takenAt, energyWh, powerW: 7_000, currentA: [10, 10, 10], voltageV: [230, 230, 230] },
});

/** Open a store file as the agent does, and record every SQL text prepared on it. */
function recordingStore(): { db: SqliteDatabase; seen: Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-plans-'));
  dirs.push(dir);
  const db = openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
  const seen = new Set<string>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    seen.add(sql);
    return prepare(sql);
  }) as SqliteDatabase['prepare'];
  return { db, seen };
}

/** Run every method of every store view, with enough rows that a plan is a real one. */
function exerciseEveryView(db: SqliteDatabase): void {
  const now = Date.UTC(2026, 0, 5, 8);
  const records = new SessionRecords(db);
  for (const cp of ['CP-1', 'CP-2']) {
    const settings = new SqliteSettings(db, cp, new Map([['HeartbeatInterval', '300']]));
    settings.set('HeartbeatInterval', '60');
    const auth = new SqliteAuthorizationData(db, cp, () => now);
    auth.updateLocalList(1, 'Full', [{ idTag: 'TAG-1', info: { status: 'Accepted' } }]);
    auth.updateLocalList(2, 'Differential', [{ idTag: 'TAG-1' }, { idTag: 'TAG-2', info: { status: 'Blocked' } }]);
    auth.localListEntry('TAG-2');
    auth.localListVersion();
    auth.localListSize();
    auth.cachePut('TAG-3', { status: 'Accepted' });
    auth.cacheEntry('TAG-3');
    auth.cachePut('TAG-4', { status: 'Blocked' });
    auth.cacheTouch('TAG-3');
    auth.cacheBytes();
    auth.cacheEvict(1, now, 'TAG-3');
    auth.cacheRemove('TAG-3');
    auth.clearCache();
    const ledger = new SqliteLedger(db, cp, (t) => `ref-${t}`, () => ({ currency: 'EUR', minorUnitDigits: 2, energyPerKWh: '0.39', vatPercent: '19', pricesIncludeVat: true }));
    const outbox = new SqliteOutbox(db, cp);
    for (let i = 0; i < 30; i++) {
      const t = now + i * 60_000;
      const s = ledger.open({ evseId: 1 + (i % 2), idTag: `TAG-${i}`, authMethod: 'rfid', startedAt: t, clockTrusted: i % 3 !== 0, meterStartWh: 1_000 * i, begin: sample(t, 1_000 * i, 'Transaction.Begin') });
      ledger.sample(s.localId, sample(t + 30_000, 1_000 * i + 200), true);
      ledger.sample(s.localId, sample(t + 40_000, 1_000 * i + 300), false);
      ledger.checkpoint(s.localId, 1_000 * i + 300, t + 40_000);
      ledger.transactionRefOf(s.localId);
      ledger.close(s.localId, {
        stoppedAt: t + 50_000, clockTrusted: true, meterStopWh: 1_000 * i + 400, reason: 'Local', idTag: `TAG-${i}`,
        end: sample(t + 50_000, 1_000 * i + 400, 'Transaction.End'), transactionDataMeasurands: ['Energy.Active.Import.Register'],
      });
      ledger.active();
      const [start, second] = outbox.head(2);
      outbox.head(5);
      if (i % 2 === 0) {
        outbox.ack(start!.seq, t + 1, () => ledger.confirmStart(s.localId, { version: 'ocpp1.6', id: String(1_000 + i) }, t + 1));
        outbox.ackDelivered([second!.seq], t + 2);
      } else {
        outbox.fail(start!.seq, 'timeout', t + 10_000);
        outbox.deadLetter(second!.seq, 'refused', t + 3);
      }
      ledger.byTransactionId(1_000 + i);
      ledger.byTransactionRef({ version: 'ocpp1.6', id: String(1_000 + i) });
      ledger.get(s.localId);
      if (i % 2 === 0) ledger.confirmStop(s.localId, t + 60_000);
    }
    ledger.recent(10);
    outbox.summary();
    outbox.deadLetters();
    outbox.retryDeadLetters();
    outbox.ackDelivered(outbox.head(3).map((e) => e.seq), now + 1);
    outbox.retimeUntrusted(1_000, 0);
    new SqliteAuditLog(db, cp).record({ at: now, username: 'tech', role: 'technician', command: 'status', status: 'ok', correlation: null });
    new SqliteAuditLog(db, cp).recent(5);
    const profiles = new SqliteChargingProfiles(db, cp);
    profiles.put({ target: { kind: 'station' }, installedAt: now, profile: { id: 1, stackLevel: 0, purpose: 'TransactionDefault', kind: 'Absolute', schedules: [{ unit: 'A', periods: [{ startPeriod: 0, limit: 16 }] }] } });
    profiles.all();
    profiles.remove([1]);
    const reservations = new SqliteReservations(db, cp);
    reservations.put({ reservationId: 1, target: { kind: 'evse', evseId: 1 }, idTagRef: 'ref', expiresAt: now + 60_000 });
    reservations.all();
    reservations.remove(1);
    const messages = new SqliteDisplayMessages(db, cp);
    messages.put({ id: 1, priority: 'InFront', message: { format: 'UTF8', content: 'x' }, setAt: now });
    messages.all();
    messages.remove(1);
    const security = new SqliteSecurityEvents(db, cp);
    security.record({ type: 'InvalidCentralSystemCertificate', timestamp: now, clockTrusted: true });
    security.entries({ startMs: now, stopMs: now + 1 });
  }
  const first = [...records.iterate({ chargePointId: 'CP-1' })][0]!;
  [...records.iterate({})];
  [...records.iterate({ fromMs: now, toMs: now + 3_600_000 })];
  [...records.iterate({ customerRef: 'ref-TAG-1' })];
  records.get(first.localId);
  records.curve(first.localId);
  records.erase('ref-TAG-2', 'TAG-2');
  records.erase('ref-TAG-3');
  const span = records.outboxSpan(0);
  records.dropDeliveredMeterRowsBetween(span.from, span.from + 2);
  records.dropDeliveredMeterRows();
  records.purgeSessions(records.expiredSessions(now + 10 * 3_600_000).slice(0, 1));
  records.purge(now + 10 * 3_600_000);
  probeWritable(db, now);
}

/** The plan's full-table scans: "SCAN <table>" of a table (not a subquery, a constant row or an index-only search). */
function scansOf(db: SqliteDatabase, sql: string): string[] {
  const names = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
  const positional = (sql.replace(/'[^']*'/g, '').match(/\?/g) ?? []).length;
  const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (names.length
    ? explain.all(Object.fromEntries(names.map((n) => [n, null])))
    : explain.all(...Array.from({ length: positional }, () => null))) as { detail: string }[];
  const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name));
  return rows.map((r) => /^SCAN (\w+)/.exec(r.detail)?.[1]).filter((t): t is string => t !== undefined && tables.has(t));
}

const normalise = (sql: string) => sql.replace(/\/\*.*?\*\//g, '').replace(/\s+/g, ' ').trim();

describe('query plans of the store', () => {
  it('no prepared statement reads a whole table on a per-message or per-session path', () => {
    const { db, seen } = recordingStore();
    exerciseEveryView(db);
    const statements = [...seen].filter((sql) => !/^\s*(PRAGMA|EXPLAIN|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i.test(sql));
    expect(statements.length).toBeGreaterThan(50);
    const offending: string[] = [];
    for (const sql of statements) {
      for (const table of scansOf(db, sql)) {
        const allowed = ALLOWED_SCANS.some((a) => a.table === table && normalise(sql).includes(a.sql));
        if (!allowed) offending.push(`SCAN ${table}: ${normalise(sql)}`);
      }
    }
    expect(offending).toEqual([]);
    db.close();
  });

  it('deleting a purged session\'s acknowledged outbox rows searches an index (outbox_session)', () => {
    const { db } = recordingStore();
    const plan = (db.prepare(`EXPLAIN QUERY PLAN DELETE FROM outbox WHERE local_id = ? AND state = 'acked'`).all('x') as { detail: string }[]).map((r) => r.detail);
    expect(plan.join('; ')).toMatch(/SEARCH outbox USING INDEX outbox_session \(local_id=\?\)/);
    db.close();
  });

  it('every SQL text in src/store is among the statements checked', () => {
    const { db, seen } = recordingStore();
    exerciseEveryView(db);
    db.close();
    const checked = [...seen].map(normalise);
    const dir = new URL('../../src/store/', import.meta.url);
    const missing: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'migrations.ts')) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const m of source.matchAll(/(?:\.prepare\(|prepare(?:Plucked|Raw)\(\w+,\s*)`([^`]*)`/g)) {
        const sql = m[1]!;
        if (/^\s*(PRAGMA|EXPLAIN)/i.test(sql)) continue;
        // SQL built from parts (${…}): the fixed text around the parts must match.
        const pattern = new RegExp(`^${normalise(sql).split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')).join('.*')}$`);
        if (!checked.some((c) => pattern.test(c))) missing.push(`${file}: ${normalise(sql)}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
