/**
 * The state the parts of the ChargePoint share (status, faults, metering, limits, sessions,
 * admission): a connector's and the station's, the events the ChargePoint emits, its timing.
 */
import type { Log } from '../lib/log.js';
import type { AuthorizationSource } from './authorization.js';
import type {
  AuthMethod, Availability, Clock, EvseCondition, EvseHardware, EvseId, FaultReport, AuthorizationInfo, IdTokenType,
  ChargingState, MeterReading, Sample, SessionRecord, StationCondition, StopReason, Timer, VehicleState,
} from './ports.js';

export interface ChargePointTiming {
  /** How often the meter is read while a session runs (for live values and checks). */
  meterPollIntervalMs: number;
  /** How often the energy register is written to the ledger while charging. */
  checkpointIntervalMs: number;
  /** How long a Finishing connector waits before it is Available again once unplugged. */
  unplugGraceMs: number;
}

export const defaultTiming: ChargePointTiming = {
  meterPollIntervalMs: 1_000,
  checkpointIntervalMs: 10_000,
  unplugGraceMs: 0,
};

/** The status event: an EVSE connector's condition, when it changed (the station's is 'station-status'). */
export type StatusChange = EvseCondition;

export interface ChargePointEvents {
  status: [StatusChange];
  /** The station's own condition, when it changed. */
  'station-status': [StationCondition];
  'session-started': [{ evseId: EvseId; localId: string; customerRef: string; authMethod: AuthMethod; meterStartWh: number }];
  'session-stopped': [{ evseId: EvseId; localId: string; reason: StopReason; energyWh: number }];
  reading: [{ evseId: EvseId; reading: MeterReading; sessionEnergyWh?: number }];
  /** New transaction messages are in the outbox. */
  queued: [];
  /**
   * `source`: who decided. 'csms' is the central system's answer; any other is a local decision
   * (the local list, the cache, or no answer in time: offline rules), or 'reservation'.
   */
  'auth-refused': [{ evseId?: EvseId; customerRef: string; status: string; source: AuthorizationSource | 'reservation' }];
  /** A fault of an EVSE raised or cleared. */
  fault: [{ evseId: EvseId; fault: FaultReport }];
  /** A fault of the station as a whole (a reader, the store) raised or cleared. */
  'station-fault': [{ fault: FaultReport }];
  /** A card or code was presented (pseudonymised). */
  token: [{ evseId?: EvseId; customerRef: string; method: string; at: number }];
  /** A clock-aligned sample of an EVSE without a session (policy.metering.idleAlignedSamples): not a transaction message, never queued. */
  'idle-sample': [{ evseId: EvseId; sample: Sample }];
}

/** The ChargePoint's emit, as the parts call it. */
export type Emit = <K extends keyof ChargePointEvents>(event: K, ...args: ChargePointEvents[K]) => void;

export interface PendingAuthorization {
  idTag: string;
  method: AuthMethod;
  info: AuthorizationInfo;
  expires: Timer;
  offline: boolean;
  /** The reservation this start uses (the transaction's start message names it). */
  reservationId?: number;
  /** The central system's id of the remote start this is (its session's opening event carries it). */
  remoteStartId?: number;
  /** The token's kind (the reader's, or the remote start's). */
  idTokenType?: IdTokenType;
}

export interface ActiveSession {
  record: SessionRecord;
  lastReading: MeterReading;
  nextSampleAt: number;
  nextAlignedAt: number;
  /** The next samples recorded for the session's end message only (policy.metering.txEnded*IntervalS); never queued. */
  nextEndedSampleAt: number;
  nextEndedAlignedAt: number;
  nextCheckpointAt: number;
  /** Energy cap after a late rejection (policy.transaction.maxEnergyOnInvalidWh). */
  maxEnergyWh?: number;
  suspendedByEvse: boolean;
  stopping: boolean;
  groupId?: string;
  /** The current offered now (smart charging); 0 suspends the session (SuspendedEVSE). */
  offeredA?: number;
  /** The charging state last recorded for the central system (policy.metering.chargingStateSamples). */
  reportedChargingState?: ChargingState;
  /** The offered current last recorded for the central system as a charging-rate change (policy.metering.limitChangeSignificance), A. */
  reportedLimitA?: number;
}

/** The faults of a part without any (shared, never written). */
const NO_FAULTS: ReadonlyMap<string, FaultReport> = new Map();

/** One EVSE (with its one connector): what the core holds of it. */
export class EvseState {
  availability: Availability = 'Operative';
  scheduledAvailability?: Availability;
  vehicle: VehicleState = 'disconnected';
  /** When the vehicle connected (this run's start, if it was there already); undefined while none is. */
  vehicleSince?: number;
  pending?: PendingAuthorization;
  session?: ActiveSession;
  /** A session ended while the cable is still plugged. */
  finishing = false;
  /** A session is being started (its meter read is on its way). */
  starting = false;
  /** Active faults by source (none: most EVSEs most of the time, so no Map until the first). */
  get faults(): ReadonlyMap<string, FaultReport> { return this.activeFaults ?? NO_FAULTS; }
  private activeFaults?: Map<string, FaultReport>;
  /** Raise (or replace) the fault from f.source. */
  raise(f: FaultReport): void { (this.activeFaults ??= new Map()).set(f.source, f); }
  /** Clear the fault from `source`: whether there was one. */
  clearFault(source: string): boolean { return this.activeFaults?.delete(source) ?? false; }
  /** The condition last derived (held while a session is being stopped), and the one last emitted. */
  lastCondition?: EvseCondition;
  lastEmitted?: EvseCondition;
  poll?: Timer;
  probe?: Timer;
  lastReading?: MeterReading;
  /** A signing meter's public key, as it last gave it (hex DER SubjectPublicKeyInfo). */
  meterPublicKey?: string;
  meterErrors = 0;
  /** When the energy register last moved (or nothing was drawn). */
  energyChangedAt?: number;
  /** The next clock-aligned instant of an EVSE without a session (policy.metering.idleAlignedSamples). */
  nextIdleAlignedAt?: number;
  /** Wakes at the next change of the smart-charging limit. */
  limitTimer?: Timer;
  constructor(readonly hw: EvseHardware) {}
  /** The EVSE's id. */
  get id(): EvseId { return this.hw.evseId; }
  /** Forget the authorisation waiting for a vehicle, and its timer. */
  dropPending(): void {
    this.pending?.expires.cancel();
    this.pending = undefined;
  }
}

/** The station as a whole: its own faults and availability. */
export class StationState {
  /** Active faults by source. */
  get faults(): ReadonlyMap<string, FaultReport> { return this.activeFaults ?? NO_FAULTS; }
  private activeFaults?: Map<string, FaultReport>;
  raise(f: FaultReport): void { (this.activeFaults ??= new Map()).set(f.source, f); }
  clearFault(source: string): boolean { return this.activeFaults?.delete(source) ?? false; }
  availability: Availability = 'Operative';
  /** The station's condition last emitted. */
  lastCondition?: StationCondition;
}

/** What every part of the ChargePoint is given. */
export interface CoreBase {
  readonly evses: ReadonlyMap<EvseId, EvseState>;
  readonly station: StationState;
  readonly clock: Clock;
  readonly log: Log;
  readonly timing: ChargePointTiming;
  readonly emit: Emit;
  /** Between start() and stop(). */
  running(): boolean;
}

/**
 * A connector whose EVSE board reports the error state. OtherError, not EVCommunicationError: OCPP
 * 1.6 says the latter needs no Faulted state (SuspendedEVSE instead), and state E/F is a failure that
 * stops charging. The info names it for the operator.
 */
export const PILOT_FAULT = { source: 'control-pilot', errorCode: 'OtherError', info: 'EVSE board error (control pilot state E/F)' } as const;

export class RefusedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
