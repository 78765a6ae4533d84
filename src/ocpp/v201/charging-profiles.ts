/**
 * OCPP 2.0.1 charging profiles (K01-K10) and their conversion to and from the core's limit
 * profiles (src/core/smart-charging/types.ts): evseId 0 is the station and evseId n the EVSE n;
 * ChargingStationMaxProfile, TxDefaultProfile and TxProfile are the station's maximum, the default
 * for transactions and one transaction's own; a TxProfile's transactionId is the station's own
 * string id of a session (link.ts transactionIdFor: the session's local id). Up to three
 * schedules are kept with their ids, periods with numberPhases and phaseToUse; dates pass as they
 * are, so a profile converted back is the one received.
 */
import {
  STATION, evseTarget, type ClearCriteria, type InstalledLimit, type LimitPeriod, type LimitProfile, type LimitPurpose, type LimitSchedule, type LimitTarget,
} from '../../core/smart-charging/index.js';
import type { ChargingProfilePurposeEnumType, ChargingProfileType, ChargingSchedulePeriodType, ChargingScheduleType, ClearChargingProfileRequest } from './messages.js';
import { STATION_EVSE_ID } from './topology.js';

/** The purposes a central system may set (ChargingStationExternalConstraints is the station's own, K01.FR.22). */
export type SettablePurpose = Exclude<ChargingProfilePurposeEnumType, 'ChargingStationExternalConstraints'>;

const PURPOSES: Record<SettablePurpose, LimitPurpose> = {
  ChargingStationMaxProfile: 'StationMaximum', TxDefaultProfile: 'TransactionDefault', TxProfile: 'Transaction',
};
const V201_PURPOSES: Record<LimitPurpose, SettablePurpose> = {
  StationMaximum: 'ChargingStationMaxProfile', TransactionDefault: 'TxDefaultProfile', Transaction: 'TxProfile',
};

export const fromV201Purpose = (p: SettablePurpose): LimitPurpose => PURPOSES[p];
export const toV201Purpose = (p: LimitPurpose): SettablePurpose => V201_PURPOSES[p];

/** evseId 0 is the station; evseId n is EVSE n. */
export const targetOfEvseId = (evseId: number): LimitTarget => (evseId === STATION_EVSE_ID ? STATION : evseTarget(evseId));
export const evseIdOfTarget = (t: LimitTarget): number => (t.kind === 'station' ? STATION_EVSE_ID : t.evseId);

const fromPeriod = (x: ChargingSchedulePeriodType): LimitPeriod => ({
  startPeriod: x.startPeriod, limit: x.limit,
  ...(x.numberPhases !== undefined ? { numberPhases: x.numberPhases } : {}),
  ...(x.phaseToUse !== undefined ? { phaseToUse: x.phaseToUse } : {}),
});

const toPeriod = (x: LimitPeriod): ChargingSchedulePeriodType => ({
  startPeriod: x.startPeriod, limit: x.limit,
  ...(x.numberPhases !== undefined ? { numberPhases: x.numberPhases } : {}),
  ...(x.phaseToUse !== undefined ? { phaseToUse: x.phaseToUse } : {}),
});

function fromSchedule(s: ChargingScheduleType): LimitSchedule {
  return {
    id: s.id,
    ...(s.startSchedule !== undefined ? { startSchedule: s.startSchedule } : {}),
    ...(s.duration !== undefined ? { durationS: s.duration } : {}),
    unit: s.chargingRateUnit,
    periods: s.chargingSchedulePeriod.map(fromPeriod),
    ...(s.minChargingRate !== undefined ? { minRate: s.minChargingRate } : {}),
  };
}

function toSchedule(s: LimitSchedule, index: number): ChargingScheduleType {
  return {
    // 1.6 schedules have no id: numbered from 1 in the order held.
    id: s.id ?? index + 1,
    ...(s.startSchedule !== undefined ? { startSchedule: s.startSchedule } : {}),
    ...(s.durationS !== undefined ? { duration: s.durationS } : {}),
    chargingRateUnit: s.unit,
    chargingSchedulePeriod: s.periods.map(toPeriod),
    ...(s.minRate !== undefined ? { minChargingRate: s.minRate } : {}),
  };
}

/**
 * A 2.0.1 profile in the core's words. `sessionId` is the local id of the session a TxProfile's
 * transactionId names (resolved and checked by the caller); none: whichever session runs on the
 * EVSE (RequestStartTransaction's profile, before its transaction exists).
 */
export function fromV201Profile(p: ChargingProfileType & { chargingProfilePurpose: SettablePurpose }, sessionId?: string): LimitProfile {
  const [first, ...rest] = p.chargingSchedule.map(fromSchedule);
  return {
    id: p.id, stackLevel: p.stackLevel, purpose: fromV201Purpose(p.chargingProfilePurpose), kind: p.chargingProfileKind,
    ...(p.recurrencyKind !== undefined ? { recurrence: p.recurrencyKind } : {}),
    ...(p.validFrom !== undefined ? { validFrom: p.validFrom } : {}),
    ...(p.validTo !== undefined ? { validTo: p.validTo } : {}),
    schedules: [first!, ...rest],
    ...(sessionId !== undefined ? { sessionId } : {}),
  };
}

/** A limit profile as 2.0.1 says it; a Transaction profile's transactionId from `transactionIdOf` (the station's id of the session). */
export function toV201Profile(p: LimitProfile, transactionIdOf: (sessionId: string) => string | undefined): ChargingProfileType {
  const transactionId = p.sessionId !== undefined ? transactionIdOf(p.sessionId) : undefined;
  return {
    id: p.id, stackLevel: p.stackLevel, chargingProfilePurpose: toV201Purpose(p.purpose), chargingProfileKind: p.kind,
    ...(p.recurrence !== undefined ? { recurrencyKind: p.recurrence } : {}),
    ...(p.validFrom !== undefined ? { validFrom: p.validFrom } : {}),
    ...(p.validTo !== undefined ? { validTo: p.validTo } : {}),
    chargingSchedule: p.schedules.map(toSchedule),
    ...(transactionId !== undefined ? { transactionId } : {}),
  };
}

/** An installed limit as 2.0.1 sees it: on an evseId (0: the station). */
export function toV201Installed(ip: InstalledLimit, transactionIdOf: (sessionId: string) => string | undefined): { evseId: number; profile: ChargingProfileType } {
  return { evseId: evseIdOfTarget(ip.target), profile: toV201Profile(ip.profile, transactionIdOf) };
}

/**
 * ClearChargingProfile's request in the core's words: by id, or by every criterion given (evseId
 * 0: the profiles installed on the station). Undefined: the criteria name a purpose the central
 * system cannot clear (ChargingStationExternalConstraints), so nothing matches.
 */
export function fromV201ClearRequest(req: ClearChargingProfileRequest): ClearCriteria | undefined {
  if (req.chargingProfileId !== undefined) return { id: req.chargingProfileId };
  const c = req.chargingProfileCriteria ?? {};
  if (c.chargingProfilePurpose === 'ChargingStationExternalConstraints') return undefined;
  return {
    ...(c.evseId !== undefined ? { target: targetOfEvseId(c.evseId) } : {}),
    ...(c.chargingProfilePurpose !== undefined ? { purpose: fromV201Purpose(c.chargingProfilePurpose) } : {}),
    ...(c.stackLevel !== undefined ? { stackLevel: c.stackLevel } : {}),
  };
}
