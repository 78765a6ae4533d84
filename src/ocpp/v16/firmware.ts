/** Firmware Management handlers (OCPP 1.6 §5.9 GetDiagnostics, §5.19 UpdateFirmware). */
import { createRPCError } from '../rpc.js';
import type { IncomingContext } from './context.js';
import type { CsAction, CsRequest, CsResponse } from './messages.js';

type Handler<A extends CsAction> = (req: CsRequest<A>, ctx: IncomingContext) => Promise<CsResponse<A>> | CsResponse<A>;

export const firmwareHandlers: { GetDiagnostics: Handler<'GetDiagnostics'>; UpdateFirmware: Handler<'UpdateFirmware'> } = {
  GetDiagnostics: (req, ctx) => {
    const d = ctx.features?.diagnostics;
    if (!d) throw createRPCError('NotSupported', 'Firmware Management is not supported');
    const fileName = d.request(req);
    return fileName ? { fileName } : {};
  },

  UpdateFirmware: (req, ctx) => {
    const f = ctx.features?.firmware;
    if (!f) throw createRPCError('NotSupported', 'Firmware Management is not supported');
    f.update(req);
    return {};
  },
};
