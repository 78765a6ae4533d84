/**
 * The ports the ChargePoint core asks for. Real drivers (src/drivers) and simulated ones
 * (src/sim) implement the same interfaces; the core never knows which it has. The vocabulary is
 * the core's: each version binding (src/ocpp/<version>/mapping.ts) maps it to its wire values.
 */
/** Whether a connector or the station may be used (set by the central system or a technician). */
export type Availability = 'Operative' | 'Inoperative';

/**
 * What happens at a connector, apart from its availability, faults and reservations (2.0.1's
 * ChargingStateEnumType, with the phases around a session that 1.6 reports as statuses):
 * Idle, nothing; Authorized, a token waits for a vehicle; EVConnected, a vehicle is plugged with
 * no session (yet); Charging, SuspendedEV, SuspendedEVSE, in a session; Finishing, the session
 * ended and the vehicle is still plugged.
 */
export type ChargingState = 'Idle' | 'Authorized' | 'EVConnected' | 'Charging' | 'SuspendedEV' | 'SuspendedEVSE' | 'Finishing';

/**
 * The station's topology as the core knows it (OCPP 2.0.1's, which 1.6 maps onto: see
 * src/ocpp/<version>/topology.ts). The station holds EVSEs, numbered 1..n; each EVSE holds
 * connectors, numbered from 1 within it (today every EVSE has one connector, id 1). The station
 * itself is no EVSE and has no id: the core names it by its own methods and events.
 */
export type EvseId = number;

/** A connector of an EVSE: where both the EVSE and the connector matter (a plug lock, a status). */
export interface ConnectorRef {
  evseId: EvseId;
  /** 1-based within the EVSE. */
  connectorId: number;
}

/** The one connector every EVSE has today. */
export const ONLY_CONNECTOR_ID = 1;

/** What the core knows of a place's condition (an EVSE's connector, or the station). */
export interface Condition {
  availability: Availability;
  /** An availability that takes effect when the running session ends. */
  scheduledAvailability?: Availability;
  chargingState: ChargingState;
  /** A fault stops the connector (its own, or the station's that stops charging). */
  faulted: boolean;
  /** The fault reported with the condition (one that does not stop charging, e.g. a dead reader, too). */
  fault?: { errorCode: ConnectorErrorCode; info?: string };
  /** A reservation holds the connector. */
  reserved: boolean;
  at: number;
}

/**
 * A connector's condition (its EVSE's: one connector each). Each version binding derives its
 * protocol's status from it (src/ocpp/<version>/mapping.ts: 1.6's nine-value ChargePointStatus).
 */
export interface EvseCondition extends Condition, ConnectorRef {}

/** The station's condition: its own availability and faults; its chargingState is Idle and it is never reserved. */
export interface StationCondition extends Condition {
  readonly station: true;
}

/** What a fault is (a binding maps it: 1.6 errorCode; 2.0.1 reports faults apart from status). */
export type ConnectorErrorCode =
  | 'NoError' | 'ConnectorLockFailure' | 'EVCommunicationError' | 'GroundFailure'
  | 'HighTemperature' | 'InternalError' | 'LocalListConflict' | 'OtherError'
  | 'OverCurrentFailure' | 'OverVoltage' | 'PowerMeterFailure' | 'PowerSwitchFailure'
  | 'ReaderFailure' | 'ResetFailure' | 'UnderVoltage' | 'WeakSignal';

export type AuthMethod = 'rfid' | 'touchscreen' | 'app' | 'free';

/**
 * Why a session ended: a superset of OCPP 1.6's Reason and 2.0.1's ReasonEnumType. A binding
 * maps a reason its protocol lacks to its nearest (src/ocpp/v16/mapping.ts).
 */
export type StopReason =
  // both versions
  | 'Local' | 'EmergencyStop' | 'EVDisconnected' | 'PowerLoss' | 'Reboot' | 'Remote' | 'DeAuthorized' | 'Other'
  // OCPP 1.6
  | 'HardReset' | 'SoftReset' | 'UnlockCommand'
  // OCPP 2.0.1
  | 'ImmediateReset' | 'MasterPass' | 'EnergyLimitReached' | 'GroundFault' | 'LocalOutOfCredit' | 'OvercurrentFault'
  | 'PowerQuality' | 'SOCLimitReached' | 'StoppedByEV' | 'TimeLimitReached' | 'Timeout';

/** A token's authorisation: 1.6's AuthorizationStatus and 2.0.1's AuthorizationStatusEnumType. */
export type AuthorizationStatus =
  | 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | 'ConcurrentTx'
  | 'Unknown' | 'NoCredit' | 'NotAllowedTypeEVSE' | 'NotAtThisLocation' | 'NotAtThisTime';

/** What is known of a token's authorisation (the binding maps 1.6 AuthorizationInfo / 2.0.1 IdTokenInfo to it). */
export interface AuthorizationInfo {
  status: AuthorizationStatus;
  /** ISO-8601: an Accepted authorisation ends then. */
  expiryDate?: string;
  /** The token's group (1.6 parentIdTag, 2.0.1 groupIdToken): a token of the same group may stop its sessions. */
  groupId?: string;
}

/** One reading of a connector's energy meter. */
export interface MeterReading {
  /** Epoch ms at which the meter was read. */
  takenAt: number;
  /** Import energy register, Wh. Only ever increases. */
  energyWh: number;
  powerW?: number;
  /** Per phase L1..L3 (one value, no phase, when `dc`). */
  currentA?: number[];
  /** Per phase L1-N..L3-N (one value, no phase, when `dc`). */
  voltageV?: number[];
  /** A DC meter: current and voltage are the DC side's, not a phase's. */
  dc?: boolean;
  frequencyHz?: number;
  socPct?: number;
  temperatureC?: number;
  /** The meter's own signed record of this reading (a calibration-law meter's), passed on as it is. */
  signed?: SignedMeterValue;
}

/**
 * A reading as a calibration-law meter signed it (Eichrecht): a record a verifier (the S.A.F.E.
 * Transparenzsoftware, `evse-edge ocmf verify`) checks against the meter's public key. The core
 * keeps it with the reading and never looks inside; each version binding carries it on the wire.
 */
export interface SignedMeterValue {
  /** How `data` is encoded: OCMF text (`OCMF|payload|signature`). */
  encoding: 'OCMF';
  data: string;
  /** The signature algorithm, e.g. ECDSA-secp256r1-SHA256. */
  signingMethod: string;
  /** The meter's public key: hex of its DER SubjectPublicKeyInfo. */
  publicKey: string;
}

/** What a signed reading marks in the meter's transaction: its begin, its end, its end found after a power loss, or a reading between. */
export type SignedReadingKind = 'begin' | 'end' | 'power-loss-end' | 'interval';

/** A meter that signs its readings (OCMF over its own interface). */
export interface MeterSigner {
  /** The meter's public key (hex DER SubjectPublicKeyInfo): shown on the display, given to the central system. */
  publicKey(): Promise<string>;
  /** Whether it signs readings between a transaction's begin and end (at the sample interval). */
  readonly signsIntervals: boolean;
  /** A fresh reading with the meter's signed record of it, or a rejection (EvseError) like read(). */
  readSigned(kind: SignedReadingKind): Promise<MeterReading>;
}

export interface Meter {
  /** A fresh reading, or a rejection (EvseError with a stable code) after the driver's retries. */
  read(): Promise<MeterReading>;
  /**
   * A meter whose register does not survive a restart (no non-volatile memory, e.g. a simulated
   * one) resumes at `registerWh`, the highest register the store knows, if that is above its own.
   * A real meter keeps its register and has no such method.
   */
  resume?(registerWh: number): void;
  /**
   * A meter whose health must stay known while no session runs (a bus device that may fail or
   * come back at any time): the core's meter loop reads it at this interval then too. Absent: it
   * is read only in sessions. The core is the only one to poll a meter, and checks every reading.
   */
  readonly idlePollIntervalMs?: number;
  /** A calibration-law meter: it signs the readings of a transaction's begin and end (and between, if it says so). */
  readonly signer?: MeterSigner;
}

/** What the EVSE control board sees of the vehicle (IEC 61851 control pilot A, B, C, E/F). */
export type VehicleState = 'disconnected' | 'connected' | 'charging' | 'error';

export interface PowerPath {
  vehicle(): VehicleState;
  onVehicleChange(listener: (state: VehicleState) => void): () => void;
  /**
   * Close the contactor and allow up to `maxCurrentA`; 0 opens it. `suspend`: the session goes
   * on (a smart-charging limit of 0), so a vehicle waits rather than leaves.
   */
  offer(maxCurrentA: number, opts?: { suspend?: boolean }): Promise<void>;
  /** The connector is authorised and waits for a vehicle (lights, unlock; a simulated EV arrives). */
  invite(): void;
  /** Whether the connector has a plug lock (not a tethered cable, nor a board without one). */
  hasLock(): boolean;
  unlock(): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'>;
}

/** How a token identifies its holder (OCPP 2.0.1 IdTokenEnumType; a 1.6 idTag carries no type). */
export type IdTokenType = 'ISO14443' | 'ISO15693' | 'KeyCode' | 'Central' | 'eMAID' | 'MacAddress' | 'NoAuthorization' | 'Local';

/** A token: its id and type (OCPP 2.0.1: equal when both match). */
export interface IdToken {
  id: string;
  type: IdTokenType;
}

/**
 * The longest token id the core and its readers accept (2.0.1 IdToken: 36 characters). A version
 * binding whose messages carry less says so in its policy (authorization.maxTokenChars).
 */
export const MAX_TOKEN_CHARS = 36;

export interface PresentedToken {
  token: IdToken;
  method: Exclude<AuthMethod, 'app' | 'free'>;
  /** The EVSE the reader or screen belongs to, when it serves only one. */
  evseId?: EvseId;
}

export interface IdReader {
  onToken(listener: (token: PresentedToken) => void): () => void;
}

/** A hardware fault raised or cleared by a driver. */
export interface FaultReport {
  source: string;
  errorCode: ConnectorErrorCode;
  info?: string;
  active: boolean;
}

export interface FaultSource {
  onFault(listener: (fault: FaultReport) => void): () => void;
}

/** An EVSE's hardware (its one connector's meter and power path). */
export interface EvseHardware {
  evseId: EvseId;
  meter: Meter;
  powerPath: PowerPath;
  maxCurrentA: number;
  phases: 1 | 3;
  nominalVoltageV: number;
  /** Power the EVSE can deliver; a meter jump beyond it is implausible. */
  maxPowerW: number;
}

export interface Timer {
  cancel(): void;
}

/** Time, and timers. Tests and the fleet pass their own. */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Whether now() is known to be right (set by the central system, or the OS is synced). */
  trusted(): boolean;
  setTimeout(fn: () => void, ms: number): Timer;
}

export interface Sample {
  takenAt: number;
  clockTrusted: boolean;
  context: 'Sample.Periodic' | 'Sample.Clock' | 'Transaction.Begin' | 'Transaction.End' | 'Interruption.Begin' | 'Interruption.End' | 'Trigger';
  reading: MeterReading;
  /**
   * What the charger offered the vehicle when the sample was taken (Current.Offered,
   * Power.Offered): the smart-charging limit in force, or the connector's maximum; 0 suspended.
   */
  offered?: { currentA: number; powerW: number };
  /** Measurands selected when the sample was taken. */
  measurands: string[];
  /** Taken because the session's charging state changed, to this one (recorded only when the policy asks: 2.0.1's ChargingStateChanged). */
  chargingStateChange?: ChargingState;
  /**
   * Taken because the limit applied to the session changed significantly (a charging profile set
   * or cleared, a schedule's next period): the offered current before and after, A (recorded only
   * when the policy asks: 2.0.1's ChargingRateChanged).
   */
  chargingRateChange?: { fromA: number; toA: number };
}

/** A session as the core knows it: by its local id (the protocol's transaction id is the version binding's). */
export interface SessionRecord {
  localId: string;
  /** The EVSE of the session (on its one connector). */
  evseId: EvseId;
  idTag: string | null;
  customerRef: string | null;
  authMethod: AuthMethod;
  startedAt: number;
  startClockTrusted: boolean;
  meterStartWh: number;
  lastEnergyWh: number;
  lastCheckpointAt: number;
  stoppedAt: number | null;
  meterStopWh: number | null;
  stopReason: StopReason | null;
  reservationId: number | null;
}

export interface NewSession {
  evseId: EvseId;
  idTag: string;
  authMethod: AuthMethod;
  startedAt: number;
  clockTrusted: boolean;
  meterStartWh: number;
  reservationId?: number;
  /** The central system's id of the remote start that began the session (2.0.1 remoteStartId; 1.6 has none). */
  remoteStartId?: number;
  /** What completed the start (recorded only when the policy asks: 2.0.1's triggerReason): the authorisation, or the vehicle plugged in after it. */
  startedBy?: SessionStartCause;
  /** The session's charging state at its start (recorded only when the policy asks: 2.0.1's chargingState). */
  chargingState?: ChargingState;
  /** The token's kind when it is not ISO14443 (its opening event records it for the protocols that say it). */
  idTokenType?: IdTokenType;
  begin: Sample;
  /** Report the begin sample (a signed one) as a sample of its own right after the opening event (policy.metering.signedBeginSample). */
  reportBegin?: boolean;
}

/** The last of a session's start conditions to be met: an authorisation (cable first), or the vehicle (authorisation first). */
export type SessionStartCause = 'Authorized' | 'EVConnected';

export interface SessionStop {
  stoppedAt: number;
  clockTrusted: boolean;
  meterStopWh: number;
  reason: StopReason;
  idTag?: string;
  end: Sample;
  /** Measurands for StopTransaction.transactionData (StopTxnSampledData): the Begin and End samples. */
  transactionDataMeasurands: string[];
  /** Measurands of the session's clock-aligned samples in transactionData (StopTxnAlignedData). */
  transactionDataAlignedMeasurands?: string[];
  /**
   * The spacing of the session's periodic samples in transactionData, s (0: none; absent: none,
   * as 1.6), and the clock-aligned interval of its clock-aligned ones (0: none; absent: every one).
   * The ledger keeps at most a bounded number of each (SessionLedger: evenly thinned).
   */
  transactionDataIntervalS?: number;
  transactionDataAlignedIntervalS?: number;
}

/**
 * The session ledger. Each call that changes a session also queues the transaction message
 * it causes, in one SQLite transaction.
 */
export interface SessionLedger {
  open(input: NewSession): SessionRecord;
  sample(localId: string, sample: Sample, queue: boolean): void;
  checkpoint(localId: string, energyWh: number, at: number): void;
  close(localId: string, stop: SessionStop): void;
  active(): SessionRecord[];
  /**
   * The highest durable energy reading of a session: its checkpoint or any recorded sample,
   * whichever is higher (a sample may be newer than the last checkpoint).
   */
  highestReading(localId: string): MeterReading | undefined;
  /** The highest energy register recorded for an EVSE's meter, across every session; 0 if none. */
  highestRegisterWh(evseId: EvseId): number;
  get(localId: string): SessionRecord | undefined;
}

export interface AuthorizationData {
  localListEntry(idTag: string): AuthorizationInfo | undefined;
  cacheEntry(idTag: string): AuthorizationInfo | undefined;
  cachePut(idTag: string, info: AuthorizationInfo): void;
  /** A cache entry forgotten (an expired one, when the policy has a cache LifeTime). */
  cacheRemove?(idTag: string): void;
  /** A cache entry just used to authorise (least-recently-used eviction). */
  cacheTouch?(idTag: string): void;
  /**
   * Shrink the cache to `maxBytes`: entries that no longer authorise (not Accepted, or expired at
   * `now`) go first, then the least recently used; `keep` (the entry just written) stays.
   */
  cacheEvict?(maxBytes: number, now: number, keep: string): void;
}

/** The central system as the core sees it: online, and able to authorise a tag. */
export interface RemoteAuthorizer {
  online(): boolean;
  /** The central system's answer, or undefined when it could not be asked. `type`: the token's kind, for a protocol that says it (2.0.1). */
  authorize(idTag: string, type?: IdTokenType): Promise<AuthorizationInfo | undefined>;
}
