/**
 * Charging profiles as plain data (OCPP 1.6 §7.7-7.10 shapes, field names kept so the OCPP side
 * passes them through unchanged). Defined here so the core needs no OCPP import.
 */
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

/** A profile as installed on a connector (0: the whole charge point). */
export interface InstalledProfile {
  connectorId: number;
  profile: ChargingProfile;
  /** Epoch ms; anchors an Absolute schedule without startSchedule. */
  installedAt: number;
}

/** What a limit means physically on a connector (or, for connector 0, the charge point). */
export interface Electrical {
  nominalVoltageV: number;
  /** Phases wired to the connector. */
  phases: 1 | 3;
  /** Hardware limit per phase, A. */
  maxCurrentA: number;
  /** ConnectorSwitch3to1PhaseSupported: whether numberPhases can lower the phases in use. */
  phaseSwitching: boolean;
}

/** The transaction running on a connector, as far as profiles care. */
export interface ActiveTransaction {
  transactionId?: number;
  /** Epoch ms: the anchor of Relative schedules. */
  startedAt: number;
}

export interface CompositePeriod {
  startPeriod: number;
  limit: number;
  numberPhases?: number;
}

export interface CompositeSchedule {
  /** Epoch ms of startPeriod 0. */
  startMs: number;
  durationS: number;
  unit: ChargingRateUnit;
  periods: CompositePeriod[];
}
