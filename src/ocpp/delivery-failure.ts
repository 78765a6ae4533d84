import type { Clock } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import { CallFailedError } from './connection.js';
import type { EventQueue, QueuedEvent, Settings, TransactionRefs } from './store-ports.js';
import type { LinkEvents, SessionUnsynced } from './version.js';

/**
 * What a failed delivery of a queued transaction message means, the same for every OCPP version
 * (1.6 TransactionMessageAttempts/RetryInterval, 2.0.1 MessageAttempts/Interval[TransactionEvent]):
 * - `set-aside`: the event is in a format this program does not know: dead-lettered, no attempt counted;
 * - `paused`: the link went down: the entry goes again, first, once reconnected;
 * - `partition`: no answer, and none to a Heartbeat either (R3): not a refusal; reconnect;
 * - `store`: the store could not record the outcome (disk full, I/O error): not the central
 *   system's fault; the entry stays queued and delivery pauses for the retry interval;
 * - `refused-security`: a security event the central system refused: never holds billing data back;
 * - `attempt`: a CALLERROR, or a timeout while Heartbeats are answered: one attempt, dead-lettered
 *   after the last, else retried after the interval × the attempts so far.
 */
export type DeliveryFailure =
  | { kind: 'set-aside'; reason: string }
  | { kind: 'paused' }
  | { kind: 'partition' }
  | { kind: 'store' }
  | { kind: 'refused-security'; reason: string }
  | { kind: 'attempt'; reason: string; attempt: number; deadLetter: boolean; retryInMs: number };

export async function judgeDeliveryFailure(
  err: unknown,
  entry: { kind: string; attempts: number },
  o: { answersHeartbeat(): Promise<boolean>; maxAttempts: number; retryIntervalS: number; isUnknownFormat(err: unknown): boolean },
): Promise<DeliveryFailure> {
  if (o.isUnknownFormat(err)) return { kind: 'set-aside', reason: (err as Error).message };
  const failure = err instanceof CallFailedError ? err : undefined;
  if (failure?.failure === 'disconnected') return { kind: 'paused' };
  if (failure?.failure === 'timeout' && !(await o.answersHeartbeat())) return { kind: 'partition' };
  if (!failure && /^SQLITE_/.test(String((err as { code?: unknown }).code))) return { kind: 'store' };
  const reason = failure ? `${failure.rpcErrorCode ?? failure.failure}: ${failure.message}` : `local error: ${(err as Error).message}`;
  if (entry.kind === 'security' && failure?.failure === 'callerror') return { kind: 'refused-security', reason };
  const attempt = entry.attempts + 1;
  return { kind: 'attempt', reason, attempt, deadLetter: attempt >= Math.max(1, o.maxAttempts), retryInMs: o.retryIntervalS * 1000 * attempt };
}

/** What delivery tells the application (the link's events but its state). */
export type DeliveryEvents = Omit<LinkEvents, 'state'>;

/** What acting on a failed delivery needs: the queue, the ledger, the retry settings and the link. */
export interface DeliveryFailureContext {
  queue: Pick<EventQueue, 'fail' | 'deadLetter'>;
  /** The session a dead-lettered closing event belongs to (its energy). */
  ledger: Pick<TransactionRefs, 'get'>;
  /** TransactionMessageAttempts and TransactionMessageRetryInterval (2.0.1's MessageAttempts/Interval[TransactionEvent] map onto them). */
  settings: Pick<Settings, 'int'>;
  clock: Clock;
  log: Log;
  link: {
    /** Whether the central system answers a Heartbeat now. */
    answersHeartbeat(): Promise<boolean>;
    /** Drop the connection and reconnect (a silent partition). */
    reconnect(): Promise<void>;
    /** Deliver nothing for `ms`, then go on (the store could not record an outcome). */
    pauseDelivery(ms: number): void;
    /** The protocol's id of a session, once known. */
    transactionIdOf(localId: string): number | string | undefined;
    emit<K extends keyof DeliveryEvents>(event: K, ...args: DeliveryEvents[K]): boolean;
  };
  /** Whether the error is an event in a format this program does not know. */
  isUnknownFormat(err: unknown): boolean;
}

/**
 * An event moved to the dead-letter table: billing data the central system would not take,
 * kept, never deleted silently, and an alarm. A closing event's session stays in the ledger,
 * unsynced (never deleted by retention), with its energy and meter curve; the alarm, the
 * diagnostics event and `evse-edge sessions` say so (on 1.6 a session without its transactionId
 * has no valid StopTransaction, and a MeterValues without one is not a transaction's). Once the
 * central system's cause is fixed, a technician requeues the dead letters (outbox/retry): they
 * go again, in order.
 */
export function toDeadLetter(c: DeliveryFailureContext, entry: QueuedEvent, reason: string, countAttempt: boolean): void {
  c.queue.deadLetter(entry.seq, reason, c.clock.now(), countAttempt);
  c.log.error('ALARM transaction message moved to the dead-letter table', { alarm: 'dead-letter', seq: entry.seq, kind: entry.kind, localId: entry.localId, reason });
  c.link.emit('dead-letter', { seq: entry.seq, kind: entry.kind, localId: entry.localId, error: reason });
  if (entry.kind !== 'stop') return;
  const r = c.ledger.get(entry.localId);
  if (!r) return;
  const event: SessionUnsynced = {
    localId: entry.localId, evseId: r.evseId, meterStartWh: r.meterStartWh, meterStopWh: r.meterStopWh,
    energyWh: r.meterStopWh === null ? null : r.meterStopWh - r.meterStartWh,
    noTransactionId: c.link.transactionIdOf(entry.localId) === undefined, error: reason,
  };
  c.log.error('ALARM session not reported to the central system: its energy is not billed', { alarm: 'session-unsynced', ...event });
  c.link.emit('session-unsynced', event);
}

/**
 * Act on a failed delivery as judged above, the same for every version; returns whether
 * delivery goes on with the next entry (false: it pauses, and the entry goes again first).
 */
export async function settleDeliveryFailure(err: unknown, entry: QueuedEvent, c: DeliveryFailureContext): Promise<boolean> {
  const { link, log } = c;
  const verdict = await judgeDeliveryFailure(err, entry, {
    answersHeartbeat: () => link.answersHeartbeat(), isUnknownFormat: c.isUnknownFormat,
    maxAttempts: c.settings.int('TransactionMessageAttempts'), retryIntervalS: c.settings.int('TransactionMessageRetryInterval'),
  });
  switch (verdict.kind) {
    case 'set-aside':
      // Written by a newer program: nothing to retry; kept for the program that knows it.
      toDeadLetter(c, entry, verdict.reason, false);
      return true;
    case 'paused':
      return false;
    case 'partition':
      // The link is suspect: drop it; the entry goes again, first, once reconnected. It must
      // not use up the attempts and dead-letter billing data.
      log.warn('transaction message not answered: reconnecting', { seq: entry.seq, kind: entry.kind, localId: entry.localId });
      void link.reconnect().catch((e) => log.warn('reconnect failed', { err: e }));
      return false;
    case 'store':
      // The store could not record the outcome: the event stays queued; delivery pauses.
      log.error('outbox not writable: delivery paused', { seq: entry.seq, kind: entry.kind, localId: entry.localId, err });
      link.pauseDelivery(Math.max(1, c.settings.int('TransactionMessageRetryInterval')) * 1000);
      return false;
    case 'refused-security':
      // A central system without the security extension answers NotImplemented: never let
      // that hold billing data back. The event stays in the dead-letter table.
      c.queue.deadLetter(entry.seq, verdict.reason, c.clock.now());
      log.warn('security event refused by the central system', { seq: entry.seq, reason: verdict.reason });
      return true;
    case 'attempt':
      if (verdict.deadLetter) toDeadLetter(c, entry, verdict.reason, true);
      else {
        log.warn('transaction message failed: will retry', { seq: entry.seq, kind: entry.kind, localId: entry.localId, attempt: verdict.attempt, retryInMs: verdict.retryInMs, reason: verdict.reason });
        c.queue.fail(entry.seq, verdict.reason, c.clock.now() + verdict.retryInMs);
      }
      return true;
  }
}
