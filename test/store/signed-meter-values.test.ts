import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { writeExport } from '../../src/app/sessions.js';
import type { Sample, SignedMeterValue } from '../../src/core/ports.js';
import { silentLog } from '../../src/lib/log.js';
import { openDatabase, SessionRecords, SqliteLedger, SqliteOutbox } from '../../src/store/index.js';

/**
 * The ledger keeps a session's signed meter values (migration 10) with the session: the close
 * reports the signed begin and end whatever the measurands, the export carries them, and
 * retention deletes them with the session and only then.
 */
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const signed = (n: number): SignedMeterValue => ({ encoding: 'OCMF', data: `OCMF|{"PG":"T${n}"}|{"SD":"00"}`, signingMethod: 'ECDSA-secp256r1-SHA256', publicKey: 'AB' });
const sample = (at: number, wh: number, context: Sample['context'], s?: SignedMeterValue): Sample =>
  ({ takenAt: at, clockTrusted: true, context, reading: { takenAt: at, energyWh: wh, ...(s ? { signed: s } : {}) }, measurands: [] });

describe('signed meter values in the ledger', () => {
  it('are kept per session, reported with the close, exported, and deleted by retention with their session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-signed-'));
    dirs.push(dir);
    const db = openDatabase(join(dir, 'agent.db'), { log: silentLog });
    const ledger = new SqliteLedger(db, 'CP-1', (t) => `c-${t}`);
    const outbox = new SqliteOutbox(db, 'CP-1');
    const records = new SessionRecords(db);
    const r = ledger.open({ evseId: 1, idTag: 'T1', authMethod: 'rfid', startedAt: T0, clockTrusted: true, meterStartWh: 1000, begin: sample(T0, 1000, 'Transaction.Begin', signed(1)), reportBegin: true });
    ledger.sample(r.localId, sample(T0 + 1000, 1200, 'Sample.Periodic'), true);
    ledger.close(r.localId, { stoppedAt: T0 + 2000, clockTrusted: true, meterStopWh: 1500, reason: 'Local', end: sample(T0 + 2000, 1500, 'Transaction.End', signed(2)), transactionDataMeasurands: [] });

    // The events: the start, the signed begin as a sample right after it, a periodic sample, and the close with both signed values.
    const events = outbox.head(10).filter((e) => e.localId === r.localId);
    expect(events.map((e) => e.kind)).toEqual(['start', 'meter', 'meter', 'stop']);
    expect(JSON.parse(events[0]!.payload).signedBegin).toEqual(signed(1));
    expect(JSON.parse(events[1]!.payload).sample.reading.signed).toEqual(signed(1));
    const stop = JSON.parse(events[3]!.payload);
    expect(stop.transactionData.map((s: Sample) => s.reading.signed?.data)).toEqual([signed(1).data, signed(2).data]);

    expect(records.signedValues(r.localId).map((v) => v.data)).toEqual([signed(1).data, signed(2).data]);
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    await writeExport(records, {}, 'json', out);
    expect(JSON.parse(text)[0].signedMeterValues).toEqual(records.signedValues(r.localId));

    // Not acknowledged: retention keeps it; acknowledged and old: gone with the session.
    expect(records.purge(T0 + 100 * DAY).sessions).toBe(0);
    expect(records.signedValues(r.localId)).toHaveLength(2);
    for (const e of outbox.head(10)) outbox.ack(e.seq, T0, () => (e.kind === 'start' ? ledger.confirmStart(r.localId, { version: 'ocpp1.6', id: '1' }, T0) : e.kind === 'stop' ? ledger.confirmStop(r.localId, T0) : undefined));
    expect(records.purge(T0 + 100 * DAY).sessions).toBe(1);
    expect(records.signedValues(r.localId)).toEqual([]);
    expect((db.prepare('SELECT COUNT(*) AS n FROM signed_meter_values').get() as { n: number }).n).toBe(0);
    db.close();
  });
});
