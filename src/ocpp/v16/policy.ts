import type { AuthorizationPolicy, ChargingPolicy, MeteringPolicy, RetryPolicy, TransactionPolicy } from '../../core/policy.js';
import type { Settings } from './store-ports.js';

/** OCPP 1.6 idTag is CiString20: a longer token cannot be sent, so it is not taken. */
export const MAX_ID_TAG_CHARS = 20;

/*
 * The core's policy over OCPP 1.6 configuration keys (wire names, verbatim). Every field is a
 * getter: it reads its key at each decision, so ChangeConfiguration takes effect at once.
 * Classes, not object literals with getters: the getters live once on the prototypes, where
 * literals gave every charger of a fleet 19 closures and four dictionary-mode objects (~3 KB).
 */

class TransactionKeys implements TransactionPolicy {
  constructor(private readonly settings: Settings) {}
  get stopOnInvalidToken() { return this.settings.bool('StopTransactionOnInvalidId'); }
  get maxEnergyOnInvalidWh() { return this.settings.int('MaxEnergyOnInvalidId'); }
  get stopOnEvSideDisconnect() { return this.settings.bool('StopTransactionOnEVSideDisconnect'); }
  get unlockOnEvSideDisconnect() { return this.settings.bool('UnlockConnectorOnEVSideDisconnect'); }
  get connectionTimeoutS() { return this.settings.int('ConnectionTimeOut'); }
  get authorizeRemoteStart() { return this.settings.bool('AuthorizeRemoteTxRequests'); }
}

class AuthorizationKeys implements AuthorizationPolicy {
  readonly maxTokenChars = MAX_ID_TAG_CHARS;
  constructor(private readonly settings: Settings) {}
  get localPreAuthorize() { return this.settings.bool('LocalPreAuthorize'); }
  get localAuthorizeOffline() { return this.settings.bool('LocalAuthorizeOffline'); }
  get offlineTxForUnknownId() { return this.settings.bool('AllowOfflineTxForUnknownId'); }
  get cacheEnabled() { return this.settings.bool('AuthorizationCacheEnabled'); }
  get localListEnabled() { return this.settings.bool('LocalAuthListEnabled'); }
}

class MeteringKeys implements MeteringPolicy {
  /** StartTransaction has no meter values: the signed start value follows in a MeterValues (OCA Eichrecht application note). */
  readonly signedBeginSample = true;
  constructor(private readonly settings: Settings) {}
  get sampledMeasurands() { return this.settings.list('MeterValuesSampledData'); }
  get alignedMeasurands() { return this.settings.list('MeterValuesAlignedData'); }
  get sampleIntervalS() { return this.settings.int('MeterValueSampleInterval'); }
  get alignedIntervalS() { return this.settings.int('ClockAlignedDataInterval'); }
  get txEndedMeasurands() { return this.settings.list('StopTxnSampledData'); }
  get txEndedAlignedMeasurands() { return this.settings.list('StopTxnAlignedData'); }
}

class RetryKeys implements RetryPolicy {
  constructor(private readonly settings: Settings) {}
  get attempts() { return this.settings.int('TransactionMessageAttempts'); }
  get intervalS() { return this.settings.int('TransactionMessageRetryInterval'); }
}

export function policyFromSettings(settings: Settings): ChargingPolicy {
  return {
    transaction: new TransactionKeys(settings),
    authorization: new AuthorizationKeys(settings),
    metering: new MeteringKeys(settings),
    retry: new RetryKeys(settings),
  };
}
