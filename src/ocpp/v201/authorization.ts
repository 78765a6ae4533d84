/**
 * OCPP 2.0.1 authorisation data the central system manages: the authorisation cache (C11
 * ClearCache) and the Local Authorization List (D01 SendLocalList, D02 GetLocalListVersion), and
 * the live values of LocalAuthListCtrlr.Entries and AuthCacheCtrlr.Storage. The decisions that use
 * them are the core's (src/core/authorization.ts); the list and the cache are the store's, shared
 * with 1.6. A token is known by its idToken (the store keys by id, as the core decides by it).
 */
import type { Log } from '../../lib/log.js';
import type { AuthorizationStore, ConfigurationStore, LocalListEntry } from '../store-ports.js';
import { intValue, type DeviceModel, type VariableKey, type VariableStore } from './device-model.js';
import { fromV201IdTokenInfo } from './mapping.js';
import type { AuthorizationData, CsmsCalls, SendLocalListRequest, SendLocalListStatusEnumType } from './messages.js';

/** What these handlers use of the binding's context (incoming.ts V201Context, which holds more). */
export interface AuthorizationContext {
  model: DeviceModel;
  store: VariableStore;
  settings: ConfigurationStore;
  authData: AuthorizationStore;
  log: Log;
}

type Handler<A extends 'ClearCache' | 'GetLocalListVersion' | 'SendLocalList'> = (req: CsmsCalls[A][0], ctx: AuthorizationContext) => CsmsCalls[A][1];

/** The Entries maximum when the model gives none (LocalAuthListCtrlr.Entries maxLimit). */
const LIST_MAX_ENTRIES = 10_000;

/** The entries a SendLocalList applies (checked against its limits and the list it changes), or why it is refused. */
function checkLocalList(
  req: SendLocalListRequest, data: AuthorizationStore, limits: { items: number; bytes: number; maxEntries: number },
): { status: Exclude<SendLocalListStatusEnumType, 'Accepted'>; why: string } | { entries: LocalListEntry[] } {
  const list: AuthorizationData[] = req.localAuthorizationList ?? [];
  // versionNumber 0 means "no list" (GetLocalListVersion): no update may claim it.
  if (req.versionNumber <= 0) return { status: 'Failed', why: 'versionNumber must be above 0' };
  if (list.length > limits.items) return { status: 'Failed', why: 'more entries than ItemsPerMessage' };
  if (Buffer.byteLength(JSON.stringify(req)) > limits.bytes) return { status: 'Failed', why: 'larger than BytesPerMessage' };
  if (new Set(list.map((e) => e.idToken.idToken)).size !== list.length) return { status: 'Failed', why: 'a token listed twice' };
  if (req.updateType === 'Differential' && req.versionNumber <= data.localListVersion()) return { status: 'VersionMismatch', why: 'not newer than the list' };
  if (req.updateType === 'Full' && list.some((e) => !e.idTokenInfo)) return { status: 'Failed', why: 'a Full list entry without idTokenInfo' };
  const entries = list.map((e): LocalListEntry => ({ idTag: e.idToken.idToken, ...(e.idTokenInfo ? { info: fromV201IdTokenInfo(e.idTokenInfo) } : {}) }));
  const size = req.updateType === 'Full'
    ? entries.length
    : data.localListSize() + entries.filter((e) => e.info && !data.localListEntry(e.idTag)).length - entries.filter((e) => !e.info && data.localListEntry(e.idTag)).length;
  if (size > limits.maxEntries) return { status: 'Failed', why: 'the list would exceed Entries maxLimit' };
  return { entries };
}

const listEnabled = (ctx: AuthorizationContext): boolean => ctx.settings.bool('LocalAuthListEnabled');
const cacheEnabled = (ctx: AuthorizationContext): boolean => ctx.settings.bool('AuthorizationCacheEnabled');

/** LocalAuthListCtrlr.Entries' maxLimit in the model (how many entries the list may hold). */
function maxEntries(model: DeviceModel): number {
  const dv = model.variables.find((v) => v.component === 'LocalAuthListCtrlr' && v.variable === 'Entries');
  return dv?.characteristics.maxLimit ?? LIST_MAX_ENTRIES;
}

export const authorizationHandlers: { ClearCache: Handler<'ClearCache'>; GetLocalListVersion: Handler<'GetLocalListVersion'>; SendLocalList: Handler<'SendLocalList'> } = {
  // C11: the cache emptied; Rejected when there is no cache to clear (AuthCacheCtrlr.Enabled false).
  ClearCache: (_req, ctx) => {
    if (!cacheEnabled(ctx)) return { status: 'Rejected' };
    ctx.authData.clearCache();
    ctx.log.info('authorisation cache cleared by the central system');
    return { status: 'Accepted' };
  },

  // D02: 0 when there is no list (none received, emptied, or the list disabled).
  GetLocalListVersion: (_req, ctx) => ({ versionNumber: listEnabled(ctx) ? ctx.authData.localListVersion() : 0 }),

  // D01: Full replaces, Differential adds/updates (with idTokenInfo) or removes (without); applied with its version at once.
  SendLocalList: (req, ctx) => {
    if (!listEnabled(ctx)) return { status: 'Failed', statusInfo: { reasonCode: 'Disabled' } };
    const checked = checkLocalList(req, ctx.authData, {
      items: intValue(ctx.model, ctx.store, 'LocalAuthListCtrlr', 'ItemsPerMessage', undefined, 1000),
      bytes: intValue(ctx.model, ctx.store, 'LocalAuthListCtrlr', 'BytesPerMessage', undefined, 65_000),
      maxEntries: maxEntries(ctx.model),
    });
    if ('status' in checked) {
      ctx.log.info('local authorisation list refused', { version: req.versionNumber, type: req.updateType, status: checked.status, why: checked.why });
      return { status: checked.status, statusInfo: { reasonCode: checked.status === 'VersionMismatch' ? 'VersionMismatch' : 'InvalidValue', additionalInfo: checked.why } };
    }
    ctx.authData.updateLocalList(req.versionNumber, req.updateType, checked.entries);
    ctx.log.info('local authorisation list updated', { version: req.versionNumber, type: req.updateType, entries: checked.entries.length });
    return { status: 'Accepted' };
  },
};

const is = (k: VariableKey, component: string, variable: string) =>
  k.attribute === 'Actual' && k.evseId === undefined && k.component.toLowerCase() === component.toLowerCase() && k.variable.toLowerCase() === variable.toLowerCase();

/**
 * The device model's store with LocalAuthListCtrlr.Entries (the list's size) and
 * AuthCacheCtrlr.Storage (the bytes the cache holds) read live from the authorisation data.
 */
export function liveAuthorizationVariables(store: VariableStore, data: Pick<AuthorizationStore, 'localListSize' | 'cacheBytes'>): VariableStore {
  return {
    get(k) {
      if (is(k, 'LocalAuthListCtrlr', 'Entries')) return String(data.localListSize());
      if (is(k, 'AuthCacheCtrlr', 'Storage')) return String(data.cacheBytes());
      return store.get(k);
    },
    set: (k, value, meta) => store.set(k, value, meta),
  };
}
