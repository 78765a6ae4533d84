/**
 * What the core decides by, typed and in its own words: the version binding builds it from its
 * configuration keys (OCPP 1.6) or device-model variables (2.0.1). Values are read LIVE: a binding
 * implements the fields as getters over its store, so a change at run time (ChangeConfiguration,
 * SetVariables) takes effect at the next decision, as the keys did.
 */
export interface TransactionPolicy {
  /** A token the central system refuses during a transaction ends it (reason DeAuthorized). */
  readonly stopOnInvalidToken: boolean;
  /** Otherwise: energy the session may still draw, Wh; below 0 no cap. */
  readonly maxEnergyOnInvalidWh: number;
  /** The vehicle unplugged on its side ends the transaction (else energy delivery only stops). */
  readonly stopOnEvSideDisconnect: boolean;
  readonly unlockOnEvSideDisconnect: boolean;
  /** How long an authorisation waits for a vehicle to be plugged, s. */
  readonly connectionTimeoutS: number;
  /** A remote start is authorised like a presented token before it starts. */
  readonly authorizeRemoteStart: boolean;
}

export interface AuthorizationPolicy {
  /** Online: a locally accepted token starts without asking the central system. */
  readonly localPreAuthorize: boolean;
  /** Offline: a locally accepted token starts. */
  readonly localAuthorizeOffline: boolean;
  /** Offline: an unknown token starts (checked once online). */
  readonly offlineTxForUnknownId: boolean;
  readonly cacheEnabled: boolean;
  readonly localListEnabled: boolean;
  /** The longest token id the version's messages carry (1.6 idTag: 20); a longer one is ignored. */
  readonly maxTokenChars: number;
  /**
   * 2.0.1 (AuthCacheCtrlr.LifeTime, s): a cache entry the central system gave no expiry holds
   * this long, and an expired cache entry is forgotten (the token is unknown again). Absent
   * (1.6): entries hold until the central system's expiryDate, and then read as Expired.
   */
  readonly cacheLifeTimeS?: number;
  /** 2.0.1 (AuthCacheCtrlr.Storage maxLimit, bytes): the cache is evicted down to this (AuthCacheCtrlr.Policy LRU). */
  readonly cacheMaxBytes?: number;
  /**
   * 2.0.1 (AuthCacheCtrlr.DisablePostAuthorize): online with LocalPreAuthorize, a token the cache
   * holds as not Accepted is refused from the cache instead of asking the central system again.
   */
  readonly disablePostAuthorize?: boolean;
  /** 2.0.1 (AuthCtrlr.MasterPassGroupId): a token of this group stops every transaction and never starts one (C16). */
  readonly masterPassGroupId?: string;
}

export interface MeteringPolicy {
  /** Measurands of periodic samples and of a transaction's Begin and End samples. */
  readonly sampledMeasurands: string[];
  /** Measurands of clock-aligned samples. */
  readonly alignedMeasurands: string[];
  /** Periodic sample interval, s; 0 none. */
  readonly sampleIntervalS: number;
  /** Clock-aligned interval, s; 0 none. */
  readonly alignedIntervalS: number;
  /** Measurands of the samples a transaction's end message carries (its Begin and End). */
  readonly txEndedMeasurands: string[];
  /** Measurands of the clock-aligned samples a transaction's end message carries. */
  readonly txEndedAlignedMeasurands: string[];
  /**
   * The spacing of the periodic samples a transaction's end message carries, s (2.0.1
   * SampledDataCtrlr.TxEndedInterval; 0: only its Begin and End). Absent (1.6): only Begin and End.
   * Samples are taken at this interval whether or not they are sent as they are taken.
   */
  readonly txEndedSampleIntervalS?: number;
  /**
   * The clock-aligned interval of the samples a transaction's end message carries, s (2.0.1
   * AlignedDataCtrlr.TxEndedInterval; 0: none). Absent (1.6): every clock-aligned sample of the session.
   */
  readonly txEndedAlignedIntervalS?: number;
  /**
   * Record a session's start cause and charging state, and a sample each time its charging state
   * changes (2.0.1 TransactionEvent triggerReason / chargingState); absent or false: neither (1.6).
   */
  readonly chargingStateSamples?: boolean;
  /**
   * With chargingStateSamples, a sample too when the limit applied to a running session changes
   * by more than this fraction of the one last recorded (0: any change; 2.0.1
   * SmartChargingCtrlr.LimitChangeSignificance). Absent: none.
   */
  readonly limitChangeSignificance?: number;
  /** Clock-aligned samples of EVSEs without a session too, as 'idle-sample' events (2.0.1 MeterValues); absent or false: none (1.6). */
  readonly idleAlignedSamples?: boolean;
  /**
   * A signing meter's signed start value is reported as a sample of its own, right after the
   * session's opening event (1.6: MeterValues after StartTransaction, which has no place for it);
   * absent or false: the opening event carries it (2.0.1 Started).
   */
  readonly signedBeginSample?: boolean;
}

/** Delivery of transaction messages (used by the version binding's link). */
export interface RetryPolicy {
  readonly attempts: number;
  readonly intervalS: number;
}

export interface ChargingPolicy {
  readonly transaction: TransactionPolicy;
  readonly authorization: AuthorizationPolicy;
  readonly metering: MeteringPolicy;
  readonly retry: RetryPolicy;
}

/** A fixed policy (a test of pure logic, or a charger without a central system). */
export const DEFAULT_POLICY: ChargingPolicy = Object.freeze({
  transaction: Object.freeze({
    stopOnInvalidToken: true, maxEnergyOnInvalidWh: 0, stopOnEvSideDisconnect: true, unlockOnEvSideDisconnect: true,
    connectionTimeoutS: 60, authorizeRemoteStart: false,
  }),
  authorization: Object.freeze({
    localPreAuthorize: false, localAuthorizeOffline: true, offlineTxForUnknownId: false, cacheEnabled: true, localListEnabled: true,
    maxTokenChars: 36,
  }),
  metering: Object.freeze({
    sampledMeasurands: ['Energy.Active.Import.Register'], alignedMeasurands: ['Energy.Active.Import.Register'],
    sampleIntervalS: 60, alignedIntervalS: 0, txEndedMeasurands: ['Energy.Active.Import.Register'], txEndedAlignedMeasurands: [],
  }),
  retry: Object.freeze({ attempts: 3, intervalS: 60 }),
});
