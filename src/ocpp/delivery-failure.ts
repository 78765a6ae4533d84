import type { Clock } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import { CallFailedError } from './connection.js';
import type { EventQueue, QueuedEvent, Settings } from './store-ports.js';

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

/** What acting on a failed delivery needs: the queue, the retry settings and the link. */
export interface DeliveryFailureContext {
  queue: Pick<EventQueue, 'fail' | 'deadLetter'>;
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
  };
  /** Whether the error is an event in a format this program does not know. */
  isUnknownFormat(err: unknown): boolean;
  /** Move an event to the dead-letter table, with the version's alarms. */
  toDeadLetter(entry: QueuedEvent, reason: string, countAttempt: boolean): void;
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
      c.toDeadLetter(entry, verdict.reason, false);
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
      if (verdict.deadLetter) c.toDeadLetter(entry, verdict.reason, true);
      else {
        log.warn('transaction message failed: will retry', { seq: entry.seq, kind: entry.kind, localId: entry.localId, attempt: verdict.attempt, retryInMs: verdict.retryInMs, reason: verdict.reason });
        c.queue.fail(entry.seq, verdict.reason, c.clock.now() + verdict.retryInMs);
      }
      return true;
  }
}
