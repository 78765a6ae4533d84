import { CallFailedError } from './connection.js';

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
