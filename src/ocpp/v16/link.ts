import { EventEmitter } from 'node:events';
import { isoMs } from '../../core/clock.js';
import type { ChargePoint, StatusChange } from '../../core/charge-point.js';
import { fromV16IdTagInfo, toV16Reason, V16StatusChanges, v16StatusOf } from './mapping.js';
import type { AuthorizationInfo, Clock, RemoteAuthorizer, Timer } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import { CallFailedError, type OcppConnection } from '../connection.js';
import type { KeyDefinition } from './configuration.js';
import type { FeatureServices } from './features.js';
import { registerIncoming } from './incoming.js';
import type { CentralSystemCalls, ChargePointCalls, CpAction, CpRequest, CpResponse } from './messages.js';
import { toMeterValue } from './render.js';
import type {
  AuthorizationStore, ConfigurationStore, MessageOutbox, MeterPayload, OutboxEntry, SecurityEventPayload, StartPayload, StopPayload, TransactionLedger,
} from './store-ports.js';

export interface SettableClock extends Clock {
  /** Set from the central system's currentTime; returns the correction, ms. */
  set(epochMs: number): number;
}

export interface ChargePointIdentity {
  vendor: string;
  model: string;
  serialNumber?: string;
  firmwareVersion: string;
  meterType?: string;
}

export type LinkState = 'offline' | 'booting' | 'pending' | 'rejected' | 'accepted';

export interface CsmsLinkOptions {
  connection: OcppConnection<ChargePointCalls, CentralSystemCalls>;
  chargePoint: ChargePoint;
  ledger: TransactionLedger;
  outbox: MessageOutbox;
  settings: ConfigurationStore;
  authData: AuthorizationStore;
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

export interface CsmsLinkEvents {
  state: [LinkState];
  /** A transaction message moved to the dead-letter table. */
  'dead-letter': [{ seq: number; kind: string; localId: string; error: string }];
  delivered: [{ seq: number; kind: string; localId: string; transactionId?: number }];
  /**
   * A session's StopTransaction went to the dead-letter table (its StartTransaction never got a
   * transactionId, or the central system refused the Stop): the energy it delivered is not billed.
   */
  'session-unsynced': [SessionUnsynced];
}

export interface SessionUnsynced {
  localId: string;
  connectorId: number;
  meterStartWh: number;
  meterStopWh: number | null;
  energyWh: number | null;
  /** Whether its StartTransaction never got a transactionId (then no valid StopTransaction can exist). */
  noTransactionId: boolean;
  error: string;
}

/**
 * The bridge between the ChargePoint core and OCPP 1.6J: the boot sequence, heartbeats,
 * status notifications, authorisation requests, and ordered delivery of the transaction
 * outbox (one CALL outstanding, retries, dead letters). Incoming calls are in incoming.ts.
 */
export class CsmsLink extends EventEmitter<CsmsLinkEvents> implements RemoteAuthorizer {
  private linkState: LinkState = 'offline';
  private acceptedOnce = false;
  private heartbeatTimer?: Timer;
  private bootTimer?: Timer;
  private pumpTimer?: Timer;
  private pumping = false;
  private pumpRequested = false;
  private lastSentAt = 0;
  private stopped = true;
  private readonly unsubscribers: (() => void)[] = [];
  private readonly log: Log;
  private readonly statusHolds = new Map<number, Timer>();
  private lastAckAt: number | null = null;
  /** Entries up to this seq go one per message (a batch of them was refused). */
  private singleUntilSeq = 0;
  /** Batches that failed in a row by a dropped link or no answer; past two, batching stops. */
  private batchFailures = 0;
  private batchingOff = false;
  /** This run's start on the (possibly untrusted) clock: untrusted events since then can be re-timed. */
  private readonly startedAtLocalMs: number;

  constructor(private readonly o: CsmsLinkOptions) {
    super();
    this.log = o.log;
    this.startedAtLocalMs = o.clock.now();
    this.stateSince = o.clock.now();
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
    const c = this.o.connection;
    const onOpen = () => this.onOpen();
    const onClose = () => this.onClose();
    // 1.6 reports a change of status or errorCode, not every change of the core's condition.
    const changes = new V16StatusChanges();
    for (const s of this.o.chargePoint.announcedStatuses()) changes.changed(s);
    const onStatus = (s: StatusChange) => {
      if (changes.changed(s)) this.onStatus(s);
    };
    const onQueued = () => this.kick();
    c.on('open', onOpen);
    c.on('close', onClose);
    this.o.chargePoint.on('status', onStatus);
    this.o.chargePoint.on('queued', onQueued);
    this.unsubscribers.push(
      () => c.off('open', onOpen), () => c.off('close', onClose),
      () => this.o.chargePoint.off('status', onStatus), () => this.o.chargePoint.off('queued', onQueued),
    );
    c.start();
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
    this.pumpTimer?.cancel();
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
    return this.o.ledger.transactionIdOf(localId) ?? undefined;
  }

  /** The session a 1.6 transactionId names, by its local id. */
  localIdOf(transactionId: number): string | undefined {
    return this.o.ledger.byTransactionId(transactionId)?.localId;
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
    for (const s of this.o.chargePoint.statuses()) void this.sendStatus(s);
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

  private onStatus(s: StatusChange): void {
    if (this.linkState !== 'accepted') return;
    // MinimumStatusDuration: a status is sent only once it has held that long.
    const holdMs = this.o.settings.int('MinimumStatusDuration') * 1000;
    this.statusHolds.get(s.connectorId)?.cancel();
    if (holdMs <= 0) {
      void this.sendStatus(s);
      return;
    }
    this.statusHolds.set(s.connectorId, this.o.clock.setTimeout(() => {
      this.statusHolds.delete(s.connectorId);
      if (this.linkState === 'accepted') void this.sendStatus(this.o.chargePoint.status(s.connectorId));
    }, holdMs));
  }

  async sendStatus(s: StatusChange): Promise<void> {
    try {
      const v16 = v16StatusOf(s);
      await this.send('StatusNotification', {
        connectorId: v16.connectorId, status: v16.status, errorCode: v16.errorCode, timestamp: isoMs(v16.at),
        ...(v16.info ? { info: v16.info.slice(0, 50) } : {}),
      });
    } catch (err) {
      this.log.debug('StatusNotification not delivered', { connectorId: s.connectorId, err });
    }
  }

  /** Any call to the central system; non-transaction calls go straight out (R2). */
  async send<A extends CpAction>(action: A, request: CpRequest<A>, timeoutMs?: number): Promise<CpResponse<A>> {
    this.lastSentAt = this.o.clock.now();
    const res = await this.o.connection.call(action, request, { timeoutMs });
    this.lastAckAt = this.o.clock.now();
    return res;
  }

  // ------------------------------------------------------------- the outbox

  /** Wake the delivery loop (new messages queued, reconnected, retry due). */
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
          // The entry after the head tells whether a MeterValues backlog can go as a batch.
          const [entry, next] = this.o.outbox.head(2);
          if (!entry) break;
          const waitMs = entry.notBefore - this.o.clock.now();
          if (waitMs > 0) {
            this.pumpTimer = this.o.clock.setTimeout(() => this.kick(), waitMs);
            break;
          }
          const batch = entry.kind === 'meter' && entry.attempts === 0 ? this.meterBatch(entry, next) : [];
          if (!(await (batch.length > 1 ? this.deliverMeterBatch(batch) : this.deliver(entry)))) break;
        }
      } while (this.pumpRequested && this.online() && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * A backlog of MeterValues for one transaction (after an outage) goes as several meterValue
   * entries in one MeterValues request, in order, up to `meterValuesPerMessage`; live operation,
   * with one sample queued at a time, is unchanged.
   */
  private meterBatch(first: OutboxEntry, next: OutboxEntry | undefined): OutboxEntry[] {
    const max = this.o.timing?.meterValuesPerMessage ?? 50;
    if (max <= 1 || this.batchingOff || first.seq <= this.singleUntilSeq) return [];
    // Live operation has one sample queued at a time: a batch only when the next entry is one.
    if (!next || next.kind !== 'meter' || next.localId !== first.localId) return [];
    const now = this.o.clock.now();
    const out: OutboxEntry[] = [];
    for (const e of this.o.outbox.head(max)) {
      if (e.kind !== 'meter' || e.localId !== first.localId || e.attempts > 0 || e.notBefore > now) break;
      out.push(e);
    }
    return out;
  }

  private async deliverMeterBatch(entries: OutboxEntry[]): Promise<boolean> {
    const first = entries[0]!;
    const transactionId = this.o.ledger.transactionIdOf(first.localId);
    if (transactionId === null || transactionId === undefined) return this.deliver(first);
    const payloads = entries.map((e) => JSON.parse(e.payload) as MeterPayload);
    try {
      await this.send('MeterValues', { connectorId: payloads[0]!.connectorId, transactionId, meterValue: payloads.map((p) => toMeterValue(p.sample)) });
    } catch (err) {
      const failure = err instanceof CallFailedError ? err : undefined;
      if (failure?.failure === 'callerror' || failure?.failure === 'invalid-request') {
        // Refused as a batch: send these one by one, where attempts and dead letters apply.
        this.singleUntilSeq = entries.at(-1)!.seq;
        return true;
      }
      if (failure?.failure === 'timeout') {
        if (await this.answersHeartbeat()) {
          // The central system is there but did not answer this batch: one by one from here,
          // where each unanswered sample counts as an attempt.
          this.log.warn('MeterValues batch not answered while Heartbeat is: sending one sample per message', { seq: first.seq, localId: first.localId });
          this.singleUntilSeq = entries.at(-1)!.seq;
          return true;
        }
        this.log.warn('MeterValues not answered: reconnecting', { seq: first.seq, localId: first.localId });
        void this.o.connection.reconnect().catch((e) => this.log.warn('reconnect failed', { err: e }));
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
    this.o.outbox.ackDelivered(entries.map((e) => e.seq), this.o.clock.now());
    for (const e of entries) this.emit('delivered', { seq: e.seq, kind: e.kind, localId: e.localId, transactionId });
    return true;
  }

  /** Deliver one entry. Returns false when delivery must pause (link down). */
  private async deliver(entry: OutboxEntry): Promise<boolean> {
    const now = () => this.o.clock.now();
    try {
      if (entry.kind === 'start') {
        const p = JSON.parse(entry.payload) as StartPayload;
        const res = await this.send('StartTransaction', {
          connectorId: p.connectorId, idTag: p.idTag, meterStart: p.meterStartWh, timestamp: isoMs(p.timestamp),
          ...(p.reservationId !== undefined ? { reservationId: p.reservationId } : {}),
        });
        this.o.outbox.ack(entry.seq, now(), () => this.o.ledger.confirmStart(entry.localId, res.transactionId, now()));
        this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId: res.transactionId });
        await this.o.chargePoint.transactionConfirmed(entry.localId, fromV16IdTagInfo(res.idTagInfo), p.idTag);
        return true;
      }
      if (entry.kind === 'security') {
        const p = JSON.parse(entry.payload) as SecurityEventPayload;
        await this.send('SecurityEventNotification', { type: p.type, timestamp: isoMs(p.timestamp), ...(p.techInfo ? { techInfo: p.techInfo.slice(0, 255) } : {}) });
        this.o.outbox.ack(entry.seq, now());
        this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId });
        return true;
      }
      const transactionId = this.o.ledger.transactionIdOf(entry.localId);
      if (transactionId === null || transactionId === undefined) {
        // Its StartTransaction never got a transactionId (dead-lettered): never send -1.
        this.toDeadLetter(entry, 'the session has no transactionId: its StartTransaction was not delivered', false);
        return true;
      }
      if (entry.kind === 'meter') {
        const p = JSON.parse(entry.payload) as MeterPayload;
        await this.send('MeterValues', { connectorId: p.connectorId, transactionId, meterValue: [toMeterValue(p.sample)] });
        this.o.outbox.ackDelivered([entry.seq], now());
      } else {
        const p = JSON.parse(entry.payload) as StopPayload;
        const res = await this.send('StopTransaction', {
          transactionId, meterStop: p.meterStopWh, timestamp: isoMs(p.timestamp),
          ...(p.idTag ? { idTag: p.idTag } : {}),
          ...(p.reason ? { reason: toV16Reason(p.reason) } : {}),
          ...(p.transactionData.length ? { transactionData: p.transactionData.map(toMeterValue) } : {}),
        });
        this.o.outbox.ack(entry.seq, now(), () => this.o.ledger.confirmStop(entry.localId, now()));
        if (res.idTagInfo && p.idTag) this.o.chargePoint.tagVerdict(p.idTag, fromV16IdTagInfo(res.idTagInfo));
      }
      this.emit('delivered', { seq: entry.seq, kind: entry.kind, localId: entry.localId, transactionId });
      return true;
    } catch (err) {
      const failure = err instanceof CallFailedError ? err : undefined;
      if (failure?.failure === 'disconnected') return false;
      if (failure?.failure === 'timeout' && !(await this.answersHeartbeat())) {
        // No answer, and none to a Heartbeat either: a silent partition, not a refusal (R3). It
        // must not use up the attempts and dead-letter billing data. The link is suspect: drop
        // it; the entry goes again, first, once reconnected.
        this.log.warn('transaction message not answered: reconnecting', { seq: entry.seq, kind: entry.kind, localId: entry.localId });
        void this.o.connection.reconnect().catch((e) => this.log.warn('reconnect failed', { err: e }));
        return false;
      }
      // A timeout while the central system answers a Heartbeat is this message going unprocessed:
      // an attempt, like a CALLERROR. A message it never answers is dead-lettered after
      // TransactionMessageAttempts instead of holding every later one back for ever.
      if (!failure && /^SQLITE_/.test(String((err as { code?: unknown }).code))) {
        // The store could not record the outcome (disk full, I/O error): not the central
        // system's fault, and nothing can be written now. The entry stays queued (it goes
        // again, at least once); delivery pauses and tries again later.
        this.log.error('outbox not writable: delivery paused', { seq: entry.seq, kind: entry.kind, localId: entry.localId, err });
        this.pumpTimer?.cancel();
        this.pumpTimer = this.o.clock.setTimeout(() => this.kick(), Math.max(1, this.o.settings.int('TransactionMessageRetryInterval')) * 1000);
        return false;
      }
      const reason = failure ? `${failure.rpcErrorCode ?? failure.failure}: ${failure.message}` : `local error: ${(err as Error).message}`;
      if (entry.kind === 'security' && failure?.failure === 'callerror') {
        // A central system without the security extension answers NotImplemented: never let
        // that hold billing data back. The event stays in the dead-letter table.
        this.o.outbox.deadLetter(entry.seq, reason, this.o.clock.now());
        this.log.warn('security event refused by the central system', { seq: entry.seq, reason });
        return true;
      }
      const attempts = entry.attempts + 1;
      const maxAttempts = Math.max(1, this.o.settings.int('TransactionMessageAttempts'));
      if (attempts >= maxAttempts) {
        this.toDeadLetter(entry, reason, true);
      } else {
        const waitMs = this.o.settings.int('TransactionMessageRetryInterval') * 1000 * attempts;
        this.log.warn('transaction message failed: will retry', { seq: entry.seq, kind: entry.kind, localId: entry.localId, attempt: attempts, retryInMs: waitMs, reason });
        this.o.outbox.fail(entry.seq, reason, this.o.clock.now() + waitMs);
      }
      return true;
    }
  }

  /**
   * After a transaction message went unanswered: does the central system answer a Heartbeat?
   * Yes means the link is alive and that message was not processed; no means a partition.
   */
  private async answersHeartbeat(): Promise<boolean> {
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

  private toDeadLetter(entry: OutboxEntry, reason: string, countAttempt: boolean): void {
    this.o.outbox.deadLetter(entry.seq, reason, this.o.clock.now(), countAttempt);
    // An alarm: billing data the central system would not take. Kept, never deleted silently.
    this.log.error('ALARM transaction message moved to the dead-letter table', { alarm: 'dead-letter', seq: entry.seq, kind: entry.kind, localId: entry.localId, reason });
    this.emit('dead-letter', { seq: entry.seq, kind: entry.kind, localId: entry.localId, error: reason });
    if (entry.kind === 'stop') this.sessionUnsynced(entry.localId, reason);
  }

  /**
   * OCPP 1.6 has no way to report a session without its transactionId: no valid StopTransaction,
   * and a MeterValues without one is not a transaction's. The session stays in the ledger,
   * unsynced (never deleted by retention), with its energy and meter curve; this alarm, the
   * diagnostics event and `evse-edge sessions` say so. Once the central system's cause is fixed,
   * a technician requeues the dead letters (outbox/retry): Start, MeterValues and Stop go again,
   * in order, with the transactionId the Start then gets.
   */
  private sessionUnsynced(localId: string, reason: string): void {
    const r = this.o.ledger.get(localId);
    if (!r) return;
    const event: SessionUnsynced = {
      localId, connectorId: r.connectorId, meterStartWh: r.meterStartWh, meterStopWh: r.meterStopWh,
      energyWh: r.meterStopWh === null ? null : r.meterStopWh - r.meterStartWh, noTransactionId: r.transactionId === null, error: reason,
    };
    this.log.error('ALARM session not reported to the central system: its energy is not billed', { alarm: 'session-unsynced', ...event });
    this.emit('session-unsynced', event);
  }
}
