import { createRPCError } from '../rpc.js';
import { fromV16IdTagInfo } from './mapping.js';
import type { OcppConnection } from '../connection.js';
import { findKey, invalidValue, meterPublicKeyConnector, normalise, type KeyDefinition } from './configuration.js';
import type { CentralSystemCalls, ChargePointCalls, CsAction, CsRequest, CsResponse, ExtendedTriggerableMessage, KeyValue, TriggerableMessage } from './messages.js';
import type { IncomingContext } from './context.js';
import { firmwareHandlers } from './firmware.js';
import { certificateHandlers, requestChargePointCertificate, v16CertificatesAllowed } from './certificates.js';
import { reservationHandlers } from './reservation.js';
import { remoteStartWithProfile, smartChargingHandlers } from './smart-charging.js';
import { toMeterValue } from './render.js';
import { changeDefaultPriceText, costMessage, COST_VENDOR_ID, defaultPriceTextLanguage, defaultPriceTextOf, timeOffsetNow } from './cost-messages.js';
import { AVAILABILITY_STATION_KEY, availabilityKey } from '../availability-keys.js';
import {
  changeV16Availability, evseOfV16Connector, fromV16ConnectorId, knownV16Connector, toV16ConnectorId, v16ConditionOf, v16ConnectorIds,
} from './topology.js';

type Handlers = { [A in CsAction]: (req: CsRequest<A>, ctx: IncomingContext) => Promise<CsResponse<A>> | CsResponse<A> };

/** Our vendor id for DataTransfer; anything else is UnknownVendorId. */
export const VENDOR_ID = 'org.evse-edge';

const after = (fn: () => void) => setImmediate(fn);

/**
 * A key whose value is the hardware's, not a setting: MeterPublicKey[n], the connector's signing
 * meter's key ("" when it has none); or one that changes with time: TimeOffset after its
 * transition (cost-messages.ts).
 */
function liveValue(ctx: IncomingContext, key: string): string | undefined {
  if (key === 'TimeOffset') return timeOffsetNow(ctx.settings, ctx.clock.now());
  const connectorId = meterPublicKeyConnector(key);
  if (connectorId === undefined || !ctx.chargePoint.evseIds.includes(connectorId)) return undefined;
  return ctx.chargePoint.meterPublicKey(connectorId) ?? '';
}

/**
 * ChangeConfiguration, from the central system or a technician (MQTT config/set): unknown keys
 * NotSupported, read-only and invalid values Rejected; a stored change is applied by the link.
 */
export function changeConfiguration(
  ctx: Pick<IncomingContext, 'definitions' | 'settings' | 'log'> & { link: Pick<IncomingContext['link'], 'configurationChanged'> }, key: string, value: string,
): 'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported' {
  // California Pricing: one language's default price text, kept in DefaultPriceText.
  const language = defaultPriceTextLanguage(key);
  if (language !== undefined && findKey(ctx.definitions, 'DefaultPriceText')) {
    const status = changeDefaultPriceText(ctx.settings, language, value);
    ctx.log.info(status === 'Accepted' ? 'configuration changed' : 'configuration change rejected', { key: 'DefaultPriceText', language, status });
    if (status === 'Accepted') ctx.link.configurationChanged('DefaultPriceText');
    return status;
  }
  const def = findKey(ctx.definitions, key);
  if (!def) return 'NotSupported';
  if (def.readonly) return 'Rejected';
  const problem = invalidValue(def, value);
  if (problem) {
    ctx.log.info('configuration change rejected', { key: def.key, problem });
    return 'Rejected';
  }
  ctx.settings.set(def.key, normalise(def, value));
  ctx.log.info('configuration changed', { key: def.key, ...(def.writeOnly ? {} : { value: ctx.settings.get(def.key) }) });
  ctx.link.configurationChanged(def.key);
  return def.rebootRequired ? 'RebootRequired' : 'Accepted';
}

/** TriggerMessage (§5.17) and the ExtendedTriggerMessage messages that are the same: answered first, then sent. */
function trigger(requested: TriggerableMessage | ExtendedTriggerableMessage, cid: number | undefined, ctx: IncomingContext): CsResponse<'TriggerMessage'> {
  const { chargePoint, link } = ctx;
  if (cid !== undefined && !knownV16Connector(chargePoint, cid)) return { status: 'Rejected' };
  switch (requested) {
    case 'BootNotification':
      after(() => void link.boot());
      return { status: 'Accepted' };
    case 'Heartbeat':
      after(() => void link.send('Heartbeat', {}).catch(() => undefined));
      return { status: 'Accepted' };
    case 'StatusNotification': {
      const ids = cid !== undefined ? [cid] : v16ConnectorIds(chargePoint);
      after(() => ids.forEach((id) => void link.sendStatus(v16ConditionOf(chargePoint, id))));
      return { status: 'Accepted' };
    }
    case 'MeterValues': {
      // Connector 0 (or none): every EVSE's meter.
      const evse = cid === undefined ? undefined : evseOfV16Connector(chargePoint, cid);
      const ids = evse !== undefined ? [evse] : chargePoint.evseIds;
      after(() => {
        for (const id of ids) {
          void (async () => {
            const sample = await chargePoint.triggerSample(id);
            if (!sample) return;
            const session = chargePoint.session(id);
            const transactionId = session ? link.transactionIdOf(session.localId) : undefined;
            await link.send('MeterValues', { connectorId: toV16ConnectorId(id), ...(transactionId ? { transactionId } : {}), meterValue: [toMeterValue(sample)] });
          })().catch((err) => ctx.log.warn('triggered MeterValues failed', { evseId: id, err }));
        }
      });
      return { status: 'Accepted' };
    }
    case 'DiagnosticsStatusNotification':
      after(() => void link.send('DiagnosticsStatusNotification', { status: ctx.features?.diagnostics?.status() ?? 'Idle' }).catch(() => undefined));
      return { status: 'Accepted' };
    case 'FirmwareStatusNotification':
      after(() => void link.send('FirmwareStatusNotification', { status: ctx.features?.firmware?.status() ?? 'Idle' }).catch(() => undefined));
      return { status: 'Accepted' };
    default:
      return { status: 'NotImplemented' };
  }
}

/** One handler per action: what the charge point answers to the central system. */
export const handlers: Handlers = {
  RemoteStartTransaction: async (req, ctx) => {
    const { chargePoint } = ctx;
    const evseId = req.connectorId === undefined ? undefined : evseOfV16Connector(chargePoint, req.connectorId);
    if (req.connectorId !== undefined && evseId === undefined) return { status: 'Rejected' };
    if (req.chargingProfile) return remoteStartWithProfile(req, ctx);
    return { status: (await chargePoint.remoteStart(req.idTag, evseId)) ? 'Accepted' : 'Rejected' };
  },

  RemoteStopTransaction: async (req, { chargePoint, link }) => {
    const localId = link.localIdOf(req.transactionId);
    return { status: localId !== undefined && (await chargePoint.remoteStop(localId)) ? 'Accepted' : 'Rejected' };
  },

  Reset: (req, { onReset, log }) => {
    log.warn('reset requested by the central system', { type: req.type });
    after(() => onReset(req.type));
    return { status: 'Accepted' };
  },

  ChangeConfiguration: (req, ctx) => ({ status: changeConfiguration(ctx, req.key, req.value) }),

  GetConfiguration: (req, ctx) => {
    const max = ctx.settings.int('GetConfigurationMaxKeys');
    if (req.key && req.key.length > max) {
      throw createRPCError('OccurenceConstraintViolation', `at most ${max} keys per request (GetConfigurationMaxKeys)`);
    }
    const visible = ctx.definitions.filter((d) => !d.writeOnly);
    const asKeyValue = (d: KeyDefinition): KeyValue => ({ key: d.key, readonly: d.readonly, value: liveValue(ctx, d.key) ?? ctx.settings.get(d.key) ?? '' });
    if (!req.key || req.key.length === 0) return { configurationKey: visible.map(asKeyValue) };
    const known: KeyValue[] = [];
    const unknownKey: string[] = [];
    for (const k of req.key) {
      const d = findKey(visible, k);
      const language = defaultPriceTextLanguage(k);
      const priceText = language !== undefined && findKey(visible, 'DefaultPriceText') ? defaultPriceTextOf(ctx.settings, language) : undefined;
      if (d) known.push(asKeyValue(d));
      else if (priceText !== undefined) known.push({ key: k, readonly: false, value: priceText });
      else unknownKey.push(k);
    }
    return { configurationKey: known, ...(unknownKey.length ? { unknownKey } : {}) };
  },

  ChangeAvailability: (req, { chargePoint, settings }) => {
    if (!knownV16Connector(chargePoint, req.connectorId)) return { status: 'Rejected' };
    const status = changeV16Availability(chargePoint, req.connectorId, req.type);
    // Availability survives a reboot (§4.1.2). Connector 0 sets every connector, so their saved states follow.
    const place = fromV16ConnectorId(req.connectorId);
    const keys = place === 'station' ? [AVAILABILITY_STATION_KEY, ...chargePoint.evseIds.map(availabilityKey)] : [availabilityKey(place.evseId)];
    for (const key of keys) settings.set(key, req.type);
    return { status };
  },

  UnlockConnector: async (req, { chargePoint }) => {
    const place = fromV16ConnectorId(req.connectorId);
    if (place === 'station' || !chargePoint.hasConnector(place)) return { status: 'NotSupported' };
    return { status: await chargePoint.unlock(place) };
  },

  ClearCache: (_req, { authData }) => {
    authData.clearCache();
    return { status: 'Accepted' };
  },

  DataTransfer: (req, ctx) => {
    if (req.vendorId === COST_VENDOR_ID) return costMessage(req, ctx);
    if (req.vendorId !== VENDOR_ID) return { status: 'UnknownVendorId' };
    if (req.messageId === 'SetTariff') {
      const def = ctx.definitions.find((d) => d.key === 'Tariff');
      if (!def || invalidValue(def, req.data ?? '')) return { status: 'Rejected' };
      ctx.settings.set('Tariff', req.data ?? '');
      ctx.log.info('tariff set by the central system');
      return { status: 'Accepted' };
    }
    return { status: 'UnknownMessageId' };
  },

  TriggerMessage: (req, ctx) => trigger(req.requestedMessage, req.connectorId, ctx),

  // Security whitepaper: the same triggers, plus the charge point's certificate, the signed
  // firmware update's status and the log upload's. Answered first, then sent.
  ExtendedTriggerMessage: (req, ctx) => {
    const { link, log } = ctx;
    switch (req.requestedMessage) {
      case 'SignChargePointCertificate':
        if (!ctx.features?.security || !v16CertificatesAllowed(ctx)) return { status: 'Rejected' };
        after(() => void requestChargePointCertificate(ctx).catch((err) => log.warn('SignCertificate failed', { err })));
        return { status: 'Accepted' };
      case 'FirmwareStatusNotification': {
        const f = ctx.features?.firmware;
        const now = f?.statusNow?.() ?? { status: f?.status() ?? 'Idle' };
        after(() => void link.send('SignedFirmwareStatusNotification', now as ChargePointCalls['SignedFirmwareStatusNotification'][0])
          .catch((err) => log.debug('triggered SignedFirmwareStatusNotification failed', { err })));
        return { status: 'Accepted' };
      }
      case 'LogStatusNotification': {
        const now = ctx.features?.diagnostics?.logStatusNow?.() ?? { status: 'Idle' as const };
        after(() => void link.send('LogStatusNotification', now).catch((err) => log.debug('triggered LogStatusNotification failed', { err })));
        return { status: 'Accepted' };
      }
      default:
        return trigger(req.requestedMessage, req.connectorId, ctx);
    }
  },

  GetLocalListVersion: (_req, { authData, settings }) => ({
    listVersion: settings.bool('LocalAuthListEnabled') ? authData.localListVersion() : -1,
  }),

  SendLocalList: (req, { authData, settings, log }) => {
    if (!settings.bool('LocalAuthListEnabled')) return { status: 'NotSupported' };
    const entries = req.localAuthorizationList ?? [];
    if (entries.length > settings.int('SendLocalListMaxLength')) return { status: 'Failed' };
    if (new Set(entries.map((e) => e.idTag)).size !== entries.length) return { status: 'Failed' };
    if (req.updateType === 'Differential' && req.listVersion <= authData.localListVersion()) return { status: 'VersionMismatch' };
    if (req.updateType === 'Full' && entries.some((e) => !e.idTagInfo)) return { status: 'Failed' };
    authData.updateLocalList(req.listVersion, req.updateType, entries.map((e) => ({ idTag: e.idTag, ...(e.idTagInfo ? { info: fromV16IdTagInfo(e.idTagInfo) } : {}) })));
    if (authData.localListSize() > settings.int('LocalAuthListMaxLength')) {
      log.warn('local authorisation list is over its maximum length', { size: authData.localListSize() });
    }
    log.info('local authorisation list updated', { version: req.listVersion, type: req.updateType, entries: entries.length });
    return { status: 'Accepted' };
  },

  ...smartChargingHandlers,
  ...reservationHandlers,
  ...firmwareHandlers,
  ...certificateHandlers,
};

/** What a connection's shared handler table is given: the charge point's context. */
interface Registered {
  ctx: IncomingContext;
}

/** One table for every connection of the process (a fleet holds thousands). */
const table: ReadonlyMap<string, (request: unknown, r: Registered) => Promise<unknown>> = new Map(
  (Object.keys(handlers) as CsAction[]).map((action) => [action, async (req: unknown, { ctx }: Registered): Promise<unknown> => {
    const handler = handlers[action] as (r: unknown, c: IncomingContext) => Promise<unknown> | unknown;
    try {
      return await handler(req, ctx);
    } catch (err) {
      if ((err as { rpcErrorCode?: string }).rpcErrorCode) throw err;
      ctx.log.error('handler failed', { action, err });
      throw createRPCError('InternalError', 'the charge point could not process the request');
    }
  }]),
);

/** The actions of the central system this binding answers. */
export const INCOMING_ACTIONS: readonly string[] = [...table.keys()];

export function registerIncoming(connection: OcppConnection<ChargePointCalls, CentralSystemCalls>, ctx: IncomingContext): void {
  connection.handleTable(table, { ctx });
  connection.handleUnknown();
}
