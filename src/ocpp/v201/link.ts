import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import type { AuthorizationInfo, EvseCondition, EvseId, IdTokenType as TokenKind, Sample } from '../../core/ports.js';
import { settleDeliveryFailure, type DeliveryFailureContext } from '../delivery-failure.js';
import type { QueuedEvent, TransactionRef } from '../store-ports.js';
import { v201SecurityEventType } from './security-events.js';
import { closed, opened, sampled, security, UnknownEventFormatError } from '../v16/transaction-messages.js';
import { OcppSession, type BootReason } from '../session.js';
import type { LinkDeps, VersionLink } from '../version.js';
import { intVariable } from './device-model.js';
import { fromV201Content, transactionAnswerShown } from './display-messages.js';
import { registerIncoming, type V201Context } from './incoming.js';
import { endedChargingState, endTrigger, fromV201IdTokenInfo, registerValue, toV201ChargingState, toV201MeterValue, toV201Reason, toV201Status } from './mapping.js';
import { v201EvseOfSession } from './topology.js';
import { TransactionStartPoints } from './transaction-start.js';
import { withSignedValue } from './signed-meter-values.js';
import type { ChargingStationCalls, ConnectorStatusEnumType, IdTokenType, TransactionEventRequest, TriggerReasonEnumType } from './messages.js';

/** A transaction's opening before its session (the store's TransactionOpenedEvent, outbox kind 'meter', format event/1). */
interface OpeningBody {
  connectorId: number;
  opening: { timestamp: number; clockTrusted: boolean; cause: 'EVConnected' | 'Authorized'; idTag?: string; idTokenType?: string; remoteStartId?: number; meterWh?: number };
}

/** An Updated event's triggerReason by its sample's context (a TriggerMessage's sample is the central system's Trigger). */
const TRIGGER_OF_CONTEXT: Partial<Record<Sample['context'], TriggerReasonEnumType>> = { 'Sample.Clock': 'MeterValueClock', Trigger: 'Trigger' };

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

  /** This run's start on the (possibly untrusted) clock: untrusted events since then can be re-timed. */
  private readonly startedAtLocalMs: number;

  constructor(private readonly d: LinkDeps, private readonly context: Omit<V201Context, 'link'>) {
    super(d);
    this.startedAtLocalMs = d.runStartedAt ?? d.clock.now();
    this.startPoints = new TransactionStartPoints({ chargePoint: d.chargePoint, ledger: d.ledger, settings: d.settings, clock: d.clock, log: d.log, queued: () => this.kick() });
    registerIncoming(d.connection, { ...context, link: this, earlyTransactions: this.startPoints });
    this.on('state', this.onLinkState);
    this.failures = {
      // E13: MessageAttempts / MessageAttemptInterval [TransactionEvent], the same stored settings as 1.6's.
      queue: d.outbox, ledger: d.ledger, settings: d.settings, clock: d.clock, log: d.log, link: this,
      isUnknownFormat: (e) => e instanceof UnknownEventFormatError,
    };
  }

  /** The clock from the central system; events queued before it was set are re-timed, as on 1.6. */
  protected override adoptTime(epochMs: number): void {
    const wasTrusted = this.d.clock.trusted();
    const correction = this.d.clock.set(epochMs);
    if (Math.abs(correction) > 2_000) this.log.info('clock set from the central system', { correctionMs: correction });
    if (!wasTrusted && correction !== 0) {
      // Events recorded before the clock was set carry this run's wrong time: correct them.
      const retimed = this.d.outbox.retimeUntrusted(correction, this.startedAtLocalMs);
      if (retimed) this.log.info('queued messages re-timed after the clock was set', { retimed, correctionMs: correction });
    }
  }

  override start(): void {
    this.d.chargePoint.on('idle-sample', this.onIdleSample);
    super.start();
    this.startPoints.start();
  }

  override halt(): void {
    this.startPoints.stop();
    this.d.chargePoint.off('idle-sample', this.onIdleSample);
    super.halt();
  }

  /** TxStartPoint: transactions begun before their session (transaction-start.ts). */
  private readonly startPoints: TransactionStartPoints;

  /** The clock-aligned interval changed (SetVariables AlignedDataCtrlr.Interval, or its 1.6 key): the core's deadlines follow. */
  override configurationChanged(key: string): void {
    super.configurationChanged(key);
    if (key === 'Interval' || key === 'ClockAlignedDataInterval' || key === 'TxEndedInterval') this.d.chargePoint.meteringChanged();
  }

  /**
   * A clock-aligned sample of an EVSE without a transaction (J01): MeterValues with context
   * Sample.Clock, when the link is up (not a transaction message: not queued while offline).
   */
  private readonly onIdleSample = ({ evseId, sample }: { evseId: EvseId; sample: Sample }): void => {
    if (!this.online()) return;
    const meterValue = toV201MeterValue(sample);
    if (meterValue.sampledValue.length === 0) return;
    this.send('MeterValues', { evseId, meterValue: [meterValue] })
      .catch((err) => this.log.debug('clock-aligned MeterValues not delivered', { evseId, err }));
  };

  /** Only EVSEs' connectors have a StatusNotification: the station's condition is not watched. */
  protected watchStatuses(): { evse: (s: EvseCondition) => void } {
    return { evse: this.onStatus };
  }

  transactionIdOf(localId: string): string | undefined {
    const ref = this.d.ledger.transactionRefOf(localId);
    return ref && ref.version === OCPP201 ? ref.id : undefined;
  }

  /** Authorize with the token's own type (a touchscreen's KeyCode, a remote start's Central…); ISO14443 when unknown. */
  async authorize(idTag: string, type?: TokenKind): Promise<AuthorizationInfo | undefined> {
    try {
      const res = await this.send('Authorize', { idToken: type ? { idToken: idTag, type } : idTokenOf(idTag) }, this.d.timing?.authorizeTimeoutMs ?? 10_000);
      // C01: the driver's personal message, on every screen (the EVSE is not known yet).
      const personal = res.idTokenInfo.personalMessage;
      if (personal) this.context.features?.displayMessages?.showPersonal(fromV201Content(personal));
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

  /**
   * Every connector's status after a boot is Accepted (B01) and after a reconnect that followed an
   * outage longer than OfflineThreshold (B04); after a shorter one only the connectors whose
   * status changed meanwhile (or whose last StatusNotification was not delivered).
   */
  protected announceStatuses(): void {
    const since = this.offlineSince;
    this.offlineSince = undefined;
    const thresholdS = intVariable(this.context.model, this.context.store, 'OCPPCommCtrlr', 'OfflineThreshold') ?? 0;
    const shortOutage = since !== undefined && this.d.clock.now() - since <= thresholdS * 1000;
    if (!shortOutage) this.sentStatus.clear();
    this.log.debug('announcing statuses', { outageMs: since === undefined ? undefined : this.d.clock.now() - since, all: !shortOutage });
    for (const s of this.d.chargePoint.evseConditions()) void this.sendStatus(s);
  }

  /** When the connection last went down after a boot was Accepted (cleared once the statuses are announced). */
  private offlineSince?: number;

  private readonly onLinkState = (s: string): void => {
    if (s === 'offline' && this.offlineSince === undefined && this.sentStatus.size > 0) this.offlineSince = this.d.clock.now();
  };

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
      // What completed the start: a remote start, the cable plugged in after an authorisation (E03), or an authorisation (E02).
      const triggerReason = remoteStartId !== undefined ? 'RemoteStart' : b.startedBy === 'EVConnected' ? 'CablePluggedIn' : 'Authorized';
      const idToken = b.idTokenType ? { idToken: b.idTag, type: b.idTokenType as IdTokenType['type'] } : idTokenOf(b.idTag);
      if (b.continues) {
        // The transaction began before the session (TxStartPoint): the session's opening is an
        // Updated. Begun by an authorisation (a card, a remote start) before the cable: the cable
        // completes it (the token, the remoteStartId went in the Started). Begun by the cable: the
        // authorisation completes it, with the token and the remote start's id, sent here once.
        const byAuthorization = b.continues === 'Authorized';
        return {
          action: 'TransactionEvent',
          request: {
            eventType: 'Updated', timestamp: isoMs(b.timestamp), triggerReason: byAuthorization ? 'CablePluggedIn' : triggerReason, ...common,
            transactionInfo: {
              transactionId, ...(b.chargingState ? { chargingState: toV201ChargingState(b.chargingState) } : {}),
              ...(!byAuthorization && remoteStartId !== undefined ? { remoteStartId } : {}),
            },
            ...(byAuthorization ? {} : { idToken }),
            ...(b.reservationId !== undefined ? { reservationId: b.reservationId } : {}),
          },
        };
      }
      return {
        action: 'TransactionEvent',
        request: {
          eventType: 'Started', timestamp: isoMs(b.timestamp), triggerReason, ...common,
          // Rows written before the start's charging state was recorded said Charging.
          transactionInfo: { transactionId, chargingState: b.chargingState ? toV201ChargingState(b.chargingState) : 'Charging', ...(remoteStartId !== undefined ? { remoteStartId } : {}) },
          evse: v201EvseOfSession(b.connectorId), idToken,
          meterValue: [withSignedValue(registerValue(b.meterStartWh, b.timestamp, 'Transaction.Begin'), b.signedBegin, b.meterStartWh, this.d.settings, true)],
          ...(b.reservationId !== undefined ? { reservationId: b.reservationId } : {}),
        },
      };
    }
    if (e.kind === 'meter') {
      const o = (sampled(e) as Partial<OpeningBody>).opening;
      if (o) {
        // A transaction begun before its session (TxStartPoint): the cable plugged in (no token
        // yet), or an authorisation with no vehicle yet (chargingState Idle).
        const b = sampled(e) as unknown as OpeningBody;
        return {
          action: 'TransactionEvent',
          request: {
            eventType: 'Started', timestamp: isoMs(o.timestamp), triggerReason: o.cause === 'EVConnected' ? 'CablePluggedIn' : o.remoteStartId !== undefined ? 'RemoteStart' : 'Authorized', ...common,
            transactionInfo: { transactionId, chargingState: o.cause === 'EVConnected' ? 'EVConnected' : 'Idle', ...(o.remoteStartId !== undefined ? { remoteStartId: o.remoteStartId } : {}) },
            evse: v201EvseOfSession(b.connectorId),
            ...(o.idTag !== undefined ? { idToken: o.idTokenType ? { idToken: o.idTag, type: o.idTokenType as IdTokenType['type'] } : idTokenOf(o.idTag) } : {}),
            ...(o.meterWh !== undefined ? { meterValue: [registerValue(o.meterWh, o.timestamp, 'Transaction.Begin')] } : {}),
          },
        };
      }
      const b = sampled(e);
      // chargingState only when it changed (the core records a sample for each change).
      const change = b.sample.chargingStateChange;
      const value = withSignedValue(toV201MeterValue(b.sample), b.sample.reading.signed, b.sample.reading.energyWh, this.d.settings, b.sample.context === 'Transaction.Begin');
      return {
        action: 'TransactionEvent',
        request: {
          eventType: 'Updated', timestamp: isoMs(b.sample.takenAt), ...common,
          triggerReason: change ? 'ChargingStateChanged' : b.sample.chargingRateChange ? 'ChargingRateChanged' : TRIGGER_OF_CONTEXT[b.sample.context] ?? 'MeterValuePeriodic',
          transactionInfo: { transactionId, ...(change ? { chargingState: toV201ChargingState(change) } : {}) },
          ...(value.sampledValue.length ? { meterValue: [value] } : {}),
        },
      };
    }
    const b = closed(e);
    // stoppedReason only when not Local (2.0.1 E06: Local is the default; a stop without a reason is a local one).
    const reason = toV201Reason(b.reason ?? 'Local');
    return {
      action: 'TransactionEvent',
      request: {
        eventType: 'Ended', timestamp: isoMs(b.timestamp), triggerReason: endTrigger(b.reason), ...common,
        transactionInfo: { transactionId, chargingState: b.chargingState ? toV201ChargingState(b.chargingState) : endedChargingState(b.reason), ...(reason !== 'Local' ? { stoppedReason: reason } : {}) },
        // A transaction that ended before its session with no meter reading known has meterStopWh -1 (transaction-start.ts): no register to report.
        ...(b.meterStopWh >= 0 || b.transactionData.length ? { meterValue: [...b.transactionData.map((t) => withSignedValue(toV201MeterValue(t), t.reading.signed, t.reading.energyWh, this.d.settings, false)), ...(b.meterStopWh >= 0 ? [registerValue(b.meterStopWh, b.timestamp, 'Transaction.End')] : [])] } : {}),
      },
    };
  }

  /** A TransactionEvent's personal message and cost, for the screen and the session's record (display-messages.ts). */
  private answerShown(entry: QueuedEvent, res: Res<'TransactionEvent'>): void {
    if (!res.updatedPersonalMessage && !res.idTokenInfo?.personalMessage && res.totalCost === undefined) return;
    const evseId = this.d.ledger.get(entry.localId)?.evseId;
    if (evseId === undefined) return;
    const { ledger } = this.d;
    // The event was delivered: nothing here may make it look undelivered (and be sent again).
    try {
      transactionAnswerShown(res, { localId: entry.localId, evseId, ended: entry.kind === 'stop' }, {
        ...(this.context.features?.displayMessages ? { displayMessages: this.context.features.displayMessages } : {}),
        ...(ledger.recordCentralCost ? { recordCentralCost: (localId: string, totalCost: number) => ledger.recordCentralCost!(localId, totalCost) } : {}),
      });
    } catch (err) {
      this.log.error('the answer\'s cost or message could not be kept', { err });
    }
  }

  /** Deliver one entry (one at a time: `lookahead` 1). Returns false when delivery must pause (link down). */
  protected async deliver(entry: QueuedEvent): Promise<boolean> {
    const now = () => this.d.clock.now();
    const { outbox, ledger } = this.d;
    try {
      const m = this.render(entry);
      const res = await this.send(m.action, m.request);
      const ref: TransactionRef = { version: OCPP201, id: transactionIdFor(entry.localId) };
      if (m.action === 'TransactionEvent') this.answerShown(entry, res as Res<'TransactionEvent'>);
      if (entry.kind === 'start') {
        outbox.ack(entry.seq, now(), () => ledger.confirmStart(entry.localId, ref, now()));
        this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId: ref.id, ...signedCount(m.request) });
        const info = (res as Res<'TransactionEvent'>).idTokenInfo;
        const b = opened(entry);
        // A Central token (the central system's own) is never cached (C10): its verdict still decides the transaction.
        await this.d.chargePoint.transactionConfirmed(entry.localId, info ? fromV201IdTokenInfo(info) : { status: 'Accepted' }, b.idTokenType === 'Central' ? null : b.idTag);
        return true;
      }
      if (entry.kind === 'stop') outbox.ack(entry.seq, now(), () => ledger.confirmStop(entry.localId, now()));
      else if (entry.kind === 'meter') outbox.ackDelivered([entry.seq], now());
      else outbox.ack(entry.seq, now());
      this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, ...(m.action === 'SecurityEventNotification' ? { securityEvent: m.request.type } : { transactionId: ref.id, ...signedCount(m.request) }) });
      return true;
    } catch (err) {
      return settleDeliveryFailure(err, entry, this.failures);
    }
  }
}

/** The signed records (signedMeterValue) a TransactionEvent carried, for the 'delivered' event. */
function signedCount(request: object): { signedValues?: number } {
  const meterValue = (request as Partial<TransactionEventRequest>).meterValue ?? [];
  let n = 0;
  for (const mv of meterValue) for (const v of mv.sampledValue) if (v.signedMeterValue) n++;
  return n ? { signedValues: n } : {};
}

export type { ChargePoint };
