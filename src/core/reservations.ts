import { EventEmitter } from 'node:events';
import type { Log } from '../lib/log.js';
import type { Clock, ConnectorCondition, Timer } from './ports.js';

/**
 * Reservations (OCPP 1.6 §3.12, §5.13, §5.2). A reservation holds a connector for one idTag
 * (or any tag with its groupId) until it expires or a transaction starts with it. Tags are
 * kept only as keyed pseudonyms: a presented tag is compared by its pseudonym.
 */
export interface Reservation {
  reservationId: number;
  /** 0: any connector of the charge point. */
  connectorId: number;
  idTagRef: string;
  groupIdRef?: string;
  expiresAt: number;
}

export interface ReservationStore {
  all(): Reservation[];
  put(r: Reservation): void;
  remove(reservationId: number): void;
}

export class MemoryReservationStore implements ReservationStore {
  private readonly items = new Map<number, Reservation>();
  all() { return [...this.items.values()]; }
  put(r: Reservation) { this.items.set(r.reservationId, r); }
  remove(id: number) { this.items.delete(id); }
}

export type ReserveStatus = 'Accepted' | 'Faulted' | 'Occupied' | 'Rejected' | 'Unavailable';

/** What the ChargePoint asks of reservations. */
export interface ReservationPolicy {
  /** The reservation holding a connector now, given the connectors free for anyone. */
  holding(connectorId: number, freeConnectorIds: number[]): Reservation | undefined;
  /**
   * May this tag start on this connector? With the reservation it uses, if any.
   * `groupId` is known after authorisation.
   */
  admission(connectorId: number, freeConnectorIds: number[], idTag: string, groupId?: string): { allowed: boolean; reservationId?: number };
  /** Whether a reservation still holds (neither expired, cancelled nor used). */
  live(reservationId: number): boolean;
  /** A transaction started with the reservation: it ends. */
  consumed(reservationId: number): void;
  onChange(listener: () => void): () => void;
}

/** Longest single timer; a later expiry is reached in steps. */
const MAX_WAIT_MS = 6 * 3_600_000;

export class Reservations implements ReservationPolicy {
  private readonly events = new EventEmitter<{ change: [] }>();
  private timer?: Timer;
  /** Kept in memory (status derivation asks often); written through to the store. */
  private readonly items = new Map<number, Reservation>();

  constructor(private readonly o: {
    store: ReservationStore;
    clock: Pick<Clock, 'now' | 'setTimeout'>;
    pseudonym: (idTag: string) => string;
    connectorIds: number[];
    /** ReserveConnectorZeroSupported. */
    connectorZeroSupported: () => boolean;
    log: Log;
  }) {
    for (const r of o.store.all()) this.items.set(r.reservationId, r);
  }

  private all(): Reservation[] {
    return [...this.items.values()];
  }

  private put(r: Reservation): void {
    this.o.store.put(r);
    this.items.set(r.reservationId, r);
  }

  private remove(id: number): void {
    this.o.store.remove(id);
    this.items.delete(id);
  }

  /** Drop what expired while we were down and watch the rest. */
  start(): void {
    this.expire();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  list(): Reservation[] {
    const now = this.o.clock.now();
    return this.all().filter((r) => r.expiresAt > now);
  }

  live(reservationId: number): boolean {
    return this.list().some((r) => r.reservationId === reservationId);
  }

  /**
   * ReserveNow. `conditionOf` gives a connector's condition now (0: the station's). A reservation
   * with the same id replaces the old one.
   */
  reserve(req: { connectorId: number; expiryDate: number; idTag: string; groupId?: string; reservationId: number }, conditionOf: (connectorId: number) => ConnectorCondition): ReserveStatus {
    const { connectorId } = req;
    if (connectorId === 0 && !this.o.connectorZeroSupported()) return 'Rejected';
    if (connectorId !== 0 && !this.o.connectorIds.includes(connectorId)) return 'Rejected';
    if (req.expiryDate <= this.o.clock.now()) return 'Rejected';
    const existing = this.all().find((r) => r.reservationId === req.reservationId);
    // Judge the connector as it would be without the reservation being replaced.
    if (existing) this.remove(existing.reservationId);
    const answer = this.judge(connectorId, (id) => standing(conditionOf(id)));
    if (answer !== 'Accepted') {
      if (existing) this.put(existing);
      return answer;
    }
    const r: Reservation = {
      reservationId: req.reservationId, connectorId, idTagRef: this.o.pseudonym(req.idTag), expiresAt: req.expiryDate,
      ...(req.groupId ? { groupIdRef: this.o.pseudonym(req.groupId) } : {}),
    };
    this.put(r);
    this.o.log.info('reservation made', { reservationId: r.reservationId, connectorId, customerRef: r.idTagRef, expiresAt: new Date(r.expiresAt).toISOString(), replaced: Boolean(existing) });
    this.changed();
    return 'Accepted';
  }

  private judge(connectorId: number, statusOf: (connectorId: number) => Standing): ReserveStatus {
    if (connectorId === 0) {
      const cp = statusOf(0);
      if (cp === 'Faulted') return 'Faulted';
      if (cp === 'Unavailable') return 'Unavailable';
      const available = this.o.connectorIds.filter((id) => statusOf(id) === 'Available').length;
      const zero = this.list().filter((r) => r.connectorId === 0).length;
      return available > zero ? 'Accepted' : 'Occupied';
    }
    if (this.list().some((r) => r.connectorId === connectorId)) return 'Occupied';
    switch (statusOf(connectorId)) {
      case 'Available': return 'Accepted';
      case 'Faulted': return 'Faulted';
      case 'Unavailable': return 'Unavailable';
      default: return 'Occupied';
    }
  }

  /** CancelReservation. */
  cancel(reservationId: number): boolean {
    const r = this.all().find((x) => x.reservationId === reservationId);
    if (!r) return false;
    this.remove(reservationId);
    this.o.log.info('reservation cancelled', { reservationId, connectorId: r.connectorId });
    this.changed();
    return true;
  }

  holding(connectorId: number, free: number[]): Reservation | undefined {
    const live = this.list();
    const own = live.find((r) => r.connectorId === connectorId);
    if (own) return own;
    const zero = live.filter((r) => r.connectorId === 0).sort((a, b) => a.expiresAt - b.expiresAt);
    // Connector 0: keep as many connectors free as there are such reservations.
    if (zero.length > 0 && free.includes(connectorId) && free.length <= zero.length) return zero[0];
    return undefined;
  }

  admission(connectorId: number, free: number[], idTag: string, groupId?: string): { allowed: boolean; reservationId?: number } {
    const ref = this.o.pseudonym(idTag);
    const parentRef = groupId ? this.o.pseudonym(groupId) : undefined;
    const matches = (r: Reservation) => r.idTagRef === ref || (r.groupIdRef !== undefined && r.groupIdRef === parentRef);
    const live = this.list();
    const own = live.find((r) => r.connectorId === connectorId);
    if (own) return matches(own) ? { allowed: true, reservationId: own.reservationId } : { allowed: false };
    const zero = live.find((r) => r.connectorId === 0 && matches(r));
    if (zero) return { allowed: true, reservationId: zero.reservationId };
    return { allowed: this.holding(connectorId, free) === undefined };
  }

  consumed(reservationId: number): void {
    if (!this.all().some((r) => r.reservationId === reservationId)) return;
    this.remove(reservationId);
    this.o.log.info('reservation used by a transaction', { reservationId });
    this.changed();
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private changed(): void {
    this.schedule();
    this.events.emit('change');
  }

  private expire(): void {
    const now = this.o.clock.now();
    const gone = this.all().filter((r) => r.expiresAt <= now);
    for (const r of gone) {
      this.remove(r.reservationId);
      this.o.log.info('reservation expired', { reservationId: r.reservationId, connectorId: r.connectorId });
    }
    this.schedule();
    if (gone.length) this.events.emit('change');
  }

  private schedule(): void {
    this.timer?.cancel();
    const next = Math.min(...this.all().map((r) => r.expiresAt));
    if (!Number.isFinite(next)) return;
    this.timer = this.o.clock.setTimeout(() => this.expire(), Math.min(MAX_WAIT_MS, Math.max(0, next - this.o.clock.now())));
  }
}

/** How a connector stands for a reservation: free, faulted, unavailable, or otherwise occupied. */
type Standing = 'Available' | 'Faulted' | 'Unavailable' | 'Occupied';

/** A fault first; then a session (even on a connector made inoperative); then availability; a reservation or anything at the connector occupies it. */
function standing(c: ConnectorCondition): Standing {
  if (c.faulted) return 'Faulted';
  if (c.chargingState === 'Charging' || c.chargingState === 'SuspendedEV' || c.chargingState === 'SuspendedEVSE') return 'Occupied';
  if (c.availability === 'Inoperative') return 'Unavailable';
  return !c.reserved && c.chargingState === 'Idle' ? 'Available' : 'Occupied';
}
