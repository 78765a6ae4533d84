/**
 * The composite charging schedule (OCPP 1.6 §3.13, 2.0.1 K08): a pure function of the installed
 * limit profiles, in the core's words (types.ts); each version binding converts its profiles.
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
 *   at the same level an EVSE's own TransactionDefault beats the station's;
 * - a Transaction profile (only while a session runs, and only the session it names) overrides
 *   TransactionDefault;
 * - the result is the minimum of that, StationMaximum (shared by `sharedBy` EVSEs) and the
 *   hardware limit;
 * - Relative schedules start at the transaction's start; without a transaction, at `startMs`
 *   (the schedule a transaction starting now would get). Absolute ones without startSchedule
 *   start when they were installed.
 * Limits convert between A (per phase) and W with the nominal voltage and the phases in use:
 * numberPhases (default 3) lowers them only when the EVSE can switch phases; otherwise the
 * wired phases are used, which is what the vehicle will draw on.
 */
import type {
  ActiveTransaction, CompositePeriod, CompositeSchedule, Electrical, InstalledLimit, LimitProfile, LimitPurpose, LimitSchedule, LimitTarget, RateUnit,
} from './types.js';

const DAY_MS = 86_400_000;
const RECURRENCE_MS = { Daily: DAY_MS, Weekly: 7 * DAY_MS } as const;

export interface CompositeRequest {
  profiles: readonly InstalledLimit[];
  /** One EVSE, or the station as a whole (its StationMaximum and the hardware limit only). */
  target: LimitTarget;
  startMs: number;
  durationS: number;
  unit: RateUnit;
  electrical: Electrical;
  transaction?: ActiveTransaction;
  /** How many EVSEs share the StationMaximum limit (default 1). */
  sharedBy?: number;
}

interface Found {
  limit: number;
  unit: RateUnit;
  numberPhases?: number;
}

/** The schedule in force of a profile (the first; 2.0.1's others are alternatives for the vehicle). */
const scheduleOf = (p: LimitProfile): LimitSchedule => p.schedules[0];

/** Where a profile's schedule instance covering t starts and ends, or undefined. */
function instanceAt(ip: InstalledLimit, t: number, relativeAnchor: number): { start: number; end: number } | undefined {
  const p = ip.profile;
  const s = scheduleOf(p);
  const durationMs = s.durationS !== undefined ? s.durationS * 1000 : Number.POSITIVE_INFINITY;
  const scheduled = s.startSchedule !== undefined ? Date.parse(s.startSchedule) : ip.installedAt;
  if (p.kind === 'Relative') return { start: relativeAnchor, end: relativeAnchor + durationMs };
  if (p.kind === 'Recurring') {
    const every = RECURRENCE_MS[p.recurrence ?? 'Daily'];
    if (t < scheduled) return undefined;
    const start = scheduled + Math.floor((t - scheduled) / every) * every;
    return { start, end: start + Math.min(durationMs, every) };
  }
  return { start: scheduled, end: scheduled + durationMs };
}

function valid(p: LimitProfile, t: number): boolean {
  if (p.validFrom !== undefined && t < Date.parse(p.validFrom)) return false;
  if (p.validTo !== undefined && t >= Date.parse(p.validTo)) return false;
  return true;
}

/** The period of one profile in force at t, or undefined. */
export function profileLimitAt(ip: InstalledLimit, t: number, relativeAnchor: number): Found | undefined {
  const p = ip.profile;
  if (!valid(p, t)) return undefined;
  const inst = instanceAt(ip, t, relativeAnchor);
  if (!inst || t < inst.start || t >= inst.end) return undefined;
  const offsetS = (t - inst.start) / 1000;
  let found: Found | undefined;
  const s = scheduleOf(p);
  for (const period of s.periods) {
    if (period.startPeriod > offsetS) break;
    found = { limit: period.limit, unit: s.unit, ...(period.numberPhases !== undefined ? { numberPhases: period.numberPhases } : {}) };
  }
  return found;
}

/** Instants in [from, to) where a profile may change what it says. */
function boundaries(ip: InstalledLimit, from: number, to: number, relativeAnchor: number, out: Set<number>): void {
  const p = ip.profile;
  const add = (x: number) => {
    if (x > from && x < to) out.add(x);
  };
  if (p.validFrom !== undefined) add(Date.parse(p.validFrom));
  if (p.validTo !== undefined) add(Date.parse(p.validTo));
  const s = scheduleOf(p);
  const instanceStarts: number[] = [];
  if (p.kind === 'Recurring') {
    const every = RECURRENCE_MS[p.recurrence ?? 'Daily'];
    const scheduled = s.startSchedule !== undefined ? Date.parse(s.startSchedule) : ip.installedAt;
    const first = Math.max(0, Math.floor((from - scheduled) / every));
    for (let k = first; scheduled + k * every < to; k++) instanceStarts.push(scheduled + k * every);
  } else {
    const inst = instanceAt(ip, from, relativeAnchor);
    if (inst) instanceStarts.push(inst.start);
  }
  for (const start of instanceStarts) {
    for (const period of s.periods) add(start + period.startPeriod * 1000);
    const inst = instanceAt(ip, start, relativeAnchor);
    if (inst) add(inst.end);
  }
}

/** Phases a limit applies to on this EVSE. */
function phasesInUse(e: Electrical, numberPhases: number | undefined): number {
  if (!e.phaseSwitching) return e.phases;
  return Math.max(1, Math.min(numberPhases ?? 3, e.phases));
}

export function convert(limit: number, from: RateUnit, to: RateUnit, e: Electrical, numberPhases?: number): number {
  if (from === to) return limit;
  const perAmp = e.nominalVoltageV * phasesInUse(e, numberPhases);
  return from === 'A' ? limit * perAmp : limit / perAmp;
}

/** The highest stack level in force at t among `candidates` (already ordered by precedence). */
function stacked(candidates: readonly InstalledLimit[], t: number, relativeAnchor: number): Found | undefined {
  for (const ip of candidates) {
    const f = profileLimitAt(ip, t, relativeAnchor);
    if (f) return f;
  }
  return undefined;
}

/** At the same stack level an EVSE's own profile comes before the station's. */
const specificity = (t: LimitTarget): number => (t.kind === 'evse' ? 1 : 0);

function byPrecedence(a: InstalledLimit, b: InstalledLimit): number {
  return b.profile.stackLevel - a.profile.stackLevel || specificity(b.target) - specificity(a.target) || b.installedAt - a.installedAt;
}

interface Relevant {
  max: readonly InstalledLimit[];
  txDefault: readonly InstalledLimit[];
  tx: readonly InstalledLimit[];
}

/** No profile bears (most chargers of a fleet, most of the time). */
const NONE: Relevant = { max: [], txDefault: [], tx: [] };

/** The profiles that can bear on an EVSE (or the station), sorted by precedence, per purpose. */
function relevant(req: CompositeRequest): Relevant {
  if (req.profiles.length === 0) return NONE;
  const of = (purpose: LimitPurpose, ok: (ip: InstalledLimit) => boolean) =>
    req.profiles.filter((ip) => ip.profile.purpose === purpose && ok(ip)).sort(byPrecedence);
  const tx = req.transaction;
  const evse = req.target.kind === 'evse' ? req.target.evseId : undefined;
  const onEvse = (ip: InstalledLimit) => ip.target.kind === 'evse' && ip.target.evseId === evse;
  return {
    max: of('StationMaximum', (ip) => ip.target.kind === 'station'),
    txDefault: evse === undefined ? [] : of('TransactionDefault', (ip) => ip.target.kind === 'station' || onEvse(ip)),
    tx: evse === undefined || !tx ? [] : of('Transaction', (ip) => onEvse(ip)
      && (ip.profile.sessionId === undefined || tx.sessionId === undefined || ip.profile.sessionId === tx.sessionId)),
  };
}

/** The composite limit at one instant, in the requested unit. */
export function compositeLimitAt(req: CompositeRequest, t: number): { limit: number; numberPhases?: number } {
  return limitAtWith(req, relevant(req), t);
}

/** compositeLimitAt with the relevant profiles already picked (once per schedule, not per period). */
function limitAtWith(req: CompositeRequest, r: Relevant, t: number): { limit: number; numberPhases?: number } {
  const e = req.electrical;
  const anchor = req.transaction?.startedAt ?? req.startMs;
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
  for (const list of [r.max, r.txDefault, r.tx]) for (const ip of list) boundaries(ip, from, to, anchor, points);
  // Whole seconds, as OCPP's startPeriod: a boundary inside a second takes effect at its end.
  const offsets = points.size === 0 ? [0]
    : [...new Set([0, ...[...points].map((x) => Math.ceil((x - from) / 1000))])].filter((s) => s < req.durationS || s === 0).sort((a, b) => a - b);
  const periods: CompositePeriod[] = [];
  for (const startPeriod of offsets) {
    const at = limitAtWith(req, r, from + startPeriod * 1000);
    const last = periods.at(-1);
    if (last && last.limit === at.limit && last.numberPhases === at.numberPhases) continue;
    periods.push({ startPeriod, ...at });
  }
  return { startMs: from, durationS: req.durationS, unit: req.unit, periods };
}

/**
 * The current limit in force now on an EVSE, in A, and when it next changes (within a
 * week's horizon; beyond that the caller re-evaluates at the horizon).
 */
export function limitNow(req: Omit<CompositeRequest, 'durationS' | 'unit'>, horizonS = 8 * 86_400): { limitA: number; nextChangeAt: number } {
  const s = compositeSchedule({ ...req, durationS: horizonS, unit: 'A' });
  const next = s.periods[1];
  return { limitA: s.periods[0]!.limit, nextChangeAt: req.startMs + (next ? next.startPeriod : horizonS) * 1000 };
}
