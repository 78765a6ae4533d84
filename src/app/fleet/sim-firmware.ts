import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock, Timer } from '../../core/ports.js';
import type { DiagnosticsService, FirmwareService } from '../../ocpp/v16/features.js';
import { toV16Status } from '../../ocpp/v16/mapping.js';
import type { CentralSystemCalls, DiagnosticsStatus, FirmwareStatus } from '../../ocpp/v16/messages.js';
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
 */
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

  constructor(private readonly o: {
    clock: Clock;
    chargePoint: ChargePoint;
    prng: Prng;
    notifyFirmware(status: FirmwareStatus): void;
    notifyDiagnostics(status: DiagnosticsStatus): void;
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
    this.o.notifyFirmware(status);
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
  private readonly madeUnavailable = new Set<number>();

  private makeUnavailable(id: number): void {
    const cp = this.o.chargePoint;
    if (this.madeUnavailable.has(id) || toV16Status(cp.evseCondition(id)) === 'Unavailable') return;
    this.madeUnavailable.add(id);
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
      for (const id of this.madeUnavailable) cp.changeAvailability(id, 'Operative');
      this.madeUnavailable.clear();
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
