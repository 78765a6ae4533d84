/**
 * The signed firmware update and the log upload as every OCPP binding sees them (ports: the
 * application's FirmwareUpdater and DiagnosticsUploader implement them). OCPP 2.0.1's
 * UpdateFirmware and GetLog and the 1.6 security whitepaper's SignedUpdateFirmware and GetLog
 * are the same operations: one service each, a binding per version.
 */

/** A signed firmware update (the binding has checked the signing certificate against the Manufacturer root). */
export interface SignedFirmwareService {
  updateSigned(req: {
    requestId: number; location: string; retrieveAt: number; installAt?: number; retries?: number; retryIntervalS?: number;
    signature?: string; signingCertificate?: string;
  }): 'Accepted' | 'AcceptedCanceled' | 'Rejected';
  /** The update in progress (its status and requestId), else Idle: a triggered status notification. */
  statusNow(): { status: string; requestId?: number };
}

/** GetLog: the diagnostics bundle or the security log uploaded, a new request cancelling a running one. */
export interface LogUploadService {
  requestLog(req: {
    requestId: number; logType: 'DiagnosticsLog' | 'SecurityLog'; location: string; window: { startMs?: number; stopMs?: number };
    retries?: number; retryIntervalS?: number;
  }): { status: 'Accepted' | 'AcceptedCanceled' | 'Rejected'; fileName?: string };
  /** The upload running with its requestId, else Idle: a triggered LogStatusNotification. */
  logStatusNow(): { status: 'Idle' | 'Uploading'; requestId?: number };
}
