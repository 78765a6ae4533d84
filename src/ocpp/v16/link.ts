import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import { fromV16IdTagInfo, V16StatusChanges, v16StatusOf } from './mapping.js';
import { fromV16ConnectorId, toV16ConnectorId, v16Announced, v16ConditionOf, v16Conditions, v16ConnectorIdOf, type V16Condition } from './topology.js';
import type { AuthorizationInfo, SessionRecord, Timer } from '../../core/ports.js';
import type { ChargePointIdentity, LinkEvents, SettableClock, VersionLink } from '../version.js';
import { OcppSession } from '../session.js';
import type { Log } from '../../lib/log.js';
import type { OcppConnection } from '../connection.js';
import type { KeyDefinition } from './configuration.js';
import { TransactionDelivery } from './delivery.js';
import type { FeatureServices } from './features.js';
import type { IncomingContext } from './context.js';
import { registerIncoming } from './incoming.js';
import type { CentralSystemCalls, ChargePointCalls, CpRequest } from './messages.js';
import type { EventQueue, QueuedEvent, TransactionRefs } from './store-ports.js';
import { OCPP16, transactionIdOf } from './transaction-messages.js';
import { renewBeforeExpiry } from '../certificate-renewal.js';
import type { StationSecurity } from '../certificates.js';
import { requestChargePointCertificate, v16CertificatesAllowed } from './certificates.js';
import { DEFAULT_PRICE_KEYS, defaultPriceShown, timeOffsetNow } from './cost-messages.js';
import { MeterValueTriggers, type MeterValueTrigger, type TriggerCause } from './meter-value-triggers.js';
import { toMeterValue } from './render.js';
import type { EvseId } from '../../core/ports.js';

/** After a renewal request the central system accepted, how long the charger waits for its CertificateSigned before asking again. */
const RENEWAL_ANSWER_WAIT_MS = 86_400_000;

export type { SessionUnsynced } from './delivery.js';

export type { ChargePointIdentity, LinkState, SettableClock } from '../version.js';

export interface CsmsLinkOptions {
  connection: OcppConnection<ChargePointCalls, CentralSystemCalls>;
  chargePoint: ChargePoint;
  /** The session ledger: the transactionIds the central system gives, acknowledgements. */
  ledger: TransactionRefs;
  /** The queue of events to deliver (the store's outbox). */
  outbox: EventQueue;
  settings: IncomingContext['settings'];
  authData: IncomingContext['authData'];
  definitions: KeyDefinition[];
  clock: SettableClock;
  /** This run's start on the local clock (LinkDeps.runStartedAt); absent: the link's creation. */
  runStartedAt?: number;
  identity: ChargePointIdentity;
  log: Log;
  /** Reset: the application restarts the charge point (Soft) or the process (Hard). */
  onReset: (type: 'Soft' | 'Hard') => void;
  /** Timing that tests shorten; defaults suit a real charger. */
  timing?: Partial<{ bootRetryMs: number; authorizeTimeoutMs: number; meterValuesPerMessage: number }>;
  /** Smart Charging, Reservation and Firmware Management services, when the charge point has them. */
  features?: FeatureServices;
}

export type CsmsLinkEvents = LinkEvents;

/**
 * The OCPP 1.6J link between the ChargePoint core and the central system: the session every
 * version shares (../session.ts: boot cycle, clock, heartbeats, pings, state, shutdown) with 1.6's
 * BootNotification, the re-timing of events queued before the clock was set, status
 * notifications (MinimumStatusDuration) and authorisation requests. The session pumps the
 * outbox; delivery.ts renders and delivers each transaction message; incoming calls go through
 * incoming.ts.
 */
export class CsmsLink extends OcppSession<ChargePointCalls> implements VersionLink {
  private statusHolds?: Map<number, Timer>;
  /** California Pricing: the MeterValues RunningCost asked for (cost-messages.ts). */
  private readonly meterValueTriggers: MeterValueTriggers;
  /** California Pricing: TimeOffset's switch at NextTimeOffsetTransitionDateTime. */
  private timeOffsetTimer?: Timer;
  private readonly delivery: TransactionDelivery;
  /** This run's start on the (possibly untrusted) clock: untrusted events since then can be re-timed. */
  private readonly startedAtLocalMs: number;

  constructor(private readonly o: CsmsLinkOptions) {
    super(o);
    this.startedAtLocalMs = o.runStartedAt ?? o.clock.now();
    this.meterValueTriggers = new MeterValueTriggers({ clock: o.clock, send: (evseId, localId, cause) => void this.sendTriggeredMeterValues(evseId, localId, cause) });
    this.delivery = new TransactionDelivery({
      link: this, queue: o.outbox, refs: o.ledger, chargePoint: o.chargePoint, settings: o.settings, clock: o.clock, log: o.log,
      meterValuesPerMessage: o.timing?.meterValuesPerMessage,
    });
    registerIncoming(o.connection, {
      chargePoint: o.chargePoint, settings: o.settings, definitions: o.definitions, authData: o.authData,
      clock: o.clock, log: o.log, link: this, onReset: o.onReset, features: o.features,
    });
    const security = o.features?.security;
    if (security) this.renewCertificateBeforeExpiry(security);
    // California Pricing: idle screens show the default price, its offline text while the central system is away.
    if (o.features?.displayMessages) {
      this.showDefaultPrice();
      this.on('state', () => this.showDefaultPrice());
    }
  }

  override start(): void {
    super.start();
    this.scheduleTimeOffsetTransition();
    const cp = this.o.chargePoint;
    cp.on('reading', this.onReading);
    cp.on('session-stopped', this.onSessionStopped);
  }

  override halt(): void {
    const cp = this.o.chargePoint;
    cp.off('reading', this.onReading);
    cp.off('session-stopped', this.onSessionStopped);
    this.meterValueTriggers.clearAll();
    super.halt();
  }

  private readonly onReading = (e: { evseId: EvseId; reading: { energyWh: number; powerW?: number } }): void => this.meterValueTriggers.reading(e.evseId, e.reading.energyWh, e.reading.powerW);
  private readonly onSessionStopped = (e: { evseId: EvseId }): void => this.meterValueTriggers.clear(e.evseId);

  /** RunningCost's triggerMeterValue for an EVSE's session (none: dropped). */
  setMeterValueTriggers(evseId: EvseId, localId: string, trigger: MeterValueTrigger | undefined): void {
    this.meterValueTriggers.set(evseId, localId, trigger);
  }

  /** What RunningCost's triggerMeterValue asked for now: a fresh sample of the session, sent as MeterValues (not queued: the cost at this moment). */
  private async sendTriggeredMeterValues(evseId: EvseId, localId: string, cause: TriggerCause): Promise<void> {
    try {
      const session = this.o.chargePoint.session(evseId);
      if (session?.localId !== localId) return;
      const sample = await this.o.chargePoint.triggerSample(evseId);
      const transactionId = this.transactionIdOf(localId);
      if (!sample || !this.online()) return;
      await this.send('MeterValues', { connectorId: toV16ConnectorId(evseId), ...(transactionId !== undefined ? { transactionId } : {}), meterValue: [toMeterValue(sample)] });
      this.log.debug('MeterValues sent for the cost', { evseId, cause });
    } catch (err) {
      this.log.debug('MeterValues for the cost not sent', { evseId, cause, err });
    }
  }

  private showDefaultPrice(): void {
    this.o.features?.displayMessages?.setFallback(defaultPriceShown(this.o.settings, this.state === 'accepted'));
  }

  override configurationChanged(key: string): void {
    super.configurationChanged(key);
    if (DEFAULT_PRICE_KEYS.has(key)) this.showDefaultPrice();
    if (key === 'NextTimeOffsetTransitionDateTime' || key === 'TimeOffsetNextTransition') this.scheduleTimeOffsetTransition();
  }

  /** TimeOffset becomes TimeOffsetNextTransition at NextTimeOffsetTransitionDateTime (a later time is reached in steps of at most 6 h). */
  private scheduleTimeOffsetTransition(): void {
    this.timeOffsetTimer?.cancel();
    this.timeOffsetTimer = undefined;
    const at = Date.parse(this.o.settings.get('NextTimeOffsetTransitionDateTime') ?? '');
    if (Number.isNaN(at) || !this.o.settings.get('TimeOffsetNextTransition')) return;
    const now = this.o.clock.now();
    if (at <= now) {
      timeOffsetNow(this.o.settings, now);
      return;
    }
    this.timeOffsetTimer = this.o.clock.setTimeout(() => {
      this.timeOffsetTimer = undefined;
      this.scheduleTimeOffsetTransition();
    }, Math.min(6 * 3_600_000, at - now));
  }

  /**
   * The whitepaper's charge-point-initiated certificate update: a new key and SignCertificate
   * when the charger's certificate expires within 30 days (../certificate-renewal.ts), over TLS
   * only; after an Accepted request, not again for a day (the central system signs meanwhile).
   */
  private renewCertificateBeforeExpiry(security: StationSecurity): void {
    const o = this.o;
    let acceptedAt: number | undefined;
    const ctx = { chargePoint: o.chargePoint, settings: o.settings, log: o.log, link: this, features: { security } };
    renewBeforeExpiry(this, {
      certificates: security.certificates, clock: o.clock, log: o.log,
      mayRenew: () => v16CertificatesAllowed(ctx) && (acceptedAt === undefined || o.clock.now() - acceptedAt >= RENEWAL_ANSWER_WAIT_MS),
      renew: async () => {
        if ((await requestChargePointCertificate(ctx)) === 'Accepted') acceptedAt = o.clock.now();
      },
    });
  }

  /** The head and the entry after it: a MeterValues backlog goes as a batch (delivery.ts). */
  protected override readonly lookahead = 2;

  protected deliver(entry: QueuedEvent, next: QueuedEvent | undefined): Promise<boolean> {
    return this.delivery.deliverHead(entry, next);
  }

  protected watchStatuses(): { evse: (s: V16Condition) => void; station: (s: V16Condition) => void } {
    // 1.6 reports a change of status or errorCode, not every change of the core's condition;
    // the station's condition is connector 0's status.
    const changes = new V16StatusChanges();
    for (const s of v16Announced(this.o.chargePoint)) changes.changed(s);
    const onStatus = (s: V16Condition) => {
      if (!changes.changed(s)) return;
      this.onStatus(s);
      const v16 = v16StatusOf(s);
      const place = fromV16ConnectorId(v16.connectorId);
      if (place !== 'station') this.meterValueTriggers.status(place.evseId, v16.status);
    };
    return { evse: onStatus, station: onStatus };
  }

  protected override cancelTimers(): void {
    this.timeOffsetTimer?.cancel();
    this.timeOffsetTimer = undefined;
    for (const t of this.statusHolds?.values() ?? []) t.cancel();
    this.statusHolds = undefined;
  }

  // ------------------------------------------------------------- calls

  /**
   * Every call, with the notices the neutral services give in the shared spelling put in 1.6's:
   * a firmware status with a requestId is a signed update's (security whitepaper
   * SignedFirmwareStatusNotification), and a log upload cancelled by a new GetLog has no status
   * in 1.6 (the GetLog answer AcceptedCanceled said it): nothing is sent for it.
   */
  override send<A extends keyof ChargePointCalls & string>(action: A, request: ChargePointCalls[A][0], timeoutMs?: number): Promise<ChargePointCalls[A][1]> {
    const notice = request as { status?: string; requestId?: number };
    if (action === 'FirmwareStatusNotification' && notice.requestId !== undefined) {
      return super.send('SignedFirmwareStatusNotification', notice as CpRequest<'SignedFirmwareStatusNotification'>, timeoutMs);
    }
    if (action === 'LogStatusNotification' && notice.status === 'AcceptedCanceled') return Promise.resolve({});
    return super.send(action, request, timeoutMs);
  }

  // ------------------------------------------------------------- transaction ids

  /** The 1.6 transactionId of a session (from StartTransaction.conf), once known. */
  transactionIdOf(localId: string): number | undefined {
    return transactionIdOf(this.o.ledger.transactionRefOf(localId));
  }

  /** The session a 1.6 transactionId names, by its local id. */
  localIdOf(transactionId: number): string | undefined {
    return this.o.ledger.byTransactionRef({ version: OCPP16, id: String(transactionId) })?.localId;
  }

  /** A session's record (running or ended), by its local id. */
  sessionRecord(localId: string): SessionRecord | undefined {
    return this.o.ledger.get(localId);
  }

  /** The central system's total cost of a session (California Pricing FinalCost) replaces the one computed here. */
  recordCentralCost(localId: string, totalCost: number): void {
    this.o.ledger.recordCentralCost?.(localId, totalCost);
  }

  // ------------------------------------------------------------- RemoteAuthorizer

  async authorize(idTag: string): Promise<AuthorizationInfo | undefined> {
    try {
      const res = await this.send('Authorize', { idTag }, this.o.timing?.authorizeTimeoutMs ?? 10_000);
      return fromV16IdTagInfo(res.idTagInfo);
    } catch (err) {
      this.log.warn('Authorize failed: deciding offline', { err });
      return undefined;
    }
  }

  // ------------------------------------------------------------- boot, clock, status

  protected bootRequest(): CpRequest<'BootNotification'> {
    const id = this.o.identity;
    return {
      chargePointVendor: id.vendor, chargePointModel: id.model, firmwareVersion: id.firmwareVersion,
      ...(id.serialNumber ? { chargePointSerialNumber: id.serialNumber } : {}),
      ...(id.meterType ? { meterType: id.meterType } : {}),
    };
  }

  protected override adoptTime(epochMs: number): void {
    const wasTrusted = this.o.clock.trusted();
    const correction = this.o.clock.set(epochMs);
    if (Math.abs(correction) > 2_000) this.log.info('clock set from the central system', { correctionMs: correction });
    if (!wasTrusted && correction !== 0) {
      // Events recorded before the clock was set carry this run's wrong time: correct them.
      const retimed = this.o.outbox.retimeUntrusted(correction, this.startedAtLocalMs);
      if (retimed) this.log.info('queued messages re-timed after the clock was set', { retimed, correctionMs: correction });
    }
  }

  protected announceStatuses(): void {
    for (const s of v16Conditions(this.o.chargePoint)) void this.sendStatus(s);
  }

  private onStatus(s: V16Condition): void {
    if (this.state !== 'accepted') return;
    // MinimumStatusDuration: a status is sent only once it has held that long.
    const holdMs = this.o.settings.int('MinimumStatusDuration') * 1000;
    const connectorId = v16ConnectorIdOf(s);
    this.statusHolds?.get(connectorId)?.cancel();
    if (holdMs <= 0) {
      void this.sendStatus(s);
      return;
    }
    (this.statusHolds ??= new Map()).set(connectorId, this.o.clock.setTimeout(() => {
      this.statusHolds?.delete(connectorId);
      if (this.state === 'accepted') void this.sendStatus(v16ConditionOf(this.o.chargePoint, connectorId));
    }, holdMs));
  }

  async sendStatus(s: V16Condition): Promise<void> {
    try {
      const v16 = v16StatusOf(s);
      await this.send('StatusNotification', {
        connectorId: v16.connectorId, status: v16.status, errorCode: v16.errorCode, timestamp: isoMs(v16.at),
        ...(v16.info ? { info: v16.info.slice(0, 50) } : {}),
      });
    } catch (err) {
      this.log.debug('StatusNotification not delivered', { connectorId: v16ConnectorIdOf(s), err });
    }
  }
}
