import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { ServerClient } from 'ocpp-rpc';
import { Prng } from '../../src/sim/prng.js';
import { ChildAgent } from './child-agent.js';
import { LEVELS } from '../../src/lib/log.js';
import { TestCsms, waitFor, type RecordedCall } from './ocpp-server.js';

/**
 * A kill -9 storm: the agent runs as a child process; a central system drives sessions on both
 * connectors with RemoteStart/RemoteStop; the child is killed with SIGKILL at a random instant
 * and started again on the same store, `cycles` times. Then one last run drains the outbox and
 * the ledger is compared with what the central system received.
 */
export interface KillStormOptions {
  cycles: number;
  seed?: number;
  /**
   * Most kills fall uniformly in [killAfterMs.min, killAfterMs.max] after the child connected
   * (sessions running); a share (`startupKillShare`, default 0.2) falls in the start-up.
   */
  killAfterMs?: { min: number; max: number };
  startupKillShare?: number;
  /** Called after each kill, with the store quiescent (integrity checks). */
  afterKill?: (cycle: number, storePath: string) => void;
  log?: (msg: string) => void;
}

export interface LedgerSession {
  local_id: string;
  connector_id: number;
  transaction_id: number | null;
  meter_start_wh: number;
  meter_stop_wh: number | null;
  stop_reason: string | null;
  started_at: number;
  stopped_at: number | null;
}

export interface KillStormResult {
  cycles: number;
  elapsedMs: number;
  /** Kills that fell while a session was running (from the child's logs). */
  killsDuringSession: number;
  sessions: LedgerSession[];
  /** What the central system received, raw (redeliveries included). */
  calls: RecordedCall[];
  /** Distinct StartTransaction payloads → transactionId the central system gave. */
  startIds: Map<string, number>;
  integrityFailures: string[];
  /** Per cycle: when the child was spawned and killed (epoch ms). */
  runs: { run: number; spawnedAt: number; killedAt: number }[];
  deadLetters: number;
  queuedLeft: number;
  /** Ledger sessions with no transactionId, or no distinct Start/Stop at the central system. */
  sessionsLost: number;
  /** Distinct (non-identical) second Starts or Stops for one session / transactionId. */
  duplicates: number;
  /** Identical redeliveries (a kill between the central system's answer and our commit). */
  redeliveries: number;
  /** transactionId -1 or missing on MeterValues/StopTransaction. */
  badTransactionIds: number;
  /** Sessions whose energy at the central system differs from the ledger's. */
  energyMismatches: number;
  /** Sessions whose StopTransaction reason differs from the ledger's. */
  reasonMismatches: number;
  /** Transactions the central system has that the ledger does not know. */
  orphans: number;
  /**
   * Energy values the central system received for a transaction (MeterValues and the Stop's
   * transactionData) outside [meterStart, meterStop] of that transaction, as it received them.
   */
  metersOutOfRange: { transactionId: number; meterStart: number; meterStop: number; valueWh: number; context?: string }[];
  /** Per connector, a session whose meterStart is below the previous session's meterStop (the register went backwards). */
  registerBackwards: { connectorId: number; previousStopWh: number; meterStartWh: number }[];
  stderr: string;
  /** The child's log lines of every run. */
  logs: ChildAgent['logs'];
}

export function integrityOf(storePath: string): string {
  if (!existsSync(storePath)) return 'ok'; // killed before the store was created
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

export async function runKillStorm(o: KillStormOptions): Promise<KillStormResult> {
  const seed = o.seed ?? Date.now() % 1_000_000;
  const prng = new Prng(seed);
  const log = o.log ?? (() => undefined);
  const csms = new TestCsms();
  // An idempotent central system, as real ones are for at-least-once delivery: the same
  // StartTransaction (same connector, idTag, meterStart, timestamp) gets the same transactionId.
  const startIds = new Map<string, number>();
  let nextTx = 1;
  csms.on('StartTransaction', (p) => {
    const key = JSON.stringify(p);
    let id = startIds.get(key);
    if (id === undefined) startIds.set(key, (id = nextTx++));
    return { transactionId: id, idTagInfo: { status: 'Accepted' } };
  });
  const url = await csms.start();
  const child = new ChildAgent({
    url,
    chargePointId: 'CP-KILL-1',
    ocpp: { MeterValueSampleInterval: 1, TransactionMessageRetryInterval: 1, TransactionMessageAttempts: 3, WebSocketPingInterval: 0 },
    session: { meterPollIntervalMs: 100, checkpointIntervalMs: 1000 },
    simulation: { arrivalDelayMs: 30, departureDelayMs: 50, seed: 7 },
  });
  const cp = child.chargePointId;
  const integrityFailures: string[] = [];
  const started = Date.now();
  let killsDuringSession = 0;
  const runs: KillStormResult['runs'] = [];
  const window = o.killAfterMs ?? { min: 50, max: 1_500 };
  const startupKills = o.startupKillShare ?? 0.2;
  try {
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      child.start();
      const run = child.runs;
      const spawnedAt = Date.now();
      let alive = true;
      // The killed run's server-side connection may not be closed yet: drive the new one only.
      const stale = csms.clients.get(cp);
      const connected = () => csms.clients.has(cp) && csms.clients.get(cp) !== stale;
      const drivers = [1, 2].map((connectorId) => drive(csms, startIds, cp, stale, connectorId, prng, () => alive && child.running));
      if (prng.next() < startupKills) {
        // During start-up: opening the store, recovering open sessions, booting.
        await sleepUntil(spawnedAt + prng.between(0, window.min + 800));
      } else {
        // During sessions: the instant counts from the connection, so a slow machine still
        // gets its kills while sessions run.
        await waitFor(() => connected() || !child.running, 30_000, 'the child to connect').catch(() => undefined);
        await sleep(prng.between(window.min, window.max));
      }
      alive = false;
      await child.kill9();
      runs.push({ run, spawnedAt, killedAt: Date.now() });
      await Promise.allSettled(drivers);
      const lines = child.logs.filter((l) => l.run === run);
      const opened = lines.filter((l) => l.msg === 'session started').length;
      const closed = lines.filter((l) => l.msg === 'session stopped').length;
      if (opened > closed) killsDuringSession++;
      // The store as the next run will find it.
      const integrity = integrityOf(child.storePath);
      if (integrity !== 'ok') integrityFailures.push(`cycle ${cycle}: ${integrity}`);
      o.afterKill?.(cycle, child.storePath);
      if (cycle % 50 === 0) log(`kill storm: ${cycle}/${o.cycles} cycles, ${csms.callsOf('StartTransaction').length} Starts received`);
    }
    await drainLastRun(child, csms, cp, integrityFailures);
    return analyse(child, csms, startIds, {
      cycles: o.cycles, elapsedMs: Date.now() - started, killsDuringSession, integrityFailures, runs,
    });
  } finally {
    await child.cleanup();
    await csms.stop();
  }
}

async function drive(
  csms: TestCsms, startIds: Map<string, number>, cp: string, stale: ServerClient | undefined, connectorId: number, prng: Prng, alive: () => boolean,
): Promise<void> {
  try {
    await waitFor(() => !alive() || (csms.clients.has(cp) && csms.clients.get(cp) !== stale), 10_000);
    const client = csms.clients.get(cp);
    while (alive() && client && csms.clients.get(cp) === client) {
      const before = csms.callsOf('StartTransaction', cp).length;
      const res = await client.call('RemoteStartTransaction', { idTag: `APP-${connectorId}`, connectorId });
      if (res.status !== 'Accepted') {
        await sleep(50);
        continue;
      }
      const start = await waitFor(
        () => !alive() || csms.callsOf('StartTransaction', cp).slice(before).find((c) => c.params.connectorId === connectorId),
        5_000,
      );
      if (start === true) return;
      await sleep(prng.between(100, 1_200));
      if (!alive()) return;
      const txId = startIds.get(JSON.stringify((start as RecordedCall).params));
      if (txId !== undefined) await client.call('RemoteStopTransaction', { transactionId: txId });
      // Let the EV leave (departureDelayMs) before the next start on this connector.
      await sleep(150);
    }
  } catch {
    // The child died under us: that is the point.
  }
}


/** Outbox rows still queued. */
/**
 * A last, clean run after the storm: sessions left open are closed (PowerLoss), the outbox
 * drains to the central system, and the store's integrity is checked once more.
 */
export async function drainLastRun(child: ChildAgent, csms: TestCsms, cp: string, integrityFailures: string[]): Promise<void> {
  child.start();
  try {
    await waitFor(() => queued(child.storePath) === 0 && openSessions(child.storePath) === 0 && csms.clients.has(cp), 60_000, 'the outbox to drain');
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${stuck(child)}`);
  }
  await child.stop();
  const after = integrityOf(child.storePath);
  if (after !== 'ok') integrityFailures.push(`final: ${after}`);
}

export function queued(storePath: string): number {
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What keeps the outbox from draining, for the failure message. */
export function stuck(child: ChildAgent): string {
  const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare(`SELECT seq, kind, local_id, state, attempts, last_error FROM outbox WHERE state != 'acked' ORDER BY seq LIMIT 10`).all();
    const sessions = db.prepare(`SELECT local_id, transaction_ref, stopped_at, stop_reason, start_acked_at, stop_acked_at FROM sessions WHERE stopped_at IS NULL OR transaction_ref IS NULL OR stop_acked_at IS NULL LIMIT 10`).all();
    const tail = child.currentLogs().filter((l) => l.level !== LEVELS.info).slice(-15);
    return JSON.stringify({ running: child.running, outbox: rows, sessions, logs: tail, stderr: child.stderr.slice(-1000) }, null, 1);
  } finally {
    db.close();
  }
}

/** Sessions not closed, or whose opening or closing the central system has not acknowledged. */
export function openSessions(storePath: string): number {
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE stopped_at IS NULL OR transaction_ref IS NULL OR stop_acked_at IS NULL`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function analyse(
  child: ChildAgent, csms: TestCsms, startIds: Map<string, number>,
  base: Pick<KillStormResult, 'cycles' | 'elapsedMs' | 'killsDuringSession' | 'integrityFailures' | 'runs'>,
): KillStormResult {
  const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
  const sessions = db.prepare(`SELECT local_id, connector_id, CAST(transaction_ref AS INTEGER) AS transaction_id, meter_start_wh, meter_stop_wh, stop_reason, started_at, stopped_at FROM sessions ORDER BY started_at`).all() as LedgerSession[];
  const deadLetters = (db.prepare(`SELECT COUNT(*) AS n FROM dead_letters`).get() as { n: number }).n;
  const queuedLeft = (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'`).get() as { n: number }).n;
  db.close();

  const cp = child.chargePointId;
  const calls = csms.calls.filter((c) => c.chargePointId === cp);
  const starts = calls.filter((c) => c.action === 'StartTransaction');
  const stops = calls.filter((c) => c.action === 'StopTransaction');
  const meters = calls.filter((c) => c.action === 'MeterValues');
  let redeliveries = 0;
  let duplicates = 0;
  // Starts: identical payloads are redeliveries; distinct payloads each made a transaction.
  const startKeys = starts.map((c) => JSON.stringify(c.params));
  redeliveries += startKeys.length - new Set(startKeys).size;
  const startByTx = new Map<number, any>();
  for (const [key, id] of startIds) startByTx.set(id, JSON.parse(key));
  // Stops: per transactionId, identical ones are redeliveries, different ones duplicates.
  const stopsByTx = new Map<number, Set<string>>();
  let badTransactionIds = 0;
  for (const s of stops) {
    const id = s.params.transactionId;
    if (typeof id !== 'number' || id < 0) badTransactionIds++;
    const set = stopsByTx.get(id) ?? new Set<string>();
    const key = JSON.stringify(s.params);
    if (set.has(key)) redeliveries++;
    set.add(key);
    stopsByTx.set(id, set);
  }
  for (const set of stopsByTx.values()) if (set.size > 1) duplicates += set.size - 1;
  for (const m of meters) {
    const id = m.params.transactionId;
    if (typeof id !== 'number' || id < 0 || !startByTx.has(id)) badTransactionIds++;
  }
  let sessionsLost = 0;
  let energyMismatches = 0;
  let reasonMismatches = 0;
  const known = new Set<number>();
  for (const s of sessions) {
    const tx = s.transaction_id;
    if (tx === null) {
      sessionsLost++;
      continue;
    }
    if (known.has(tx)) duplicates++;
    known.add(tx);
    const start = startByTx.get(tx);
    const stopSet = stopsByTx.get(tx);
    if (!start || !stopSet || stopSet.size !== 1) {
      sessionsLost++;
      continue;
    }
    const stop = JSON.parse([...stopSet][0]!);
    if ((stop.reason ?? 'Local') !== s.stop_reason) reasonMismatches++;
    if (start.meterStart !== s.meter_start_wh || stop.meterStop !== s.meter_stop_wh || stop.meterStop < start.meterStart) energyMismatches++;
  }
  // Every transaction the central system opened belongs to a ledger session.
  const orphans = [...startByTx.keys()].filter((id) => !known.has(id)).length;
  // Every energy value of a transaction, as the central system received it, lies within
  // [meterStart, meterStop] of that transaction.
  const metersOutOfRange: KillStormResult['metersOutOfRange'] = [];
  const checkValues = (transactionId: number, meterValue: any[] | undefined) => {
    const start = startByTx.get(transactionId);
    const stopSet = stopsByTx.get(transactionId);
    if (!start || !stopSet || stopSet.size !== 1) return;
    const meterStop = JSON.parse([...stopSet][0]!).meterStop as number;
    for (const mv of meterValue ?? []) {
      for (const sv of mv.sampledValue ?? []) {
        if ((sv.measurand ?? 'Energy.Active.Import.Register') !== 'Energy.Active.Import.Register') continue;
        const valueWh = Number(sv.value) * (sv.unit === 'kWh' ? 1000 : 1);
        if (valueWh < start.meterStart || valueWh > meterStop) metersOutOfRange.push({ transactionId, meterStart: start.meterStart, meterStop, valueWh, context: sv.context });
      }
    }
  };
  for (const m of meters) checkValues(m.params.transactionId, m.params.meterValue);
  for (const s of stops) checkValues(s.params.transactionId, s.params.transactionData);
  // One meter per connector: its register never goes backwards from one session to the next,
  // across restarts included.
  const registerBackwards: KillStormResult['registerBackwards'] = [];
  const lastStop = new Map<number, number>();
  for (const s of sessions) {
    const prev = lastStop.get(s.connector_id);
    if (prev !== undefined && s.meter_start_wh < prev) registerBackwards.push({ connectorId: s.connector_id, previousStopWh: prev, meterStartWh: s.meter_start_wh });
    if (s.meter_stop_wh !== null) lastStop.set(s.connector_id, Math.max(prev ?? 0, s.meter_stop_wh));
  }
  return {
    ...base, sessions, calls, startIds, deadLetters, queuedLeft, sessionsLost, duplicates, redeliveries, badTransactionIds,
    energyMismatches, reasonMismatches, orphans, metersOutOfRange, registerBackwards, stderr: child.stderr, logs: [...child.logs],
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export async function sleepUntil(t: number): Promise<void> {
  const ms = t - Date.now();
  if (ms > 0) await sleep(ms);
}
