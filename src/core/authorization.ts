import type { AuthorizationPolicy } from './policy.js';
import type { AuthorizationData, AuthorizationInfo, IdTokenType, RemoteAuthorizer } from './ports.js';

export type AuthorizationSource = 'csms' | 'local-list' | 'cache' | 'offline-unknown' | 'none';

export interface AuthorizationDecision {
  accepted: boolean;
  info: AuthorizationInfo;
  source: AuthorizationSource;
  /** Decided without the central system: it must check the tag again (StartTransaction.conf). */
  offline: boolean;
}

/** An entry's status at `now`: an expired Accepted entry is Expired. */
export function effectiveStatus(info: AuthorizationInfo, now: number): AuthorizationInfo['status'] {
  if (info.status === 'Accepted' && info.expiryDate && Date.parse(info.expiryDate) <= now) return 'Expired';
  return info.status;
}

/**
 * The one writer of the authorisation cache (when the policy enables it). `authorize`: the
 * central system's Authorize answer replaces the entry whole, it is the authorisation itself.
 * `transaction`: its word on a tag that comes with a transaction (StartTransaction.conf,
 * StopTransaction.conf, OCPP 1.6 §3.5.1) often carries only a status: it must not make a validity
 * the central system granted with an end (Authorize.conf's expiryDate) endless, nor forget the
 * tag's group. For the same status, the expiryDate and groupId the cache holds stay unless
 * the answer names new ones.
 */
export function rememberVerdict(
  deps: { policy: Pick<AuthorizationPolicy, 'cacheEnabled' | 'cacheLifeTimeS' | 'cacheMaxBytes'>; data: AuthorizationData; now?: () => number },
  idTag: string, info: AuthorizationInfo, kind: 'authorize' | 'transaction',
): void {
  const { policy, data, now } = deps;
  if (!policy.cacheEnabled) return;
  let entry = info;
  if (kind === 'transaction') {
    const old = data.cacheEntry(idTag);
    entry = { ...info };
    if (old && old.status === info.status && !info.expiryDate && old.expiryDate) entry.expiryDate = old.expiryDate;
    if (old && !info.groupId && old.groupId) entry.groupId = old.groupId;
  }
  // 2.0.1: without the central system's cacheExpiryDateTime an entry holds AuthCacheCtrlr.LifeTime (C10).
  if (policy.cacheLifeTimeS !== undefined && now && !entry.expiryDate) {
    entry = { ...entry, expiryDate: new Date(now() + policy.cacheLifeTimeS * 1000).toISOString() };
  }
  data.cachePut(idTag, entry);
  if (policy.cacheMaxBytes !== undefined && now) data.cacheEvict?.(policy.cacheMaxBytes, now(), idTag);
}

/** A transaction answer's verdict into the cache, whatever the policy (see rememberVerdict). */
export function cacheTransactionVerdict(data: AuthorizationData, idTag: string, info: AuthorizationInfo): void {
  rememberVerdict({ policy: { cacheEnabled: true }, data }, idTag, info, 'transaction');
}

/**
 * A tag's entry in the local list or the cache, as the policy allows (the list first). With a
 * cache LifeTime (2.0.1) an expired cache entry is forgotten: the tag is unknown again.
 */
export function localEntry(
  idTag: string, deps: { policy: AuthorizationPolicy; data: AuthorizationData; now?: () => number },
): { info: AuthorizationInfo; source: 'local-list' | 'cache' } | undefined {
  const { policy, data, now } = deps;
  const listed = policy.localListEnabled ? data.localListEntry(idTag) : undefined;
  if (listed) return { info: listed, source: 'local-list' };
  const cached = policy.cacheEnabled ? data.cacheEntry(idTag) : undefined;
  if (cached && policy.cacheLifeTimeS !== undefined && now && cached.expiryDate && Date.parse(cached.expiryDate) <= now()) {
    data.cacheRemove?.(idTag);
    return undefined;
  }
  return cached ? { info: cached, source: 'cache' } : undefined;
}

/** A local decision to accept: a cache entry used is the most recently used. */
function acceptedLocally(idTag: string, local: { info: AuthorizationInfo; source: 'local-list' | 'cache' }, data: AuthorizationData, offline: boolean): AuthorizationDecision {
  if (local.source === 'cache') data.cacheTouch?.(idTag);
  return { accepted: true, info: local.info, source: local.source, offline };
}

/**
 * The authorisation rules of OCPP 1.6 §3.5 and DOMAIN.md R8:
 * - online: LocalPreAuthorize lets a locally Accepted tag start without waiting; otherwise the
 *   central system decides, and its answer updates the cache;
 * - offline: the local list beats the cache; a listed tag that is not Accepted, or expired, is
 *   refused; with LocalAuthorizeOffline a locally Accepted tag starts; an unknown tag starts only
 *   with AllowOfflineTxForUnknownId.
 * 2.0.1 (C10-C15) adds to these only what its policy says: a cache entry past its LifeTime is
 * unknown again (localEntry), and a cache entry that authorises is the most recently used.
 */
export async function authorizeIdTag(
  idTag: string,
  deps: { policy: AuthorizationPolicy; data: AuthorizationData; remote: RemoteAuthorizer; now: () => number },
  type?: IdTokenType,
): Promise<AuthorizationDecision> {
  const { policy, data, remote, now } = deps;
  const local = localEntry(idTag, deps);
  const localAccepted = local !== undefined && effectiveStatus(local.info, now()) === 'Accepted';

  if (remote.online()) {
    if (localAccepted && policy.localPreAuthorize) {
      return acceptedLocally(idTag, local, data, false);
    }
    if (local?.source === 'cache' && !localAccepted && policy.localPreAuthorize && policy.disablePostAuthorize) {
      return { accepted: false, info: { ...local.info, status: effectiveStatus(local.info, now()) }, source: 'cache', offline: false };
    }
    const answer = await remote.authorize(idTag, type);
    if (answer) {
      // A Central token is the central system's own id: it decides on it each time, it is never cached.
      if (type !== 'Central') rememberVerdict(deps, idTag, answer, 'authorize');
      return { accepted: answer.status === 'Accepted', info: answer, source: 'csms', offline: false };
    }
    // The central system could not be asked after all: decide as offline.
  }

  if (local) {
    const status = effectiveStatus(local.info, now());
    if (status !== 'Accepted') return { accepted: false, info: { ...local.info, status }, source: local.source, offline: true };
    if (policy.localAuthorizeOffline) return acceptedLocally(idTag, local, data, true);
  }
  if (policy.offlineTxForUnknownId) {
    return { accepted: true, info: { status: 'Accepted' }, source: 'offline-unknown', offline: true };
  }
  return { accepted: false, info: { status: 'Invalid' }, source: 'none', offline: true };
}
