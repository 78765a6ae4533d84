/**
 * TriggerMessage TransactionEvent (F06): an Updated event with triggerReason Trigger for each
 * running transaction in scope, answered first, then queued among the transaction's events (so
 * it takes the next seqNo and is delivered, retried and kept like every other event).
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { EvseId } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';

/** What the trigger needs of the incoming handlers' context. */
interface TriggerContext {
  chargePoint: Pick<ChargePoint, 'session' | 'triggerSessionSample'>;
  log: Log;
}

/** Accepted when a transaction runs on one of `evseIds` (each gets its Updated); Rejected when none does. */
export function triggerTransactionEvent(evseIds: readonly EvseId[], ctx: TriggerContext): { status: 'Accepted' | 'Rejected' } {
  const running = evseIds.filter((id) => ctx.chargePoint.session(id));
  if (running.length === 0) return { status: 'Rejected' };
  // After the answer has gone.
  setImmediate(() => {
    for (const id of running) {
      ctx.chargePoint.triggerSessionSample(id)
        .then((sample) => {
          if (!sample) ctx.log.info('triggered TransactionEvent: the transaction ended meanwhile', { evseId: id });
        })
        .catch((err) => ctx.log.warn('triggered TransactionEvent not recorded', { evseId: id, err }));
    }
  });
  return { status: 'Accepted' };
}
