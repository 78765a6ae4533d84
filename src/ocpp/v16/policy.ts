import type { ChargingPolicy } from '../../core/policy.js';
import type { Settings } from './store-ports.js';

/** OCPP 1.6 idTag is CiString20: a longer token cannot be sent, so it is not taken. */
export const MAX_ID_TAG_CHARS = 20;

/**
 * The core's policy over OCPP 1.6 configuration keys (wire names, verbatim). Every field is a
 * getter: it reads its key at each decision, so ChangeConfiguration takes effect at once.
 */
export function policyFromSettings(settings: Settings): ChargingPolicy {
  return {
    transaction: {
      get stopOnInvalidToken() { return settings.bool('StopTransactionOnInvalidId'); },
      get maxEnergyOnInvalidWh() { return settings.int('MaxEnergyOnInvalidId'); },
      get stopOnEvSideDisconnect() { return settings.bool('StopTransactionOnEVSideDisconnect'); },
      get unlockOnEvSideDisconnect() { return settings.bool('UnlockConnectorOnEVSideDisconnect'); },
      get connectionTimeoutS() { return settings.int('ConnectionTimeOut'); },
      get authorizeRemoteStart() { return settings.bool('AuthorizeRemoteTxRequests'); },
    },
    authorization: {
      get localPreAuthorize() { return settings.bool('LocalPreAuthorize'); },
      get localAuthorizeOffline() { return settings.bool('LocalAuthorizeOffline'); },
      get offlineTxForUnknownId() { return settings.bool('AllowOfflineTxForUnknownId'); },
      get cacheEnabled() { return settings.bool('AuthorizationCacheEnabled'); },
      get localListEnabled() { return settings.bool('LocalAuthListEnabled'); },
      maxTokenChars: MAX_ID_TAG_CHARS,
    },
    metering: {
      get sampledMeasurands() { return settings.list('MeterValuesSampledData'); },
      get alignedMeasurands() { return settings.list('MeterValuesAlignedData'); },
      get sampleIntervalS() { return settings.int('MeterValueSampleInterval'); },
      get alignedIntervalS() { return settings.int('ClockAlignedDataInterval'); },
      get txEndedMeasurands() { return settings.list('StopTxnSampledData'); },
      get txEndedAlignedMeasurands() { return settings.list('StopTxnAlignedData'); },
    },
    retry: {
      get attempts() { return settings.int('TransactionMessageAttempts'); },
      get intervalS() { return settings.int('TransactionMessageRetryInterval'); },
    },
  };
}
