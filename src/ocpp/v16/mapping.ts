/**
 * The core's vocabulary to and from OCPP 1.6's: connector status, error code and stop reason.
 * One function per concept; every 1.6 message that carries one goes through here.
 */
import type { AuthorizationInfo, Condition, ConnectorErrorCode, EvseCondition, StationCondition, StopReason } from '../../core/ports.js';
import { v16ConnectorIdOf } from './topology.js';


/** ChargePointStatus (OCPP 1.6 §7.7). */
export type ChargePointStatus =
  | 'Available' | 'Preparing' | 'Charging' | 'SuspendedEVSE' | 'SuspendedEV'
  | 'Finishing' | 'Reserved' | 'Unavailable' | 'Faulted';

/** ChargePointErrorCode (OCPP 1.6 §7.6). */
export type ChargePointErrorCode =
  | 'NoError' | 'ConnectorLockFailure' | 'EVCommunicationError' | 'GroundFailure'
  | 'HighTemperature' | 'InternalError' | 'LocalListConflict' | 'OtherError'
  | 'OverCurrentFailure' | 'OverVoltage' | 'PowerMeterFailure' | 'PowerSwitchFailure'
  | 'ReaderFailure' | 'ResetFailure' | 'UnderVoltage' | 'WeakSignal';

/** Reason (OCPP 1.6 §7.40). */
export type Reason =
  | 'Local' | 'EmergencyStop' | 'EVDisconnected' | 'HardReset' | 'PowerLoss' | 'Reboot'
  | 'Remote' | 'SoftReset' | 'UnlockCommand' | 'DeAuthorized' | 'Other';

/** IdTagInfo (OCPP 1.6 §7.29). */
export interface IdTagInfo {
  status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | 'ConcurrentTx';
  expiryDate?: string;
  parentIdTag?: string;
}

/** A 1.6 IdTagInfo as the core's authorisation: parentIdTag is the token's group. */
export function fromV16IdTagInfo(info: IdTagInfo): AuthorizationInfo {
  return {
    status: info.status,
    ...(info.expiryDate !== undefined ? { expiryDate: info.expiryDate } : {}),
    ...(info.parentIdTag !== undefined ? { groupId: info.parentIdTag } : {}),
  };
}

/**
 * The 1.6 status of a connector's (or the station's) condition, in 1.6's order of precedence
 * (§4.9): a fault first; a session's own state (even on a connector made inoperative, whose
 * change waits for the session's end); Unavailable; Reserved; then what happens at the connector.
 */
export function toV16Status(c: Condition): ChargePointStatus {
  if (c.faulted) return 'Faulted';
  switch (c.chargingState) {
    case 'Charging': case 'SuspendedEV': case 'SuspendedEVSE': return c.chargingState;
    default: break;
  }
  if (c.availability === 'Inoperative') return 'Unavailable';
  if (c.reserved) return 'Reserved';
  switch (c.chargingState) {
    case 'Finishing': return 'Finishing';
    case 'Authorized': case 'EVConnected': return 'Preparing';
    default: return 'Available';
  }
}

/** A condition as a 1.6 StatusNotification says it (status, errorCode, info), with its connector and time. */
export interface V16Status {
  connectorId: number;
  status: ChargePointStatus;
  errorCode: ChargePointErrorCode;
  info?: string;
  at: number;
}

/** A condition as 1.6 reports it, with its 1.6 connectorId (0: the station). */
export function v16StatusOf(c: StationCondition | EvseCondition): V16Status {
  return { connectorId: v16ConnectorIdOf(c), status: toV16Status(c), errorCode: toV16ErrorCode(c.fault?.errorCode ?? 'NoError'), info: c.fault?.info, at: c.at };
}

/**
 * The core emits a status event whenever a connector's condition changes; 1.6 reports a change
 * of status or errorCode only. `changed` says whether an event is one (per connector, 0 included).
 */
export class V16StatusChanges {
  private readonly last = new Map<number, string>();
  changed(c: StationCondition | EvseCondition): boolean {
    const s = v16StatusOf(c);
    const key = `${s.status}/${s.errorCode}`;
    if (this.last.get(s.connectorId) === key) return false;
    this.last.set(s.connectorId, key);
    return true;
  }
}

const ERROR_CODE: Record<ConnectorErrorCode, ChargePointErrorCode> = {
  NoError: 'NoError', ConnectorLockFailure: 'ConnectorLockFailure', EVCommunicationError: 'EVCommunicationError',
  GroundFailure: 'GroundFailure', HighTemperature: 'HighTemperature', InternalError: 'InternalError', LocalListConflict: 'LocalListConflict',
  OtherError: 'OtherError', OverCurrentFailure: 'OverCurrentFailure', OverVoltage: 'OverVoltage', PowerMeterFailure: 'PowerMeterFailure',
  PowerSwitchFailure: 'PowerSwitchFailure', ReaderFailure: 'ReaderFailure', ResetFailure: 'ResetFailure', UnderVoltage: 'UnderVoltage',
  WeakSignal: 'WeakSignal',
};

export function toV16ErrorCode(code: ConnectorErrorCode): ChargePointErrorCode {
  return ERROR_CODE[code];
}

/**
 * A stop reason as 1.6 says it: its own values verbatim; 2.0.1's that 1.6 lacks as the nearest
 * (an immediate reset is a hard one, a master pass is a local stop), else Other.
 */
const REASON: Record<StopReason, Reason> = {
  Local: 'Local', EmergencyStop: 'EmergencyStop', EVDisconnected: 'EVDisconnected', PowerLoss: 'PowerLoss', Reboot: 'Reboot',
  Remote: 'Remote', DeAuthorized: 'DeAuthorized', Other: 'Other', HardReset: 'HardReset', SoftReset: 'SoftReset', UnlockCommand: 'UnlockCommand',
  ImmediateReset: 'HardReset', MasterPass: 'Local', EnergyLimitReached: 'Other', GroundFault: 'Other', LocalOutOfCredit: 'Other',
  OvercurrentFault: 'Other', PowerQuality: 'Other', SOCLimitReached: 'Other', StoppedByEV: 'Other', TimeLimitReached: 'Other', Timeout: 'Other',
};

export function toV16Reason(reason: StopReason): Reason {
  return REASON[reason];
}
