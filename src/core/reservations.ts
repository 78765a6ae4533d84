import { EventEmitter } from 'node:events';
import type { Log } from '../lib/log.js';
import type { Clock, Condition, EvseCondition, EvseId, StationCondition, Timer } from './ports.js';

/** What a reservation holds: one EVSE, or any EVSE of the station (as many left free as there are such reservations). */
export type ReservationTarget = { kind: 'evse'; evseId: EvseId } | { kind: 'any-evse' };

export const ANY_EVSE: ReservationTarget = { kind: 'any-evse' };

/**
 * Reservations (OCPP 1.6 §3.12, §5.13, §5.2; 2.0.1 H01). A reservation holds an EVSE, or any
 * EVSE of the station, for one idTag (or any tag with its groupId) until it expires or a
 * transaction starts with it. Tags are kept only as keyed pseudonyms: a presented tag is
 * compared by its pseudonym.
 */
export interface Reservation {
  reservationId: number;
  target: ReservationTarget;
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
  private items?: Map<number, Reservation>;
  all() { return this.items ? [...this.items.values()] : []; }
  put(r: Reservation) { (this.items ??= new Map()).set(r.reservationId, r); }
  remove(id: number) { this.items?.delete(id); }
}

/**
 * How a reservation ended: its expiry passed, the central system cancelled it, a transaction
 * used it, or the station removed it (its EVSE became inoperative: Faulted or Unavailable).
 */
export interface ReservationEnd {
  reservationId: number;
  reason: 'expired' | 'cancelled' | 'consumed' | 'removed';
}

export type ReserveStatus = 'Accepted' | 'Faulted' | 'Occupied' | 'Rejected' | 'Unavailable';

/** What the ChargePoint asks of reservations. */
export interface ReservationPolicy {
  /** The reservation holding an EVSE now, given the EVSEs free for anyone. */
  holding(evseId: EvseId, freeEvseIds: EvseId[]): Reservation | undefined;
  /**
   * May this tag start on this EVSE? With the reservation it uses, if any.
   * `groupId` is known after authorisation.
   */
  admission(evseId: EvseId, freeEvseIds: EvseId[], idTag: string, groupId?: string): { allowed: boolean; reservationId?: number };
  /** Whether a reservation still holds (neither expired, cancelled nor used). */
  live(reservationId: number): boolean;
  /** A transaction started with the reservation: it ends. */
  consumed(reservationId: number): void;
  /** The EVSE became inoperative (Faulted or Unavailable): the reservations of that EVSE end. */
  evseInoperative?(evseId: EvseId): void;
  onChange(listener: () => void): () => void;
}

/** Longest single timer; a later expiry is reached in steps. */
const MAX_WAIT_MS = 6 * 3_600_000;

export class Reservations implements ReservationPolicy {
  private readonly events = new EventEmitter<{ change: []; ended: [ReservationEnd] }>();
  private timer?: Timer;
  /** Kept in memory (status derivation asks often); written through to the store. No Map while there are none (most chargers, most of the time). */
  private items?: Map<number, Reservation>;

  constructor(private readonly o: {
    store: ReservationStore;
    clock: Pick<Clock, 'now' | 'setTimeout'>;
    pseudonym: (idTag: string) => string;
    evseIds: EvseId[];
    /** Whether a reservation may hold any EVSE (1.6 ReserveConnectorZeroSupported). */
    anyEvseSupported: () => boolean;
    log: Log;
  }) {
    for (const r of o.store.all()) (this.items ??= new Map()).set(r.reservationId, r);
  }

  private all(): Reservation[] {
    return this.items ? [...this.items.values()] : [];
  }

  private put(r: Reservation): void {
    this.o.store.put(r);
    (this.items ??= new Map()).set(r.reservationId, r);
  }

  private remove(id: number): void {
    this.o.store.remove(id);
    this.items?.delete(id);
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
   * ReserveNow. `conditions` gives the station's and an EVSE's condition now. A reservation with
   * the same id replaces the old one.
   */
  reserve(
    req: { target: ReservationTarget; expiryDate: number; idTag: string; groupId?: string; reservationId: number },
    conditions: { station(): StationCondition; evse(evseId: EvseId): EvseCondition },
  ): ReserveStatus {
    const { target } = req;
    if (target.kind === 'any-evse' && !this.o.anyEvseSupported()) return 'Rejected';
    if (target.kind === 'evse' && !this.o.evseIds.includes(target.evseId)) return 'Rejected';
    if (req.expiryDate <= this.o.clock.now()) return 'Rejected';
    const existing = this.all().find((r) => r.reservationId === req.reservationId);
    // Judge the EVSE as it would be without the reservation being replaced.
    if (existing) this.remove(existing.reservationId);
    const answer = this.judge(target, { station: () => standing(conditions.station()), evse: (id) => standing(conditions.evse(id)) });
    if (answer !== 'Accepted') {
      if (existing) this.put(existing);
      return answer;
    }
    const r: Reservation = {
      reservationId: req.reservationId, target, idTagRef: this.o.pseudonym(req.idTag), expiresAt: req.expiryDate,
      ...(req.groupId ? { groupIdRef: this.o.pseudonym(req.groupId) } : {}),
    };
    this.put(r);
    this.o.log.info('reservation made', { reservationId: r.reservationId, ...targetLog(target), customerRef: r.idTagRef, expiresAt: new Date(r.expiresAt).toISOString(), replaced: Boolean(existing) });
    this.changed();
    return 'Accepted';
  }

  private judge(target: ReservationTarget, standingOf: { station(): Standing; evse(evseId: EvseId): Standing }): ReserveStatus {
    if (target.kind === 'any-evse') {
      const station = standingOf.station();
      if (station === 'Faulted') return 'Faulted';
      if (station === 'Unavailable') return 'Unavailable';
      const available = this.o.evseIds.filter((id) => standingOf.evse(id) === 'Available').length;
      const anyEvse = this.list().filter((r) => r.target.kind === 'any-evse').length;
      return available > anyEvse ? 'Accepted' : 'Occupied';
    }
    if (this.list().some((r) => holds(r, target.evseId))) return 'Occupied';
    switch (standingOf.evse(target.evseId)) {
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
    this.o.log.info('reservation cancelled', { reservationId, ...targetLog(r.target) });
    this.events.emit('ended', { reservationId, reason: 'cancelled' });
    this.changed();
    return true;
  }

  holding(evseId: EvseId, free: EvseId[]): Reservation | undefined {
    const live = this.list();
    const own = live.find((r) => holds(r, evseId));
    if (own) return own;
    const anyEvse = live.filter((r) => r.target.kind === 'any-evse').sort((a, b) => a.expiresAt - b.expiresAt);
    // Any EVSE: keep as many EVSEs free as there are such reservations.
    if (anyEvse.length > 0 && free.includes(evseId) && free.length <= anyEvse.length) return anyEvse[0];
    return undefined;
  }

  admission(evseId: EvseId, free: EvseId[], idTag: string, groupId?: string): { allowed: boolean; reservationId?: number } {
    const ref = this.o.pseudonym(idTag);
    const parentRef = groupId ? this.o.pseudonym(groupId) : undefined;
    const matches = (r: Reservation) => r.idTagRef === ref || (r.groupIdRef !== undefined && r.groupIdRef === parentRef);
    const live = this.list();
    const own = live.find((r) => holds(r, evseId));
    if (own) return matches(own) ? { allowed: true, reservationId: own.reservationId } : { allowed: false };
    const anyEvse = live.find((r) => r.target.kind === 'any-evse' && matches(r));
    if (anyEvse) return { allowed: true, reservationId: anyEvse.reservationId };
    return { allowed: this.holding(evseId, free) === undefined };
  }

  consumed(reservationId: number): void {
    if (!this.all().some((r) => r.reservationId === reservationId)) return;
    this.remove(reservationId);
    this.o.log.info('reservation used by a transaction', { reservationId });
    this.events.emit('ended', { reservationId, reason: 'consumed' });
    this.changed();
  }

  /**
   * Whether an inoperative EVSE loses its reservations: the version binding that requires it sets
   * it (2.0.1 H01). OCPP 1.6 has no such rule: its reservation outlasts a fault (the connector
   * shows Faulted, then Reserved again) until it expires, is cancelled or is used.
   */
  removeWhenInoperative = false;

  /**
   * The EVSE became inoperative (Faulted or Unavailable): the station removes the reservations
   * of that EVSE (2.0.1 H01, OCTT TC_H_20: ReservationStatusUpdate Removed). A reservation of any
   * EVSE stays: another EVSE may serve it.
   */
  evseInoperative(evseId: EvseId): void {
    if (!this.removeWhenInoperative) return;
    const gone = this.all().filter((r) => holds(r, evseId));
    if (gone.length === 0) return;
    for (const r of gone) {
      this.remove(r.reservationId);
      this.o.log.info('reservation removed: its EVSE is inoperative', { reservationId: r.reservationId, evseId });
      this.events.emit('ended', { reservationId: r.reservationId, reason: 'removed' });
    }
    this.changed();
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** A reservation ended (not when one is replaced by another with its id). */
  onEnded(listener: (e: ReservationEnd) => void): () => void {
    this.events.on('ended', listener);
    return () => this.events.off('ended', listener);
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
      this.o.log.info('reservation expired', { reservationId: r.reservationId, ...targetLog(r.target) });
      this.events.emit('ended', { reservationId: r.reservationId, reason: 'expired' });
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

/** Whether a reservation holds this EVSE itself (not any EVSE). */
function holds(r: Reservation, evseId: EvseId): boolean {
  return r.target.kind === 'evse' && r.target.evseId === evseId;
}

/** A reservation's target in a log line. */
function targetLog(t: ReservationTarget): { evseId: EvseId } | { anyEvse: true } {
  return t.kind === 'evse' ? { evseId: t.evseId } : { anyEvse: true };
}

/** How an EVSE (or the station) stands for a reservation: free, faulted, unavailable, or otherwise occupied. */
type Standing = 'Available' | 'Faulted' | 'Unavailable' | 'Occupied';

/** A fault first; then a session (even on an EVSE made inoperative); then availability; a reservation or anything at the EVSE occupies it. */
function standing(c: Condition): Standing {
  if (c.faulted) return 'Faulted';
  if (c.chargingState === 'Charging' || c.chargingState === 'SuspendedEV' || c.chargingState === 'SuspendedEVSE') return 'Occupied';
  if (c.availability === 'Inoperative') return 'Unavailable';
  return !c.reserved && c.chargingState === 'Idle' ? 'Available' : 'Occupied';
}
