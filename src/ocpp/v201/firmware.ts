/**
 * OCPP 2.0.1 firmware update (L01/L02): the signing certificate checked against the
 * Manufacturer roots installed (InvalidCertificate and the InvalidFirmwareSigningCertificate
 * security event otherwise), then the update handed to the charger's firmware service, which
 * downloads, verifies the signature over the image (SignatureVerified, or InvalidSignature and
 * InvalidFirmwareSignature), installs and reports each step with the requestId
 * (src/app/services/firmware.ts, the same updater as 1.6's). An update without a signature is
 * 2.0.1's non-secure update (L02): the configured checksum rules apply, as on 1.6.
 *
 * GetLog (N01): the diagnostics bundle or the security log uploaded by the same uploader as
 * 1.6's GetDiagnostics, reported by LogStatusNotification with the requestId.
 */
import type { Log } from '../../lib/log.js';
import type { StationSecurity } from '../certificates.js';
import type { LogUploadService, SignedFirmwareService } from '../firmware-services.js';
import type { CsmsCalls } from './messages.js';

// The services are protocol-neutral (../firmware-services.ts): the 1.6 binding uses the same ones.
export type { LogUploadService, SignedFirmwareService } from '../firmware-services.js';

export interface FirmwareContext {
  security?: StationSecurity;
  firmware?: SignedFirmwareService;
  logs?: LogUploadService;
  log: Log;
}

type Handlers = { [A in keyof CsmsCalls]?: (req: CsmsCalls[A][0], ctx: FirmwareContext) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1] };

export const firmwareHandlers: Handlers = {
  UpdateFirmware: (req, ctx) => {
    const { firmware: fw } = req;
    if (!ctx.firmware) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    if (fw.signingCertificate !== undefined || fw.signature !== undefined) {
      if (fw.signingCertificate === undefined) return { status: 'InvalidCertificate', statusInfo: { reasonCode: 'MissingCertificate', additionalInfo: 'a signature without its signing certificate' } };
      if (fw.signature === undefined) return { status: 'Rejected', statusInfo: { reasonCode: 'MissingSignature' } };
      const verdict = ctx.security?.certificates.verifyIssuedBy('ManufacturerRoot', fw.signingCertificate) ?? { accepted: false as const, reason: 'this station keeps no certificates' };
      if (!verdict.accepted) {
        ctx.log.warn('firmware signing certificate refused', { requestId: req.requestId, reason: verdict.reason });
        ctx.security?.securityEvent('InvalidFirmwareSigningCertificate', verdict.reason);
        return { status: 'InvalidCertificate', statusInfo: { reasonCode: 'InvalidCertificate', additionalInfo: verdict.reason.slice(0, 512) } };
      }
    }
    const status = ctx.firmware.updateSigned({
      requestId: req.requestId, location: fw.location, retrieveAt: Date.parse(fw.retrieveDateTime),
      ...(fw.installDateTime !== undefined ? { installAt: Date.parse(fw.installDateTime) } : {}),
      ...(req.retries !== undefined ? { retries: req.retries } : {}),
      ...(req.retryInterval !== undefined ? { retryIntervalS: req.retryInterval } : {}),
      ...(fw.signature !== undefined ? { signature: fw.signature } : {}),
      ...(fw.signingCertificate !== undefined ? { signingCertificate: fw.signingCertificate } : {}),
    });
    return { status };
  },

  // N01: answer with the file name, then Uploading, Uploaded / UploadFailure; a new request cancels a running one (AcceptedCanceled).
  GetLog: (req, ctx) => {
    if (!ctx.logs) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    const time = (iso?: string) => (iso === undefined ? undefined : Date.parse(iso));
    const startMs = time(req.log.oldestTimestamp);
    const stopMs = time(req.log.latestTimestamp);
    const r = ctx.logs.requestLog({
      requestId: req.requestId, logType: req.logType, location: req.log.remoteLocation,
      window: { ...(startMs !== undefined ? { startMs } : {}), ...(stopMs !== undefined ? { stopMs } : {}) },
      ...(req.retries !== undefined ? { retries: req.retries } : {}), ...(req.retryInterval !== undefined ? { retryIntervalS: req.retryInterval } : {}),
    });
    return { status: r.status, ...(r.fileName ? { filename: r.fileName.slice(0, 255) } : {}) };
  },
};
