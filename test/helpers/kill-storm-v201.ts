import Database from 'better-sqlite3';
import { Prng } from '../../src/sim/prng.js';
import { toV201Reason } from '../../src/ocpp/v201/mapping.js';
import type { StopReason } from '../../src/core/ports.js';
import { ChildAgent } from './child-agent.js';
import { drainLastRun, integrityOf, sleep } from './kill-storm.js';
import { TestCsms, waitFor, type RecordedCall } from './ocpp-server.js';

/**
 * The kill -9 storm on OCPP 2.0.1 (issue 17: "Kill -9 at any instant"): the agent runs as a
 * child process speaking 2.0.1 to the strict 2.0.1 TestCsms, which drives sessions on both EVSEs
 * with RequestStartTransaction / RequestStopTransaction (the simulated EV plugs in after a start
 * and leaves after a stop); the child is killed with SIGKILL at a random instant (a share of the
 * kills in its start-up) and started again on the same store, `cycles` times. One last run
 * drains the outbox, and every transaction of the ledger is compared with the TransactionEvents
 * the central system received.
 */
export interface KillStormV201Options {
  cycles: number;
  seed?: number;
  /** Most kills fall uniformly in [min, max] ms after the child connected; `startupKillShare` (default 0.2) in its start-up. */
  killAfterMs?: { min: number; max: number };
  startupKillShare?: number;
  /**
   * A start-up kill falls within 300 ms after a step of the start-up picked at random (the
   * store opened and open sessions closed: 'agent started'; connected: the link's first line;
   * the boot accepted: the queue being delivered), or in [0, startupWindowMs] after the spawn
   * (default 1,500).
   */
  startupWindowMs?: number;
  log?: (msg: string) => void;
}

export interface LedgerSessionV201 {
  local_id: string;
  connector_id: number;
  transaction_ref: string | null;
  transaction_ref_version: string | null;
  meter_start_wh: number;
  meter_stop_wh: number | null;
  stop_reason: StopReason | null;
  started_at: number;
  stopped_at: number | null;
}

/** A RequestStartTransaction the agent accepted. */
export interface AcceptedRemoteStart {
  remoteStartId: number;
  evseId: number;
  run: number;
  /** When the central system sent it (epoch ms). */
  sentAt: number;
}

/** One transaction as the central system received it: its events by seqNo, each distinct payload once. */
export interface ReceivedTransaction {
  transactionId: string;
  /** seqNo → the distinct payloads received with that seqNo (more than one: a distinct duplicate). */
  bySeqNo: Map<number, any[]>;
  started?: any;
  ended?: any;
}

export interface KillStormV201Result {
  seed: number;
  cycles: number;
  elapsedMs: number;
  /** Kills that fell while a session was running (from the child's logs). */
  killsDuringSession: number;
  /** Where the kills fell: before the link logged anything (store, recovery, connecting), connected and booting, after the boot was accepted. */
  kills: { starting: number; connected: number; accepted: number };
  /** Per run killed during sessions: ms from the spawn to the accepted boot (the machine's start-up cost). */
  bootMs: number[];
  sessions: LedgerSessionV201[];
  remoteStarts: AcceptedRemoteStart[];
  transactions: Map<string, ReceivedTransaction>;
  integrityFailures: string[];
  deadLetters: number;
  queuedLeft: number;
  /** TransactionEvents received, and how many of them were identical redeliveries. */
  eventsReceived: number;
  redeliveries: number;
  /** Ledger sessions without their own transactionId, or without exactly one Started and one Ended at the central system. */
  sessionsLost: string[];
  /** A seqNo of a transaction received with two different payloads (not a redelivery). */
  duplicates: { transactionId: string; seqNo: number; payloads: any[] }[];
  /** Transactions whose seqNos are not 0..n-1 with Started at 0 and Ended last. */
  seqNoFaults: { transactionId: string; seqNos: number[]; startedSeqNo?: number; endedSeqNo?: number }[];
  /** Transactions at the central system the ledger does not know. */
  orphans: string[];
  /** Ledger and central system disagree on a transaction's EVSE, registers or stoppedReason. */
  mismatches: { localId: string; what: string; ledger: unknown; received: unknown }[];
  /** Energy values of Updated and Ended events outside [start register, end register] of their transaction. */
  metersOutOfRange: { transactionId: string; seqNo: number; startWh: number; endWh: number; valueWh: number; context?: string }[];
  /** Samples of Updated events timestamped outside [Started, Ended] of their transaction. */
  metersOutOfTime: { transactionId: string; seqNo: number; started: string; ended: string; timestamp: string }[];
  /** Per EVSE, a transaction whose start register is below the previous transaction's end register. */
  registerBackwards: { evseId: number; previousEndWh: number; startWh: number; transactionId: string }[];
  /** Events whose `offline` does not say whether the link was down when they were recorded (from the child's log order). */
  offlineFaults: { transactionId: string; eventType: string; seqNo: number; offline: boolean; expected: boolean; why: string }[];
  /** Started events whose remoteStartId is not one this transaction was started by. */
  remoteStartFaults: { transactionId: string; remoteStartId: number; why: string }[];
  /** Events the strict server refused, and the most CALLs the agent had outstanding at once. */
  validationFailures: unknown[];
  maxOutstanding: number;
  stderr: string;
  logs: ChildAgent['logs'];
}

/** The energy register in Wh of a sampledValue, or undefined if it is another measurand. */
export function registerWh(sv: any): number | undefined {
  if ((sv.measurand ?? 'Energy.Active.Import.Register') !== 'Energy.Active.Import.Register') return undefined;
  const unit = sv.unitOfMeasure?.unit ?? 'Wh';
  const multiplier = sv.unitOfMeasure?.multiplier ?? 0;
  return Number(sv.value) * 10 ** multiplier * (unit === 'kWh' ? 1000 : 1);
}

/** The register value of an event's sampledValue with this context (Transaction.Begin / Transaction.End). */
function registerIn(event: any, context: string): number | undefined {
  for (const mv of event?.meterValue ?? []) {
    for (const sv of mv.sampledValue ?? []) if (sv.context === context && registerWh(sv) !== undefined) return registerWh(sv);
  }
  return undefined;
}

/** The steps of the agent's start-up a start-up kill follows: the spawn, log lines of the child, the accepted boot. */
const STARTUP_STEPS = ['spawned', 'agent started', 'central system link', 'accepted'] as const;

export async function runKillStormV201(o: KillStormV201Options): Promise<KillStormV201Result> {
  const seed = o.seed ?? Date.now() % 1_000_000;
  const prng = new Prng(seed);
  const log = o.log ?? (() => undefined);
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  const child = new ChildAgent({
    url,
    chargePointId: 'CP-KILL201-1',
    csms: { ocppVersions: ['ocpp2.0.1'] },
    // TransactionMessageAttempts / RetryInterval are MessageAttempts / MessageAttemptInterval [TransactionEvent].
    ocpp: { MeterValueSampleInterval: 1, TransactionMessageRetryInterval: 1, TransactionMessageAttempts: 3, WebSocketPingInterval: 0 },
    session: { meterPollIntervalMs: 100, checkpointIntervalMs: 1000 },
    simulation: { arrivalDelayMs: 30, departureDelayMs: 50, seed: 7 },
  });
  const cp = child.chargePointId;
  const integrityFailures: string[] = [];
  const remoteStarts: AcceptedRemoteStart[] = [];
  const started = Date.now();
  let killsDuringSession = 0;
  // Where the kills fell: before the link said anything (store, recovery, connecting), while connected and booting, after the boot was accepted.
  const kills = { starting: 0, connected: 0, accepted: 0 };
  const bootMs: number[] = [];
  const window = o.killAfterMs ?? { min: 50, max: 1_500 };
  const startupKills = o.startupKillShare ?? 0.2;
  const startupWindowMs = o.startupWindowMs ?? 1_500;
  const nextRemoteStartId = { n: 1 };
  try {
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      const mark = csms.calls.length;
      child.start();
      const run = child.runs;
      const spawnedAt = Date.now();
      let alive = true;
      // The killed run is dead (awaited): every call from `mark` on is this run's. Accepted once
      // the central system has answered its BootNotification and it sent a StatusNotification.
      const accepted = () => {
        const calls = csms.calls.slice(mark).filter((c) => c.chargePointId === cp);
        const boot = calls.findIndex((c) => c.action === 'BootNotification');
        return boot >= 0 && calls.slice(boot).some((c) => c.action === 'StatusNotification') && csms.clients.has(cp);
      };
      const drivers = [1, 2].map((evseId) => drive({
        csms, cp, evseId, prng, run, remoteStarts, nextRemoteStartId, accepted, alive: () => alive && child.running,
      }));
      if (prng.next() < startupKills) {
        // During start-up: shortly after one of its steps, whatever time each takes on this machine.
        const step = prng.pick(STARTUP_STEPS);
        const reached = () => step === 'spawned' || (step === 'accepted' ? accepted() : child.currentLogs().some((l) => l.msg === step));
        await waitFor(() => reached() || !child.running, 30_000, step).catch(() => undefined);
        await sleep(step === 'spawned' ? prng.between(0, startupWindowMs) : prng.between(0, 300));
      } else {
        // During sessions: the instant counts from the accepted boot, so a slow machine still
        // gets its kills while sessions run.
        await waitFor(() => accepted() || !child.running, 30_000, 'the child to boot').catch(() => undefined);
        if (accepted()) bootMs.push(Date.now() - spawnedAt);
        await sleep(prng.between(window.min, window.max));
      }
      alive = false;
      const phase = accepted() ? 'accepted' : child.currentLogs().some((l) => l.msg === 'central system link') ? 'connected' : 'starting';
      kills[phase]++;
      await child.kill9();
      await Promise.allSettled(drivers);
      const lines = child.logs.filter((l) => l.run === run);
      const opened = lines.filter((l) => l.msg === 'session started').length;
      const closed = lines.filter((l) => l.msg === 'session stopped').length;
      if (opened > closed) killsDuringSession++;
      // The store as the next run will find it.
      const integrity = integrityOf(child.storePath);
      if (integrity !== 'ok') integrityFailures.push(`cycle ${cycle}: ${integrity}`);
      if (cycle % 10 === 0) log(`kill storm 2.0.1: ${cycle}/${o.cycles} cycles, ${csms.callsOf('TransactionEvent', cp).length} TransactionEvents received`);
    }
    await drainLastRun(child, csms, cp, integrityFailures);
    return analyse(child, csms, {
      seed, cycles: o.cycles, elapsedMs: Date.now() - started, killsDuringSession, kills, bootMs, integrityFailures, remoteStarts,
    });
  } finally {
    await child.cleanup();
    await csms.stop();
  }
}

interface DriveArgs {
  csms: TestCsms;
  cp: string;
  evseId: number;
  prng: Prng;
  run: number;
  remoteStarts: AcceptedRemoteStart[];
  nextRemoteStartId: { n: number };
  /** The central system accepted this run's boot (it sends no request before: B02, B03). */
  accepted: () => boolean;
  alive: () => boolean;
}

/** Sessions on one EVSE: RequestStartTransaction, its Started, a while charging, RequestStopTransaction, the EV leaves; again. */
async function drive(a: DriveArgs): Promise<void> {
  const { csms, cp, evseId, prng, alive } = a;
  try {
    await waitFor(() => !alive() || a.accepted(), 30_000);
    const client = csms.clients.get(cp);
    while (alive() && client && csms.clients.get(cp) === client) {
      const remoteStartId = a.nextRemoteStartId.n++;
      const sentAt = Date.now();
      const res = await client.call('RequestStartTransaction', { idToken: { idToken: `APP-${evseId}`, type: 'Central' }, evseId, remoteStartId });
      if (res.status !== 'Accepted') {
        await sleep(50);
        continue;
      }
      a.remoteStarts.push({ remoteStartId, evseId, run: a.run, sentAt });
      const start = await waitFor(
        () => !alive() || csms.callsOf('TransactionEvent', cp).find((c) => c.params.eventType === 'Started' && c.params.transactionInfo.remoteStartId === remoteStartId),
        5_000,
      );
      if (start === true) return;
      await sleep(prng.between(100, 1_200));
      if (!alive()) return;
      await client.call('RequestStopTransaction', { transactionId: (start as RecordedCall).params.transactionInfo.transactionId });
      // Let the EV leave (departureDelayMs) before the next start on this EVSE.
      await sleep(150);
    }
  } catch {
    // The child died under us: that is the point.
  }
}

function analyse(
  child: ChildAgent, csms: TestCsms,
  base: Pick<KillStormV201Result, 'seed' | 'cycles' | 'elapsedMs' | 'killsDuringSession' | 'kills' | 'bootMs' | 'integrityFailures' | 'remoteStarts'>,
): KillStormV201Result {
  const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
  const sessions = db.prepare(`SELECT local_id, connector_id, transaction_ref, transaction_ref_version, meter_start_wh, meter_stop_wh, stop_reason, started_at, stopped_at
    FROM sessions ORDER BY started_at`).all() as LedgerSessionV201[];
  const deadLetters = (db.prepare(`SELECT COUNT(*) AS n FROM dead_letters`).get() as { n: number }).n;
  const queuedLeft = (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'`).get() as { n: number }).n;
  db.close();

  const cp = child.chargePointId;
  const events = csms.calls.filter((c) => c.chargePointId === cp && c.action === 'TransactionEvent');
  // Per transaction and seqNo, the distinct payloads; an identical one again is a redelivery.
  const transactions = new Map<string, ReceivedTransaction>();
  const seen = new Set<string>();
  let redeliveries = 0;
  for (const e of events) {
    const key = JSON.stringify(e.params);
    if (seen.has(key)) {
      redeliveries++;
      continue;
    }
    seen.add(key);
    const id = e.params.transactionInfo.transactionId as string;
    const tx = transactions.get(id) ?? { transactionId: id, bySeqNo: new Map<number, any[]>() };
    transactions.set(id, tx);
    const list = tx.bySeqNo.get(e.params.seqNo) ?? [];
    list.push(e.params);
    tx.bySeqNo.set(e.params.seqNo, list);
  }
  const duplicates: KillStormV201Result['duplicates'] = [];
  const seqNoFaults: KillStormV201Result['seqNoFaults'] = [];
  for (const tx of transactions.values()) {
    for (const [seqNo, payloads] of tx.bySeqNo) if (payloads.length > 1) duplicates.push({ transactionId: tx.transactionId, seqNo, payloads });
    const all = [...tx.bySeqNo.values()].flat();
    const starteds = all.filter((p) => p.eventType === 'Started');
    const endeds = all.filter((p) => p.eventType === 'Ended');
    if (starteds.length === 1) tx.started = starteds[0];
    if (endeds.length === 1) tx.ended = endeds[0];
    const seqNos = [...tx.bySeqNo.keys()].sort((x, y) => x - y);
    const contiguous = seqNos.every((s, i) => s === i);
    const last = seqNos[seqNos.length - 1];
    if (!contiguous || tx.started?.seqNo !== 0 || (tx.ended && tx.ended.seqNo !== last)) {
      seqNoFaults.push({ transactionId: tx.transactionId, seqNos, startedSeqNo: tx.started?.seqNo, endedSeqNo: tx.ended?.seqNo });
    }
  }

  const sessionsLost: string[] = [];
  const mismatches: KillStormV201Result['mismatches'] = [];
  const known = new Set<string>();
  for (const s of sessions) {
    known.add(s.local_id);
    // The station's transactionId is the session's local id (unique across restarts), acknowledged as 2.0.1's.
    if (s.transaction_ref !== s.local_id || s.transaction_ref_version !== 'ocpp2.0.1') {
      sessionsLost.push(`${s.local_id}: transaction_ref ${s.transaction_ref} (${s.transaction_ref_version})`);
      continue;
    }
    const tx = transactions.get(s.local_id);
    if (!tx?.started || !tx.ended) {
      sessionsLost.push(`${s.local_id}: Started ${tx?.started ? 1 : 0}, Ended ${tx?.ended ? 1 : 0} at the central system`);
      continue;
    }
    const check = (what: string, ledger: unknown, received: unknown) => {
      if (ledger !== received) mismatches.push({ localId: s.local_id, what, ledger, received });
    };
    check('evse', s.connector_id, tx.started.evse?.id);
    check('start register (Wh)', s.meter_start_wh, registerIn(tx.started, 'Transaction.Begin'));
    check('end register (Wh)', s.meter_stop_wh, registerIn(tx.ended, 'Transaction.End'));
    check('stoppedReason', toV201Reason(s.stop_reason ?? 'Local'), tx.ended.transactionInfo.stoppedReason ?? 'Local');
  }
  const orphans = [...transactions.keys()].filter((id) => !known.has(id));

  // Every energy value of an Updated or Ended event lies within its transaction's [start, end] registers.
  const metersOutOfRange: KillStormV201Result['metersOutOfRange'] = [];
  const metersOutOfTime: KillStormV201Result['metersOutOfTime'] = [];
  for (const tx of transactions.values()) {
    const startWh = registerIn(tx.started, 'Transaction.Begin');
    const endWh = registerIn(tx.ended, 'Transaction.End');
    if (startWh === undefined || endWh === undefined) continue;
    const from = Date.parse(tx.started.timestamp);
    const to = Date.parse(tx.ended.timestamp);
    for (const p of [...tx.bySeqNo.values()].flat()) {
      if (p.eventType === 'Started') continue;
      for (const mv of p.meterValue ?? []) {
        // An Updated event's samples were taken while the transaction ran.
        const at = Date.parse(mv.timestamp);
        if (p.eventType === 'Updated' && (at < from || at > to)) metersOutOfTime.push({ transactionId: tx.transactionId, seqNo: p.seqNo, started: tx.started.timestamp, ended: tx.ended.timestamp, timestamp: mv.timestamp });
        for (const sv of mv.sampledValue ?? []) {
          const valueWh = registerWh(sv);
          if (valueWh !== undefined && (valueWh < startWh || valueWh > endWh)) {
            metersOutOfRange.push({ transactionId: tx.transactionId, seqNo: p.seqNo, startWh, endWh, valueWh, context: sv.context });
          }
        }
      }
    }
  }

  // Per EVSE, in the order the transactions started, the register never goes backwards.
  const registerBackwards: KillStormV201Result['registerBackwards'] = [];
  const byEvse = new Map<number, ReceivedTransaction[]>();
  for (const tx of transactions.values()) {
    if (!tx.started || !tx.ended) continue;
    const list = byEvse.get(tx.started.evse.id) ?? [];
    list.push(tx);
    byEvse.set(tx.started.evse.id, list);
  }
  for (const [evseId, list] of byEvse) {
    list.sort((x, y) => Date.parse(x.started.timestamp) - Date.parse(y.started.timestamp));
    for (let i = 1; i < list.length; i++) {
      const previousEndWh = registerIn(list[i - 1]!.ended, 'Transaction.End')!;
      const startWh = registerIn(list[i]!.started, 'Transaction.Begin')!;
      if (startWh < previousEndWh) registerBackwards.push({ evseId, previousEndWh, startWh, transactionId: list[i]!.transactionId });
    }
  }

  // `offline`: whether the link was down (not Accepted) when the event was recorded. The child's
  // log says it: a session opens or closes (synchronously after its event is written) after the
  // run's last 'central system link' line; a session left open by the last run is closed before
  // the link starts.
  const offlineFaults: KillStormV201Result['offlineFaults'] = [];
  const expectOffline = new Map<string, { started?: boolean; ended?: boolean; why: string }>();
  let linkAccepted = false;
  let run = 0;
  for (const l of child.logs) {
    if (l.run !== run) {
      run = l.run;
      linkAccepted = false;
    }
    if (l.msg === 'central system link') linkAccepted = l.state === 'accepted';
    const localId = l.localId as string | undefined;
    if (!localId) continue;
    const entry = expectOffline.get(localId) ?? { why: '' };
    if (l.msg === 'session started') {
      entry.started = !linkAccepted;
      entry.why += `started in run ${run} with the link ${linkAccepted ? 'accepted' : 'down'}; `;
    } else if (l.msg === 'session stopped') {
      entry.ended = !linkAccepted;
      entry.why += `stopped in run ${run} with the link ${linkAccepted ? 'accepted' : 'down'}; `;
    } else if (l.msg === 'session left open by the last run closed (PowerLoss)') {
      entry.ended = true;
      entry.why += `closed PowerLoss at the start of run ${run}; `;
    } else continue;
    expectOffline.set(localId, entry);
  }
  for (const s of sessions) {
    const tx = transactions.get(s.local_id);
    const expected = expectOffline.get(s.local_id);
    if (!tx || !expected) continue;
    for (const [p, want] of [[tx.started, expected.started], [tx.ended, expected.ended]] as const) {
      if (!p || want === undefined) continue;
      const offline = p.offline === true;
      if (offline !== want) offlineFaults.push({ transactionId: tx.transactionId, eventType: p.eventType, seqNo: p.seqNo, offline, expected: want, why: expected.why });
    }
    // A session closed at restart was closed while the link was down, whatever the log says.
    if (s.stop_reason === 'PowerLoss' && tx.ended && tx.ended.offline !== true) {
      offlineFaults.push({ transactionId: tx.transactionId, eventType: 'Ended', seqNo: tx.ended.seqNo, offline: false, expected: true, why: 'PowerLoss' });
    }
  }

  // remoteStartId: only on the Started of the transaction that remote start began (its EVSE,
  // started after it was sent; the agent's clock follows the central system's to well within 1 s).
  const remoteStartFaults: KillStormV201Result['remoteStartFaults'] = [];
  const accepted = new Map(base.remoteStarts.map((r) => [r.remoteStartId, r]));
  const carriers = new Map<number, string>();
  for (const tx of transactions.values()) {
    const id = tx.started?.transactionInfo.remoteStartId as number | undefined;
    if (id === undefined) continue;
    const r = accepted.get(id);
    const fault = (why: string) => remoteStartFaults.push({ transactionId: tx.transactionId, remoteStartId: id, why });
    if (!r) fault('never accepted');
    else {
      if (tx.started.evse?.id !== r.evseId) fault(`on EVSE ${tx.started.evse?.id}, requested on ${r.evseId}`);
      const lead = r.sentAt - Date.parse(tx.started.timestamp);
      if (lead > 1_000) fault(`the transaction started ${lead} ms before the request was sent`);
    }
    if (carriers.has(id)) fault(`also carried by ${carriers.get(id)}`);
    carriers.set(id, tx.transactionId);
  }

  return {
    ...base, sessions, transactions, deadLetters, queuedLeft, eventsReceived: events.length, redeliveries, sessionsLost, duplicates, seqNoFaults,
    orphans, mismatches, metersOutOfRange, metersOutOfTime, registerBackwards, offlineFaults, remoteStartFaults,
    validationFailures: [...csms.validationFailures], maxOutstanding: csms.maxOutstanding.get(cp) ?? 0,
    stderr: child.stderr, logs: [...child.logs],
  };
}
