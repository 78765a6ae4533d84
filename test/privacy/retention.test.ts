import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/ports.js';
import { silentLog } from '../../src/lib/log.js';
import { openDatabase, SessionRecords, SqliteLedger, SqliteOutbox, type SqliteDatabase } from '../../src/store/index.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function store(): { db: SqliteDatabase; ledger: SqliteLedger; outbox: SqliteOutbox; records: SessionRecords } {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-retention-'));
  dirs.push(dir);
  const db = openDatabase(join(dir, 'agent.db'), { log: silentLog });
  const ledger = new SqliteLedger(db, 'CP-1', (t) => `c-${t.toLowerCase()}`);
  return { db, ledger, outbox: new SqliteOutbox(db, 'CP-1'), records: new SessionRecords(db) };
}

const sample = (at: number, wh: number, context: Sample['context']): Sample => ({ takenAt: at, clockTrusted: true, context, reading: { takenAt: at, energyWh: wh }, measurands: ['Energy.Active.Import.Register'] });

/** A session on day `day`, with a meter curve; delivered (acknowledged) or not. */
function session(s: ReturnType<typeof store>, day: number, idTag: string, delivered: boolean): string {
  const at = T0 + day * DAY;
  const r = s.ledger.open({ evseId: 1, idTag, authMethod: 'rfid', startedAt: at, clockTrusted: true, meterStartWh: 1000, begin: sample(at, 1000, 'Transaction.Begin') });
  s.ledger.sample(r.localId, sample(at + 60_000, 1500, 'Sample.Periodic'), true);
  s.ledger.close(r.localId, { stoppedAt: at + 120_000, clockTrusted: true, meterStopWh: 2000, reason: 'Local', end: sample(at + 120_000, 2000, 'Transaction.End'), transactionDataMeasurands: [] });
  if (delivered) {
    for (const e of s.outbox.head(10)) {
      if (e.localId !== r.localId) continue;
      s.outbox.ack(e.seq, at, () => (e.kind === 'start' ? s.ledger.confirmStart(r.localId, { version: 'ocpp1.6', id: String(day + 1) }, at) : e.kind === 'stop' ? s.ledger.confirmStop(r.localId, at) : undefined));
    }
  }
  return r.localId;
}

describe('retention and erasure across a simulated clock', () => {
  it('deletes exactly the acknowledged sessions older than the retention, never unsynced data', () => {
    const s = store();
    const oldSynced = session(s, 0, 'TAG-A', true);
    const oldUnsynced = session(s, 1, 'TAG-B', false);
    const recentSynced = session(s, 95, 'TAG-C', true);
    const now = T0 + 100 * DAY;
    const r = s.records.purge(now - 90 * DAY);
    expect(r).toMatchObject({ sessions: 1, samples: 3, keptUnsynced: 1 });
    expect(r.outbox).toBe(3);
    expect(s.records.get(oldSynced)).toBeUndefined();
    expect(s.records.get(oldUnsynced)).toMatchObject({ synced: false });
    expect(s.records.get(recentSynced)).toMatchObject({ synced: true, energyWh: 1000 });
    expect(s.records.curve(oldUnsynced)).toHaveLength(3);
    // The unsynced session's messages are all still queued for delivery.
    expect(s.outbox.head(10).filter((e) => e.localId === oldUnsynced).map((e) => e.kind)).toEqual(['start', 'meter', 'stop']);
    // A day later nothing more goes; after 200 days only the unsynced one stays.
    expect(s.records.purge(now + DAY - 90 * DAY).sessions).toBe(0);
    expect(s.records.purge(T0 + 200 * DAY - 90 * DAY).sessions).toBe(1);
    expect([...s.records.iterate()].map((x) => x.localId)).toEqual([oldUnsynced]);
  });

  it('drops delivered MeterValues rows, never a queued one (a fleet store stays bounded)', () => {
    const s = store();
    const synced = session(s, 0, 'TAG-A', true);
    const unsynced = session(s, 1, 'TAG-B', false);
    expect(s.records.dropDeliveredMeterRows()).toBe(1);
    expect(s.records.dropDeliveredMeterRows()).toBe(0);
    expect(s.outbox.head(10).filter((e) => e.localId === unsynced).map((e) => e.kind)).toEqual(['start', 'meter', 'stop']);
    // The delivered session keeps its record and curve until retention purges it.
    expect(s.records.get(synced)).toMatchObject({ synced: true });
    expect(s.records.curve(synced)).toHaveLength(3);
  });

  it('erases a customer now where synced, and when acknowledged where not', () => {
    const s = store();
    const synced = session(s, 0, 'TAG-X', true);
    const pending = session(s, 1, 'TAG-X', false);
    const r = s.records.erase('c-tag-x');
    expect(r.anonymised).toBe(1);
    expect(r.kept).toEqual([{ localId: pending, why: expect.stringMatching(/not yet acknowledged/) }]);
    expect(s.records.get(synced)!.customerRef).toBeNull();
    expect(s.records.get(pending)!.customerRef).toBe('c-tag-x');
    for (const e of s.outbox.head(10)) s.outbox.ack(e.seq, T0, () => (e.kind === 'start' ? s.ledger.confirmStart(pending, { version: 'ocpp1.6', id: '7' }, T0) : e.kind === 'stop' ? s.ledger.confirmStop(pending, T0) : undefined));
    expect(s.records.get(pending)!.customerRef).toBeNull();
    expect(s.ledger.get(pending)!.idTag).toBeNull();
  });
});
