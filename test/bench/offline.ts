/**
 * Offline-first figures (issue 3):
 * - replay: 10,000 transaction messages queued while offline, delivered to a loopback
 *   RPCServer (strict mode) once the agent connects, in messages/s; and that rate as a
 *   fraction of the one-call-at-a-time round-trip limit measured on the same connection in
 *   the same run (OCPP-J allows one outstanding CALL, so the limit is 1/RTT);
 * - durable writes/s with synchronous=FULL: meter checkpoints and outbox inserts (a sample
 *   and its queued MeterValues in one transaction), one SQLite transaction each;
 * - a kill -9 storm: cycles, sessions, sessions lost, duplicates (and identical redeliveries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/app/agent/controller.js';
import { parseAgentConfig } from '../../src/config/index.js';
import type { Sample } from '../../src/core/ports.js';
import { silentLog } from '../../src/lib/log.js';
import { openDatabase, SqliteLedger, SqliteOutbox } from '../../src/store/index.js';
import { runKillStorm } from '../helpers/kill-storm.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

export interface BenchOfflineOptions {
  /** Transaction messages queued before the agent connects. */
  replayMessages?: number;
  /** Sequential round trips measured on the same connection. */
  roundTrips?: number;
  /** Durable writes of each kind. */
  writes?: number;
  /** kill -9 cycles (0: skip the storm). Default 1000, or KILL_STORM_CYCLES. */
  killCycles?: number;
}

const CP = 'CP-BENCH-OFFLINE';
const MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage'];

function sample(at: number, energyWh: number, context: Sample['context'] = 'Sample.Periodic'): Sample {
  return {
    takenAt: at, clockTrusted: true, context, measurands: MEASURANDS,
    reading: { takenAt: at, energyWh, powerW: 11_000, currentA: [15.9, 16, 16.1], voltageV: [230.1, 229.8, 230.4] },
  };
}

/** Fill the ledger with closed sessions whose messages were never delivered: `n` messages in all. */
function seedQueue(path: string, n: number): number {
  const db = openDatabase(path, { log: silentLog });
  const ledger = new SqliteLedger(db, CP, () => 'ref');
  const perSession = 1_000; // Start, 998 MeterValues, Stop
  let queued = 0;
  let t = Date.now() - n * 1_000;
  let energyWh = 1_000_000;
  for (let s = 0; queued < n; s++) {
    const samples = Math.max(0, Math.min(perSession, n - queued) - 2);
    const rec = ledger.open({ evseId: 1 + (s % 2), idTag: `CARD${s}`, authMethod: 'rfid', startedAt: t, clockTrusted: true, meterStartWh: energyWh, begin: sample(t, energyWh, 'Transaction.Begin') });
    db.transaction(() => {
      for (let i = 0; i < samples; i++) {
        t += 1_000;
        energyWh += 3;
        ledger.sample(rec.localId, sample(t, energyWh), true);
      }
    })();
    t += 1_000;
    ledger.close(rec.localId, { stoppedAt: t, clockTrusted: true, meterStopWh: energyWh, reason: 'Local', end: sample(t, energyWh, 'Transaction.End'), transactionDataMeasurands: ['Energy.Active.Import.Register'] });
    queued += samples + 2;
    t += 60_000;
  }
  const depth = new SqliteOutbox(db, CP).summary().depth;
  db.close();
  return depth;
}

async function replay(n: number, roundTrips: number): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-bench-offline-'));
  const csms = new TestCsms();
  // Count deliveries at the central system (polling the agent's store would steal its time).
  let delivered = 0;
  let nextTx = 1;
  csms.on('StartTransaction', () => (delivered++, { transactionId: nextTx++, idTagInfo: { status: 'Accepted' } }));
  // After an outage several queued samples of a transaction travel in one MeterValues.
  csms.on('MeterValues', (p: { meterValue: unknown[] }) => ((delivered += p.meterValue.length), {}));
  csms.on('StopTransaction', () => (delivered++, {}));
  const url = await csms.start();
  const storePath = join(dir, 'agent.db');
  const queued = seedQueue(storePath, n);
  const loaded = parseAgentConfig({
    chargePointId: CP, csms: { url, reconnectInitialDelayMs: 100 }, store: { path: storePath }, log: { level: 'warn' },
    ocpp: { MeterValueSampleInterval: 0, HeartbeatInterval: 3600 },
  });
  const agent = new Agent({ loaded, log: silentLog });
  try {
    await agent.start();
    await waitFor(() => delivered >= queued, 600_000, 'the replay');
    await waitFor(() => agent.outbox!.summary().depth === 0, 10_000, 'the last acknowledgement');
    const tx = csms.calls.filter((c) => c.chargePointId === CP && ['StartTransaction', 'MeterValues', 'StopTransaction'].includes(c.action));
    const replayMs = tx.at(-1)!.at - tx[0]!.at;
    const rowsOf = (c: (typeof tx)[number]) => (c.action === 'MeterValues' ? (c.params.meterValue as unknown[]).length : 1);
    const rows = tx.reduce((a, c) => a + rowsOf(c), 0);
    const replayRate = ((rows - 1) * 1000) / Math.max(1, replayMs);
    // The limit on the same connection: one call at a time, answered at once.
    const link = agent.link!;
    for (let i = 0; i < 200; i++) await link.send('Heartbeat', {}); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < roundTrips; i++) await link.send('Heartbeat', {});
    const rttMs = (performance.now() - t0) / roundTrips;
    const limit = 1000 / rttMs;
    return {
      'replay: transaction messages queued': queued,
      'replay: delivered (queued messages)': rows,
      'replay: OCPP calls used': tx.length,
      'replay: queued messages delivered/s': Math.round(replayRate),
      'replay: one-call-at-a-time limit on that connection (calls/s)': Math.round(limit),
      'replay: fraction of that limit': Number((replayRate / limit).toFixed(2)),
      'replay: round trip (ms)': Number(rttMs.toFixed(3)),
      'replay: in order and complete': String(rows === queued && tx[0]!.action === 'StartTransaction' && tx.at(-1)!.action === 'StopTransaction'),
    };
  } finally {
    await agent.stop().catch(() => undefined);
    await csms.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function durableWrites(n: number): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-bench-writes-'));
  try {
    const db = openDatabase(join(dir, 'agent.db'), { log: silentLog, synchronous: 'FULL' });
    const ledger = new SqliteLedger(db, CP, () => 'ref');
    const now = Date.now();
    const rec = ledger.open({ evseId: 1, idTag: 'CARD', authMethod: 'rfid', startedAt: now, clockTrusted: true, meterStartWh: 1_000, begin: sample(now, 1_000, 'Transaction.Begin') });
    let t0 = performance.now();
    for (let i = 1; i <= n; i++) ledger.checkpoint(rec.localId, 1_000 + i, now + i);
    const checkpoints = (n * 1000) / (performance.now() - t0);
    t0 = performance.now();
    for (let i = 1; i <= n; i++) ledger.sample(rec.localId, sample(now + i, 1_000 + n + i), true);
    const inserts = (n * 1000) / (performance.now() - t0);
    const sync = db.pragma('synchronous', { simple: true });
    db.close();
    return {
      'durable writes: synchronous (2 = FULL)': Number(sync),
      'durable writes: meter checkpoints/s': Math.round(checkpoints),
      'durable writes: sample + outbox insert transactions/s': Math.round(inserts),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function storm(cycles: number): Promise<Record<string, number | string>> {
  const r = await runKillStorm({ cycles, log: (m) => console.error(m) });
  return {
    'kill -9 storm: cycles': r.cycles,
    'kill -9 storm: duration (s)': Math.round(r.elapsedMs / 1000),
    'kill -9 storm: sessions in the ledger': r.sessions.length,
    'kill -9 storm: kills during a session': r.killsDuringSession,
    'kill -9 storm: sessions closed PowerLoss': r.sessions.filter((s) => s.stop_reason === 'PowerLoss').length,
    'kill -9 storm: sessions lost': r.sessionsLost,
    'kill -9 storm: duplicates (distinct second Start/Stop)': r.duplicates,
    'kill -9 storm: identical redeliveries (kill between answer and commit)': r.redeliveries,
    'kill -9 storm: transactionId -1 or unknown': r.badTransactionIds,
    'kill -9 storm: energy mismatches': r.energyMismatches,
    'kill -9 storm: stop reason mismatches': r.reasonMismatches,
    'kill -9 storm: integrity failures': r.integrityFailures.length,
    'kill -9 storm: dead letters': r.deadLetters,
  };
}

export async function benchOffline(opts: BenchOfflineOptions = {}): Promise<Record<string, number | string>> {
  const killCycles = opts.killCycles ?? Number(process.env.KILL_STORM_CYCLES ?? 1000);
  return {
    ...(await replay(opts.replayMessages ?? 10_000, opts.roundTrips ?? 5_000)),
    ...durableWrites(opts.writes ?? 2_000),
    ...(killCycles > 0 ? await storm(killCycles) : {}),
  };
}
