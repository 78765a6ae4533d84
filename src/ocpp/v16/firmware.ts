/**
 * Firmware Management handlers (OCPP 1.6 §5.9 GetDiagnostics, §5.19 UpdateFirmware) and the
 * security whitepaper's SignedUpdateFirmware and GetLog, answered by the same services as 2.0.1's
 * UpdateFirmware and GetLog (../firmware-services.ts): the signing certificate is checked here
 * against the Manufacturer roots installed (InvalidCertificate and the
 * InvalidFirmwareSigningCertificate security event otherwise); the updater downloads, verifies
 * the signature over the image (SignatureVerified, or InvalidSignature and the
 * InvalidFirmwareSignature event), installs, and reports each step with the requestId, which the
 * link sends as SignedFirmwareStatusNotification (link.ts).
 */
import { createRPCError } from '../rpc.js';
import type { IncomingContext } from './context.js';
import type { CsAction, CsRequest, CsResponse } from './messages.js';

type Handler<A extends CsAction> = (req: CsRequest<A>, ctx: IncomingContext) => Promise<CsResponse<A>> | CsResponse<A>;

const time = (iso?: string) => (iso === undefined ? undefined : Date.parse(iso));

export const firmwareHandlers: {
  GetDiagnostics: Handler<'GetDiagnostics'>;
  UpdateFirmware: Handler<'UpdateFirmware'>;
  SignedUpdateFirmware: Handler<'SignedUpdateFirmware'>;
  GetLog: Handler<'GetLog'>;
} = {
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

  SignedUpdateFirmware: (req, ctx) => {
    const f = ctx.features?.firmware;
    if (!f?.updateSigned) return { status: 'Rejected' };
    const { firmware: fw } = req;
    const security = ctx.features?.security;
    const verdict = security?.certificates.verifyIssuedBy('ManufacturerRoot', fw.signingCertificate) ?? { accepted: false as const, reason: 'this charger keeps no certificates' };
    if (!verdict.accepted) {
      ctx.log.warn('firmware signing certificate refused', { requestId: req.requestId, reason: verdict.reason });
      security?.securityEvent('InvalidFirmwareSigningCertificate', verdict.reason);
      return { status: 'InvalidCertificate' };
    }
    const installAt = time(fw.installDateTime);
    const status = f.updateSigned({
      requestId: req.requestId, location: fw.location, retrieveAt: Date.parse(fw.retrieveDateTime),
      ...(installAt !== undefined ? { installAt } : {}),
      ...(req.retries !== undefined ? { retries: req.retries } : {}),
      ...(req.retryInterval !== undefined ? { retryIntervalS: req.retryInterval } : {}),
      signature: fw.signature, signingCertificate: fw.signingCertificate,
    });
    return { status };
  },

  // Answer with the file name, then Uploading, Uploaded / UploadFailure; a new request cancels a running one (AcceptedCanceled).
  GetLog: (req, ctx) => {
    const d = ctx.features?.diagnostics;
    if (!d?.requestLog) return { status: 'Rejected' };
    const startMs = time(req.log.oldestTimestamp);
    const stopMs = time(req.log.latestTimestamp);
    const r = d.requestLog({
      requestId: req.requestId, logType: req.logType, location: req.log.remoteLocation,
      window: { ...(startMs !== undefined ? { startMs } : {}), ...(stopMs !== undefined ? { stopMs } : {}) },
      ...(req.retries !== undefined ? { retries: req.retries } : {}), ...(req.retryInterval !== undefined ? { retryIntervalS: req.retryInterval } : {}),
    });
    return { status: r.status, ...(r.fileName ? { filename: r.fileName.slice(0, 255) } : {}) };
  },
};
