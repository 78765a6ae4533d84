/**
 * Smart Charging handlers (OCPP 1.6 §5.5, §5.16, §5.7 and RemoteStartTransaction's profile):
 * what a central system may install is checked here against the configuration keys, in 1.6's
 * terms; the profiles, converted to the core's words (charging-profiles.ts), and the limits they
 * give are the core's (src/core/smart-charging).
 */
import { createRPCError } from '../rpc.js';
import { isoMs } from '../../core/clock.js';
import type { ActiveTransaction } from '../../core/smart-charging/index.js';
import { fromV16ClearCriteria, fromV16Profile, fromV16Purpose, targetOfConnector, type ChargingProfile } from './charging-profiles.js';
import type { IncomingContext } from './context.js';
import type { CsAction, CsRequest, CsResponse } from './messages.js';

type Handler<A extends CsAction> = (req: CsRequest<A>, ctx: IncomingContext) => Promise<CsResponse<A>> | CsResponse<A>;

const validDate = (s: string | undefined) => s === undefined || Number.isFinite(Date.parse(s));

function smartCharging(ctx: IncomingContext) {
  const sc = ctx.features?.smartCharging;
  if (!sc) throw createRPCError('NotSupported', 'Smart Charging is not supported');
  return sc;
}

/** The session on a connector and its 1.6 transactionId (none until StartTransaction.conf). */
function runningTransaction(ctx: IncomingContext, connectorId: number): { localId: string; startedAt: number; transactionId?: number } | undefined {
  const s = connectorId > 0 ? ctx.chargePoint.session(connectorId) : undefined;
  if (!s) return undefined;
  const transactionId = ctx.link.transactionIdOf(s.localId);
  return { localId: s.localId, startedAt: s.startedAt, ...(transactionId !== undefined ? { transactionId } : {}) };
}

/** The session on a connector, as profiles see it (by its local id). */
export function activeTransaction(ctx: IncomingContext, connectorId: number): ActiveTransaction | undefined {
  const tx = runningTransaction(ctx, connectorId);
  return tx && { sessionId: tx.localId, startedAt: tx.startedAt };
}

/**
 * The session a TxProfile's transactionId names on its connector: the running one, if it is
 * known by that id or not confirmed yet (its id unknown, so profileProblem let it through).
 */
export function sessionNamed(ctx: IncomingContext, connectorId: number, transactionId: number): string | undefined {
  const tx = runningTransaction(ctx, connectorId);
  return tx && (tx.transactionId === undefined || tx.transactionId === transactionId) ? tx.localId : undefined;
}

/** Why the charge point refuses this profile on this connector, or undefined. */
export function profileProblem(connectorId: number, p: ChargingProfile, ctx: IncomingContext): string | undefined {
  const { settings, chargePoint } = ctx;
  if (connectorId !== 0 && !chargePoint.evseIds.includes(connectorId)) return `no connector ${connectorId}`;
  if (p.chargingProfilePurpose === 'ChargePointMaxProfile' && connectorId !== 0) return 'ChargePointMaxProfile is for connector 0 only';
  if (p.transactionId !== undefined && p.chargingProfilePurpose !== 'TxProfile') return 'transactionId is for TxProfile only';
  if (p.chargingProfilePurpose === 'TxProfile') {
    if (connectorId === 0) return 'TxProfile needs a connector';
    const tx = runningTransaction(ctx, connectorId);
    if (!tx) return 'no transaction on the connector';
    if (p.transactionId !== undefined && tx.transactionId !== undefined && p.transactionId !== tx.transactionId) return 'transactionId is not the running transaction';
  }
  if (p.stackLevel < 0 || p.stackLevel > settings.int('ChargeProfileMaxStackLevel')) return 'stackLevel above ChargeProfileMaxStackLevel';
  const s = p.chargingSchedule;
  const units = settings.list('ChargingScheduleAllowedChargingRateUnit');
  if (!units.includes(s.chargingRateUnit === 'A' ? 'Current' : 'Power')) return `unit ${s.chargingRateUnit} not allowed`;
  const periods = s.chargingSchedulePeriod;
  if (periods.length === 0 || periods.length > settings.int('ChargingScheduleMaxPeriods')) return 'period count outside 1..ChargingScheduleMaxPeriods';
  if (periods[0]!.startPeriod !== 0) return 'the first period must start at 0';
  for (let i = 0; i < periods.length; i++) {
    const x = periods[i]!;
    if (i > 0 && x.startPeriod <= periods[i - 1]!.startPeriod) return 'periods must be in increasing startPeriod order';
    if (x.limit < 0) return 'negative limit';
    if (x.numberPhases !== undefined && (x.numberPhases < 1 || x.numberPhases > 3)) return 'numberPhases outside 1..3';
  }
  if (s.duration !== undefined && s.duration < 0) return 'negative duration';
  if (p.chargingProfileKind === 'Recurring' && (!p.recurrencyKind || s.startSchedule === undefined)) return 'a Recurring profile needs recurrencyKind and startSchedule';
  if (!validDate(p.validFrom) || !validDate(p.validTo) || !validDate(s.startSchedule)) return 'unreadable date';
  if (p.validFrom && p.validTo && Date.parse(p.validFrom) >= Date.parse(p.validTo)) return 'validFrom is not before validTo';
  const sc = smartCharging(ctx);
  const key = { id: p.chargingProfileId, purpose: fromV16Purpose(p.chargingProfilePurpose), stackLevel: p.stackLevel };
  if (!sc.wouldReplace(targetOfConnector(connectorId), key) && sc.profiles().length >= settings.int('MaxChargingProfilesInstalled')) return 'MaxChargingProfilesInstalled reached';
  return undefined;
}

export const smartChargingHandlers: {
  SetChargingProfile: Handler<'SetChargingProfile'>;
  ClearChargingProfile: Handler<'ClearChargingProfile'>;
  GetCompositeSchedule: Handler<'GetCompositeSchedule'>;
} = {
  SetChargingProfile: (req, ctx) => {
    if (!ctx.features?.smartCharging) return { status: 'NotSupported' };
    const p = req.csChargingProfiles;
    const problem = profileProblem(req.connectorId, p, ctx);
    if (problem) {
      ctx.log.info('charging profile rejected', { connectorId: req.connectorId, chargingProfileId: p.chargingProfileId, problem });
      return { status: 'Rejected' };
    }
    smartCharging(ctx).install(targetOfConnector(req.connectorId), fromV16Profile(p, (id) => sessionNamed(ctx, req.connectorId, id)));
    return { status: 'Accepted' };
  },

  ClearChargingProfile: (req, ctx) => {
    const removed = smartCharging(ctx).clear(fromV16ClearCriteria(req));
    return { status: removed.length > 0 ? 'Accepted' : 'Unknown' };
  },

  GetCompositeSchedule: (req, ctx) => {
    const sc = smartCharging(ctx);
    const { chargePoint, settings } = ctx;
    if (req.connectorId !== 0 && !chargePoint.evseIds.includes(req.connectorId)) return { status: 'Rejected' };
    const unit = req.chargingRateUnit ?? (settings.list('ChargingScheduleAllowedChargingRateUnit')[0] === 'Power' ? 'W' : 'A');
    const transaction = activeTransaction(ctx, req.connectorId);
    const running = chargePoint.evseIds.filter((id) => chargePoint.session(id)).length;
    const sharedBy = req.connectorId === 0 ? 1 : Math.max(1, running + (transaction ? 0 : 1));
    const s = sc.composite({ target: targetOfConnector(req.connectorId), durationS: req.duration, unit, transaction, sharedBy });
    const start = isoMs(s.startMs);
    return {
      status: 'Accepted', connectorId: req.connectorId, scheduleStart: start,
      chargingSchedule: { duration: s.durationS, startSchedule: start, chargingRateUnit: s.unit, chargingSchedulePeriod: s.periods },
    };
  },
};

/**
 * RemoteStartTransaction with a chargingProfile: it must be a TxProfile without transactionId
 * (§5.11); it is installed on the connector before the start, and removed if the start is refused.
 */
export async function remoteStartWithProfile(req: CsRequest<'RemoteStartTransaction'>, ctx: IncomingContext): Promise<CsResponse<'RemoteStartTransaction'>> {
  const { chargePoint } = ctx;
  const p = req.chargingProfile!;
  const sc = ctx.features?.smartCharging;
  const connectorId = req.connectorId ?? (chargePoint.evseIds.length === 1 ? chargePoint.evseIds[0] : undefined);
  if (!sc || connectorId === undefined || p.chargingProfilePurpose !== 'TxProfile' || p.transactionId !== undefined) {
    ctx.log.info('RemoteStartTransaction with an unusable charging profile rejected', { connectorId: req.connectorId });
    return { status: 'Rejected' };
  }
  const replaced = sc.profiles().filter((ip) => ip.profile.id === p.chargingProfileId);
  // No transactionId (checked above): the profile is for whichever session starts on the connector.
  sc.install(targetOfConnector(connectorId), fromV16Profile(p, () => undefined));
  const ok = await chargePoint.remoteStart(req.idTag, connectorId);
  if (!ok) {
    sc.clear({ id: p.chargingProfileId });
    for (const ip of replaced) sc.install(ip.target, ip.profile);
  }
  return { status: ok ? 'Accepted' : 'Rejected' };
}
