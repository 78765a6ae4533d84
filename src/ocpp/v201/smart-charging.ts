/**
 * OCPP 2.0.1 Smart Charging (K01 SetChargingProfile, K08 GetCompositeSchedule, K09
 * GetChargingProfiles, K10 ClearChargingProfile, and RequestStartTransaction's chargingProfile):
 * what a central system may install is checked here in 2.0.1's terms, with a StatusInfo saying
 * why a profile is refused; the profiles, converted to the core's words (charging-profiles.ts),
 * and the limits they give are the core's (src/core/smart-charging), the same as on 1.6. The
 * limits (stack level, periods, units, profile count) are the 1.6 keys the SmartChargingCtrlr
 * variables are views of (v16-equivalents.ts).
 */
import type { DisplayMessages } from '../../core/display-messages.js';
import { isoMs } from '../../core/clock.js';
import type { ActiveTransaction, InstalledLimit, SmartCharging } from '../../core/smart-charging/index.js';
import {
  evseIdOfTarget, fromV201ClearRequest, fromV201Profile, fromV201Purpose, targetOfEvseId, toV201Installed, type SettablePurpose,
} from './charging-profiles.js';
import type { ChargePoint } from '../../core/charge-point.js';
import type { Log } from '../../lib/log.js';
import type { Settings } from '../store-ports.js';
import type { ChargingProfileType, CsmsCalls, ReportChargingProfilesRequest, StatusInfoType } from './messages.js';
import { STATION_EVSE_ID } from './topology.js';
import { createRPCError } from '../rpc.js';
import { getVariables, type DeviceModel, type VariableStore } from './device-model.js';

/** The feature services a 2.0.1 charger answers Smart Charging with (the composition's FeatureServices). */
export interface V201Features {
  smartCharging?: SmartCharging;
  /** Display messages (display-messages.ts). */
  displayMessages?: DisplayMessages;
}

/** What these handlers use of the binding's context (incoming.ts V201Context). */
export interface V201SmartChargingContext {
  chargePoint: Pick<ChargePoint, 'evseIds' | 'session'>;
  /** The 1.6 keys the SmartChargingCtrlr variables are views of. */
  settings: Settings;
  log: Log;
  /** The device model (SupplyPhases of the station and of each EVSE). */
  model: DeviceModel;
  store: VariableStore;
  link: { send(action: string, request: unknown): Promise<unknown> };
  features?: V201Features;
}

type V201Context = V201SmartChargingContext;

type Handler<A extends keyof CsmsCalls> = (req: CsmsCalls[A][0], ctx: V201Context) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1];

/** Profiles per ReportChargingProfiles (a report holds one EVSE's; more are split, tbc). */
export const PROFILES_PER_REPORT = 10;

/** Every profile the central system sets is the CSO's (2.0.1 chargingLimitSource). */
const LIMIT_SOURCE = 'CSO' as const;

const status = (reasonCode: string, additionalInfo: string): StatusInfoType => ({ reasonCode, additionalInfo });
const validDate = (s: string | undefined) => s === undefined || Number.isFinite(Date.parse(s));
const from = (s: string | undefined) => (s === undefined ? Number.NEGATIVE_INFINITY : Date.parse(s));
const to = (s: string | undefined) => (s === undefined ? Number.POSITIVE_INFINITY : Date.parse(s));

/** Whether two profiles' validity periods overlap ([validFrom, validTo), open where absent). */
const overlaps = (a: { validFrom?: string; validTo?: string }, b: { validFrom?: string; validTo?: string }) =>
  from(a.validFrom) < to(b.validTo) && from(b.validFrom) < to(a.validTo);

/**
 * The session running on an EVSE. 2.0.1 knows it by the station's transactionId, which is the
 * session's local id (link.ts transactionIdFor).
 */
function running(ctx: V201Context, evseId: number): { localId: string; startedAt: number } | undefined {
  const s = evseId !== STATION_EVSE_ID ? ctx.chargePoint.session(evseId) : undefined;
  return s && { localId: s.localId, startedAt: s.startedAt };
}

const activeTransaction = (ctx: V201Context, evseId: number): ActiveTransaction | undefined => {
  const tx = running(ctx, evseId);
  return tx && { sessionId: tx.localId, startedAt: tx.startedAt };
};

/** The phases wired to an EVSE (0: DC) or to the station (evseId 0), from the device model's SupplyPhases. */
function supplyPhases(ctx: V201Context, evseId: number): number | undefined {
  const component = evseId === STATION_EVSE_ID ? { name: 'ChargingStation' } : { name: 'EVSE', evse: { id: evseId } };
  const [r] = getVariables(ctx.model, ctx.store, [{ component, variable: { name: 'SupplyPhases' } }]);
  const n = r?.attributeStatus === 'Accepted' ? Number(r.attributeValue) : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/** The rules every profile obeys, wherever it comes from (K01: purpose and EVSE, schedules, limits, K01.FR.06 duplicates). */
function scheduleProblem(evseId: number, p: ChargingProfileType, ctx: V201Context, sc: SmartCharging): StatusInfoType | undefined {
  const { settings, chargePoint } = ctx;
  if (evseId !== STATION_EVSE_ID && !chargePoint.evseIds.includes(evseId)) return status('UnknownEvse', `no EVSE ${evseId}`); // K01.FR.28
  const purpose = p.chargingProfilePurpose;
  if (purpose === 'ChargingStationExternalConstraints') return status('UnsupportedParam', 'ChargingStationExternalConstraints is set by the station only'); // K01.FR.22
  if (purpose === 'ChargingStationMaxProfile') {
    if (evseId !== STATION_EVSE_ID) return status('InvalidValue', 'ChargingStationMaxProfile is for evseId 0 only'); // K01.FR.38
    if (p.chargingProfileKind === 'Relative') return status('InvalidValue', 'ChargingStationMaxProfile cannot be Relative'); // K01.FR.38
  }
  if (p.transactionId !== undefined && purpose !== 'TxProfile') return status('InvalidValue', 'transactionId is for TxProfile only');
  if (p.stackLevel < 0 || p.stackLevel > settings.int('ChargeProfileMaxStackLevel')) return status('InvalidValue', 'stackLevel above SmartChargingCtrlr.ProfileStackLevel');
  if (p.chargingProfileKind === 'Recurring' && p.recurrencyKind === undefined) return status('MissingParam', 'a Recurring profile needs recurrencyKind');
  if (!validDate(p.validFrom) || !validDate(p.validTo)) return status('InvalidValue', 'unreadable validFrom or validTo');
  if (p.validFrom !== undefined && p.validTo !== undefined && Date.parse(p.validFrom) >= Date.parse(p.validTo)) return status('InvalidValue', 'validFrom is not before validTo');
  const units = settings.list('ChargingScheduleAllowedChargingRateUnit');
  const phaseSwitching = settings.bool('ConnectorSwitch3to1PhaseSupported');
  const phases = supplyPhases(ctx, evseId);
  for (const s of p.chargingSchedule) {
    if (!units.includes(s.chargingRateUnit === 'A' ? 'Current' : 'Power')) return status('InvalidSchedule', `unit ${s.chargingRateUnit} not in SmartChargingCtrlr.RateUnit`); // K01.FR.26
    // K01.FR.40/41: Absolute and Recurring start at startSchedule; a Relative one starts with its transaction.
    if (p.chargingProfileKind !== 'Relative' && s.startSchedule === undefined) return status('InvalidSchedule', `a ${p.chargingProfileKind} schedule needs startSchedule`);
    if (p.chargingProfileKind === 'Relative' && s.startSchedule !== undefined) return status('InvalidSchedule', 'a Relative schedule has no startSchedule');
    if (!validDate(s.startSchedule)) return status('InvalidSchedule', 'unreadable startSchedule');
    if (s.duration !== undefined && s.duration < 0) return status('InvalidSchedule', 'negative duration');
    const periods = s.chargingSchedulePeriod;
    if (periods.length > settings.int('ChargingScheduleMaxPeriods')) return status('InvalidSchedule', 'more periods than SmartChargingCtrlr.PeriodsPerSchedule');
    if (periods[0]!.startPeriod !== 0) return status('InvalidSchedule', 'the first period must start at 0'); // K01.FR.31
    for (let i = 0; i < periods.length; i++) {
      const x = periods[i]!;
      if (i > 0 && x.startPeriod <= periods[i - 1]!.startPeriod) return status('InvalidSchedule', 'periods must be in increasing startPeriod order'); // K01.FR.35
      if (x.limit < 0) return status('InvalidSchedule', 'negative limit');
      if (x.numberPhases !== undefined && (x.numberPhases < 1 || x.numberPhases > 3)) return status('InvalidSchedule', 'numberPhases outside 1..3');
      // K01.FR.44/45: no phases on DC; no more phases than are wired.
      if (phases === 0 && (x.numberPhases !== undefined || x.phaseToUse !== undefined)) return status('InvalidSchedule', 'numberPhases or phaseToUse on a DC EVSE');
      if (phases !== undefined && phases > 0 && x.numberPhases !== undefined && x.numberPhases > phases) return status('InvalidSchedule', `numberPhases above the ${phases} phases wired`);
      if (x.phaseToUse !== undefined) {
        if (x.numberPhases !== 1) return status('InvalidSchedule', 'phaseToUse needs numberPhases 1'); // K01.FR.19
        if (!phaseSwitching) return status('InvalidSchedule', 'phaseToUse without AC phase switching'); // K01.FR.20
      }
    }
  }
  const target = targetOfEvseId(evseId);
  const others = sc.profiles().filter((ip) => ip.profile.id !== p.id);
  const limitPurpose = fromV201Purpose(purpose);
  // K01.FR.06: the same purpose and stack level on the same EVSE with overlapping validity is refused, not replaced.
  const duplicate = others.find((ip) => evseIdOfTarget(ip.target) === evseIdOfTarget(target) && ip.profile.purpose === limitPurpose
    && ip.profile.stackLevel === p.stackLevel && overlaps(ip.profile, p));
  if (duplicate) return status('DuplicateProfile', `profile ${duplicate.profile.id} has this purpose and stackLevel with an overlapping validity`);
  // K01.FR.52/53: a TxDefaultProfile on the station and one on an EVSE at the same stack level conflict.
  if (purpose === 'TxDefaultProfile') {
    const clash = others.find((ip) => ip.profile.purpose === 'TransactionDefault' && ip.profile.stackLevel === p.stackLevel
      && (evseId === STATION_EVSE_ID) !== (ip.target.kind === 'station'));
    if (clash) return status('DuplicateProfile', `TxDefaultProfile ${clash.profile.id} has this stackLevel on ${clash.target.kind === 'station' ? 'the station' : 'an EVSE'}`);
  }
  const replacing = sc.profiles().length !== others.length;
  if (!replacing && sc.profiles().length >= settings.int('MaxChargingProfilesInstalled')) return status('InvalidValue', 'SmartChargingCtrlr.Entries[ChargingProfiles] maximum reached');
  return undefined;
}

/** Why the station refuses this SetChargingProfile, or undefined (K01). */
export function setProfileProblem(evseId: number, p: ChargingProfileType, ctx: V201Context, sc: SmartCharging): StatusInfoType | undefined {
  if (p.chargingProfilePurpose === 'TxProfile') {
    if (evseId === STATION_EVSE_ID) return status('InvalidValue', 'a TxProfile needs an EVSE'); // K01.FR.16
    if (p.transactionId === undefined) return status('MissingParam', 'a TxProfile needs the transactionId'); // K01.FR.03
    const tx = running(ctx, evseId);
    if (!tx || tx.localId !== p.transactionId) return status('TxNotFound', 'no such transaction runs on the EVSE'); // K01.FR.09
  }
  return scheduleProblem(evseId, p, ctx, sc);
}

const features = (ctx: V201Context) => ctx.features;

/** The profiles GetChargingProfiles asks for (every criterion given must match; evseId 0: the station's). */
function matching(req: CsmsCalls['GetChargingProfiles'][0], all: InstalledLimit[]): InstalledLimit[] {
  const c = req.chargingProfile;
  if (c.chargingLimitSource !== undefined && !c.chargingLimitSource.includes(LIMIT_SOURCE)) return [];
  if (c.chargingProfilePurpose === 'ChargingStationExternalConstraints') return [];
  const purpose = c.chargingProfilePurpose && fromV201Purpose(c.chargingProfilePurpose);
  return all.filter((ip) => (req.evseId === undefined || evseIdOfTarget(ip.target) === req.evseId)
    && (purpose === undefined || ip.profile.purpose === purpose)
    && (c.stackLevel === undefined || ip.profile.stackLevel === c.stackLevel)
    && (c.chargingProfileId === undefined || c.chargingProfileId.includes(ip.profile.id)));
}

/** The reports for GetChargingProfiles: one EVSE's profiles each, PROFILES_PER_REPORT at most, tbc on all but the last (K09). */
export function chargingProfileReports(requestId: number, profiles: InstalledLimit[], transactionIdOf: (ip: InstalledLimit) => string | undefined): ReportChargingProfilesRequest[] {
  const byEvse = new Map<number, ChargingProfileType[]>();
  for (const ip of profiles) {
    const { evseId, profile: converted } = toV201Installed(ip, () => undefined);
    const transactionId = converted.chargingProfilePurpose === 'TxProfile' ? transactionIdOf(ip) : undefined;
    const profile = transactionId !== undefined ? { ...converted, transactionId } : converted;
    byEvse.set(evseId, [...(byEvse.get(evseId) ?? []), profile]);
  }
  const reports: ReportChargingProfilesRequest[] = [];
  for (const [evseId, list] of [...byEvse].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i < list.length; i += PROFILES_PER_REPORT) {
      reports.push({ requestId, chargingLimitSource: LIMIT_SOURCE, evseId, chargingProfile: list.slice(i, i + PROFILES_PER_REPORT), tbc: true });
    }
  }
  if (reports.length) reports[reports.length - 1]!.tbc = false;
  return reports;
}

export const smartChargingHandlers: {
  SetChargingProfile: Handler<'SetChargingProfile'>;
  ClearChargingProfile: Handler<'ClearChargingProfile'>;
  GetCompositeSchedule: Handler<'GetCompositeSchedule'>;
  GetChargingProfiles: Handler<'GetChargingProfiles'>;
} = {
  // K01: Accepted and persisted (the store keeps the core's profiles), or Rejected with the reason.
  SetChargingProfile: (req, ctx) => {
    const sc = features(ctx)?.smartCharging;
    if (!sc) return { status: 'Rejected', statusInfo: status('UnsupportedRequest', 'Smart Charging is not supported') };
    // K01.FR.29: SmartChargingCtrlr.Available false (a station built without it): CALLERROR NotSupported.
    if (ctx.store.get({ component: 'SmartChargingCtrlr', variable: 'Available', attribute: 'Actual' }) === 'false') throw createRPCError('NotSupported', 'Smart Charging is not available on this station');
    if (!sc.isEnabled) return { status: 'Rejected', statusInfo: status('NotEnabled', 'SmartChargingCtrlr.Enabled is false') };
    const p = req.chargingProfile;
    const problem = setProfileProblem(req.evseId, p, ctx, sc);
    if (problem) {
      ctx.log.info('charging profile rejected', { evseId: req.evseId, chargingProfileId: p.id, problem: problem.additionalInfo });
      return { status: 'Rejected', statusInfo: problem };
    }
    const sessionId = p.chargingProfilePurpose === 'TxProfile' ? running(ctx, req.evseId)?.localId : undefined;
    sc.install(targetOfEvseId(req.evseId), fromV201Profile({ ...p, chargingProfilePurpose: p.chargingProfilePurpose as SettablePurpose }, sessionId), { replaceSameStackLevel: false });
    return { status: 'Accepted' };
  },

  // K10: by id, or by every criterion given; Unknown when nothing matched.
  ClearChargingProfile: (req, ctx) => {
    const sc = features(ctx)?.smartCharging;
    const criteria = fromV201ClearRequest(req);
    const removed = sc && criteria ? sc.clear(criteria) : [];
    return { status: removed.length > 0 ? 'Accepted' : 'Unknown' };
  },

  // K08: the composite of the station (evseId 0) or an EVSE, from the same pure function as 1.6.
  GetCompositeSchedule: (req, ctx) => {
    const sc = features(ctx)?.smartCharging;
    const { chargePoint, settings } = ctx;
    if (!sc) return { status: 'Rejected', statusInfo: status('UnsupportedRequest', 'Smart Charging is not supported') };
    if (req.evseId !== STATION_EVSE_ID && !chargePoint.evseIds.includes(req.evseId)) return { status: 'Rejected', statusInfo: status('UnknownEvse', `no EVSE ${req.evseId}`) };
    const units = settings.list('ChargingScheduleAllowedChargingRateUnit');
    const unit = req.chargingRateUnit ?? (units[0] === 'Power' ? 'W' : 'A');
    if (!units.includes(unit === 'A' ? 'Current' : 'Power')) return { status: 'Rejected', statusInfo: status('UnsupportedParam', `unit ${unit} not in SmartChargingCtrlr.RateUnit`) };
    const transaction = activeTransaction(ctx, req.evseId);
    const runningCount = chargePoint.evseIds.filter((id) => chargePoint.session(id)).length;
    const sharedBy = req.evseId === STATION_EVSE_ID ? 1 : Math.max(1, runningCount + (transaction ? 0 : 1));
    const s = sc.composite({ target: targetOfEvseId(req.evseId), durationS: req.duration, unit, transaction, sharedBy });
    return {
      status: 'Accepted',
      schedule: { evseId: req.evseId, duration: s.durationS, scheduleStart: isoMs(s.startMs), chargingRateUnit: s.unit, chargingSchedulePeriod: s.periods },
    };
  },

  // K09: Accepted, then the ReportChargingProfiles parts with the requestId; NoProfiles when none match.
  GetChargingProfiles: (req, ctx) => {
    const sc = features(ctx)?.smartCharging;
    const found = sc ? matching(req, sc.profiles()) : [];
    if (found.length === 0) return { status: 'NoProfiles' };
    // A TxProfile is reported with its transaction's id; one installed by RequestStartTransaction with the one running on its EVSE.
    const reports = chargingProfileReports(req.requestId, found, (ip) => ip.profile.sessionId
      ?? (ip.profile.purpose === 'Transaction' ? running(ctx, evseIdOfTarget(ip.target))?.localId : undefined));
    setImmediate(() => void (async () => {
      for (const r of reports) {
        try {
          await ctx.link.send('ReportChargingProfiles', r);
        } catch (err) {
          ctx.log.warn('ReportChargingProfiles not delivered', { requestId: req.requestId, evseId: r.evseId, err });
          return;
        }
      }
    })());
    return { status: 'Accepted' };
  },
};

/**
 * RequestStartTransaction with a chargingProfile: a TxProfile without transactionId for the EVSE
 * of the start, checked like any profile, installed before the start and removed again (what it
 * replaced put back) if the start is refused. The transaction's end removes it (core). Without a
 * chargingProfile, just `start`.
 */
export async function withStartProfile(req: CsmsCalls['RequestStartTransaction'][0], ctx: V201Context, start: () => Promise<boolean>): Promise<boolean> {
  const p = req.chargingProfile;
  const sc = features(ctx)?.smartCharging;
  // K05: with smart charging disabled the profile is not used (the start goes on without it).
  if (p && sc && !sc.isEnabled) ctx.log.info('RequestStartTransaction: charging profile ignored, smart charging is disabled', { chargingProfileId: p.id });
  if (!p || (sc && !sc.isEnabled)) return start();
  const { chargePoint } = ctx;
  const evseId = req.evseId ?? (chargePoint.evseIds.length === 1 ? chargePoint.evseIds[0] : undefined);
  const problem = !sc ? 'Smart Charging is not supported'
    : evseId === undefined ? 'a charging profile needs the EVSE of the start'
      : p.chargingProfilePurpose !== 'TxProfile' ? 'the profile of a remote start must be a TxProfile'
        : p.transactionId !== undefined ? 'the profile of a remote start has no transactionId'
          : scheduleProblem(evseId, p, ctx, sc)?.additionalInfo;
  if (problem || !sc || evseId === undefined) {
    ctx.log.info('RequestStartTransaction with an unusable charging profile rejected', { evseId: req.evseId, chargingProfileId: p.id, problem });
    return false;
  }
  const replaced = sc.profiles().filter((ip) => ip.profile.id === p.id);
  sc.install(targetOfEvseId(evseId), fromV201Profile({ ...p, chargingProfilePurpose: 'TxProfile' }), { replaceSameStackLevel: false });
  const ok = await start();
  if (!ok) {
    sc.clear({ id: p.id });
    for (const ip of replaced) sc.install(ip.target, ip.profile, { replaceSameStackLevel: false });
  }
  return ok;
}

/**
 * The device model's store with SmartChargingCtrlr.Entries[ChargingProfiles] live: the number
 * of profiles installed (K01: what the central system reads before adding more).
 */
export function smartChargingVariables(store: VariableStore, features: V201Features | undefined): VariableStore {
  const sc = features?.smartCharging;
  if (!sc) return store;
  const isEntries = (k: Parameters<VariableStore['get']>[0]) => k.attribute === 'Actual' && k.evseId === undefined && !k.componentInstance
    && k.component.toLowerCase() === 'smartchargingctrlr' && k.variable.toLowerCase() === 'entries' && (k.variableInstance ?? '').toLowerCase() === 'chargingprofiles';
  const isEnabled = (k: Parameters<VariableStore['get']>[0]) => k.attribute === 'Actual' && k.evseId === undefined && !k.componentInstance
    && k.component.toLowerCase() === 'smartchargingctrlr' && k.variable.toLowerCase() === 'enabled';
  // SmartChargingCtrlr.Enabled, as stored (persisted), switches the core's smart charging.
  sc.setEnabled(store.get({ component: 'SmartChargingCtrlr', variable: 'Enabled', attribute: 'Actual' }) !== 'false');
  return {
    get: (k) => (isEntries(k) ? String(sc.profiles().length) : store.get(k)),
    set: (k, value, meta) => {
      store.set(k, value, meta);
      if (isEnabled(k)) sc.setEnabled(value.toLowerCase() !== 'false');
    },
  };
}
