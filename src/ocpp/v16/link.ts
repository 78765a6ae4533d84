import { EventEmitter } from 'node:events';
import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import { fromV16IdTagInfo, toV16Reason, V16StatusChanges, v16StatusOf } from './mapping.js';
import { v16Announced, v16ConditionOf, v16Conditions, v16ConnectorIdOf, type V16Condition } from './topology.js';
import type { AuthorizationInfo, Timer } from '../../core/ports.js';
import type { ChargePointIdentity, LinkEvents, LinkState, SettableClock, VersionLink } from '../version.js';
import type { Log } from '../../lib/log.js';
import type { OcppConnection } from '../connection.js';
import type { KeyDefinition } from './configuration.js';
import { TransactionDelivery } from './delivery.js';
import type { FeatureServices } from './features.js';
import type { IncomingContext } from './context.js';
import { registerIncoming } from './incoming.js';
import type { CentralSystemCalls, ChargePointCalls, CpAction, CpRequest, CpResponse } from './messages.js';
import type { EventQueue, TransactionRefs } from './store-ports.js';
import { OCPP16, transactionIdOf } from './transaction-messages.js';

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
 * The OCPP 1.6J session between the ChargePoint core and the central system: the boot
 * sequence, the clock, heartbeats, status notifications and authorisation requests. The
 * transaction messages go through delivery.ts (the outbox pump); incoming calls through
 * incoming.ts.
 */
export class CsmsLink extends EventEmitter<CsmsLinkEvents> implements VersionLink {
  private linkState: LinkState = 'offline';
  private acceptedOnce = false;
  private heartbeatTimer?: Timer;
  private bootTimer?: Timer;
  private lastSentAt = 0;
  private stopped = true;
  private readonly unsubscribers: (() => void)[] = [];
  private readonly log: Log;
  private readonly statusHolds = new Map<number, Timer>();
  private lastAckAt: number | null = null;
  private readonly delivery: TransactionDelivery;
  /** This run's start on the (possibly untrusted) clock: untrusted events since then can be re-timed. */
  private readonly startedAtLocalMs: number;

  constructor(private readonly o: CsmsLinkOptions) {
    super();
    this.log = o.log;
    this.startedAtLocalMs = o.clock.now();
    this.stateSince = o.clock.now();
    this.delivery = new TransactionDelivery({
      link: this, queue: o.outbox, refs: o.ledger, chargePoint: o.chargePoint, settings: o.settings, clock: o.clock, log: o.log,
      meterValuesPerMessage: o.timing?.meterValuesPerMessage,
    });
    registerIncoming(o.connection, {
      chargePoint: o.chargePoint, settings: o.settings, definitions: o.definitions, authData: o.authData,
      clock: o.clock, log: o.log, link: this, onReset: o.onReset, features: o.features,
    });
  }

  get state(): LinkState {
    return this.linkState;
  }

  get lastAcknowledgedAt(): number | null {
    return this.lastAckAt;
  }

  start(): void {
    this.stopped = false;
    this.delivery.start();
    const c = this.o.connection;
    const onOpen = () => this.onOpen();
    const onClose = () => this.onClose();
    // 1.6 reports a change of status or errorCode, not every change of the core's condition.
    const changes = new V16StatusChanges();
    for (const s of v16Announced(this.o.chargePoint)) changes.changed(s);
    const onStatus = (s: V16Condition) => {
      if (changes.changed(s)) this.onStatus(s);
    };
    const onQueued = () => this.kick();
    c.on('open', onOpen);
    c.on('close', onClose);
    this.o.chargePoint.on('status', onStatus);
    this.o.chargePoint.on('station-status', onStatus);
    this.o.chargePoint.on('queued', onQueued);
    this.unsubscribers.push(
      () => c.off('open', onOpen), () => c.off('close', onClose),
      () => this.o.chargePoint.off('status', onStatus), () => this.o.chargePoint.off('station-status', onStatus),
      () => this.o.chargePoint.off('queued', onQueued),
    );
    c.start();
    // Started once the version was negotiated (several offered): the connection is already open.
    if (c.open) this.onOpen();
  }

  async stop(): Promise<void> {
    this.halt();
    await this.o.connection.stop();
    this.setState('offline');
  }

  /** Start no CALL from now on and cancel every timer (synchronous); stop() then closes the link. */
  halt(): void {
    this.stopped = true;
    for (const off of this.unsubscribers.splice(0)) off();
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.delivery.halt();
    for (const t of this.statusHolds.values()) t.cancel();
    this.statusHolds.clear();
  }

  /** Drop the connection and reconnect (no new BootNotification: this is not a reboot). */
  async reconnect(): Promise<void> {
    await this.o.connection.reconnect();
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

  // ------------------------------------------------------------- RemoteAuthorizer

  online(): boolean {
    return this.linkState === 'accepted' && this.o.connection.open;
  }

  async authorize(idTag: string): Promise<AuthorizationInfo | undefined> {
    try {
      const res = await this.send('Authorize', { idTag }, this.o.timing?.authorizeTimeoutMs ?? 10_000);
      return fromV16IdTagInfo(res.idTagInfo);
    } catch (err) {
      this.log.warn('Authorize failed: deciding offline', { err });
      return undefined;
    }
  }

  // ------------------------------------------------------------- boot, heartbeat, status

  /** When the link entered its current state (epoch ms). */
  stateSince = 0;

  private setState(s: LinkState): void {
    if (s === this.linkState) return;
    // Rejected: the charge point does not respond to the central system's calls (§4.2), until a
    // BootNotification is answered Pending (which answers them) or Accepted.
    if (s === 'rejected') this.o.connection.silent = true;
    else if (s === 'pending' || s === 'accepted') this.o.connection.silent = false;
    this.linkState = s;
    this.stateSince = this.o.clock.now();
    this.log.info('central system link', { state: s });
    this.emit('state', s);
  }

  private onOpen(): void {
    if (this.acceptedOnce) {
      // A reconnect, not a reboot: no BootNotification; send each connector's current status.
      this.onAccepted();
    } else {
      void this.boot();
    }
  }

  private onClose(): void {
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.setState('offline');
  }

  /** BootNotification until Accepted (R4). Also used by TriggerMessage. */
  async boot(): Promise<void> {
    this.bootTimer?.cancel();
    if (this.stopped || !this.o.connection.open) return;
    if (!this.acceptedOnce) this.setState('booting');
    const id = this.o.identity;
    let res: CpResponse<'BootNotification'>;
    try {
      res = await this.send('BootNotification', {
        chargePointVendor: id.vendor, chargePointModel: id.model, firmwareVersion: id.firmwareVersion,
        ...(id.serialNumber ? { chargePointSerialNumber: id.serialNumber } : {}),
        ...(id.meterType ? { meterType: id.meterType } : {}),
      });
    } catch (err) {
      this.log.warn('BootNotification failed', { err });
      if (this.o.connection.open) this.bootTimer = this.o.clock.setTimeout(() => void this.boot(), this.o.timing?.bootRetryMs ?? 30_000);
      return;
    }
    this.setClock(res.currentTime);
    const retryMs = res.interval > 0 ? res.interval * 1000 : (this.o.timing?.bootRetryMs ?? 30_000);
    if (res.status === 'Accepted') {
      // Written only when it changes (a fleet's ramp would otherwise write it for every charger).
      if (res.interval > 0 && this.o.settings.get('HeartbeatInterval') !== String(res.interval)) this.o.settings.set('HeartbeatInterval', String(res.interval));
      this.acceptedOnce = true;
      this.onAccepted();
    } else {
      // Pending: answer the central system's calls only. Rejected: stay silent, not even answering
      // its calls (setState). Both retry after `interval`.
      this.setState(res.status === 'Pending' ? 'pending' : 'rejected');
      this.bootTimer = this.o.clock.setTimeout(() => void this.boot(), retryMs);
    }
  }

  private onAccepted(): void {
    this.setState('accepted');
    for (const s of v16Conditions(this.o.chargePoint)) void this.sendStatus(s);
    this.scheduleHeartbeat();
    this.kick();
  }

  private setClock(currentTime: string | undefined): void {
    const t = currentTime ? Date.parse(currentTime) : Number.NaN;
    if (!Number.isFinite(t)) return;
    const wasTrusted = this.o.clock.trusted();
    const correction = this.o.clock.set(t);
    if (Math.abs(correction) > 2_000) this.log.info('clock set from the central system', { correctionMs: correction });
    if (!wasTrusted && correction !== 0) {
      // Events recorded before the clock was set carry this run's wrong time: correct them.
      const retimed = this.o.outbox.retimeUntrusted(correction, this.startedAtLocalMs);
      if (retimed) this.log.info('queued messages re-timed after the clock was set', { retimed, correctionMs: correction });
    }
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    const intervalMs = this.o.settings.int('HeartbeatInterval') * 1000;
    if (intervalMs <= 0 || this.linkState !== 'accepted') return;
    const idleFor = this.o.clock.now() - this.lastSentAt;
    this.heartbeatTimer = this.o.clock.setTimeout(async () => {
      if (this.o.clock.now() - this.lastSentAt >= intervalMs - 50) {
        try {
          const res = await this.send('Heartbeat', {});
          this.setClock(res.currentTime);
        } catch (err) {
          this.log.debug('Heartbeat failed', { err });
        }
      }
      this.scheduleHeartbeat();
    }, Math.max(1_000, intervalMs - Math.min(idleFor, intervalMs)));
  }

  /** A configuration value changed (ChangeConfiguration, or a technician): apply it now. */
  configurationChanged(key: string): void {
    if (key === 'HeartbeatInterval') this.scheduleHeartbeat();
    if (key === 'WebSocketPingInterval') this.o.connection.reconfigure({ pingIntervalMs: this.o.settings.int('WebSocketPingInterval') * 1000 });
  }

  private onStatus(s: V16Condition): void {
    if (this.linkState !== 'accepted') return;
    // MinimumStatusDuration: a status is sent only once it has held that long.
    const holdMs = this.o.settings.int('MinimumStatusDuration') * 1000;
    const connectorId = v16ConnectorIdOf(s);
    this.statusHolds.get(connectorId)?.cancel();
    if (holdMs <= 0) {
      void this.sendStatus(s);
      return;
    }
    this.statusHolds.set(connectorId, this.o.clock.setTimeout(() => {
      this.statusHolds.delete(connectorId);
      if (this.linkState === 'accepted') void this.sendStatus(v16ConditionOf(this.o.chargePoint, connectorId));
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

  /** Any call to the central system; non-transaction calls go straight out (R2). */
  async send<A extends CpAction>(action: A, request: CpRequest<A>, timeoutMs?: number): Promise<CpResponse<A>> {
    this.lastSentAt = this.o.clock.now();
    const res = await this.o.connection.call(action, request, { timeoutMs });
    this.lastAckAt = this.o.clock.now();
    return res;
  }

  // ------------------------------------------------------------- transaction delivery

  /** Wake the delivery of queued transaction messages (new messages queued, reconnected, retry due). */
  kick(): void {
    if (this.stopped) return;
    this.delivery.kick();
  }

  /**
   * After a transaction message went unanswered: does the central system answer a Heartbeat?
   * Yes means the link is alive and that message was not processed; no means a partition.
   */
  async answersHeartbeat(): Promise<boolean> {
    if (!this.online()) return false;
    try {
      const res = await this.send('Heartbeat', {});
      this.setClock(res.currentTime);
      return true;
    } catch (err) {
      this.log.debug('Heartbeat after an unanswered transaction message failed', { err });
      return false;
    }
  }
}
