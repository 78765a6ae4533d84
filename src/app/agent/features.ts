/**
 * The agent's Firmware Management (firmware updates and diagnostics uploads), built by
 * ChargePointRuntime once the ChargePoint exists. Smart Charging and Reservation are the
 * runtime's own (src/app/charger/core-features.ts), the same for the agent and the fleet.
 */
import { dirname, join } from 'node:path';
import type { LoadedAgentConfig } from '../../config/index.js';
import type { Log, LogRecord } from '../../lib/log.js';
import { tlsClientOptions } from '../../ocpp/tls.js';
import type { KeyDefinition } from '../../ocpp/v16/configuration.js';
import type { SqliteDatabase } from '../../store/index.js';
import { SqliteSecurityEvents, type SecurityLogEntry } from '../../store/security-events.js';
import type { FirmwareFactory } from '../charger/charge-point-runtime.js';
import { buildDiagnosticsBundle, scrubText } from '../services/diagnostics-bundle.js';
import { redactedConfig } from './diagnostics.js';
import { DiagnosticsUploader } from '../services/diagnostics-upload.js';
import { FirmwareUpdater } from '../services/firmware.js';
import { download, upload, type TransferTrust } from '../services/file-transfer.js';
import { availabilityKey } from '../../ocpp/availability-keys.js';
import type { FirmwareStatus } from '../../ocpp/v16/messages.js';

export const OPTIONAL_FEATURE_PROFILES = ['FirmwareManagement', 'Reservation', 'SmartCharging'] as const;

/** Every secret value in the config (by field name, and URL passwords), to scrub from bundles. */
export function collectSecrets(config: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (typeof v === 'string') {
      if (/password|secret|key|token|credential/i.test(key) && v.length > 0) out.push(v);
      if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(v)) {
        try {
          const p = decodeURIComponent(new URL(v).password);
          if (p) out.push(p);
        } catch { /* not a URL */ }
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(config, '');
  return out;
}

/**
 * The security log for GetLog SecurityLog: the security events the store kept in the window,
 * one JSON line each (time, type, techInfo; clockTrusted false when the charger's clock was not
 * yet set), scrubbed of the configuration's secrets like the diagnostics bundle.
 */
export function securityLog(chargePointId: string, entries: readonly SecurityLogEntry[], nowMs: number, secrets: readonly string[]): { fileName: string; data: Buffer } {
  const lines = entries.map((e) => JSON.stringify({
    time: new Date(e.at).toISOString(), type: e.type, ...(e.techInfo !== undefined ? { techInfo: e.techInfo } : {}), ...(e.clockTrusted ? {} : { clockTrusted: false }),
  }));
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  return { fileName: `${chargePointId.replace(/[^A-Za-z0-9._-]/g, '_')}-security-${stamp}.log`, data: Buffer.from(scrubText(lines.map((l) => `${l}\n`).join(''), [], secrets, (x) => x)) };
}

/**
 * The agent's Firmware Management for ChargePointRuntime's firmware factory: the runtime
 * gives the charge point, its store views and a notify that sends status notifications (or
 * keeps the latest while offline).
 */
export function agentFirmware(d: {
  loaded: LoadedAgentConfig; storePath: string; db: SqliteDatabase; definitions: KeyDefinition[];
  pseudonym: (idTag: string) => string; log: Log; logs?: () => LogRecord[]; version: string; firmwareVersion: string;
  /** Raise a security event (a refused firmware signature, an installed update). */
  securityEvent?: (type: string, techInfo?: string) => void;
}): FirmwareFactory {
  return ({ chargePoint, clock, settings, outbox, notify }) => {
    const { config } = d.loaded;
    const fw = config.firmware;
    const log = d.log.child({ component: 'firmware' });
    const secrets = collectSecrets(config);
    const securityEvents = new SqliteSecurityEvents(d.db, config.chargePointId);
    // https:// and ftps:// file servers may be certified by the operator's CA (csms.ca) as well
    // as the system's; the file is read at each transfer, so a renewed CA applies at once.
    const trust = (): TransferTrust | undefined => {
      const ca = config.csms.ca ? tlsClientOptions({ ca: config.csms.ca }, d.loaded.file).ca : undefined;
      return ca ? { ca } : undefined;
    };
    const firmware = new FirmwareUpdater({
      config: {
        installCommand: fw?.installCommand, sha256: fw?.sha256, requireChecksum: fw?.requireChecksum ?? false,
        downloadDir: fw?.downloadDir ?? join(dirname(d.storePath), 'firmware'), installTimeoutMs: fw?.installTimeoutMs ?? 1_800_000,
      },
      store: settings, chargePoint,
      savedAvailability: (id) => (settings.get(availabilityKey(id)) === 'Inoperative' ? 'Inoperative' : 'Operative'),
      // A 2.0.1 job's statuses carry its requestId (and may be 2.0.1's own); a 1.6 job's are 1.6's.
      notify: (status, requestId) => notify('FirmwareStatusNotification', { status, ...(requestId !== undefined ? { requestId } : {}) } as { status: FirmwareStatus }),
      clock, log, firmwareVersion: d.firmwareVersion, ...(d.securityEvent ? { securityEvent: d.securityEvent } : {}),
      download: (location) => download(location, trust()),
    });
    const diagnostics = new DiagnosticsUploader({
      build: (window) => buildDiagnosticsBundle({
        chargePointId: config.chargePointId, version: d.version, db: d.db, outbox, settings, definitions: d.definitions,
        chargePoint, config: redactedConfig(d.loaded), secrets, logs: d.logs ?? (() => []), pseudonym: d.pseudonym,
      }, clock.now(), window),
      // GetLog SecurityLog (1.6 whitepaper, 2.0.1): the security log the store keeps, one JSON line each, scrubbed like the bundle.
      buildSecurityLog: (window) => securityLog(config.chargePointId, securityEvents.entries(window), clock.now(), secrets),
      notify: (status) => notify('DiagnosticsStatusNotification', { status }),
      notifyLog: (status, requestId) => notify('LogStatusNotification', { status, requestId }),
      clock, log: d.log.child({ component: 'diagnostics-upload' }),
      upload: (location, fileName, data) => upload(location, fileName, data, trust()),
    });
    return {
      firmware, diagnostics,
      start: () => firmware.start(),
      stop: () => {
        firmware.stop();
        diagnostics.stop();
      },
    };
  };
}
