/**
 * The OCPP 2.0.1 incoming handler table: one handler per action the binding answers, shared by
 * every connection of a process (a fleet holds thousands). Actions not in it are answered
 * NotImplemented by the connection.
 */
import { createRPCError } from 'ocpp-rpc';
import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { AnyConnection } from '../connection.js';
import { baseReport, getVariables, requestLimitError, setVariables, type DeviceModel, type VariableStore } from './device-model.js';
import type { CsmsCalls } from './messages.js';

export interface V201Context {
  model: DeviceModel;
  store: VariableStore;
  clock: Clock;
  log: Log;
  chargePoint: ChargePoint;
  link: {
    send(action: string, request: unknown): Promise<unknown>;
    configurationChanged(key: string): void;
    /** A remote start was accepted: the Started event of this token's session carries RemoteStart and the id. */
    remoteStartAccepted(idToken: string, remoteStartId: number): void;
  };
}

/** 2.0.1's EVSE n is the core's connector n (one connector each). */
const knownEvse = (ctx: V201Context, evseId: number | undefined): boolean => evseId === undefined || ctx.chargePoint.connectorIds.includes(evseId);

type Handlers = { [A in keyof CsmsCalls]?: (req: CsmsCalls[A][0], ctx: V201Context) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1] };

const limit = (ctx: V201Context, request: 'GetVariables' | 'SetVariables', items: readonly unknown[]) => {
  const code = requestLimitError(ctx.model, ctx.store, request, items.length, Buffer.byteLength(JSON.stringify(items)));
  if (code) throw createRPCError(code, `too many ${request} items`);
};

export const handlers: Handlers = {
  // F01/F02: AuthorizeRemoteStart is the policy's AuthorizeRemoteTxRequests (one setting, two views); the core decides.
  RequestStartTransaction: async (req, ctx) => {
    if (!knownEvse(ctx, req.evseId) || req.evseId === 0) return { status: 'Rejected' };
    const accepted = await ctx.chargePoint.remoteStart(req.idToken.idToken, req.evseId);
    if (accepted) ctx.link.remoteStartAccepted(req.idToken.idToken, req.remoteStartId);
    ctx.log.info('remote start', { evseId: req.evseId, remoteStartId: req.remoteStartId, accepted });
    return { status: accepted ? 'Accepted' : 'Rejected' };
  },

  // F03: the station's transactionId is the session's local id (link.ts transactionIdFor).
  RequestStopTransaction: async (req, ctx) => ({ status: (await ctx.chargePoint.remoteStop(req.transactionId)) ? 'Accepted' : 'Rejected' }),

  GetVariables: (req, ctx) => {
    limit(ctx, 'GetVariables', req.getVariableData);
    return { getVariableResult: getVariables(ctx.model, ctx.store, req.getVariableData) as CsmsCalls['GetVariables'][1]['getVariableResult'] };
  },

  SetVariables: (req, ctx) => {
    limit(ctx, 'SetVariables', req.setVariableData);
    const results = setVariables(ctx.model, ctx.store, req.setVariableData);
    for (const r of results) if (r.attributeStatus === 'Accepted') ctx.link.configurationChanged(r.variable.name);
    return { setVariableResult: results as CsmsCalls['SetVariables'][1]['setVariableResult'] };
  },

  GetBaseReport: (req, ctx) => {
    const { status, reports } = baseReport(ctx.model, ctx.store, req, isoMs(ctx.clock.now()));
    // Answer first, then the NotifyReport parts in order (seqNo from 0, tbc on all but the last).
    setImmediate(() => void (async () => {
      for (const r of reports) {
        try {
          await ctx.link.send('NotifyReport', r);
        } catch (err) {
          ctx.log.warn('NotifyReport not delivered', { requestId: req.requestId, seqNo: r.seqNo, err });
          return;
        }
      }
    })());
    return { status };
  },
};

interface Registered {
  ctx: V201Context;
}

const table: ReadonlyMap<string, (request: unknown, r: Registered) => Promise<unknown>> = new Map(
  (Object.keys(handlers) as (keyof CsmsCalls)[]).map((action) => [action, async (req: unknown, { ctx }: Registered): Promise<unknown> => {
    const handler = handlers[action] as (r: unknown, c: V201Context) => Promise<unknown> | unknown;
    try {
      return await handler(req, ctx);
    } catch (err) {
      if ((err as { rpcErrorCode?: string }).rpcErrorCode) throw err;
      ctx.log.error('handler failed', { action, err });
      throw createRPCError('InternalError', 'the charging station could not process the request');
    }
  }]),
);

/** The actions of the central system this binding answers. */
export const INCOMING_ACTIONS: readonly string[] = [...table.keys()];

export function registerIncoming(connection: AnyConnection, ctx: V201Context): void {
  connection.handleTable(table, { ctx });
  connection.handleUnknown();
}
