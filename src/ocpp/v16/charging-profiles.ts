/**
 * OCPP 1.6 charging profiles (§7.7-7.10) and their conversion to and from the core's limit
 * profiles (src/core/smart-charging/types.ts): connector 0 is the station and connector n the
 * EVSE n; ChargePointMaxProfile, TxDefaultProfile and TxProfile are the station's maximum, the
 * default for transactions and one transaction's own; a TxProfile's transactionId (the central
 * system's integer) becomes the session's local id, resolved by the binding that holds it.
 * Dates pass as they are, so a profile converted back is the one received.
 */
import { EvseError } from '../../lib/errors.js';
import {
  STATION, evseTarget, type ClearCriteria, type InstalledLimit, type LimitPeriod, type LimitProfile, type LimitPurpose, type LimitSchedule, type LimitTarget,
} from '../../core/smart-charging/index.js';

export type ChargingProfilePurpose = 'ChargePointMaxProfile' | 'TxDefaultProfile' | 'TxProfile';
export type ChargingProfileKind = 'Absolute' | 'Recurring' | 'Relative';
export type RecurrencyKind = 'Daily' | 'Weekly';
export type ChargingRateUnit = 'A' | 'W';

export interface ChargingSchedulePeriod {
  /** Seconds from the start of the schedule. */
  startPeriod: number;
  /** A per phase (unit A) or W (unit W). */
  limit: number;
  numberPhases?: number;
}

export interface ChargingSchedule {
  /** Seconds; absent: the last period lasts until the profile ends (or recurs). */
  duration?: number;
  /** ISO-8601 (UTC); the anchor of Absolute and Recurring schedules. */
  startSchedule?: string;
  chargingRateUnit: ChargingRateUnit;
  chargingSchedulePeriod: ChargingSchedulePeriod[];
  minChargingRate?: number;
}

export interface ChargingProfile {
  chargingProfileId: number;
  transactionId?: number;
  stackLevel: number;
  chargingProfilePurpose: ChargingProfilePurpose;
  chargingProfileKind: ChargingProfileKind;
  recurrencyKind?: RecurrencyKind;
  validFrom?: string;
  validTo?: string;
  chargingSchedule: ChargingSchedule;
}

/** A 1.6 profile as installed on a connector (0: the charge point). */
export interface V16InstalledProfile {
  connectorId: number;
  profile: ChargingProfile;
  installedAt: number;
}

const PURPOSES: Record<ChargingProfilePurpose, LimitPurpose> = {
  ChargePointMaxProfile: 'StationMaximum', TxDefaultProfile: 'TransactionDefault', TxProfile: 'Transaction',
};
const V16_PURPOSES: Record<LimitPurpose, ChargingProfilePurpose> = {
  StationMaximum: 'ChargePointMaxProfile', TransactionDefault: 'TxDefaultProfile', Transaction: 'TxProfile',
};

export const fromV16Purpose = (p: ChargingProfilePurpose): LimitPurpose => PURPOSES[p];
export const toV16Purpose = (p: LimitPurpose): ChargingProfilePurpose => V16_PURPOSES[p];

/** Connector 0 is the station; connector n is EVSE n. */
export const targetOfConnector = (connectorId: number): LimitTarget => (connectorId === 0 ? STATION : evseTarget(connectorId));
export const connectorOfTarget = (t: LimitTarget): number => (t.kind === 'station' ? 0 : t.evseId);

/**
 * A 1.6 profile in the core's words. `sessionOf` resolves a TxProfile's transactionId to the
 * local id of the session it names; a transactionId it cannot resolve is refused
 * (ERR_UNKNOWN_TRANSACTION): the profile would name no session the core knows.
 */
export function fromV16Profile(p: ChargingProfile, sessionOf: (transactionId: number) => string | undefined): LimitProfile {
  const s = p.chargingSchedule;
  const schedule: LimitSchedule = {
    ...(s.startSchedule !== undefined ? { startSchedule: s.startSchedule } : {}),
    ...(s.duration !== undefined ? { durationS: s.duration } : {}),
    unit: s.chargingRateUnit,
    periods: s.chargingSchedulePeriod.map((x): LimitPeriod => ({
      startPeriod: x.startPeriod, limit: x.limit, ...(x.numberPhases !== undefined ? { numberPhases: x.numberPhases } : {}),
    })),
    ...(s.minChargingRate !== undefined ? { minRate: s.minChargingRate } : {}),
  };
  let sessionId: string | undefined;
  if (p.transactionId !== undefined) {
    sessionId = sessionOf(p.transactionId);
    if (sessionId === undefined) throw new EvseError('ERR_UNKNOWN_TRANSACTION', `no session is known as transaction ${p.transactionId}`);
  }
  return {
    id: p.chargingProfileId, stackLevel: p.stackLevel, purpose: fromV16Purpose(p.chargingProfilePurpose), kind: p.chargingProfileKind,
    ...(p.recurrencyKind !== undefined ? { recurrence: p.recurrencyKind } : {}),
    ...(p.validFrom !== undefined ? { validFrom: p.validFrom } : {}),
    ...(p.validTo !== undefined ? { validTo: p.validTo } : {}),
    schedules: [schedule],
    ...(sessionId !== undefined ? { sessionId } : {}),
  };
}

/**
 * A limit profile as 1.6 says it: the first schedule, and the session's transactionId from
 * `transactionIdOf` (none while the session has none, e.g. its StartTransaction is not confirmed).
 */
export function toV16Profile(p: LimitProfile, transactionIdOf: (sessionId: string) => number | undefined): ChargingProfile {
  const s = p.schedules[0];
  const transactionId = p.sessionId !== undefined ? transactionIdOf(p.sessionId) : undefined;
  return {
    chargingProfileId: p.id,
    ...(transactionId !== undefined ? { transactionId } : {}),
    stackLevel: p.stackLevel, chargingProfilePurpose: toV16Purpose(p.purpose), chargingProfileKind: p.kind,
    ...(p.recurrence !== undefined ? { recurrencyKind: p.recurrence } : {}),
    ...(p.validFrom !== undefined ? { validFrom: p.validFrom } : {}),
    ...(p.validTo !== undefined ? { validTo: p.validTo } : {}),
    chargingSchedule: {
      ...(s.durationS !== undefined ? { duration: s.durationS } : {}),
      ...(s.startSchedule !== undefined ? { startSchedule: s.startSchedule } : {}),
      chargingRateUnit: s.unit,
      chargingSchedulePeriod: s.periods.map((x) => ({ startPeriod: x.startPeriod, limit: x.limit, ...(x.numberPhases !== undefined ? { numberPhases: x.numberPhases } : {}) })),
      ...(s.minRate !== undefined ? { minChargingRate: s.minRate } : {}),
    },
  };
}

/** An installed limit as 1.6 sees it: on a connector (0: the charge point). */
export function toV16Installed(ip: InstalledLimit, transactionIdOf: (sessionId: string) => number | undefined): V16InstalledProfile {
  return { connectorId: connectorOfTarget(ip.target), profile: toV16Profile(ip.profile, transactionIdOf), installedAt: ip.installedAt };
}

/** ClearChargingProfile's criteria in the core's words (connector 0: the profiles installed on the charge point). */
export function fromV16ClearCriteria(c: { id?: number; connectorId?: number; chargingProfilePurpose?: ChargingProfilePurpose; stackLevel?: number }): ClearCriteria {
  return {
    ...(c.id !== undefined ? { id: c.id } : {}),
    ...(c.connectorId !== undefined ? { target: targetOfConnector(c.connectorId) } : {}),
    ...(c.chargingProfilePurpose !== undefined ? { purpose: fromV16Purpose(c.chargingProfilePurpose) } : {}),
    ...(c.stackLevel !== undefined ? { stackLevel: c.stackLevel } : {}),
  };
}
