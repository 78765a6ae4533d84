import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/ports.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { openDatabase, SessionRecords, SqliteLedger, SqliteOutbox, type SqliteDatabase } from '../../src/store/index.js';
import { SqliteSecurityEvents } from '../../src/store/security-events.js';
import { CP, LEGACY_DB } from '../fixtures/db/make-legacy.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function store(from?: string): SqliteDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-events-'));
  dirs.push(dir);
  if (from) copyFileSync(from, join(dir, 'agent.db'));
  return openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
}
const T = Date.UTC(2026, 11, 1, 8);
const sample = (takenAt: number, energyWh: number, context: Sample['context'] = 'Sample.Periodic'): Sample => ({
  takenAt, clockTrusted: true, context, measurands: ['Energy.Active.Import.Register'], reading: { takenAt, energyWh },
});
const rows = (db: SqliteDatabase, localId: string) =>
  db.prepare(`SELECT kind, tx_seq AS txSeq, offline, format FROM outbox WHERE local_id = ? ORDER BY seq`).all(localId);

describe('the ledger as one event log per transaction', () => {
  it('numbers each session\'s events from 0, records whether each happened offline, and tags the body\'s format', () => {
    const db = store();
    let online = true;
    const ledger = new SqliteLedger(db, CP, (t) => `ref-${t}`, undefined, () => online);
    const outbox = new SqliteOutbox(db, CP);
    const a = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    const b = ledger.open({ evseId: 2, idTag: 'B', authMethod: 'rfid', startedAt: T + 1, clockTrusted: true, meterStartWh: 0, begin: sample(T + 1, 0, 'Transaction.Begin') });
    online = false;
    ledger.sample(a.localId, sample(T + 60_000, 100), true);
    ledger.sample(a.localId, sample(T + 90_000, 150), false); // kept in the ledger, not queued: no event number used
    ledger.sample(b.localId, sample(T + 60_000, 200), true);
    new SqliteSecurityEvents(db, CP).record({ type: 'SettingSystemTime', timestamp: T + 70_000, clockTrusted: true });
    online = true;
    ledger.close(a.localId, { stoppedAt: T + 120_000, clockTrusted: true, meterStopWh: 200, reason: 'Local', end: sample(T + 120_000, 200, 'Transaction.End'), transactionDataMeasurands: [] });
    expect(rows(db, a.localId)).toEqual([
      { kind: 'start', txSeq: 0, offline: 0, format: 'event/1' },
      { kind: 'meter', txSeq: 1, offline: 1, format: 'event/1' },
      { kind: 'stop', txSeq: 2, offline: 0, format: 'event/1' },
    ]);
    expect(rows(db, b.localId)).toEqual([{ kind: 'start', txSeq: 0, offline: 0, format: 'event/1' }, { kind: 'meter', txSeq: 1, offline: 1, format: 'event/1' }]);
    // The queue hands the same facts out; a security event belongs to no transaction.
    expect(outbox.head(10).map((e) => [e.kind, e.txSeq, e.offline])).toEqual([
      ['start', 0, false], ['start', 0, false], ['meter', 1, true], ['meter', 1, true], ['security', null, null], ['stop', 2, false],
    ]);
    db.close();
  });

  it('drops delivered MeterValues rows slice by slice of the outbox, never a queued one, and never reuses a seqNo', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const a = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    const b = ledger.open({ evseId: 2, idTag: 'B', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    for (let i = 1; i <= 2; i++) {
      ledger.sample(a.localId, sample(T + i * 60_000, i * 100), true);
      ledger.sample(b.localId, sample(T + i * 60_000, i * 100), true);
    }
    const meterRows = () => outbox.head(10).filter((e) => e.kind === 'meter');
    // b's second sample stays queued (not delivered yet); the other three are delivered.
    const queued = meterRows().find((e) => e.localId === b.localId && e.txSeq === 2)!;
    outbox.ackDelivered(meterRows().filter((e) => e.seq !== queued.seq).map((e) => e.seq), T + 1);
    const records = new SessionRecords(db);
    const txSeqs = (localId: string) => rows(db, localId).map((r) => (r as { txSeq: number }).txSeq);
    // The span goes to the last row, and names the lowest MeterValues row still queued.
    const span = records.outboxSpan(0);
    expect(span.lowestQueued).toBe(queued.seq);
    // Slices of the outbox by seq: the two start rows (seq 1 and 2), then a's and b's first
    // samples (3 and 4), then the rest.
    expect(span.from).toBe(0);
    expect(records.dropDeliveredMeterRowsBetween(0, 3)).toEqual({ dropped: 0 });
    expect(records.dropDeliveredMeterRowsBetween(3, 5)).toEqual({ dropped: 2 });
    expect(txSeqs(a.localId)).toEqual([0, 2]);
    expect(txSeqs(b.localId)).toEqual([0, 2]);
    // a's second sample is its highest-numbered row: it stays (payload gone), so no number is
    // ever used twice, and the sweep says so (the next one starts there); it goes once a later
    // row exists.
    expect(records.dropDeliveredMeterRowsBetween(5, span.to)).toEqual({ dropped: 0, lowestKept: 5 });
    expect(txSeqs(a.localId)).toEqual([0, 2]);
    outbox.ackDelivered([queued.seq], T + 2);
    const again = records.outboxSpan(5);
    expect(again.lowestQueued).toBeUndefined();
    expect(records.dropDeliveredMeterRowsBetween(again.from, again.to)).toEqual({ dropped: 0, lowestKept: 5 });
    expect(txSeqs(b.localId)).toEqual([0, 2]);
    // After a restart the numbers go on past the deleted rows; the rows they passed then go.
    const restarted = new SqliteLedger(db, CP, (t) => t);
    restarted.sample(b.localId, sample(T + 240_000, 400), true);
    restarted.sample(a.localId, sample(T + 240_000, 400), true);
    expect(txSeqs(b.localId)).toEqual([0, 2, 3]);
    expect(txSeqs(a.localId)).toEqual([0, 2, 3]);
    expect(records.dropDeliveredMeterRows()).toBe(2);
    expect(txSeqs(a.localId)).toEqual([0, 3]);
    db.close();
  });

  it('keeps counting after delivered MeterValues rows are deleted (a seqNo is never used twice)', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const s = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    for (let i = 1; i <= 3; i++) ledger.sample(s.localId, sample(T + i * 60_000, i * 100), true);
    outbox.ackDelivered(outbox.head(10).filter((e) => e.kind === 'meter').map((e) => e.seq), T + 1);
    // The session's highest-numbered row stays (its payload is gone), the others go.
    expect(new SessionRecords(db).dropDeliveredMeterRows()).toBe(2);
    ledger.sample(s.localId, sample(T + 240_000, 400), true);
    expect(rows(db, s.localId).map((r) => (r as { txSeq: number }).txSeq)).toEqual([0, 3, 4]);
    // A restarted program (a new ledger on the same file) reads where the session's log stands,
    // also when delivered rows were deleted.
    outbox.ackDelivered(outbox.head(10).filter((e) => e.kind === 'meter').map((e) => e.seq), T + 2);
    expect(new SessionRecords(db).dropDeliveredMeterRows()).toBe(1);
    const restarted = new SqliteLedger(db, CP, (t) => t);
    restarted.sample(s.localId, sample(T + 300_000, 500), true);
    restarted.close(s.localId, { stoppedAt: T + 360_000, clockTrusted: true, meterStopWh: 600, reason: 'Local', end: sample(T + 360_000, 600, 'Transaction.End'), transactionDataMeasurands: [] });
    expect(rows(db, s.localId).map((r) => (r as { txSeq: number }).txSeq)).toEqual([0, 4, 5, 6]);
    expect(outbox.head(10).map((e) => e.offline)).toEqual([null, null, null]); // no probe given: not known
    db.close();
  });

  it('holds the protocol\'s transaction id as text with the version that assigned it', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const open = (connectorId: number) => ledger.open({ evseId: connectorId, idTag: 'A', authMethod: 'app', startedAt: T + connectorId, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    const v16 = open(1);
    const v201 = open(2);
    ledger.confirmStart(v16.localId, { version: 'ocpp1.6', id: '4711' }, T + 10);
    ledger.confirmStart(v201.localId, { version: 'ocpp2.0.1', id: '0b6e3c1e-6f1d-4a51-9a8e-7c2f1d9b3a10' }, T + 10);
    expect(ledger.transactionRefOf(v16.localId)).toEqual({ version: 'ocpp1.6', id: '4711' });
    expect(ledger.transactionRefOf(v201.localId)).toEqual({ version: 'ocpp2.0.1', id: '0b6e3c1e-6f1d-4a51-9a8e-7c2f1d9b3a10' });
    expect(ledger.transactionRefOf('no-such-session')).toBeUndefined();
    expect(ledger.transactionRefOf(open(3).localId)).toBeNull();
    expect(ledger.byTransactionRef({ version: 'ocpp2.0.1', id: '0b6e3c1e-6f1d-4a51-9a8e-7c2f1d9b3a10' })?.localId).toBe(v201.localId);
    expect(ledger.byTransactionRef({ version: 'ocpp2.0.1', id: '4711' })).toBeUndefined();
    // The core's numeric view (until it knows transactions by local id only): 1.6's id, none for a UUID.
    expect(ledger.byTransactionId(4711)?.localId).toBe(v16.localId);
    expect([ledger.get(v16.localId)!.transactionId, ledger.get(v201.localId)!.transactionId]).toEqual([4711, null]);
    // Reports keep 1.6's number a number, and show 2.0.1's id as it is.
    const report = new SessionRecords(db);
    expect([report.get(v16.localId)!.transactionId, report.get(v201.localId)!.transactionId]).toEqual([4711, '0b6e3c1e-6f1d-4a51-9a8e-7c2f1d9b3a10']);
    db.close();
  });

  it('numbers the events of a legacy database by session, and its open sessions go on from there', () => {
    const db = store(LEGACY_DB);
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const all = db.prepare(`SELECT local_id, kind, tx_seq AS txSeq, offline, format FROM outbox ORDER BY seq`).all() as { local_id: string; kind: string; txSeq: number | null; offline: null; format: string }[];
    expect(all.every((r) => r.format === 'event/1' && r.offline === null)).toBe(true);
    const bySession = new Map<string, number[]>();
    for (const r of all) if (r.kind !== 'security') bySession.set(r.local_id, [...(bySession.get(r.local_id) ?? []), r.txSeq!]);
    for (const seqs of bySession.values()) expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(all.filter((r) => r.kind === 'security').map((r) => r.txSeq)).toEqual([null]);
    const [d] = ledger.active();
    const before = bySession.get(d!.localId)!;
    ledger.sample(d!.localId, sample(T, 5_700), true);
    expect(rows(db, d!.localId).map((r) => (r as { txSeq: number }).txSeq)).toEqual([...before, before.length]);
    db.close();
  });
});
