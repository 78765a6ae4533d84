/**
 * OCPP 2.0.1 behind the version seam (../version.ts): subprotocol ocpp2.0.1 with the error-code
 * remapping validator, the core's policy over the same stored settings as 1.6 (the device
 * model's variables with a 1.6 equivalent are views of those keys, v16-equivalents.ts), the
 * link (link.ts), the incoming table (incoming.ts) and the mapping (mapping.ts).
 */
import type { ChargingPolicy } from '../../core/policy.js';
import type { ConfigurationStore } from '../store-ports.js';
import { policyFromSettings } from '../v16/policy.js';
import type { OcppVersion } from '../version.js';
import { AUTH_CACHE_MAX_BYTES, buildDeviceModel, MemoryVariableStore, v201ConnectorType, type VariableKey, type VariableStore } from './device-model.js';
import { sharedV201StrictValidator } from './errors.js';
import { liveAuthorizationVariables } from './authorization.js';
import { INCOMING_ACTIONS } from './incoming.js';
import { V201Link } from './link.js';
import { reportReservationEnds } from './reservation.js';
import { fromV201IdTokenInfo, toV201Reason, toV201Status } from './mapping.js';
import type { IdTokenInfoType } from './messages.js';
import { sharedSettingsStore } from './v16-equivalents.js';
import { securityVariableStore } from './security-variables.js';
import { meterKeyVariables } from './signed-meter-values.js';
import type { StationSecurity } from '../certificates.js';
import type { LogUploadService, SignedFirmwareService } from './firmware.js';
import { CertificateRequests, renewBeforeExpiry } from './certificates.js';
import type { Reservations } from '../../core/reservations.js';

/** The charger's reservations among the feature services it was composed with (src/app/charger), if any. */
const reservationsOf = (features: unknown): { reservations?: Reservations } => {
  const r = (features as { reservations?: Reservations } | undefined)?.reservations;
  return r ? { reservations: r } : {};
};

/** AuthCacheCtrlr.LifeTime's default, s (the device model's). */
const DEFAULT_CACHE_LIFETIME_S = 86_400;
import { smartChargingVariables, type V201Features } from './smart-charging.js';
import { displayMessageVariables } from './display-messages.js';

/** 2.0.1's IdToken holds 36 characters (1.6's idTag 20). */
export const MAX_ID_TOKEN_CHARS = 36;

/** The 2.0.1 variables without a 1.6 key, persisted among the charger's settings under a prefixed key. */
export function settingsVariableStore(settings: ConfigurationStore): VariableStore {
  const keyOf = (k: VariableKey) => `ocpp2.0.1:${MemoryVariableStore.key(k)}`;
  return {
    get: (k) => settings.get(keyOf(k)),
    set: (k, value) => settings.set(keyOf(k), value),
  };
}

/** TxCtrlr.TxStopPoint as stored (settingsVariableStore's key), or its default. */
const TX_STOP_POINT_KEY = `ocpp2.0.1:${MemoryVariableStore.key({ component: 'TxCtrlr', variable: 'TxStopPoint', attribute: 'Actual' })}`;
const txStopPoints = (settings: ConfigurationStore): string[] => {
  const stored = settings.list(TX_STOP_POINT_KEY);
  return stored.length ? stored : ['EVConnected', 'Authorized'];
};

/** A 2.0.1 variable without a 1.6 key, as settingsVariableStore keeps it, or its default. */
const ownValue = (settings: ConfigurationStore, component: string, variable: string, fallback: string): string =>
  settingsVariableStore(settings).get({ component, variable, attribute: 'Actual' }) ?? fallback;

/** SampledDataCtrlr / AlignedDataCtrlr.TxEndedInterval, s (0, the default: none). */
const intervalOf = (settings: ConfigurationStore, component: string): number => {
  const n = Number.parseInt(ownValue(settings, component, 'TxEndedInterval', '0'), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

/** SmartChargingCtrlr.LimitChangeSignificance: a fraction 0..1 (default 0.1). */
const significanceOf = (value: string): number => {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 1) : 0.1;
};

/**
 * The policy over the stored settings (the 1.6 keys the 2.0.1 variables map to), with 2.0.1's
 * token length and what only 2.0.1 has: the cache's LifeTime and size, the master pass group;
 * the charging state recorded for TransactionEvent (triggerReason, chargingState); and
 * TxStopPoint: an EV-side disconnect ends the transaction only when StopTxOnEVSideDisconnect is
 * true and TxStopPoint holds EVConnected or PowerPathClosed (the disconnect opens the power path).
 */
function policy(settings: ConfigurationStore): ChargingPolicy {
  const p = policyFromSettings(settings);
  const lifeTimeS = () => Number.parseInt(ownValue(settings, 'AuthCacheCtrlr', 'LifeTime', String(DEFAULT_CACHE_LIFETIME_S)), 10);
  return {
    ...p,
    transaction: Object.create(p.transaction, {
      stopOnEvSideDisconnect: {
        get: () => p.transaction.stopOnEvSideDisconnect && txStopPoints(settings).some((x) => x === 'EVConnected' || x === 'PowerPathClosed'),
        enumerable: true,
      },
    }),
    authorization: Object.create(p.authorization, {
      maxTokenChars: { value: MAX_ID_TOKEN_CHARS, enumerable: true },
      cacheLifeTimeS: { get: () => (Number.isFinite(lifeTimeS()) ? lifeTimeS() : DEFAULT_CACHE_LIFETIME_S), enumerable: true },
      cacheMaxBytes: { value: AUTH_CACHE_MAX_BYTES, enumerable: true },
      masterPassGroupId: { get: () => ownValue(settings, 'AuthCtrlr', 'MasterPassGroupId', ''), enumerable: true },
      disablePostAuthorize: { get: () => ownValue(settings, 'AuthCacheCtrlr', 'DisablePostAuthorize', 'false') === 'true', enumerable: true },
    }),
    metering: Object.create(p.metering, {
      chargingStateSamples: { value: true, enumerable: true },
      // K01/K08: ChargingRateChanged when the limit in force changes by more than LimitChangeSignificance.
      limitChangeSignificance: { get: () => significanceOf(ownValue(settings, 'SmartChargingCtrlr', 'LimitChangeSignificance', '0.1')), enumerable: true },
      idleAlignedSamples: { value: true, enumerable: true },
      // The signed start value goes in Started (1.6 needs a MeterValues after StartTransaction for it).
      signedBeginSample: { value: false, enumerable: true },
      txEndedSampleIntervalS: { get: () => intervalOf(settings, 'SampledDataCtrlr'), enumerable: true },
      txEndedAlignedIntervalS: { get: () => intervalOf(settings, 'AlignedDataCtrlr'), enumerable: true },
    }),
  };
}

export const v201: OcppVersion = {
  subprotocol: 'ocpp2.0.1',
  get strictValidator() {
    return sharedV201StrictValidator();
  },
  policy,
  createLink: (d) => {
    const model = buildDeviceModel({
      evses: d.connectors.map((c) => ({ id: c.id, maxPowerW: c.maxPowerW, supplyPhases: c.dc ? 0 : c.phases, connectors: [{ id: 1, connectorType: c.type ? v201ConnectorType(c.type) : 'Unknown' }] })),
    });
    const { security, firmware, diagnostics } = (d.features ?? {}) as { security?: StationSecurity; firmware?: Partial<SignedFirmwareService>; diagnostics?: Partial<LogUploadService> };
    const features = d.features as V201Features | undefined;
    const store = meterKeyVariables(
      securityVariableStore(d.settings, liveAuthorizationVariables(displayMessageVariables(smartChargingVariables(sharedSettingsStore(d.settings, settingsVariableStore(d.settings)), features), features), d.authData), security?.certificates),
      d.chargePoint,
    );
    const context = {
      model, store, clock: d.clock, log: d.log, chargePoint: d.chargePoint, settings: d.settings, authData: d.authData, outbox: d.outbox, onReset: d.onReset, features, ...reservationsOf(d.features),
      ...(security ? { security, certificateRequests: new CertificateRequests() } : {}),
      ...(firmware?.updateSigned ? { firmware: firmware as SignedFirmwareService } : {}),
      ...(diagnostics?.requestLog ? { logs: diagnostics as LogUploadService } : {}),
    };
    const link = new V201Link(d, context);
    // A03: the station's certificate renewed before it expires.
    if (security) renewBeforeExpiry(link, { ...context, link });
    // H04: reservations that expire unused are reported (the link and the reservations live as long as the charger).
    const { reservations } = reservationsOf(d.features);
    if (reservations) {
      // H01 / TC_H_20: an EVSE that becomes Faulted or Unavailable loses its reservations (Removed).
      reservations.removeWhenInoperative = true;
      reportReservationEnds(reservations, link, d.log.child({ component: 'reservations' }));
    }
    return link;
  },
  incomingActions: INCOMING_ACTIONS,
  mapping: { status: toV201Status, stopReason: toV201Reason, authorization: (info: IdTokenInfoType) => fromV201IdTokenInfo(info) },
};
