import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock } from '../../core/ports.js';
import type { Settings } from './store-ports.js';
import type { Log } from '../../lib/log.js';
import { CallFailedError } from '../connection.js';
import { settleDeliveryFailure, toDeadLetter, type DeliveryEvents, type DeliveryFailureContext } from '../delivery-failure.js';
import type { CpAction, CpRequest, CpResponse } from './messages.js';
import { countSigned, type PublicKeyPolicy } from './render.js';
import { fromV16IdTagInfo } from './mapping.js';
import type { EventQueue, QueuedEvent, TransactionRefs } from './store-ports.js';
import {
  closed, meterValues, OCPP16, opened, publicKeyPolicy, sampled, security, securityEventNotification, startTransaction, stopTransaction,
  transactionIdOf, UnknownEventFormatError,
} from './transaction-messages.js';

export type { SessionUnsynced } from '../version.js';
export type { DeliveryEvents } from '../delivery-failure.js';

/** What delivery needs of the OCPP session (link.ts): the CALLs, the link's health, a pause. */
export interface DeliveryLink {
  send<A extends CpAction>(action: A, request: CpRequest<A>, timeoutMs?: number): Promise<CpResponse<A>>;
  /** Whether the central system answers a Heartbeat now (it sets the clock from the answer). */
  answersHeartbeat(): Promise<boolean>;
  /** Drop the connection and reconnect (a silent partition). */
  reconnect(): Promise<void>;
  /** Deliver nothing for `ms`, then go on (the store could not record an outcome). */
  pauseDelivery(ms: number): void;
  /** The 1.6 transactionId of a session, once known (the dead-lettered session's alarm). */
  transactionIdOf(localId: string): number | undefined;
  emit<K extends keyof DeliveryEvents>(event: K, ...args: DeliveryEvents[K]): boolean;
}

export interface TransactionDeliveryOptions {
  link: DeliveryLink;
  queue: EventQueue;
  refs: TransactionRefs;
  chargePoint: Pick<ChargePoint, 'transactionConfirmed' | 'tagVerdict'>;
  settings: Settings;
  clock: Clock;
  log: Log;
  /** Most samples of one transaction's backlog in one MeterValues (default 50; 1: one per message). */
  meterValuesPerMessage?: number;
}

/**
 * Delivery of the event queue as OCPP 1.6 transaction messages (R1, R3, R5): the queued events
 * rendered to StartTransaction, MeterValues and StopTransaction at delivery with the
 * transactionId the central system gave, a backlog of MeterValues batched, retries after
 * TransactionMessageRetryInterval, dead letters after TransactionMessageAttempts
 * (../delivery-failure.ts), and the alarm for a session left unsynced. The session around it
 * (../session.ts, link.ts) pumps the queue in order, one CALL outstanding, while the link is up.
 */
export class TransactionDelivery {
  /** Entries up to this seq go one per message (a batch of them was refused). */
  private singleUntilSeq = 0;
  /** Batches that failed in a row by a dropped link or no answer; past two, batching stops. */
  private batchFailures = 0;
  private batchingOff = false;
  private readonly log: Log;
  /** How a failed delivery is settled (../delivery-failure.ts), built once. */
  private readonly failures: DeliveryFailureContext;

  constructor(private readonly o: TransactionDeliveryOptions) {
    this.log = o.log;
    this.failures = {
      queue: o.queue, ledger: o.refs, settings: o.settings, clock: o.clock, log: o.log, link: o.link,
      isUnknownFormat: (e) => e instanceof UnknownEventFormatError,
    };
  }

  /**
   * Deliver the queue's head (`next`: the entry after it, which tells whether a MeterValues
   * backlog can go as a batch). Returns false when delivery must pause (link down).
   */
  deliverHead(entry: QueuedEvent, next: QueuedEvent | undefined): Promise<boolean> {
    const batch = entry.kind === 'meter' && entry.attempts === 0 ? this.meterBatch(entry, next) : [];
    return batch.length > 1 ? this.deliverMeterBatch(batch) : this.deliver(entry);
  }

  /**
   * A backlog of MeterValues for one transaction (after an outage) goes as several meterValue
   * entries in one MeterValues request, in order, up to `meterValuesPerMessage`; live operation,
   * with one sample queued at a time, is unchanged.
   */
  private meterBatch(first: QueuedEvent, next: QueuedEvent | undefined): QueuedEvent[] {
    const max = this.o.meterValuesPerMessage ?? 50;
    if (max <= 1 || this.batchingOff || first.seq <= this.singleUntilSeq) return [];
    // Live operation has one sample queued at a time: a batch only when the next entry is one.
    if (!next || next.kind !== 'meter' || next.localId !== first.localId) return [];
    const now = this.o.clock.now();
    const out: QueuedEvent[] = [];
    for (const e of this.o.queue.head(max)) {
      if (e.kind !== 'meter' || e.localId !== first.localId || e.attempts > 0 || e.notBefore > now || e.format !== first.format) break;
      out.push(e);
    }
    return out;
  }

  private async deliverMeterBatch(entries: QueuedEvent[]): Promise<boolean> {
    const first = entries[0]!;
    const transactionId = transactionIdOf(this.o.refs.transactionRefOf(first.localId));
    if (transactionId === undefined) return this.deliver(first);
    let request;
    try {
      request = meterValues(transactionId, entries.map(sampled), this.keyPolicy());
    } catch {
      return this.deliver(first);
    }
    try {
      await this.o.link.send('MeterValues', request);
    } catch (err) {
      const failure = err instanceof CallFailedError ? err : undefined;
      if (failure?.failure === 'callerror' || failure?.failure === 'invalid-request') {
        // Refused as a batch: send these one by one, where attempts and dead letters apply.
        this.singleUntilSeq = entries.at(-1)!.seq;
        return true;
      }
      if (failure?.failure === 'timeout') {
        if (await this.o.link.answersHeartbeat()) {
          // The central system is there but did not answer this batch: one by one from here,
          // where each unanswered sample counts as an attempt.
          this.log.warn('MeterValues batch not answered while Heartbeat is: sending one sample per message', { seq: first.seq, localId: first.localId });
          this.singleUntilSeq = entries.at(-1)!.seq;
          return true;
        }
        this.log.warn('MeterValues not answered: reconnecting', { seq: first.seq, localId: first.localId });
        void this.o.link.reconnect().catch((e) => this.log.warn('reconnect failed', { err: e }));
      }
      // A central system that drops the link on a large message (a frame size limit) would
      // otherwise get the same batch for ever: after two such failures, one sample per message.
      if (++this.batchFailures >= 2) {
        this.batchingOff = true;
        this.log.warn('several MeterValues per message keep failing: sending one per message from now on (csms.meterValuesPerMessage: 1 makes it permanent)', {});
      }
      // Disconnected or unanswered: pause; the same entries go again once reconnected.
      return false;
    }
    this.batchFailures = 0;
    this.o.queue.ackDelivered(entries.map((e) => e.seq), this.o.clock.now());
    const signedValues = countSigned(request.meterValue);
    entries.forEach((e, i) => this.o.link.emit('delivered', { seq: e.seq, kind: e.kind, localId: e.localId, transactionId, ...(signedValues && i === 0 ? { signedValues } : {}) }));
    return true;
  }

  /** When a signed meter value carries the meter's public key (PublicKeyWithSignedMeterValue). */
  private keyPolicy(): PublicKeyPolicy {
    return publicKeyPolicy(this.o.settings.list('PublicKeyWithSignedMeterValue')[0]);
  }

  /** Deliver one entry. Returns false when delivery must pause (link down). */
  private async deliver(entry: QueuedEvent): Promise<boolean> {
    const now = () => this.o.clock.now();
    const { link, queue, refs } = this.o;
    try {
      if (entry.kind === 'start') {
        const b = opened(entry);
        const res = await link.send('StartTransaction', startTransaction(b));
        queue.ack(entry.seq, now(), () => refs.confirmStart(entry.localId, { version: OCPP16, id: String(res.transactionId) }, now()));
        link.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId: res.transactionId });
        await this.o.chargePoint.transactionConfirmed(entry.localId, fromV16IdTagInfo(res.idTagInfo), b.idTag);
        return true;
      }
      if (entry.kind === 'security') {
        const request = securityEventNotification(security(entry));
        await link.send('SecurityEventNotification', request);
        queue.ack(entry.seq, now());
        link.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, securityEvent: request.type });
        return true;
      }
      const transactionId = transactionIdOf(refs.transactionRefOf(entry.localId));
      if (transactionId === undefined) {
        // Its StartTransaction never got a transactionId (dead-lettered): never send -1.
        toDeadLetter(this.failures, entry, 'the session has no transactionId: its StartTransaction was not delivered', false);
        return true;
      }
      let signedValues: number;
      if (entry.kind === 'meter') {
        const request = meterValues(transactionId, [sampled(entry)], this.keyPolicy());
        signedValues = countSigned(request.meterValue);
        await link.send('MeterValues', request);
        queue.ackDelivered([entry.seq], now());
      } else {
        const b = closed(entry);
        const request = stopTransaction(transactionId, b, this.keyPolicy());
        signedValues = countSigned(request.transactionData);
        const res = await link.send('StopTransaction', request);
        queue.ack(entry.seq, now(), () => refs.confirmStop(entry.localId, now()));
        if (res.idTagInfo && b.idTag) this.o.chargePoint.tagVerdict(b.idTag, fromV16IdTagInfo(res.idTagInfo));
      }
      link.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId, ...(signedValues ? { signedValues } : {}) });
      return true;
    } catch (err) {
      return settleDeliveryFailure(err, entry, this.failures);
    }
  }
}
