/**
 * The composite charging schedule (OCPP 1.6 §3.13): a pure function of the installed profiles.
 *
 * All times are UTC epoch milliseconds, as OCPP's are: a Daily schedule recurs every 86 400 s
 * and a Weekly one every 604 800 s from its startSchedule, whatever the local time zone does.
 * Across a daylight-saving change a schedule anchored at 22:00Z stays at 22:00Z (it moves by an
 * hour on a local wall clock); a central system that wants local hours sends new profiles.
 *
 * The rules, at each instant t:
 * - a profile is in force while validFrom ≤ t < validTo and its schedule has a period at t
 *   (a schedule ends after `duration`; a Recurring one also at its next recurrence);
 * - within a purpose the highest stackLevel in force wins; a lower level shows through where
 *   the higher one has no period (its validity or duration ended, or it has not started);
 *   at the same level a connector's own TxDefaultProfile beats the charge point's (connector 0);
 * - TxProfile (only while a transaction runs, and only the transaction it names) overrides
 *   TxDefaultProfile;
 * - the result is the minimum of that, ChargePointMaxProfile (shared by `sharedBy` connectors)
 *   and the hardware limit;
 * - Relative schedules start at the transaction's start; without a transaction, at `startMs`
 *   (the schedule a transaction starting now would get). Absolute ones without startSchedule
 *   start when they were installed.
 * Limits convert between A (per phase) and W with the nominal voltage and the phases in use:
 * numberPhases (default 3) lowers them only when the connector can switch phases; otherwise the
 * wired phases are used, which is what the vehicle will draw on.
 */
import type {
  ActiveTransaction, ChargingProfile, ChargingRateUnit, CompositePeriod, CompositeSchedule, Electrical, InstalledProfile,
} from './types.js';

const DAY_MS = 86_400_000;
const RECURRENCE_MS = { Daily: DAY_MS, Weekly: 7 * DAY_MS } as const;

export interface CompositeRequest {
  profiles: readonly InstalledProfile[];
  /** 0: the charge point as a whole (ChargePointMaxProfile and the hardware limit only). */
  connectorId: number;
  startMs: number;
  durationS: number;
  unit: ChargingRateUnit;
  electrical: Electrical;
  transaction?: ActiveTransaction;
  /** How many connectors share the ChargePointMaxProfile limit (default 1). */
  sharedBy?: number;
}

interface Found {
  limit: number;
  unit: ChargingRateUnit;
  numberPhases?: number;
}

/** Where a profile's schedule instance covering t starts and ends, or undefined. */
function instanceAt(ip: InstalledProfile, t: number, relativeAnchor: number): { start: number; end: number } | undefined {
  const p = ip.profile;
  const s = p.chargingSchedule;
  const durationMs = s.duration !== undefined ? s.duration * 1000 : Number.POSITIVE_INFINITY;
  const scheduled = s.startSchedule !== undefined ? Date.parse(s.startSchedule) : ip.installedAt;
  if (p.chargingProfileKind === 'Relative') return { start: relativeAnchor, end: relativeAnchor + durationMs };
  if (p.chargingProfileKind === 'Recurring') {
    const every = RECURRENCE_MS[p.recurrencyKind ?? 'Daily'];
    if (t < scheduled) return undefined;
    const start = scheduled + Math.floor((t - scheduled) / every) * every;
    return { start, end: start + Math.min(durationMs, every) };
  }
  return { start: scheduled, end: scheduled + durationMs };
}

function valid(p: ChargingProfile, t: number): boolean {
  if (p.validFrom !== undefined && t < Date.parse(p.validFrom)) return false;
  if (p.validTo !== undefined && t >= Date.parse(p.validTo)) return false;
  return true;
}

/** The period of one profile in force at t, or undefined. */
export function profileLimitAt(ip: InstalledProfile, t: number, relativeAnchor: number): Found | undefined {
  const p = ip.profile;
  if (!valid(p, t)) return undefined;
  const inst = instanceAt(ip, t, relativeAnchor);
  if (!inst || t < inst.start || t >= inst.end) return undefined;
  const offsetS = (t - inst.start) / 1000;
  let found: Found | undefined;
  for (const period of p.chargingSchedule.chargingSchedulePeriod) {
    if (period.startPeriod > offsetS) break;
    found = { limit: period.limit, unit: p.chargingSchedule.chargingRateUnit, ...(period.numberPhases !== undefined ? { numberPhases: period.numberPhases } : {}) };
  }
  return found;
}

/** Instants in [from, to) where a profile may change what it says. */
function boundaries(ip: InstalledProfile, from: number, to: number, relativeAnchor: number, out: Set<number>): void {
  const p = ip.profile;
  const add = (x: number) => {
    if (x > from && x < to) out.add(x);
  };
  if (p.validFrom !== undefined) add(Date.parse(p.validFrom));
  if (p.validTo !== undefined) add(Date.parse(p.validTo));
  const s = p.chargingSchedule;
  const instanceStarts: number[] = [];
  if (p.chargingProfileKind === 'Recurring') {
    const every = RECURRENCE_MS[p.recurrencyKind ?? 'Daily'];
    const scheduled = s.startSchedule !== undefined ? Date.parse(s.startSchedule) : ip.installedAt;
    const first = Math.max(0, Math.floor((from - scheduled) / every));
    for (let k = first; scheduled + k * every < to; k++) instanceStarts.push(scheduled + k * every);
  } else {
    const inst = instanceAt(ip, from, relativeAnchor);
    if (inst) instanceStarts.push(inst.start);
  }
  for (const start of instanceStarts) {
    for (const period of s.chargingSchedulePeriod) add(start + period.startPeriod * 1000);
    const inst = instanceAt(ip, start, relativeAnchor);
    if (inst) add(inst.end);
  }
}

/** Phases a limit applies to on this connector. */
function phasesInUse(e: Electrical, numberPhases: number | undefined): number {
  if (!e.phaseSwitching) return e.phases;
  return Math.max(1, Math.min(numberPhases ?? 3, e.phases));
}

export function convert(limit: number, from: ChargingRateUnit, to: ChargingRateUnit, e: Electrical, numberPhases?: number): number {
  if (from === to) return limit;
  const perAmp = e.nominalVoltageV * phasesInUse(e, numberPhases);
  return from === 'A' ? limit * perAmp : limit / perAmp;
}

/** The highest stack level in force at t among `candidates` (already ordered by precedence). */
function stacked(candidates: InstalledProfile[], t: number, relativeAnchor: number): Found | undefined {
  for (const ip of candidates) {
    const f = profileLimitAt(ip, t, relativeAnchor);
    if (f) return f;
  }
  return undefined;
}

function byPrecedence(a: InstalledProfile, b: InstalledProfile): number {
  return b.profile.stackLevel - a.profile.stackLevel || b.connectorId - a.connectorId || b.installedAt - a.installedAt;
}

/** The profiles that can bear on a connector, sorted by precedence, per purpose. */
function relevant(req: CompositeRequest) {
  const of = (purpose: ChargingProfile['chargingProfilePurpose'], ok: (ip: InstalledProfile) => boolean) =>
    req.profiles.filter((ip) => ip.profile.chargingProfilePurpose === purpose && ok(ip)).sort(byPrecedence);
  const tx = req.transaction;
  return {
    max: of('ChargePointMaxProfile', (ip) => ip.connectorId === 0),
    txDefault: req.connectorId === 0 ? [] : of('TxDefaultProfile', (ip) => ip.connectorId === 0 || ip.connectorId === req.connectorId),
    tx: req.connectorId === 0 || !tx ? [] : of('TxProfile', (ip) => ip.connectorId === req.connectorId
      && (ip.profile.transactionId === undefined || tx.transactionId === undefined || ip.profile.transactionId === tx.transactionId)),
  };
}

/** The composite limit at one instant, in the requested unit. */
export function compositeLimitAt(req: CompositeRequest, t: number): { limit: number; numberPhases?: number } {
  const e = req.electrical;
  const anchor = req.transaction?.startedAt ?? req.startMs;
  const r = relevant(req);
  const candidates: { limit: number; numberPhases?: number }[] = [
    { limit: convert(e.maxCurrentA, 'A', req.unit, e) },
  ];
  const txLevel = stacked(r.tx, t, anchor) ?? stacked(r.txDefault, t, anchor);
  if (txLevel) candidates.push({ limit: convert(txLevel.limit, txLevel.unit, req.unit, e, txLevel.numberPhases), numberPhases: txLevel.numberPhases });
  const max = stacked(r.max, t, anchor);
  if (max) candidates.push({ limit: convert(max.limit, max.unit, req.unit, e, max.numberPhases) / Math.max(1, req.sharedBy ?? 1), numberPhases: max.numberPhases });
  let limit = Number.POSITIVE_INFINITY;
  let numberPhases: number | undefined;
  for (const c of candidates) {
    limit = Math.min(limit, c.limit);
    if (c.numberPhases !== undefined) numberPhases = Math.min(numberPhases ?? c.numberPhases, c.numberPhases);
  }
  if (numberPhases !== undefined) numberPhases = phasesInUse(e, numberPhases);
  return { limit: Math.max(0, Math.round(limit * 10) / 10), ...(numberPhases !== undefined ? { numberPhases } : {}) };
}

/** The composite schedule from startMs for durationS seconds, consecutive equal periods merged. */
export function compositeSchedule(req: CompositeRequest): CompositeSchedule {
  const from = req.startMs;
  const to = from + req.durationS * 1000;
  const anchor = req.transaction?.startedAt ?? req.startMs;
  const r = relevant(req);
  const points = new Set<number>();
  for (const ip of [...r.max, ...r.txDefault, ...r.tx]) boundaries(ip, from, to, anchor, points);
  // Whole seconds, as OCPP's startPeriod: a boundary inside a second takes effect at its end.
  const offsets = [...new Set([0, ...[...points].map((x) => Math.ceil((x - from) / 1000))])].filter((s) => s < req.durationS || s === 0).sort((a, b) => a - b);
  const periods: CompositePeriod[] = [];
  for (const startPeriod of offsets) {
    const at = compositeLimitAt(req, from + startPeriod * 1000);
    const last = periods.at(-1);
    if (last && last.limit === at.limit && last.numberPhases === at.numberPhases) continue;
    periods.push({ startPeriod, ...at });
  }
  return { startMs: from, durationS: req.durationS, unit: req.unit, periods };
}

/**
 * The current limit in force now on a connector, in A, and when it next changes (within a
 * week's horizon; beyond that the caller re-evaluates at the horizon).
 */
export function limitNow(req: Omit<CompositeRequest, 'durationS' | 'unit'>, horizonS = 8 * 86_400): { limitA: number; nextChangeAt: number } {
  const s = compositeSchedule({ ...req, durationS: horizonS, unit: 'A' });
  const next = s.periods[1];
  return { limitA: s.periods[0]!.limit, nextChangeAt: req.startMs + (next ? next.startPeriod : horizonS) * 1000 };
}
