/**
 * The core's vocabulary to and from OCPP 1.6's: connector status, error code and stop reason.
 * One function per concept; every 1.6 message that carries one goes through here.
 */
import type { AuthorizationInfo, ConnectorErrorCode, ConnectorStatus, StopReason } from '../../core/ports.js';

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

/** The 1.6 connector id of the station as a whole. */
export const STATION_CONNECTOR_ID = 0;

const STATUS: Record<ConnectorStatus, ChargePointStatus> = {
  Available: 'Available', Preparing: 'Preparing', Charging: 'Charging', SuspendedEVSE: 'SuspendedEVSE', SuspendedEV: 'SuspendedEV',
  Finishing: 'Finishing', Reserved: 'Reserved', Unavailable: 'Unavailable', Faulted: 'Faulted',
};

export function toV16Status(status: ConnectorStatus): ChargePointStatus {
  return STATUS[status];
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
