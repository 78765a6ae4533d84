/**
 * The OCPP 2.0.1 incoming handler table: one handler per action the binding answers, shared by
 * every connection of a process (a fleet holds thousands). Actions not in it are answered
 * NotImplemented by the connection.
 */
import { createRPCError } from '../rpc.js';
import { isoMs } from '../../core/clock.js';
import type { ChargePoint } from '../../core/charge-point.js';
import type { Reservations } from '../../core/reservations.js';
import type { Clock, EvseId } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { AnyConnection } from '../connection.js';
import type { AuthorizationStore, ConfigurationStore, EventQueue } from '../store-ports.js';
import { authorizationHandlers } from './authorization.js';
import { reservationHandlers } from './reservation.js';
import { displayMessageHandlers } from './display-messages.js';
import { toV201MeterValue } from './mapping.js';
import { triggerTransactionEvent } from './transaction-trigger.js';
import { baseReport, getVariables, requestLimitError, setVariables, type DeviceModel, type VariableStore } from './device-model.js';
import type { CsmsCalls } from './messages.js';
import { fromV201Evse, knownV201Place, STATION_EVSE_ID } from './topology.js';
import { AVAILABILITY_STATION_KEY, availabilityKey } from '../availability-keys.js';
import type { StationSecurity } from '../certificates.js';
import { certificateHandlers, certificatesAllowed, requestStationCertificate, type CertificateRequests } from './certificates.js';
import { firmwareHandlers, type LogUploadService, type SignedFirmwareService } from './firmware.js';
import { networkProfileHandlers } from './network-profile.js';
import { smartChargingHandlers, withStartProfile, type V201Features } from './smart-charging.js';
import type { EarlyTransactions } from './transaction-start.js';

export interface V201Context {
  model: DeviceModel;
  store: VariableStore;
  clock: Clock;
  log: Log;
  chargePoint: ChargePoint;
  /** The charger's stored settings (availability survives a reboot, as on 1.6). */
  settings: ConfigurationStore;
  /** The Local Authorization List and the authorisation cache (SendLocalList, ClearCache). */
  authData: AuthorizationStore;
  /** The queue of transaction messages not yet delivered (GetTransactionStatus). */
  outbox: Pick<EventQueue, 'head'>;
  /** Reservations (H01-H04), when the charger has them (reservation.ts). */
  reservations?: Reservations;
  /** Reset: the application restarts the charge point (Soft) or the process (Hard). */
  onReset: (type: 'Soft' | 'Hard') => void;
  /** Certificates and security events (Advanced Security), where the charger keeps them (certificates.ts). */
  security?: StationSecurity;
  /** The station's certificate requests (repeats, renewal), shared by the handlers and the renewal check. */
  certificateRequests?: CertificateRequests;
  /** Firmware updates (L01), where the charger has them. */
  firmware?: SignedFirmwareService;
  /** Log uploads (N01), where the charger has them. */
  logs?: LogUploadService;
  /** Optional feature services (Smart Charging). */
  features?: V201Features;
  /** Transactions begun before their session (TxStartPoint EVConnected/Authorized: transaction-start.ts), when the link watches them. */
  earlyTransactions?: EarlyTransactions;
  link: {
    /** The link's state: 'accepted' once the central system accepted the boot ('booting' while unanswered, 'pending'). */
    readonly state: string;
    /** BootNotification now (TriggerMessage: reason Triggered). */
    boot(reason?: 'Triggered'): Promise<void>;
    /** StatusNotification of an EVSE's connector whether or not it changed (TriggerMessage). */
    triggerStatus(evseId: EvseId): Promise<void>;
    send(action: string, request: unknown): Promise<unknown>;
    configurationChanged(key: string): void;
  };
}

/** Our vendor id for DataTransfer; anything else is UnknownVendorId (as on 1.6). */
export const VENDOR_ID = 'org.evse-edge';

const after = (fn: () => void) => setImmediate(fn);

/** How many queued rows GetTransactionStatus looks through (the queue is read oldest first). */
const QUEUE_SCAN_ROWS = 100_000;

/** Whether an evseId, if given, names one of the station's EVSEs (evseId 0, the station, is no EVSE). */
const knownEvse = (ctx: V201Context, evseId: number | undefined): boolean => evseId === undefined || ctx.chargePoint.evseIds.includes(evseId);

type Handlers = { [A in keyof CsmsCalls]?: (req: CsmsCalls[A][0], ctx: V201Context) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1] };

const limit = (ctx: V201Context, request: 'GetVariables' | 'SetVariables', items: readonly unknown[]) => {
  const code = requestLimitError(ctx.model, ctx.store, request, items.length, Buffer.byteLength(JSON.stringify(items)));
  if (code) throw createRPCError(code, `too many ${request} items`);
};

/**
 * F01/F02: the transaction a remote start joins when it had begun already (the cable plugged in
 * first): on the EVSE asked for, or the one the remote start's authorisation or session took.
 */
function startedAlready(req: CsmsCalls['RequestStartTransaction'][0], ctx: V201Context, early: ReadonlyMap<EvseId, string | undefined>): string | undefined {
  const { chargePoint } = ctx;
  const joined = (evseId: EvseId): boolean => {
    const id = early.get(evseId);
    if (!id) return false;
    const pending = chargePoint.pendingAuthorization(evseId);
    return chargePoint.session(evseId)?.localId === id || (ctx.earlyTransactions?.openOn(evseId) === id && pending?.remoteStartId === req.remoteStartId);
  };
  const evseId = req.evseId !== undefined ? (joined(req.evseId) ? req.evseId : undefined) : chargePoint.evseIds.find(joined);
  return evseId === undefined ? undefined : early.get(evseId);
}

export const handlers: Handlers = {
  ...authorizationHandlers,
  ...reservationHandlers,
  // F01/F02: AuthorizeRemoteStart is the policy's AuthorizeRemoteTxRequests (one setting, two views); the core decides.
  RequestStartTransaction: async (req, ctx) => {
    // B02.FR.05: no transaction before the boot is Accepted (Pending, or a BootNotification still unanswered).
    if (ctx.link.state !== 'accepted') return { status: 'Rejected' };
    if (!knownEvse(ctx, req.evseId)) return { status: 'Rejected' };
    // Transactions already begun before their session (the cable plugged first, TxStartPoint EVConnected), as they were before this call.
    const early = new Map(ctx.chargePoint.evseIds.map((id) => [id, ctx.earlyTransactions?.openOn(id)] as const));
    // The session records the remoteStartId: its Started carries RemoteStart and the id, on every delivery (a restart included).
    const accepted = await withStartProfile(req, ctx, () => ctx.chargePoint.remoteStart(req.idToken.idToken, req.evseId, req.remoteStartId, req.idToken.type, req.groupIdToken?.idToken)); // K05-style TxProfile
    const transactionId = accepted ? startedAlready(req, ctx, early) : undefined;
    ctx.log.info('remote start', { evseId: req.evseId, remoteStartId: req.remoteStartId, accepted, ...(transactionId ? { transactionId } : {}) });
    return { status: accepted ? 'Accepted' : 'Rejected', ...(transactionId ? { transactionId } : {}) };
  },

  // F03: the station's transactionId is the session's local id (link.ts transactionIdFor).
  // F05: a running transaction on the EVSE is not stopped by an unlock; an EVSE without a lock cannot be unlocked.
  UnlockConnector: async (req, ctx) => {
    const connector = { evseId: req.evseId, connectorId: req.connectorId };
    if (!ctx.chargePoint.hasConnector(connector)) return { status: 'UnknownConnector' };
    if (ctx.chargePoint.session(req.evseId)) return { status: 'OngoingAuthorizedTransaction' };
    const result = await ctx.chargePoint.unlock(connector);
    return { status: result === 'Unlocked' ? 'Unlocked' : 'UnlockFailed' };
  },

  // G03/G04: station (no evse), EVSE, or its one connector; Scheduled while a transaction runs; persisted like 1.6's.
  ChangeAvailability: (req, ctx) => {
    const { chargePoint, settings } = ctx;
    const place = fromV201Evse(req.evse);
    // The station has no connector of its own.
    if (!knownV201Place(chargePoint, place) || (place === 'station' && req.evse?.connectorId !== undefined)) return { status: 'Rejected' };
    const type = req.operationalStatus;
    const status = place === 'station' ? chargePoint.changeStationAvailability(type) : chargePoint.changeAvailability(place.evseId, type);
    // Saved under the same keys as 1.6's (src/app/charger restores them): the station's, then each EVSE's.
    const keys = place === 'station' ? [AVAILABILITY_STATION_KEY, ...chargePoint.evseIds.map(availabilityKey)] : [availabilityKey(place.evseId)];
    for (const key of keys) settings.set(key, type);
    ctx.log.info('availability changed by the central system', { evseId: req.evse?.id ?? STATION_EVSE_ID, type, status });
    return { status };
  },

  // E14: messagesInQueue over the transaction's queued messages (all transaction messages without an id).
  GetTransactionStatus: (req, ctx) => {
    const queued = ctx.outbox.head(QUEUE_SCAN_ROWS).filter((e) => e.kind !== 'security');
    if (req.transactionId === undefined) return { messagesInQueue: queued.length > 0 };
    // Ongoing: a session runs it, or it began before its session (TxStartPoint) and has not ended.
    const ongoing = ctx.chargePoint.evseIds.some((id) => ctx.chargePoint.session(id)?.localId === req.transactionId) || !!ctx.earlyTransactions?.ongoing(req.transactionId);
    return { ongoingIndicator: ongoing, messagesInQueue: queued.some((e) => e.localId === req.transactionId) };
  },

  // B11/B12: Immediate ends transactions (ImmediateReset) then resets; OnIdle waits for them (Scheduled).
  Reset: async (req, ctx) => {
    const { chargePoint, log } = ctx;
    if (!knownEvse(ctx, req.evseId)) return { status: 'Rejected' };
    const ids = req.evseId !== undefined ? [req.evseId] : chargePoint.evseIds;
    const busy = ids.filter((id) => chargePoint.session(id));
    log.warn('reset requested by the central system', { type: req.type, evseId: req.evseId, busy });
    // An EVSE has nothing to restart but its transaction; the station restarts through the application's hook.
    const restart = () => {
      if (req.evseId === undefined) ctx.onReset('Soft');
    };
    if (req.type === 'Immediate') {
      after(() => void Promise.all(busy.map((id) => chargePoint.stopEvse(id, 'ImmediateReset')))
        .catch((err) => log.error('immediate reset: stopping transactions failed', { err }))
        .finally(restart));
      return { status: 'Accepted' };
    }
    if (busy.length === 0) {
      after(restart);
      return { status: 'Accepted' };
    }
    const onStatus = () => {
      if (ids.some((id) => chargePoint.session(id))) return;
      chargePoint.off('status', onStatus);
      log.info('scheduled reset: idle now', { evseId: req.evseId });
      after(restart);
    };
    chargePoint.on('status', onStatus);
    return { status: 'Scheduled' };
  },

  // F06: answer first, then send.
  TriggerMessage: (req, ctx) => {
    const { chargePoint, link } = ctx;
    // No evse: every EVSE; an evse must be one of the station's (evseId 0 names none here).
    const place = req.evse === undefined ? 'station' : fromV201Evse(req.evse);
    if (req.evse !== undefined && (place === 'station' || !knownV201Place(chargePoint, place))) return { status: 'Rejected' };
    const ids = place !== 'station' ? [place.evseId] : chargePoint.evseIds;
    switch (req.requestedMessage) {
      case 'SignChargingStationCertificate': // A02: answer first, then SignCertificate with a new key's CSR.
        if (!ctx.security || !certificatesAllowed(ctx)) return { status: 'Rejected' };
        after(() => void requestStationCertificate(ctx).catch((err) => ctx.log.warn('SignCertificate failed', { err })));
        return { status: 'Accepted' };
      case 'FirmwareStatusNotification': // L01: the update in progress with its requestId, else Idle.
        if (!ctx.firmware) return { status: 'NotImplemented' };
        after(() => void link.send('FirmwareStatusNotification', ctx.firmware!.statusNow()).catch((err) => ctx.log.debug('triggered FirmwareStatusNotification failed', { err })));
        return { status: 'Accepted' };
      case 'LogStatusNotification': // N01: the upload running with its requestId, else Idle.
        if (!ctx.logs) return { status: 'NotImplemented' };
        after(() => void link.send('LogStatusNotification', ctx.logs!.logStatusNow()).catch((err) => ctx.log.debug('triggered LogStatusNotification failed', { err })));
        return { status: 'Accepted' };
      case 'BootNotification':
        after(() => void link.boot('Triggered'));
        return { status: 'Accepted' };
      case 'Heartbeat':
        after(() => void link.send('Heartbeat', {}).catch((err) => ctx.log.debug('triggered Heartbeat failed', { err })));
        return { status: 'Accepted' };
      case 'StatusNotification':
        after(() => ids.forEach((id) => void link.triggerStatus(id)));
        return { status: 'Accepted' };
      case 'MeterValues':
        after(() => {
          for (const id of ids) {
            void (async () => {
              const sample = await chargePoint.triggerSample(id);
              if (!sample) return;
              const value = toV201MeterValue(sample);
              await link.send('MeterValues', { evseId: id, meterValue: [{ ...value, sampledValue: value.sampledValue.map((v) => ({ ...v, context: 'Trigger' as const })) }] });
            })().catch((err) => ctx.log.warn('triggered MeterValues failed', { evseId: id, err }));
          }
        });
        return { status: 'Accepted' };
      case 'TransactionEvent':
        return triggerTransactionEvent(ids, ctx);
      default:
        return { status: 'NotImplemented' };
    }
  },

  DataTransfer: (req) => ({ status: req.vendorId === VENDOR_ID ? 'UnknownMessageId' : 'UnknownVendorId' }),

  // F03: Accepted only for an ongoing transaction (B02.FR.05: not before the boot is Accepted).
  RequestStopTransaction: async (req, ctx) => {
    if (ctx.link.state !== 'accepted') return { status: 'Rejected' };
    if (await ctx.chargePoint.remoteStop(req.transactionId)) return { status: 'Accepted' };
    // Begun before its session (TxStartPoint): answered first, then Ended (RemoteStop / Remote);
    // should a session take it up meanwhile, the session is stopped instead.
    if (!ctx.earlyTransactions?.ongoing(req.transactionId)) return { status: 'Rejected' };
    after(() => {
      if (ctx.earlyTransactions!.stopRemotely(req.transactionId)) return;
      void ctx.chargePoint.remoteStop(req.transactionId).catch((err) => ctx.log.error('remote stop failed', { transactionId: req.transactionId, err }));
    });
    return { status: 'Accepted' };
  },

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

  // Advanced Security (A, M), firmware and logs (L, N), Smart Charging (K): their own files.
  ...certificateHandlers,
  ...firmwareHandlers,
  ...networkProfileHandlers,
  ...smartChargingHandlers,
  ...displayMessageHandlers,
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
