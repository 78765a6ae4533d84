import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/core/ports.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { openDatabase, SqliteLedger, SqliteOutbox, type SqliteDatabase } from '../../src/store/index.js';
import { TX_DATA_MAX_SAMPLES } from '../../src/store/ledger.js';

/**
 * The samples a session's closing event carries (2.0.1 SampledDataCtrlr / AlignedDataCtrlr
 * TxEndedInterval): read from the session's stored samples at close, spaced by the interval,
 * bounded by TX_DATA_MAX_SAMPLES, on a real SQLite file.
 */
const CP = 'CP-TXDATA';
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function store(): SqliteDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-txdata-'));
  dirs.push(dir);
  return openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
}
const T = Date.UTC(2026, 11, 1, 8);
const sample = (takenAt: number, energyWh: number, context: Sample['context'] = 'Sample.Periodic'): Sample => ({
  takenAt, clockTrusted: true, context, measurands: ['Energy.Active.Import.Register'], reading: { takenAt, energyWh },
});
const closedData = (outbox: SqliteOutbox): Sample[] => JSON.parse(outbox.head(10_000).find((e) => e.kind === 'stop')!.payload).transactionData;

describe('transactionData of a closing event', () => {
  it('periodic samples at TxEndedInterval spacing and clock-aligned ones one per aligned slot, between Begin and End, in time order', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const s = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    // Periodic every 10 s (some queued, some kept only), clock-aligned every 15 s, for 2 minutes.
    for (let i = 1; i <= 12; i++) ledger.sample(s.localId, sample(T + i * 10_000, i * 10), i % 2 === 0);
    for (let i = 1; i <= 8; i++) ledger.sample(s.localId, sample(T + i * 15_000, i * 15, 'Sample.Clock'), false);
    ledger.close(s.localId, {
      stoppedAt: T + 125_000, clockTrusted: true, meterStopWh: 125, reason: 'Local', end: sample(T + 125_000, 125, 'Transaction.End'),
      transactionDataMeasurands: ['Energy.Active.Import.Register'], transactionDataAlignedMeasurands: ['Power.Active.Import'],
      transactionDataIntervalS: 30, transactionDataAlignedIntervalS: 60,
    });
    const data = closedData(outbox);
    expect(data.map((d) => d.takenAt)).toEqual([...data.map((d) => d.takenAt)].sort((a, b) => a - b));
    expect(data[0]!.context).toBe('Transaction.Begin');
    expect(data.at(-1)!.context).toBe('Transaction.End');
    // Every 30 s of the 10 s samples: 10, 40, 70, 100 s.
    expect(data.filter((d) => d.context === 'Sample.Periodic').map((d) => (d.takenAt - T) / 1000)).toEqual([10, 40, 70, 100]);
    // One per minute slot of the 15 s clock samples: the first in each (15 s, 60 s, 120 s).
    const clock = data.filter((d) => d.context === 'Sample.Clock');
    expect(clock.map((d) => (d.takenAt - T) / 1000)).toEqual([15, 60, 120]);
    expect(clock.every((d) => d.measurands.join() === 'Power.Active.Import')).toBe(true);
    db.close();
  });

  it('interval 0: no periodic and no clock-aligned samples (Begin and End only); absent (1.6): every clock-aligned one', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const run = (intervals: { transactionDataIntervalS?: number; transactionDataAlignedIntervalS?: number }) => {
      const s = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
      for (let i = 1; i <= 4; i++) ledger.sample(s.localId, sample(T + i * 10_000, i * 10), false);
      for (let i = 1; i <= 4; i++) ledger.sample(s.localId, sample(T + i * 10_000 + 5, i * 10, 'Sample.Clock'), false);
      ledger.close(s.localId, {
        stoppedAt: T + 50_000, clockTrusted: true, meterStopWh: 50, reason: 'Local', end: sample(T + 50_000, 50, 'Transaction.End'),
        transactionDataMeasurands: ['Energy.Active.Import.Register'], transactionDataAlignedMeasurands: ['Energy.Active.Import.Register'], ...intervals,
      });
      const stop = outbox.head(10_000).filter((e) => e.kind === 'stop' && e.localId === s.localId)[0]!;
      return (JSON.parse(stop.payload).transactionData as Sample[]).map((d) => d.context);
    };
    expect(run({ transactionDataIntervalS: 0, transactionDataAlignedIntervalS: 0 })).toEqual(['Transaction.Begin', 'Transaction.End']);
    expect(run({})).toEqual(['Transaction.Begin', 'Sample.Clock', 'Sample.Clock', 'Sample.Clock', 'Sample.Clock', 'Transaction.End']);
    db.close();
  });

  it(`bounded: a long session keeps at most ${TX_DATA_MAX_SAMPLES} of each kind, evenly spread, the first and the last kept`, () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const s = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T, clockTrusted: true, meterStartWh: 0, begin: sample(T, 0, 'Transaction.Begin') });
    const n = 3 * TX_DATA_MAX_SAMPLES + 7;
    for (let i = 1; i <= n; i++) {
      ledger.sample(s.localId, sample(T + i * 1_000, i), false);
      ledger.sample(s.localId, sample(T + i * 1_000 + 1, i, 'Sample.Clock'), false);
    }
    ledger.close(s.localId, {
      stoppedAt: T + (n + 1) * 1_000, clockTrusted: true, meterStopWh: n, reason: 'Local', end: sample(T + (n + 1) * 1_000, n, 'Transaction.End'),
      transactionDataMeasurands: ['Energy.Active.Import.Register'], transactionDataAlignedMeasurands: ['Energy.Active.Import.Register'],
      transactionDataIntervalS: 1, transactionDataAlignedIntervalS: 1,
    });
    const data = closedData(outbox);
    const periodic = data.filter((d) => d.context === 'Sample.Periodic');
    const clock = data.filter((d) => d.context === 'Sample.Clock');
    expect(periodic).toHaveLength(TX_DATA_MAX_SAMPLES);
    expect(clock).toHaveLength(TX_DATA_MAX_SAMPLES);
    expect(periodic[0]!.reading.energyWh).toBe(1);
    expect(periodic.at(-1)!.reading.energyWh).toBe(n);
    // Evenly spread: no gap more than twice the average.
    const gaps = periodic.slice(1).map((d, i) => d.takenAt - periodic[i]!.takenAt);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * ((n - 1) * 1_000) / (TX_DATA_MAX_SAMPLES - 1));
    db.close();
  });
});

describe('a transaction opened before its session', () => {
  it('is re-timed with the other queued events once the clock is set, and its session continues its numbers', () => {
    const db = store();
    const ledger = new SqliteLedger(db, CP, (t) => t);
    const outbox = new SqliteOutbox(db, CP);
    const untrustedAt = 1_000;
    const localId = ledger.openTransaction(1, { timestamp: untrustedAt, clockTrusted: false, cause: 'EVConnected' });
    expect(outbox.retimeUntrusted(T - untrustedAt, 0)).toBe(1);
    const opening = JSON.parse(outbox.head(1)[0]!.payload).opening;
    expect(opening).toMatchObject({ timestamp: T, clockTrusted: true, cause: 'EVConnected' });
    // The session that opens next on EVSE 1 takes the id and continues the numbers.
    const s = ledger.open({ evseId: 1, idTag: 'A', authMethod: 'rfid', startedAt: T + 5_000, clockTrusted: true, meterStartWh: 0, begin: sample(T + 5_000, 0, 'Transaction.Begin') });
    expect(s.localId).toBe(localId);
    expect(outbox.head(10).map((e) => [e.kind, e.txSeq])).toEqual([['meter', 0], ['start', 1]]);
    expect(JSON.parse(outbox.head(10)[1]!.payload).continues).toBe('EVConnected');
    expect(ledger.openedTransaction(1)).toBeUndefined();
    db.close();
  });
});
