import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import type { AuthorizationInfo, EvseCondition, EvseId } from '../../core/ports.js';
import { settleDeliveryFailure, type DeliveryFailureContext } from '../delivery-failure.js';
import type { QueuedEvent, TransactionRef } from '../store-ports.js';
import { v201SecurityEventType } from './security-events.js';
import { closed, opened, sampled, security, UnknownEventFormatError } from '../v16/transaction-messages.js';
import { OcppSession, type BootReason } from '../session.js';
import type { LinkDeps, VersionLink } from '../version.js';
import { registerIncoming, type V201Context } from './incoming.js';
import { endTrigger, fromV201IdTokenInfo, registerValue, toV201MeterValue, toV201Reason, toV201Status } from './mapping.js';
import { v201EvseOfSession } from './topology.js';
import type { ChargingStationCalls, ConnectorStatusEnumType, IdTokenType, TransactionEventRequest } from './messages.js';

/** The protocol version whose transaction ids this binding assigns. */
export const OCPP201 = 'ocpp2.0.1';

type CsAction = keyof ChargingStationCalls;
type Req<A extends CsAction> = ChargingStationCalls[A][0];
type Res<A extends CsAction> = ChargingStationCalls[A][1];

/** A token from the core as 2.0.1's IdToken (the readers present ISO 14443 cards). */
export const idTokenOf = (id: string): IdTokenType => ({ idToken: id, type: 'ISO14443' });

/**
 * 2.0.1 knows a transaction by the station's own id: this binding uses the session's local id
 * (a UUID the ledger draws when the session opens), so it is unique across restarts, ≤ 36
 * characters, and the same on every retry of the Started event.
 */
export const transactionIdFor = (localId: string): string => localId;

/**
 * The OCPP 2.0.1 session and transaction delivery (one CALL outstanding, as every link): boot
 * (PowerUp; Pending answers the central system's calls and boots again after `interval`,
 * Rejected answers nothing), clock, heartbeat, StatusNotification per EVSE/connector (1.6
 * connector n is EVSE n connector 1), Authorize, and the store's event queue rendered as
 * TransactionEvent Started/Updated/Ended (seqNo = the event's number in its session, offline =
 * whether it happened offline), retried per MessageAttempts/MessageAttemptInterval
 * [TransactionEvent] (the 1.6 keys TransactionMessageAttempts/RetryInterval: one setting, two
 * views). The device model answers Get/SetVariables and GetBaseReport (incoming.ts).
 */
export class V201Link extends OcppSession<ChargingStationCalls> implements VersionLink {
  /** The 2.0.1 status last sent per connector (StatusNotification only when it changes). */
  private readonly sentStatus = new Map<string, ConnectorStatusEnumType>();

  /** How a failed delivery is settled (../delivery-failure.ts), built once. */
  private readonly failures: DeliveryFailureContext;

  constructor(private readonly d: LinkDeps, private readonly context: Omit<V201Context, 'link'>) {
    super(d);
    registerIncoming(d.connection, { ...context, link: this });
    this.failures = {
      // E13: MessageAttempts / MessageAttemptInterval [TransactionEvent], the same stored settings as 1.6's.
      queue: d.outbox, ledger: d.ledger, settings: d.settings, clock: d.clock, log: d.log, link: this,
      isUnknownFormat: (e) => e instanceof UnknownEventFormatError,
    };
  }

  /** Only EVSEs' connectors have a StatusNotification: the station's condition is not watched. */
  protected watchStatuses(): { evse: (s: EvseCondition) => void } {
    return { evse: this.onStatus };
  }

  transactionIdOf(localId: string): string | undefined {
    const ref = this.d.ledger.transactionRefOf(localId);
    return ref && ref.version === OCPP201 ? ref.id : undefined;
  }

  async authorize(idTag: string): Promise<AuthorizationInfo | undefined> {
    try {
      const res = await this.send('Authorize', { idToken: idTokenOf(idTag) }, this.d.timing?.authorizeTimeoutMs ?? 10_000);
      return fromV201IdTokenInfo(res.idTokenInfo);
    } catch (err) {
      this.log.warn('Authorize failed: deciding offline', { err });
      return undefined;
    }
  }

  // ------------------------------------------------------------- boot, status

  /** BootNotification (B01; TriggerMessage: reason Triggered), the identity cut to 2.0.1's lengths. */
  protected bootRequest(reason: BootReason): Req<'BootNotification'> {
    const id = this.d.identity;
    return {
      reason,
      chargingStation: {
        model: id.model.slice(0, 20), vendorName: id.vendor.slice(0, 50), firmwareVersion: id.firmwareVersion.slice(0, 50),
        ...(id.serialNumber ? { serialNumber: id.serialNumber.slice(0, 25) } : {}),
      },
    };
  }

  /** Every connector's status after boot and after a reconnect (B01, B04). */
  protected announceStatuses(): void {
    this.sentStatus.clear();
    for (const s of this.d.chargePoint.evseConditions()) void this.sendStatus(s);
  }

  private readonly onStatus = (s: EvseCondition): void => {
    if (this.state === 'accepted') void this.sendStatus(s);
  };

  /** StatusNotification of an EVSE's connector, sent even if unchanged (TriggerMessage). */
  async triggerStatus(evseId: EvseId): Promise<void> {
    const s = this.d.chargePoint.evseCondition(evseId);
    this.sentStatus.delete(`${s.evseId}/${s.connectorId}`);
    await this.sendStatus(s);
  }

  /** StatusNotification of a connector, when its 2.0.1 status changed (EVSEs' connectors only). */
  async sendStatus(s: EvseCondition): Promise<void> {
    const status = toV201Status(s);
    const key = `${s.evseId}/${s.connectorId}`;
    if (this.sentStatus.get(key) === status) return;
    this.sentStatus.set(key, status);
    try {
      await this.send('StatusNotification', { timestamp: isoMs(s.at), connectorStatus: status, evseId: s.evseId, connectorId: s.connectorId });
    } catch (err) {
      this.sentStatus.delete(key);
      this.log.debug('StatusNotification not delivered', { evseId: s.evseId, connectorId: s.connectorId, err });
    }
  }

  // ------------------------------------------------------------- transaction delivery

  /** A queued event as the TransactionEvent it is (or SecurityEventNotification). */
  private render(e: QueuedEvent): { action: 'TransactionEvent'; request: TransactionEventRequest } | { action: 'SecurityEventNotification'; request: Req<'SecurityEventNotification'> } {
    if (e.kind === 'security') {
      const b = security(e);
      return { action: 'SecurityEventNotification', request: { type: v201SecurityEventType(b.type), timestamp: isoMs(b.timestamp), ...(b.techInfo ? { techInfo: b.techInfo.slice(0, 255) } : {}) } };
    }
    const common = { seqNo: e.txSeq ?? 0, ...(e.offline ? { offline: true } : {}) };
    const transactionId = transactionIdFor(e.localId);
    if (e.kind === 'start') {
      // A remote start's id is in the session's opening event: every delivery of it, across restarts, is the same.
      const b = opened(e);
      const remoteStartId = b.remoteStartId;
      return {
        action: 'TransactionEvent',
        request: {
          eventType: 'Started', timestamp: isoMs(b.timestamp), triggerReason: remoteStartId !== undefined ? 'RemoteStart' : 'Authorized', ...common,
          transactionInfo: { transactionId, chargingState: 'Charging', ...(remoteStartId !== undefined ? { remoteStartId } : {}) },
          evse: v201EvseOfSession(b.connectorId), idToken: idTokenOf(b.idTag),
          meterValue: [registerValue(b.meterStartWh, b.timestamp, 'Transaction.Begin')],
          ...(b.reservationId !== undefined ? { reservationId: b.reservationId } : {}),
        },
      };
    }
    if (e.kind === 'meter') {
      const b = sampled(e);
      return {
        action: 'TransactionEvent',
        request: {
          eventType: 'Updated', timestamp: isoMs(b.sample.takenAt), triggerReason: b.sample.context === 'Sample.Clock' ? 'MeterValueClock' : 'MeterValuePeriodic', ...common,
          transactionInfo: { transactionId, chargingState: 'Charging' }, meterValue: [toV201MeterValue(b.sample)],
        },
      };
    }
    const b = closed(e);
    return {
      action: 'TransactionEvent',
      request: {
        eventType: 'Ended', timestamp: isoMs(b.timestamp), triggerReason: endTrigger(b.reason), ...common,
        transactionInfo: { transactionId, chargingState: 'EVConnected', stoppedReason: toV201Reason(b.reason ?? 'Local') },
        meterValue: [...b.transactionData.map(toV201MeterValue), registerValue(b.meterStopWh, b.timestamp, 'Transaction.End')],
      },
    };
  }

  /** Deliver one entry (one at a time: `lookahead` 1). Returns false when delivery must pause (link down). */
  protected async deliver(entry: QueuedEvent): Promise<boolean> {
    const now = () => this.d.clock.now();
    const { outbox, ledger } = this.d;
    try {
      const m = this.render(entry);
      const res = await this.send(m.action, m.request);
      const ref: TransactionRef = { version: OCPP201, id: transactionIdFor(entry.localId) };
      if (entry.kind === 'start') {
        outbox.ack(entry.seq, now(), () => ledger.confirmStart(entry.localId, ref, now()));
        this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId: ref.id });
        const info = (res as Res<'TransactionEvent'>).idTokenInfo;
        const b = opened(entry);
        await this.d.chargePoint.transactionConfirmed(entry.localId, info ? fromV201IdTokenInfo(info) : { status: 'Accepted' }, b.idTag);
        return true;
      }
      if (entry.kind === 'stop') outbox.ack(entry.seq, now(), () => ledger.confirmStop(entry.localId, now()));
      else if (entry.kind === 'meter') outbox.ackDelivered([entry.seq], now());
      else outbox.ack(entry.seq, now());
      this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, ...(entry.kind === 'security' ? {} : { transactionId: ref.id }) });
      return true;
    } catch (err) {
      return settleDeliveryFailure(err, entry, this.failures);
    }
  }
}

export type { ChargePoint };
