/**
 * The core's vocabulary to and from OCPP 2.0.1's: connector status, stop reason, trigger reason,
 * authorisation, meter values. One function per concept; every 2.0.1 message that carries one
 * goes through here.
 */
import { isoMs } from '../../core/clock.js';
import type { AuthorizationInfo, ChargingState, Condition, Sample, StopReason } from '../../core/ports.js';
import { toMeterValue } from '../v16/render.js';
import { toV16Status, type ChargePointStatus } from '../v16/mapping.js';
import type {
  ChargingStateEnumType, ConnectorStatusEnumType, IdTokenInfoType, MeterValueType, ReasonEnumType, SampledValueType, TriggerReasonEnumType,
} from './messages.js';

/** 2.0.1 has five statuses: 1.6's Preparing, Charging, Suspended(EV|EVSE) and Finishing are all Occupied (the detail is chargingState). */
const STATUS: Record<ChargePointStatus, ConnectorStatusEnumType> = {
  Available: 'Available', Preparing: 'Occupied', Charging: 'Occupied', SuspendedEVSE: 'Occupied', SuspendedEV: 'Occupied',
  Finishing: 'Occupied', Reserved: 'Reserved', Unavailable: 'Unavailable', Faulted: 'Faulted',
};

/** A connector's condition as 2.0.1 says it, by the same precedence as 1.6 (a fault first, then a session, availability, a reservation). */
export function toV201Status(c: Condition): ConnectorStatusEnumType {
  return STATUS[toV16Status(c)];
}

/** The core's stop reasons as 2.0.1 says them: its own verbatim, 1.6's as the nearest. */
const REASON: Record<StopReason, ReasonEnumType> = {
  Local: 'Local', EmergencyStop: 'EmergencyStop', EVDisconnected: 'EVDisconnected', PowerLoss: 'PowerLoss', Reboot: 'Reboot',
  Remote: 'Remote', DeAuthorized: 'DeAuthorized', Other: 'Other', HardReset: 'ImmediateReset', SoftReset: 'Reboot', UnlockCommand: 'Other',
  ImmediateReset: 'ImmediateReset', MasterPass: 'MasterPass', EnergyLimitReached: 'EnergyLimitReached', GroundFault: 'GroundFault',
  LocalOutOfCredit: 'LocalOutOfCredit', OvercurrentFault: 'OvercurrentFault', PowerQuality: 'PowerQuality', SOCLimitReached: 'SOCLimitReached',
  StoppedByEV: 'StoppedByEV', TimeLimitReached: 'TimeLimitReached', Timeout: 'Timeout',
};

export function toV201Reason(reason: StopReason): ReasonEnumType {
  return REASON[reason];
}

/** What made a transaction end, as TransactionEvent(Ended).triggerReason. */
export function endTrigger(reason: StopReason | null): TriggerReasonEnumType {
  switch (reason) {
    case null: case 'Local': case 'MasterPass': return 'StopAuthorized';
    case 'Remote': return 'RemoteStop';
    case 'EVDisconnected': return 'EVCommunicationLost';
    case 'DeAuthorized': return 'Deauthorized';
    case 'HardReset': case 'SoftReset': case 'ImmediateReset': return 'ResetCommand';
    case 'UnlockCommand': return 'UnlockCommand';
    case 'EnergyLimitReached': return 'EnergyLimitReached';
    case 'TimeLimitReached': return 'TimeLimitReached';
    case 'Timeout': return 'EVConnectTimeout';
    case 'StoppedByEV': return 'EVDeparted';
    default: return 'AbnormalCondition';
  }
}

/** The core's charging state as 2.0.1's chargingState: no EV is Idle (an authorisation waiting too), a finished session EVConnected. */
export function toV201ChargingState(s: ChargingState): ChargingStateEnumType {
  switch (s) {
    case 'Charging': case 'SuspendedEV': case 'SuspendedEVSE': case 'EVConnected': return s;
    case 'Finishing': return 'EVConnected';
    default: return 'Idle';
  }
}

/** The charging state after a transaction ended: Idle when it ended because the EV left or never came (Timeout), else the EV is still connected. */
export function endedChargingState(reason: StopReason | null): ChargingStateEnumType {
  return reason === 'EVDisconnected' || reason === 'Timeout' ? 'Idle' : 'EVConnected';
}

/** An IdTokenInfo as the core's authorisation: groupIdToken is the token's group. */
export function fromV201IdTokenInfo(info: IdTokenInfoType): AuthorizationInfo {
  return {
    status: info.status,
    ...(info.cacheExpiryDateTime !== undefined ? { expiryDate: info.cacheExpiryDateTime } : {}),
    ...(info.groupIdToken !== undefined ? { groupId: info.groupIdToken.idToken } : {}),
  };
}

/** A sample as a 2.0.1 MeterValue: the same values as 1.6's, as numbers with their unit of measure. */
export function toV201MeterValue(sample: Sample): MeterValueType {
  const mv = toMeterValue(sample);
  return {
    timestamp: mv.timestamp,
    sampledValue: mv.sampledValue.map((v) => {
      const out: SampledValueType = { value: Number(v.value) };
      if (v.context) out.context = v.context as SampledValueType['context'];
      if (v.measurand) out.measurand = v.measurand as SampledValueType['measurand'];
      if (v.phase) out.phase = v.phase as SampledValueType['phase'];
      if (v.location) out.location = v.location as SampledValueType['location'];
      if (v.unit) out.unitOfMeasure = { unit: v.unit };
      return out;
    }),
  };
}

/** The energy register at a transaction's start or end, as a MeterValue. */
export function registerValue(energyWh: number, at: number, context: 'Transaction.Begin' | 'Transaction.End'): MeterValueType {
  return {
    timestamp: isoMs(at),
    sampledValue: [{ value: energyWh, context, measurand: 'Energy.Active.Import.Register', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } }],
  };
}
