/**
 * The optional feature profiles' services, as the OCPP handlers see them. The application
 * composes them (src/app/agent/features.ts); a charge point without one answers NotSupported or
 * NotImplemented for its messages.
 */
import type { DisplayMessages } from '../../core/display-messages.js';
import type { Reservations } from '../../core/reservations.js';
import type { SmartCharging } from '../../core/smart-charging/index.js';
import type { StationSecurity } from '../certificates.js';
import type { LogUploadService, SignedFirmwareService } from '../firmware-services.js';
import type { CentralSystemCalls, ChargePointCalls, DiagnosticsStatus, FirmwareStatus } from './messages.js';

export interface FirmwareService {
  /** UpdateFirmware: schedule the download at retrieveDate. */
  update(req: CentralSystemCalls['UpdateFirmware'][0]): void;
  /** What a triggered FirmwareStatusNotification reports. */
  status(): FirmwareStatus;
}

export interface DiagnosticsService {
  /** GetDiagnostics: collect the bundle, upload it in the background; the file name, if any. */
  request(req: CentralSystemCalls['GetDiagnostics'][0]): string | undefined;
  status(): DiagnosticsStatus;
}

export interface FeatureServices {
  smartCharging?: SmartCharging;
  reservations?: Reservations;
  /** With the signed update (security whitepaper SignedUpdateFirmware) when the charger has it. */
  firmware?: FirmwareService & Partial<SignedFirmwareService>;
  /** With GetLog (security whitepaper) when the charger has it. */
  diagnostics?: DiagnosticsService & Partial<LogUploadService>;
  /** Certificates and security events (the 2.0.1 binding answers its certificate calls with them). */
  security?: StationSecurity;
  /** Display messages (2.0.1 Advanced UI O01-O06), shown on the charger's screen. */
  displayMessages?: DisplayMessages;
}

/** Status notifications a Firmware Management implementation sends (while the link is up). */
export type FirmwareNotify = {
  <A extends 'FirmwareStatusNotification' | 'DiagnosticsStatusNotification'>(action: A, request: ChargePointCalls[A][0]): Promise<void>;
  /** OCPP 2.0.1's log upload status (GetLog), and its firmware status (with the UpdateFirmware's requestId). */
  (action: 'LogStatusNotification' | 'FirmwareStatusNotification', request: { status: string; requestId: number }): Promise<void>;
};
