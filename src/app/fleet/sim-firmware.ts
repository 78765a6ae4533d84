import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock, Timer } from '../../core/ports.js';
import type { DiagnosticsService, FirmwareService } from '../../ocpp/v16/features.js';
import { toV16Status } from '../../ocpp/v16/mapping.js';
import type { CentralSystemCalls, DiagnosticsStatus, FirmwareStatus } from '../../ocpp/v16/messages.js';
import type { LogUploadService, SignedFirmwareService } from '../../ocpp/v201/firmware.js';
import type { Prng } from '../../sim/prng.js';

export interface SimFirmwareTiming {
  /** A download takes between these, ms (simulated time). */
  downloadMs: [number, number];
  installMs: [number, number];
  uploadMs: [number, number];
}

export const simFirmwareTiming: SimFirmwareTiming = {
  downloadMs: [20_000, 120_000],
  installMs: [60_000, 300_000],
  uploadMs: [5_000, 30_000],
};

/**
 * Firmware Management as a simulated charger does it, with the agent's rules and realistic
 * timings: download at retrieveDate, wait for running transactions to end, idle connectors
 * Unavailable while installing, every status notified; and a diagnostics upload. No bytes are
 * moved: a fleet load-tests the central system's side of the protocol.
 *
 * On 2.0.1 (L01/L02, N01) the same, with the requestId on every FirmwareStatusNotification and
 * 2.0.1's statuses: DownloadScheduled (retrieveDateTime ahead), Downloading, Downloaded,
 * SignatureVerified (a signed update: the handler lets one through only when its signing
 * certificate chains to a Manufacturer root the central system installed; a signature that is not
 * base64 is InvalidSignature, see plausibleSignature), InstallScheduled (installDateTime ahead),
 * Installing, Installed; a new update during one cancels it (AcceptedCanceled). GetLog:
 * LogStatusNotification Uploading, Uploaded. The 1.6 security whitepaper's SignedUpdateFirmware
 * and GetLog are the same (the 1.6 link sends SignedFirmwareStatusNotification).
 * Security events as the agent raises them: FirmwareUpdated once an update with a requestId is
 * Installed, InvalidFirmwareSignature.
 */
/**
 * A simulated charger moves no bytes, so it has no image to check a signature against: it takes
 * a signature in base64 (what the messages carry) as verified and any other as not, which is how
 * a central system under test provokes InvalidSignature (and the InvalidFirmwareSignature event).
 */
function plausibleSignature(signature: string): boolean {
  return signature.length > 0 && signature.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(signature);
}

export class SimFirmware {
  private firmwareStatus: FirmwareStatus = 'Idle';
  private diagnosticsStatus: DiagnosticsStatus = 'Idle';
  private timer?: Timer;
  private uploadTimer?: Timer;
  private waitingForSessions = false;
  /** The services the OCPP handlers call (UpdateFirmware, GetDiagnostics, TriggerMessage). */
  readonly firmware: FirmwareService = {
    update: (req) => this.update(req),
    status: () => (this.firmwareStatus === 'Installed' ? 'Idle' : this.firmwareStatus),
  };
  readonly diagnostics: DiagnosticsService = {
    request: (req) => this.request(req),
    status: () => this.diagnosticsStatus,
  };

  /** 2.0.1: UpdateFirmware with its requestId, the triggered status; GetLog. */
  readonly firmware201: SignedFirmwareService = {
    updateSigned: (req) => this.updateSigned(req),
    statusNow: () => ({ status: this.status201, ...(this.requestId !== undefined ? { requestId: this.requestId } : {}) }),
  };
  readonly logs201: LogUploadService = {
    requestLog: (req) => this.requestLog(req),
    logStatusNow: () => ({ status: this.logRequestId !== undefined ? 'Uploading' : 'Idle', ...(this.logRequestId !== undefined ? { requestId: this.logRequestId } : {}) }),
  };
  private status201 = 'Idle';
  private requestId?: number;
  /** A 2.0.1 update accepted and not yet Installed (a new one cancels it). */
  private updating201 = false;
  private logRequestId?: number;

  constructor(private readonly o: {
    clock: Clock;
    chargePoint: ChargePoint;
    prng: Prng;
    notifyFirmware(status: FirmwareStatus): void;
    notifyDiagnostics(status: DiagnosticsStatus): void;
    /** 2.0.1's FirmwareStatusNotification and LogStatusNotification (with their requestId). */
    notifyFirmware201?(status: string, requestId: number): void;
    notifyLog201?(status: string, requestId: number): void;
    /** A security event (FirmwareUpdated, InvalidFirmwareSignature), as the agent's firmware raises it. */
    securityEvent?(type: string, techInfo?: string): void;
    timing?: SimFirmwareTiming;
  }) {}

  private get timing(): SimFirmwareTiming {
    return this.o.timing ?? simFirmwareTiming;
  }

  private after(range: [number, number]): number {
    return Math.round(this.o.prng.between(range[0], range[1]));
  }

  private set(status: FirmwareStatus): void {
    this.firmwareStatus = status;
    if (this.requestId !== undefined) {
      this.status201 = status === 'Installed' ? 'Idle' : status;
      if (status === 'Installed') this.updating201 = false;
      this.o.notifyFirmware201?.(status, this.requestId);
      // As the agent: an update with a requestId (signed, or 2.0.1's) that installed is a security event.
      if (status === 'Installed') this.o.securityEvent?.('FirmwareUpdated', `firmware of request ${this.requestId}`);
    } else {
      this.o.notifyFirmware(status);
    }
  }

  /** A 2.0.1 status with no 1.6 equivalent (DownloadScheduled, SignatureVerified, InstallScheduled). */
  private set201(status: string): void {
    this.status201 = status;
    if (this.requestId !== undefined) this.o.notifyFirmware201?.(status, this.requestId);
  }

  private updateSigned(req: Parameters<SignedFirmwareService['updateSigned']>[0]): 'Accepted' | 'AcceptedCanceled' | 'Rejected' {
    const busy = this.updating201;
    this.timer?.cancel();
    this.updating201 = true;
    this.requestId = req.requestId;
    this.status201 = 'Idle';
    const now = this.o.clock.now();
    const waitMs = Math.max(0, (Number.isFinite(req.retrieveAt) ? req.retrieveAt : 0) - now);
    // Answered first: the statuses follow.
    this.timer = this.o.clock.setTimeout(() => {
      if (waitMs > 0) this.set201('DownloadScheduled');
      this.timer = this.o.clock.setTimeout(() => {
        this.set('Downloading');
        this.timer = this.o.clock.setTimeout(() => {
          this.set('Downloaded');
          if (req.signature !== undefined) {
            if (!plausibleSignature(req.signature)) {
              this.set201('InvalidSignature');
              this.o.securityEvent?.('InvalidFirmwareSignature', `the signature of request ${req.requestId} does not verify`);
              this.status201 = 'Idle';
              this.updating201 = false;
              return;
            }
            this.set201('SignatureVerified');
          }
          const installWaitMs = Math.max(0, (req.installAt ?? 0) - this.o.clock.now());
          if (installWaitMs > 0) {
            this.set201('InstallScheduled');
            this.timer = this.o.clock.setTimeout(() => this.installWhenIdle(), installWaitMs);
          } else {
            this.installWhenIdle();
          }
        }, this.after(this.timing.downloadMs));
      }, waitMs);
    }, 0);
    return busy ? 'AcceptedCanceled' : 'Accepted';
  }

  private requestLog(req: Parameters<LogUploadService['requestLog']>[0]): { status: 'Accepted' | 'AcceptedCanceled'; fileName: string } {
    const busy = this.logRequestId !== undefined;
    this.uploadTimer?.cancel();
    const requestId = req.requestId;
    this.logRequestId = requestId;
    this.uploadTimer = this.o.clock.setTimeout(() => {
      this.o.notifyLog201?.('Uploading', requestId);
      this.uploadTimer = this.o.clock.setTimeout(() => {
        this.logRequestId = undefined;
        this.o.notifyLog201?.('Uploaded', requestId);
      }, this.after(this.timing.uploadMs));
    }, 0);
    return { status: busy ? 'AcceptedCanceled' : 'Accepted', fileName: `${req.logType === 'SecurityLog' ? 'security' : 'diagnostics'}-${this.o.chargePoint.id}.tar.gz` };
  }

  private update(req: CentralSystemCalls['UpdateFirmware'][0]): void {
    this.timer?.cancel();
    const at = Date.parse(req.retrieveDate);
    const waitMs = Math.max(0, (Number.isFinite(at) ? at : 0) - this.o.clock.now());
    this.timer = this.o.clock.setTimeout(() => {
      this.set('Downloading');
      this.timer = this.o.clock.setTimeout(() => {
        this.set('Downloaded');
        this.installWhenIdle();
      }, this.after(this.timing.downloadMs));
    }, waitMs);
  }

  /** Connectors this update made Unavailable (one the central system had set so stays so). */
  private madeUnavailable?: Set<number>;

  private makeUnavailable(id: number): void {
    const cp = this.o.chargePoint;
    if (this.madeUnavailable?.has(id) || toV16Status(cp.evseCondition(id)) === 'Unavailable') return;
    (this.madeUnavailable ??= new Set()).add(id);
    cp.changeAvailability(id, 'Inoperative');
  }

  private installWhenIdle(): void {
    const cp = this.o.chargePoint;
    if (cp.hasActiveSession()) {
      // Idle connectors go Unavailable so no new session starts; the running ones finish first.
      for (const id of cp.evseIds) if (!cp.session(id)) this.makeUnavailable(id);
      if (!this.waitingForSessions) {
        this.waitingForSessions = true;
        const onStopped = () => {
          if (cp.hasActiveSession()) return;
          cp.off('session-stopped', onStopped);
          this.waitingForSessions = false;
          this.installWhenIdle();
        };
        cp.on('session-stopped', onStopped);
      }
      return;
    }
    for (const id of cp.evseIds) this.makeUnavailable(id);
    this.set('Installing');
    this.timer = this.o.clock.setTimeout(() => {
      for (const id of this.madeUnavailable ?? []) cp.changeAvailability(id, 'Operative');
      this.madeUnavailable = undefined;
      this.set('Installed');
    }, this.after(this.timing.installMs));
  }

  private request(req: CentralSystemCalls['GetDiagnostics'][0]): string | undefined {
    void req;
    this.uploadTimer?.cancel();
    this.diagnosticsStatus = 'Uploading';
    this.o.notifyDiagnostics('Uploading');
    this.uploadTimer = this.o.clock.setTimeout(() => {
      this.diagnosticsStatus = 'Idle';
      this.o.notifyDiagnostics('Uploaded');
    }, this.after(this.timing.uploadMs));
    return `diagnostics-${this.o.chargePoint.id}.tar.gz`;
  }

  stop(): void {
    this.timer?.cancel();
    this.uploadTimer?.cancel();
  }
}
