import type { Reservation, ReservationStore, ReservationTarget } from '../core/reservations.js';
import { statementsFor } from './statement-cache.js';
import type { SqliteDatabase } from './database.js';

interface Row {
  reservation_id: number;
  connector_id: number;
  id_tag_ref: string;
  parent_id_tag_ref: string | null;
  expires_at: number;
}

/**
 * The connector_id column keeps its name and values from 1.6, which every release has written:
 * 0 a reservation of any EVSE, n one of EVSE n.
 */
const ANY_EVSE_ROW = 0;

function targetOf(connectorId: number): ReservationTarget {
  return connectorId === ANY_EVSE_ROW ? { kind: 'any-evse' } : { kind: 'evse', evseId: connectorId };
}

function connectorIdOf(t: ReservationTarget): number {
  return t.kind === 'any-evse' ? ANY_EVSE_ROW : t.evseId;
}

/** Reservations of one charge point (tags as keyed pseudonyms); they survive restarts. */
export class SqliteReservations implements ReservationStore {
  private readonly q;

  constructor(db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = statementsFor(db, SqliteReservations, () => ({
      all: db.prepare(`SELECT * FROM reservations WHERE charge_point_id = ? ORDER BY reservation_id`),
      put: db.prepare(`INSERT INTO reservations (charge_point_id, reservation_id, connector_id, id_tag_ref, parent_id_tag_ref, expires_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (charge_point_id, reservation_id) DO UPDATE SET connector_id = excluded.connector_id,
        id_tag_ref = excluded.id_tag_ref, parent_id_tag_ref = excluded.parent_id_tag_ref, expires_at = excluded.expires_at`),
      remove: db.prepare(`DELETE FROM reservations WHERE charge_point_id = ? AND reservation_id = ?`),
    }));
  }

  all(): Reservation[] {
    return (this.q.all.all(this.chargePointId) as Row[]).map((r) => ({
      reservationId: r.reservation_id, target: targetOf(r.connector_id), idTagRef: r.id_tag_ref, expiresAt: r.expires_at,
      ...(r.parent_id_tag_ref !== null ? { groupIdRef: r.parent_id_tag_ref } : {}),
    }));
  }

  put(r: Reservation): void {
    this.q.put.run(this.chargePointId, r.reservationId, connectorIdOf(r.target), r.idTagRef, r.groupIdRef ?? null, r.expiresAt);
  }

  remove(reservationId: number): void {
    this.q.remove.run(this.chargePointId, reservationId);
  }
}
