/**
 * Limits from smart charging in the core's words: what each OCPP version's charging profiles
 * become (src/ocpp/v16/charging-profiles.ts converts 1.6's ChargingProfile, connector 0 and its
 * integer transactionId; a 2.0.1 binding converts ChargingProfileType, evseId 0 and its string
 * transactionId the same way). Times are the protocols' ISO-8601 strings, kept as given, so a
 * profile converted back is the one received.
 */

/**
 * What a limit is for: the station's maximum (shared by the EVSEs charging), the default for the
 * transactions of an EVSE or of every EVSE, or one transaction's own (it overrides the default).
 */
export type LimitPurpose = 'StationMaximum' | 'TransactionDefault' | 'Transaction';
/** Absolute: from startSchedule (or its installation); Recurring: every day or week from it; Relative: from the transaction's start. */
export type LimitKind = 'Absolute' | 'Recurring' | 'Relative';
export type Recurrence = 'Daily' | 'Weekly';
/** A per phase, or W. */
export type RateUnit = 'A' | 'W';

/** Where a limit applies: the station as a whole, or one EVSE. */
export type LimitTarget = { kind: 'station' } | { kind: 'evse'; evseId: number };

export const STATION: LimitTarget = Object.freeze({ kind: 'station' });
export const evseTarget = (evseId: number): LimitTarget => ({ kind: 'evse', evseId });
export const sameTarget = (a: LimitTarget, b: LimitTarget): boolean =>
  a.kind === 'station' ? b.kind === 'station' : b.kind === 'evse' && a.evseId === b.evseId;

export interface LimitPeriod {
  /** Seconds from the start of the schedule. */
  startPeriod: number;
  /** A per phase (unit A) or W (unit W). */
  limit: number;
  /** Phases to charge on (default 3). */
  numberPhases?: number;
  /** The phase a one-phase limit is for, 1..3 (2.0.1; kept, not used by the composite). */
  phaseToUse?: number;
}

export interface LimitSchedule {
  /** The schedule's own id (2.0.1); 1.6's one schedule has none. */
  id?: number;
  /** ISO-8601 (UTC); the anchor of Absolute and Recurring schedules. */
  startSchedule?: string;
  /** Absent: the last period lasts until the profile ends (or recurs). */
  durationS?: number;
  unit: RateUnit;
  periods: LimitPeriod[];
  /** The lowest rate the vehicle can charge at, in `unit` (kept, not used by the composite). */
  minRate?: number;
}

export interface LimitProfile {
  /** The central system's id of the profile: one install replaces another with the same id. */
  id: number;
  stackLevel: number;
  purpose: LimitPurpose;
  kind: LimitKind;
  /** Recurring profiles only. */
  recurrence?: Recurrence;
  /** ISO-8601: in force from (inclusive) and until (exclusive). */
  validFrom?: string;
  validTo?: string;
  /** The first is in force; 2.0.1 may offer up to three (alternatives for an ISO 15118 vehicle). */
  schedules: [LimitSchedule, ...LimitSchedule[]];
  /**
   * A Transaction profile: the session it is for, by the core's local id. Absent: whichever
   * session runs on its EVSE (1.6 allows a TxProfile without a transactionId).
   */
  sessionId?: string;
}

/** A profile as installed, where it applies. */
export interface InstalledLimit {
  target: LimitTarget;
  profile: LimitProfile;
  /** Epoch ms; anchors an Absolute schedule without startSchedule. */
  installedAt: number;
}

/** What a limit means physically on an EVSE (or the station as a whole). */
export interface Electrical {
  nominalVoltageV: number;
  /** Phases wired to the EVSE. */
  phases: 1 | 3;
  /** Hardware limit per phase, A. */
  maxCurrentA: number;
  /** ConnectorSwitch3to1PhaseSupported: whether numberPhases can lower the phases in use. */
  phaseSwitching: boolean;
}

/** The session running on an EVSE, as far as limits care. */
export interface ActiveTransaction {
  /** Its local id; absent: a session that would start now. */
  sessionId?: string;
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
  unit: RateUnit;
  periods: CompositePeriod[];
}
