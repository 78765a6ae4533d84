import { EventEmitter } from 'node:events';
import { isoMs } from '../../core/clock.js';
import type { ChargePoint, StatusChange } from '../../core/charge-point.js';
import type { AuthorizationInfo, Timer } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import { CallFailedError, type AnyConnection } from '../connection.js';
import { judgeDeliveryFailure } from '../delivery-failure.js';
import type { QueuedEvent, TransactionRef } from '../store-ports.js';
import { closed, opened, sampled, security, UnknownEventFormatError } from '../v16/transaction-messages.js';
import type { LinkDeps, LinkEvents, LinkState, VersionLink } from '../version.js';
import { registerIncoming, type V201Context } from './incoming.js';
import { endTrigger, fromV201IdTokenInfo, registerValue, toV201MeterValue, toV201Reason, toV201Status } from './mapping.js';
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
export class V201Link extends EventEmitter<LinkEvents> implements VersionLink {
  private linkState: LinkState = 'offline';
  private acceptedOnce = false;
  private stopped = true;
  private heartbeatTimer?: Timer;
  private bootTimer?: Timer;
  private pumpTimer?: Timer;
  private pumping = false;
  private pumpRequested = false;
  private lastSentAt = 0;
  private lastAckAt: number | null = null;
  private readonly unsubscribers: (() => void)[] = [];
  /** The 2.0.1 status last sent per connector (StatusNotification only when it changes). */
  private readonly sentStatus = new Map<number, ConnectorStatusEnumType>();
  private readonly log: Log;
  private readonly connection: AnyConnection;
  stateSince: number;

  constructor(private readonly d: LinkDeps, private readonly context: Omit<V201Context, 'link'>) {
    super();
    this.log = d.log;
    this.connection = d.connection;
    this.stateSince = d.clock.now();
    registerIncoming(d.connection, { ...context, link: this });
  }

  get state(): LinkState {
    return this.linkState;
  }

  get lastAcknowledgedAt(): number | null {
    return this.lastAckAt;
  }

  start(): void {
    this.stopped = false;
    const c = this.connection;
    const cp = this.d.chargePoint;
    const onOpen = () => this.onOpen();
    const onClose = () => this.onClose();
    const onStatus = (s: StatusChange) => this.onStatus(s);
    const onQueued = () => this.kick();
    c.on('open', onOpen);
    c.on('close', onClose);
    cp.on('status', onStatus);
    cp.on('queued', onQueued);
    this.unsubscribers.push(() => c.off('open', onOpen), () => c.off('close', onClose), () => cp.off('status', onStatus), () => cp.off('queued', onQueued));
    c.start();
    // Started once the version was negotiated: the connection is already open.
    if (c.open) this.onOpen();
  }

  halt(): void {
    this.stopped = true;
    for (const off of this.unsubscribers.splice(0)) off();
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.pumpTimer?.cancel();
  }

  async stop(): Promise<void> {
    this.halt();
    await this.connection.stop();
    this.setState('offline');
  }

  async reconnect(): Promise<void> {
    await this.connection.reconnect();
  }

  online(): boolean {
    return this.linkState === 'accepted' && this.connection.open;
  }

  transactionIdOf(localId: string): string | undefined {
    const ref = this.d.ledger.transactionRefOf(localId);
    return ref && ref.version === OCPP201 ? ref.id : undefined;
  }

  configurationChanged(key: string): void {
    if (key === 'HeartbeatInterval') this.scheduleHeartbeat();
    if (key === 'WebSocketPingInterval') this.connection.reconfigure({ pingIntervalMs: this.d.settings.int('WebSocketPingInterval') * 1000 });
  }

  async send(action: string, request: unknown, timeoutMs?: number): Promise<unknown> {
    this.lastSentAt = this.d.clock.now();
    const res = await this.connection.call(action, request, { timeoutMs });
    this.lastAckAt = this.d.clock.now();
    return res;
  }

  private call<A extends CsAction>(action: A, request: Req<A>, timeoutMs?: number): Promise<Res<A>> {
    return this.send(action, request, timeoutMs) as Promise<Res<A>>;
  }

  async authorize(idTag: string): Promise<AuthorizationInfo | undefined> {
    try {
      const res = await this.call('Authorize', { idToken: idTokenOf(idTag) }, this.d.timing?.authorizeTimeoutMs ?? 10_000);
      return fromV201IdTokenInfo(res.idTokenInfo);
    } catch (err) {
      this.log.warn('Authorize failed: deciding offline', { err });
      return undefined;
    }
  }

  // ------------------------------------------------------------- boot, heartbeat, status

  private setState(s: LinkState): void {
    if (s === this.linkState) return;
    // Rejected (B03): answer nothing but send BootNotification again; Pending (B02) answers.
    if (s === 'rejected') this.connection.silent = true;
    else if (s === 'pending' || s === 'accepted') this.connection.silent = false;
    this.linkState = s;
    this.stateSince = this.d.clock.now();
    this.log.info('central system link', { state: s });
    this.emit('state', s);
  }

  private onOpen(): void {
    // A reconnect is not a reboot (OCPP-J 2.0.1 §5.3): no BootNotification.
    if (this.acceptedOnce) this.onAccepted();
    else void this.boot();
  }

  private onClose(): void {
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.setState('offline');
  }

  async boot(reason: 'PowerUp' | 'Triggered' = 'PowerUp'): Promise<void> {
    this.bootTimer?.cancel();
    if (this.stopped || !this.connection.open) return;
    if (!this.acceptedOnce) this.setState('booting');
    const id = this.d.identity;
    const retryMs = this.d.timing?.bootRetryMs ?? 30_000;
    let res: Res<'BootNotification'>;
    try {
      res = await this.call('BootNotification', {
        reason,
        chargingStation: {
          model: id.model.slice(0, 20), vendorName: id.vendor.slice(0, 50), firmwareVersion: id.firmwareVersion.slice(0, 50),
          ...(id.serialNumber ? { serialNumber: id.serialNumber.slice(0, 25) } : {}),
        },
      });
    } catch (err) {
      this.log.warn('BootNotification failed', { err });
      if (this.connection.open) this.bootTimer = this.d.clock.setTimeout(() => void this.boot(), retryMs);
      return;
    }
    this.setClock(res.currentTime);
    if (res.status === 'Accepted') {
      if (res.interval > 0 && this.d.settings.get('HeartbeatInterval') !== String(res.interval)) this.d.settings.set('HeartbeatInterval', String(res.interval));
      this.acceptedOnce = true;
      this.onAccepted();
    } else {
      this.setState(res.status === 'Pending' ? 'pending' : 'rejected');
      this.bootTimer = this.d.clock.setTimeout(() => void this.boot(), res.interval > 0 ? res.interval * 1000 : retryMs);
    }
  }

  private onAccepted(): void {
    this.setState('accepted');
    // Every connector's status after boot and after a reconnect (B01, B04).
    this.sentStatus.clear();
    for (const s of this.d.chargePoint.statuses()) void this.sendStatus(s);
    this.scheduleHeartbeat();
    this.kick();
  }

  private setClock(currentTime: string | undefined): void {
    const t = currentTime ? Date.parse(currentTime) : Number.NaN;
    if (Number.isFinite(t)) this.d.clock.set(t);
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    const intervalMs = this.d.settings.int('HeartbeatInterval') * 1000;
    if (intervalMs <= 0 || this.linkState !== 'accepted') return;
    const idleFor = this.d.clock.now() - this.lastSentAt;
    this.heartbeatTimer = this.d.clock.setTimeout(async () => {
      if (this.d.clock.now() - this.lastSentAt >= intervalMs - 50) {
        try {
          this.setClock((await this.call('Heartbeat', {})).currentTime);
        } catch (err) {
          this.log.debug('Heartbeat failed', { err });
        }
      }
      this.scheduleHeartbeat();
    }, Math.max(1_000, intervalMs - Math.min(idleFor, intervalMs)));
  }

  private onStatus(s: StatusChange): void {
    if (this.linkState === 'accepted') void this.sendStatus(s);
  }

  async triggerStatus(connectorId: number): Promise<void> {
    this.sentStatus.delete(connectorId);
    await this.sendStatus(this.d.chargePoint.status(connectorId));
  }

  /** StatusNotification of a connector (not of the station: 2.0.1 reports EVSE connectors only), when its 2.0.1 status changed. */
  async sendStatus(s: StatusChange): Promise<void> {
    if (s.connectorId === 0) return;
    const status = toV201Status(s);
    if (this.sentStatus.get(s.connectorId) === status) return;
    this.sentStatus.set(s.connectorId, status);
    try {
      await this.call('StatusNotification', { timestamp: isoMs(s.at), connectorStatus: status, evseId: s.connectorId, connectorId: 1 });
    } catch (err) {
      this.sentStatus.delete(s.connectorId);
      this.log.debug('StatusNotification not delivered', { connectorId: s.connectorId, err });
    }
  }

  // ------------------------------------------------------------- transaction delivery

  kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpRequested = true;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    this.pumpTimer?.cancel();
    try {
      do {
        this.pumpRequested = false;
        while (this.online() && !this.stopped) {
          const [entry] = this.d.outbox.head(1);
          if (!entry) break;
          const waitMs = entry.notBefore - this.d.clock.now();
          if (waitMs > 0) {
            this.pumpTimer = this.d.clock.setTimeout(() => this.kick(), waitMs);
            break;
          }
          if (!(await this.deliver(entry))) break;
        }
      } while (this.pumpRequested && this.online() && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  /** A queued event as the TransactionEvent it is (or SecurityEventNotification). */
  private render(e: QueuedEvent): { action: 'TransactionEvent'; request: TransactionEventRequest } | { action: 'SecurityEventNotification'; request: Req<'SecurityEventNotification'> } {
    if (e.kind === 'security') {
      const b = security(e);
      return { action: 'SecurityEventNotification', request: { type: b.type, timestamp: isoMs(b.timestamp), ...(b.techInfo ? { techInfo: b.techInfo.slice(0, 255) } : {}) } };
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
          evse: { id: b.connectorId, connectorId: 1 }, idToken: idTokenOf(b.idTag),
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

  /** Deliver one entry. Returns false when delivery must pause (link down). */
  private async deliver(entry: QueuedEvent): Promise<boolean> {
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
      const verdict = await judgeDeliveryFailure(err, entry, {
        answersHeartbeat: () => this.answersHeartbeat(), isUnknownFormat: (e) => e instanceof UnknownEventFormatError,
        // E13: MessageAttempts / MessageAttemptInterval [TransactionEvent], the same stored settings as 1.6's.
        maxAttempts: this.d.settings.int('TransactionMessageAttempts'), retryIntervalS: this.d.settings.int('TransactionMessageRetryInterval'),
      });
      switch (verdict.kind) {
        case 'set-aside':
          this.toDeadLetter(entry, verdict.reason, false);
          return true;
        case 'paused':
          return false;
        case 'partition':
          // A partition, not a refusal; reconnect, and the event goes again first.
          this.log.warn('transaction message not answered: reconnecting', { seq: entry.seq, kind: entry.kind, localId: entry.localId });
          void this.reconnect().catch((e) => this.log.warn('reconnect failed', { err: e }));
          return false;
        case 'store':
          // The store could not record the outcome: the event stays queued; delivery pauses.
          this.log.error('outbox not writable: delivery paused', { seq: entry.seq, kind: entry.kind, localId: entry.localId, err });
          this.pumpTimer?.cancel();
          this.pumpTimer = this.d.clock.setTimeout(() => this.kick(), Math.max(1, this.d.settings.int('TransactionMessageRetryInterval')) * 1000);
          return false;
        case 'refused-security':
          outbox.deadLetter(entry.seq, verdict.reason, now());
          return true;
        case 'attempt':
          if (verdict.deadLetter) this.toDeadLetter(entry, verdict.reason, true);
          else {
            this.log.warn('transaction message failed: will retry', { seq: entry.seq, kind: entry.kind, localId: entry.localId, attempt: verdict.attempt, retryInMs: verdict.retryInMs, reason: verdict.reason });
            outbox.fail(entry.seq, verdict.reason, now() + verdict.retryInMs);
          }
          return true;
      }
    }
  }

  private async answersHeartbeat(): Promise<boolean> {
    if (!this.online()) return false;
    try {
      this.setClock((await this.call('Heartbeat', {})).currentTime);
      return true;
    } catch {
      return false;
    }
  }

  private toDeadLetter(entry: QueuedEvent, reason: string, countAttempt: boolean): void {
    this.d.outbox.deadLetter(entry.seq, reason, this.d.clock.now(), countAttempt);
    this.log.error('ALARM transaction message moved to the dead-letter table', { alarm: 'dead-letter', seq: entry.seq, kind: entry.kind, localId: entry.localId, reason });
    this.emit('dead-letter', { seq: entry.seq, kind: entry.kind, localId: entry.localId, error: reason });
    if (entry.kind === 'stop') {
      const r = this.d.ledger.get(entry.localId);
      if (r) {
        this.emit('session-unsynced', {
          localId: entry.localId, connectorId: r.connectorId, meterStartWh: r.meterStartWh, meterStopWh: r.meterStopWh,
          energyWh: r.meterStopWh === null ? null : r.meterStopWh - r.meterStartWh, noTransactionId: this.transactionIdOf(entry.localId) === undefined, error: reason,
        });
      }
    }
  }
}

export type { ChargePoint };
