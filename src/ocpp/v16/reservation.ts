/** Reservation handlers (OCPP 1.6 §5.13 ReserveNow, §5.2 CancelReservation). */
import { createRPCError } from '../rpc.js';
import type { IncomingContext } from './context.js';
import type { CsAction, CsRequest, CsResponse } from './messages.js';

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
    const status = reservations(ctx).reserve(
      { connectorId: req.connectorId, expiryDate, idTag: req.idTag, reservationId: req.reservationId, ...(req.parentIdTag ? { groupId: req.parentIdTag } : {}) },
      (id) => ctx.chargePoint.status(id),
    );
    if (status !== 'Accepted') ctx.log.info('reservation refused', { connectorId: req.connectorId, reservationId: req.reservationId, status });
    return { status };
  },

  CancelReservation: (req, ctx) => ({ status: reservations(ctx).cancel(req.reservationId) ? 'Accepted' : 'Rejected' }),
};
