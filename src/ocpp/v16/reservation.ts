/** Reservation handlers (OCPP 1.6 §5.13 ReserveNow, §5.2 CancelReservation). */
import { createRPCError } from '../rpc.js';
import { ANY_EVSE, type ReservationTarget } from '../../core/reservations.js';
import type { IncomingContext } from './context.js';
import type { CsAction, CsRequest, CsResponse } from './messages.js';
import { fromV16ConnectorId } from './topology.js';

type Handler<A extends CsAction> = (req: CsRequest<A>, ctx: IncomingContext) => Promise<CsResponse<A>> | CsResponse<A>;

function reservations(ctx: IncomingContext) {
  const r = ctx.features?.reservations;
  if (!r) throw createRPCError('NotSupported', 'Reservation is not supported');
  return r;
}

export const reservationHandlers: { ReserveNow: Handler<'ReserveNow'>; CancelReservation: Handler<'CancelReservation'> } = {
  ReserveNow: (req, ctx) => {
    const expiryDate = Date.parse(req.expiryDate);
    if (!Number.isFinite(expiryDate)) return { status: 'Rejected' };
    // Connector 0 is any EVSE; connector n, EVSE n (an unknown one the core rejects).
    const place = fromV16ConnectorId(req.connectorId);
    const target: ReservationTarget = place === 'station' ? ANY_EVSE : { kind: 'evse', evseId: place.evseId };
    const status = reservations(ctx).reserve(
      { target, expiryDate, idTag: req.idTag, reservationId: req.reservationId, ...(req.parentIdTag ? { groupId: req.parentIdTag } : {}) },
      { station: () => ctx.chargePoint.stationCondition(), evse: (id) => ctx.chargePoint.evseCondition(id) },
    );
    if (status !== 'Accepted') ctx.log.info('reservation refused', { connectorId: req.connectorId, reservationId: req.reservationId, status });
    return { status };
  },

  CancelReservation: (req, ctx) => ({ status: reservations(ctx).cancel(req.reservationId) ? 'Accepted' : 'Rejected' }),
};
