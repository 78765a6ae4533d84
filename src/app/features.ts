/**
 * The optional OCPP 1.6 feature profiles of one charger, composed for the agent: Smart
 * Charging and Reservation (core services the ChargePoint consults, persisted in the store)
 * and Firmware Management (firmware updates and diagnostics uploads, which need the
 * ChargePoint and the link). Two steps, because the ChargePoint needs the first and the second
 * needs the ChargePoint.
 */
import { dirname, join } from 'node:path';
import type { ChargePoint } from '../core/charge-point.js';
import type { Clock } from '../core/ports.js';
import type { LoadedAgentConfig } from '../config/index.js';
import type { Log, LogRecord } from '../lib/log.js';
import type { KeyDefinition } from '../ocpp/v16/configuration.js';
import type { FeatureServices } from '../ocpp/v16/features.js';
import type { CsmsLink } from '../ocpp/v16/link.js';
import type { ChargePointCalls } from '../ocpp/v16/messages.js';
import type { SqliteDatabase, SqliteOutbox, SqliteSettings } from '../store/index.js';
import type { CoreFeatures } from '../runtime/core-features.js';
import { buildDiagnosticsBundle } from './diagnostics-bundle.js';
import { redactedConfig } from './diagnostics.js';
import { DiagnosticsUploader } from './diagnostics-upload.js';
import { FirmwareUpdater } from './firmware.js';

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

export interface AttachedFeatures {
  services: FeatureServices;
  firmware: FirmwareUpdater;
  diagnostics: DiagnosticsUploader;
  start(): void;
  stop(): void;
}

/** Firmware Management and the listeners tying the features to the ChargePoint and the link. */
export function attachFeatures(d: {
  core: CoreFeatures; loaded: LoadedAgentConfig; storePath: string; db: SqliteDatabase; chargePoint: ChargePoint;
  link: () => CsmsLink | undefined; outbox: SqliteOutbox; settings: SqliteSettings; definitions: KeyDefinition[];
  clock: Clock; pseudonym: (idTag: string) => string; log: Log; logs?: () => LogRecord[]; version: string; firmwareVersion: string;
}): AttachedFeatures {
  const { config } = d.loaded;
  const fw = config.firmware;
  const log = d.log.child({ component: 'firmware' });
  /** Status notifications are not transaction messages: sent when online, else once accepted again (the latest only). */
  const latest = new Map<string, unknown>();
  const notify = async <A extends 'FirmwareStatusNotification' | 'DiagnosticsStatusNotification'>(action: A, req: ChargePointCalls[A][0]) => {
    const link = d.link();
    if (link?.online()) {
      await link.send(action, req).catch((err) => log.warn('status notification not delivered', { action, err }));
      return;
    }
    latest.set(action, req);
  };
  const onState = (state: string) => {
    if (state !== 'accepted') return;
    for (const [action, req] of latest) void d.link()?.send(action as 'FirmwareStatusNotification', req as never).catch(() => undefined);
    latest.clear();
  };
  const secrets = collectSecrets(config);
  const firmware = new FirmwareUpdater({
    config: {
      installCommand: fw?.installCommand, sha256: fw?.sha256, requireChecksum: fw?.requireChecksum ?? false,
      downloadDir: fw?.downloadDir ?? join(dirname(d.storePath), 'firmware'), installTimeoutMs: fw?.installTimeoutMs ?? 1_800_000,
    },
    store: d.settings, chargePoint: d.chargePoint,
    savedAvailability: (id) => (d.settings.get(`evse-edge.Availability.${id}`) === 'Inoperative' ? 'Inoperative' : 'Operative'),
    notify: (status) => notify('FirmwareStatusNotification', { status }), clock: d.clock, log, firmwareVersion: d.firmwareVersion,
  });
  const diagnostics = new DiagnosticsUploader({
    build: (window) => buildDiagnosticsBundle({
      chargePointId: config.chargePointId, version: d.version, db: d.db, outbox: d.outbox, settings: d.settings, definitions: d.definitions,
      chargePoint: d.chargePoint, config: redactedConfig(d.loaded), secrets, logs: d.logs ?? (() => []), pseudonym: d.pseudonym,
    }, d.clock.now(), window),
    notify: (status) => notify('DiagnosticsStatusNotification', { status }), clock: d.clock, log: d.log.child({ component: 'diagnostics-upload' }),
  });
  const onStopped = (e: { connectorId: number }) => d.core.smartCharging.transactionEnded(e.connectorId);
  return {
    services: { smartCharging: d.core.smartCharging, reservations: d.core.reservations, firmware, diagnostics },
    firmware, diagnostics,
    start() {
      d.chargePoint.on('session-stopped', onStopped);
      d.link()?.on('state', onState);
      d.core.reservations.start();
      firmware.start();
    },
    stop() {
      d.chargePoint.off('session-stopped', onStopped);
      d.link()?.off('state', onState);
      firmware.stop();
      diagnostics.stop();
      d.core.reservations.stop();
    },
  };
}
