import { EventEmitter } from 'node:events';
import type { ChargePoint } from '../core/charge-point.js';
import type { EvseCondition, StationCondition } from '../core/ports.js';
import type { Timer } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import type { AnyConnection } from './connection.js';
import type { ConfigurationStore, EventQueue, QueuedEvent } from './store-ports.js';
import type { ChargePointIdentity, LinkEvents, LinkState, LinkTiming, SettableClock } from './version.js';

/** Why a BootNotification goes: the charger powered up, or the central system asked (TriggerMessage). */
export type BootReason = 'PowerUp' | 'Triggered';

/** What every version's BootNotification answer carries (1.6 and 2.0.1 alike). */
interface BootAnswer {
  status: 'Accepted' | 'Pending' | 'Rejected';
  currentTime: string;
  interval: number;
}

/** What every version's Heartbeat answer carries. */
interface HeartbeatAnswer {
  currentTime: string;
}

/** What the session is built from: a part of every version's link dependencies. */
export interface SessionDeps {
  connection: AnyConnection;
  chargePoint: ChargePoint;
  /** The queue of events to deliver (the store's outbox). */
  outbox: Pick<EventQueue, 'head'>;
  /** HeartbeatInterval (written when a boot is Accepted) and WebSocketPingInterval. */
  settings: Pick<ConfigurationStore, 'get' | 'set' | 'int'>;
  clock: SettableClock;
  identity: ChargePointIdentity;
  log: Log;
  timing?: LinkTiming;
}

/**
 * The OCPP session of every version, over one connection (which connects and reconnects with
 * back-off itself): the BootNotification cycle (Accepted runs; Pending answers the central
 * system's calls and boots again after `interval`; Rejected answers nothing and boots again; a
 * failed boot retries after bootRetryMs), a reconnect that is not a reboot (no BootNotification,
 * the statuses again), the clock from the central system's currentTime, heartbeats when the link
 * was idle for HeartbeatInterval, WebSocket pings per WebSocketPingInterval, the link's state
 * for the application, and the start, pause and halt of the transaction messages' delivery.
 *
 * A version's link extends it with its message encoding: its BootNotification payload
 * (`bootRequest`), its StatusNotifications (`watchStatuses`, `announceStatuses`), the delivery
 * of one queued event as its transaction message (`deliver`; failures are settled the same for
 * every version by ../delivery-failure.ts), its transaction ids and Authorize. Its typed calls
 * are `send` with the version's message map `Calls`. No timer or closure per message: the
 * session's callbacks (open, close, queued, boot retry, heartbeat, delivery wake-up) are bound
 * once per link.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export abstract class OcppSession<Calls extends Record<keyof Calls, [any, any]>> extends EventEmitter<LinkEvents> {
  private linkState: LinkState = 'offline';
  private acceptedOnce = false;
  /** Halted (or not started): start no CALL and no timer. */
  protected stopped = true;
  private heartbeatTimer?: Timer;
  private heartbeatIntervalMs = 0;
  private bootTimer?: Timer;
  private lastSentAt = 0;
  private lastAckAt: number | null = null;
  private pumpTimer?: Timer;
  private pumping = false;
  private pumpRequested = false;
  /** How many queued events delivery reads at a time: the head, and for a version that batches (1.6 MeterValues), the one after it. */
  protected readonly lookahead: 1 | 2 = 1;
  /** The status listeners of the current run (between start and halt). */
  private watched?: { evse: (s: EvseCondition) => void; station?: (s: StationCondition) => void };
  protected readonly log: Log;
  protected readonly connection: AnyConnection;
  /** When the link entered its current state (epoch ms). */
  stateSince: number;

  constructor(private readonly session: SessionDeps) {
    super();
    this.log = session.log;
    this.connection = session.connection;
    this.stateSince = session.clock.now();
  }

  // ------------------------------------------------------------- what a version provides

  /** The version's BootNotification request. */
  protected abstract bootRequest(reason: BootReason): unknown;
  /** The listener of the core's status changes for this run (called at each start). */
  protected abstract watchStatuses(): { evse: (s: EvseCondition) => void; station?: (s: StationCondition) => void };
  /** Every connector's status, after a boot is Accepted and after a reconnect. */
  protected abstract announceStatuses(): void;
  /**
   * Deliver the queue's head (`next`: the entry after it, when `lookahead` is 2). Returns false
   * when delivery must pause (link down, a partition, the store not writable).
   */
  protected abstract deliver(entry: QueuedEvent, next: QueuedEvent | undefined): Promise<boolean>;
  /** Cancel the version's own timers (at halt). */
  protected cancelTimers(): void {}

  // ------------------------------------------------------------- state

  get state(): LinkState {
    return this.linkState;
  }

  get lastAcknowledgedAt(): number | null {
    return this.lastAckAt;
  }

  /** Accepted and connected: calls go out, and the core may decide online. */
  online(): boolean {
    return this.linkState === 'accepted' && this.connection.open;
  }

  private setState(s: LinkState): void {
    if (s === this.linkState) return;
    // Rejected (1.6 §4.2, 2.0.1 B03): the charger does not respond to the central system's calls,
    // until a BootNotification is answered Pending (B02: it answers them) or Accepted.
    if (s === 'rejected') this.connection.silent = true;
    else if (s === 'pending' || s === 'accepted') this.connection.silent = false;
    this.linkState = s;
    this.stateSince = this.session.clock.now();
    this.log.info('central system link', { state: s });
    this.emit('state', s);
  }

  // ------------------------------------------------------------- start, shutdown, reconnect

  /** Listen to the connection and the core, and start the connection. */
  start(): void {
    this.stopped = false;
    const c = this.connection;
    const cp = this.session.chargePoint;
    const statuses = (this.watched = this.watchStatuses());
    c.on('open', this.onOpen);
    c.on('close', this.onClose);
    cp.on('status', statuses.evse);
    cp.on('queued', this.wake);
    // The station's own condition, for a version that reports it (1.6: connector 0).
    if (statuses.station) cp.on('station-status', statuses.station);
    c.start();
    // Started once the version was negotiated (several offered): the connection is already open.
    if (c.open) this.onOpen();
  }

  /** Start no CALL from now on and cancel every timer (synchronous); stop() then closes the link. */
  halt(): void {
    this.stopped = true;
    // Stop listening (one run's listeners; a halted link started again adds them anew).
    const watched = this.watched;
    if (watched) {
      this.watched = undefined;
      const c = this.connection;
      const cp = this.session.chargePoint;
      c.off('open', this.onOpen);
      c.off('close', this.onClose);
      cp.off('status', watched.evse);
      cp.off('queued', this.wake);
      if (watched.station) cp.off('station-status', watched.station);
    }
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.pumpTimer?.cancel();
    this.cancelTimers();
  }

  /** Halt and close the connection. */
  async stop(): Promise<void> {
    this.halt();
    await this.connection.stop();
    this.setState('offline');
  }

  /** Drop the connection and reconnect (no new BootNotification: this is not a reboot). */
  async reconnect(): Promise<void> {
    await this.connection.reconnect();
  }

  private readonly onOpen = (): void => {
    // A reconnect, not a reboot (OCPP-J 2.0.1 §5.3, as 1.6): no BootNotification; the statuses again.
    if (this.acceptedOnce) this.onAccepted();
    else void this.boot();
  };

  private readonly onClose = (): void => {
    this.heartbeatTimer?.cancel();
    this.bootTimer?.cancel();
    this.setState('offline');
  };

  // ------------------------------------------------------------- boot

  private readonly bootAgain = (): void => void this.boot();

  /** BootNotification until Accepted (1.6 R4, 2.0.1 B01-B03). Also sent on TriggerMessage. */
  async boot(reason: BootReason = 'PowerUp'): Promise<void> {
    this.bootTimer?.cancel();
    if (this.stopped || !this.connection.open) return;
    if (!this.acceptedOnce) this.setState('booting');
    const bootRetryMs = this.session.timing?.bootRetryMs ?? 30_000;
    let res: BootAnswer;
    try {
      res = (await this.exchange('BootNotification', this.bootRequest(reason))) as BootAnswer;
    } catch (err) {
      this.log.warn('BootNotification failed', { err });
      if (this.connection.open) this.bootTimer = this.session.clock.setTimeout(this.bootAgain, bootRetryMs);
      return;
    }
    this.setClock(res.currentTime);
    if (res.status === 'Accepted') {
      const { settings } = this.session;
      // Written only when it changes (a fleet's ramp would otherwise write it for every charger).
      if (res.interval > 0 && settings.get('HeartbeatInterval') !== String(res.interval)) settings.set('HeartbeatInterval', String(res.interval));
      this.acceptedOnce = true;
      this.onAccepted();
    } else {
      // Pending: answer the central system's calls only. Rejected: stay silent, not even answering
      // its calls (setState). Both boot again after `interval`.
      this.setState(res.status === 'Pending' ? 'pending' : 'rejected');
      this.bootTimer = this.session.clock.setTimeout(this.bootAgain, res.interval > 0 ? res.interval * 1000 : bootRetryMs);
    }
  }

  private onAccepted(): void {
    this.setState('accepted');
    this.announceStatuses();
    this.scheduleHeartbeat();
    this.kick();
  }

  // ------------------------------------------------------------- clock and heartbeat

  /** The clock from the central system's currentTime (BootNotification and Heartbeat answers). */
  private setClock(currentTime: string | undefined): void {
    const t = currentTime ? Date.parse(currentTime) : Number.NaN;
    if (Number.isFinite(t)) this.adoptTime(t);
  }

  /** Set the clock to the central system's time; a version may also correct what it recorded before. */
  protected adoptTime(epochMs: number): void {
    this.session.clock.set(epochMs);
  }

  /** A Heartbeat once the link was idle for HeartbeatInterval (any CALL proves it alive). */
  private scheduleHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    const intervalMs = this.session.settings.int('HeartbeatInterval') * 1000;
    if (intervalMs <= 0 || this.linkState !== 'accepted') return;
    this.heartbeatIntervalMs = intervalMs;
    const idleFor = this.session.clock.now() - this.lastSentAt;
    this.heartbeatTimer = this.session.clock.setTimeout(this.heartbeatDue, Math.max(1_000, intervalMs - Math.min(idleFor, intervalMs)));
  }

  private readonly heartbeatDue = async (): Promise<void> => {
    if (this.session.clock.now() - this.lastSentAt >= this.heartbeatIntervalMs - 50) {
      try {
        this.setClock(((await this.exchange('Heartbeat', {})) as HeartbeatAnswer).currentTime);
      } catch (err) {
        this.log.debug('Heartbeat failed', { err });
      }
    }
    this.scheduleHeartbeat();
  };

  /**
   * After a transaction message went unanswered: does the central system answer a Heartbeat?
   * Yes means the link is alive and that message was not processed; no means a partition.
   */
  async answersHeartbeat(): Promise<boolean> {
    if (!this.online()) return false;
    try {
      this.setClock(((await this.exchange('Heartbeat', {})) as HeartbeatAnswer).currentTime);
      return true;
    } catch (err) {
      this.log.debug('Heartbeat after an unanswered transaction message failed', { err });
      return false;
    }
  }

  /** A stored setting changed (ChangeConfiguration, SetVariables, a technician): apply it now. */
  configurationChanged(key: string): void {
    if (key === 'HeartbeatInterval') this.scheduleHeartbeat();
    if (key === 'WebSocketPingInterval') this.connection.reconfigure({ pingIntervalMs: this.session.settings.int('WebSocketPingInterval') * 1000 });
  }

  // ------------------------------------------------------------- transaction-message delivery

  /** Wake the delivery of queued events (new events queued, accepted, reconnected, retry due). */
  kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpRequested = true;
      return;
    }
    void this.pump();
  }

  private readonly wake = (): void => this.kick();

  /** Deliver the queue in order, one CALL outstanding, while the link is accepted and up. */
  private async pump(): Promise<void> {
    this.pumping = true;
    this.pumpTimer?.cancel();
    try {
      do {
        this.pumpRequested = false;
        while (this.online() && !this.stopped) {
          const [entry, next] = this.session.outbox.head(this.lookahead);
          if (!entry) break;
          const waitMs = entry.notBefore - this.session.clock.now();
          if (waitMs > 0) {
            this.pumpTimer = this.session.clock.setTimeout(this.wake, waitMs);
            break;
          }
          if (!(await this.deliver(entry, next))) break;
        }
      } while (this.pumpRequested && this.online() && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  /** Deliver nothing for `ms`, then go on (the store could not record an outcome). */
  pauseDelivery(ms: number): void {
    this.pumpTimer?.cancel();
    this.pumpTimer = this.session.clock.setTimeout(this.wake, ms);
  }

  // ------------------------------------------------------------- calls

  /** Any call to the central system, typed by the version's message map; non-transaction calls go straight out. */
  send<A extends keyof Calls & string>(action: A, request: Calls[A][0], timeoutMs?: number): Promise<Calls[A][1]> {
    return this.exchange(action, request, timeoutMs) as Promise<Calls[A][1]>;
  }

  /** One CALL, noting when the link last sent and last had an answer (heartbeats, diagnostics). */
  private async exchange(action: string, request: unknown, timeoutMs?: number): Promise<unknown> {
    this.lastSentAt = this.session.clock.now();
    const res: unknown = await this.connection.call(action, request, { timeoutMs });
    this.lastAckAt = this.session.clock.now();
    return res;
  }
}
