/**
 * OCPP 2.0.1 Reservation (H01 ReserveNow, H02 CancelReservation, H04 ReservationStatusUpdate)
 * over the core's protocol-neutral reservations (src/core/reservations.ts), as 1.6 binds them
 * (../v16/reservation.ts). The core decides Occupied / Faulted / Unavailable, replaces a
 * reservation with the same id, keeps it across restarts and derives the connector's Reserved
 * status; this binding adds what only 2.0.1 says: ReservationCtrlr.Enabled, NonEvseSpecific (the
 * same setting as 1.6's ReserveConnectorZeroSupported), and the connector type of a reservation
 * of any EVSE.
 */
import type { ChargePoint } from '../../core/charge-point.js';
import { ANY_EVSE, type Reservations, type ReservationTarget } from '../../core/reservations.js';
import type { Log } from '../../lib/log.js';
import { valueOf, type DeviceModel, type VariableStore } from './device-model.js';
import type { CsmsCalls, ReservationStatusUpdateRequest } from './messages.js';
import type { LinkState } from '../version.js';

/** What these handlers use of the binding's context (incoming.ts V201Context, which holds more). */
export interface ReservationContext {
  model: DeviceModel;
  store: VariableStore;
  chargePoint: ChargePoint;
  /** The charger's reservations; absent, every ReserveNow is Rejected. */
  reservations?: Reservations;
  log: Log;
}

type Handler<A extends 'ReserveNow' | 'CancelReservation'> = (req: CsmsCalls[A][0], ctx: ReservationContext) => CsmsCalls[A][1];

/** A station-wide ReservationCtrlr boolean: the stored value, else the model's default (absent: false). */
function reservationFlag(ctx: ReservationContext, variable: 'Enabled' | 'NonEvseSpecific'): boolean {
  const dv = ctx.model.variables.find((v) => v.component === 'ReservationCtrlr' && v.variable === variable && v.evseId === undefined);
  return dv !== undefined && valueOf(ctx.store, dv) === 'true';
}

/** The connector types the device model gives each EVSE's connectors (Connector.ConnectorType). */
function connectorTypes(ctx: ReservationContext, evseId: number): string[] {
  return ctx.model.variables
    .filter((v) => v.component === 'Connector' && v.variable === 'ConnectorType' && v.evseId === evseId)
    .map((dv) => valueOf(ctx.store, dv) ?? 'Unknown');
}

/**
 * Whether an EVSE has a connector of this type. A connector whose type the charger's profile does
 * not give ('Unknown') cannot be ruled out, so it matches any type; 'Unknown' asked matches any.
 */
function offersType(ctx: ReservationContext, evseId: number, connectorType: string): boolean {
  if (connectorType === 'Unknown' || connectorType === 'Undetermined') return true;
  return connectorTypes(ctx, evseId).some((t) => t === connectorType || t === 'Unknown');
}

export const reservationHandlers: { ReserveNow: Handler<'ReserveNow'>; CancelReservation: Handler<'CancelReservation'> } = {
  // H01: for one EVSE (evseId) or any EVSE (NonEvseSpecific); a held id is replaced (H01.FR.02).
  ReserveNow: (req, ctx) => {
    const refuse = (why: string) => {
      ctx.log.info('reservation refused', { reservationId: req.id, evseId: req.evseId, status: 'Rejected', why });
      return { status: 'Rejected' as const };
    };
    const reservations = ctx.reservations;
    if (!reservations) return refuse('reservation is not supported');
    if (!reservationFlag(ctx, 'Enabled')) return refuse('ReservationCtrlr.Enabled is false');
    const expiryDate = Date.parse(req.expiryDateTime);
    if (!Number.isFinite(expiryDate)) return refuse('expiryDateTime unreadable');
    let target: ReservationTarget;
    if (req.evseId === undefined) {
      if (!reservationFlag(ctx, 'NonEvseSpecific')) return refuse('ReservationCtrlr.NonEvseSpecific is false');
      if (req.connectorType !== undefined && !ctx.chargePoint.evseIds.some((id) => offersType(ctx, id, req.connectorType!))) {
        return refuse(`no connector of type ${req.connectorType}`);
      }
      target = ANY_EVSE;
    } else {
      // evseId 0 is the station, no EVSE; an unknown EVSE the core rejects.
      if (req.evseId === 0) return refuse('evseId 0 is no EVSE');
      if (req.connectorType !== undefined && ctx.chargePoint.evseIds.includes(req.evseId) && !offersType(ctx, req.evseId, req.connectorType)) {
        return refuse(`EVSE ${req.evseId} has no connector of type ${req.connectorType}`);
      }
      target = { kind: 'evse', evseId: req.evseId };
    }
    const status = reservations.reserve(
      { target, expiryDate, idTag: req.idToken.idToken, reservationId: req.id, ...(req.groupIdToken ? { groupId: req.groupIdToken.idToken } : {}) },
      { station: () => ctx.chargePoint.stationCondition(), evse: (id) => ctx.chargePoint.evseCondition(id) },
    );
    if (status !== 'Accepted') ctx.log.info('reservation refused', { reservationId: req.id, evseId: req.evseId, status });
    return { status };
  },

  // H02: Accepted when the reservation was held (it ends, and the EVSE is Available again), else Rejected.
  CancelReservation: (req, ctx) => ({ status: ctx.reservations?.cancel(req.reservationId) ? 'Accepted' : 'Rejected' }),
};

/** What the ReservationStatusUpdate reporter uses of the link. */
export interface ReservationReportLink {
  readonly state: string;
  send(action: 'ReservationStatusUpdate', request: ReservationStatusUpdateRequest): Promise<unknown>;
  on(event: 'state', listener: (state: LinkState) => void): unknown;
  off(event: 'state', listener: (state: LinkState) => void): unknown;
}

/**
 * H04: a reservation that ends unused without the central system cancelling it is reported by
 * ReservationStatusUpdate: Expired when its expiry passed (also one that expired while the
 * charger was off, found at start). Held while the link is not Accepted (B02: no other CALL
 * while Pending) and sent once it is, in order. Not a transaction message: one that fails to
 * be delivered is logged, not retried. Returns the unsubscribe.
 */
export function reportReservationEnds(reservations: Pick<Reservations, 'onEnded'>, link: ReservationReportLink, log: Log): () => void {
  const held: ReservationStatusUpdateRequest[] = [];
  let sending = false;
  const flush = async () => {
    if (sending) return;
    sending = true;
    try {
      while (held.length > 0 && link.state === 'accepted') {
        const request = held.shift()!;
        await link.send('ReservationStatusUpdate', request).catch((err) => log.warn('ReservationStatusUpdate not delivered', { ...request, err }));
      }
    } finally {
      sending = false;
    }
  };
  const onState = (state: LinkState) => {
    if (state === 'accepted') void flush();
  };
  const offEnded = reservations.onEnded((e) => {
    // Cancelled by the central system (it knows) or used by a transaction (the Started carries its id): nothing to report.
    // Removed by the station (its EVSE became Faulted or Unavailable, H01 / TC_H_20): Removed.
    if (e.reason !== 'expired' && e.reason !== 'removed') return;
    held.push({ reservationId: e.reservationId, reservationUpdateStatus: e.reason === 'expired' ? 'Expired' : 'Removed' });
    void flush();
  });
  link.on('state', onState);
  return () => {
    offEnded();
    link.off('state', onState);
  };
}
