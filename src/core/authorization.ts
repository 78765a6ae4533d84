import type { AuthorizationPolicy } from './policy.js';
import type { AuthorizationData, AuthorizationInfo, RemoteAuthorizer } from './ports.js';

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
  deps: { policy: Pick<AuthorizationPolicy, 'cacheEnabled'>; data: AuthorizationData },
  idTag: string, info: AuthorizationInfo, kind: 'authorize' | 'transaction',
): void {
  if (!deps.policy.cacheEnabled) return;
  const { data } = deps;
  let entry = info;
  if (kind === 'transaction') {
    const old = data.cacheEntry(idTag);
    entry = { ...info };
    if (old && old.status === info.status && !info.expiryDate && old.expiryDate) entry.expiryDate = old.expiryDate;
    if (old && !info.groupId && old.groupId) entry.groupId = old.groupId;
  }
  data.cachePut(idTag, entry);
}

/** A transaction answer's verdict into the cache, whatever the policy (see rememberVerdict). */
export function cacheTransactionVerdict(data: AuthorizationData, idTag: string, info: AuthorizationInfo): void {
  rememberVerdict({ policy: { cacheEnabled: true }, data }, idTag, info, 'transaction');
}

/** A tag's entry in the local list or the cache, as the policy allows (the list first). */
export function localEntry(idTag: string, deps: { policy: AuthorizationPolicy; data: AuthorizationData }): { info: AuthorizationInfo; source: 'local-list' | 'cache' } | undefined {
  const { policy, data } = deps;
  const listed = policy.localListEnabled ? data.localListEntry(idTag) : undefined;
  if (listed) return { info: listed, source: 'local-list' };
  const cached = policy.cacheEnabled ? data.cacheEntry(idTag) : undefined;
  return cached ? { info: cached, source: 'cache' } : undefined;
}

/**
 * The authorisation rules of OCPP 1.6 §3.5 and DOMAIN.md R8:
 * - online: LocalPreAuthorize lets a locally Accepted tag start without waiting; otherwise the
 *   central system decides, and its answer updates the cache;
 * - offline: the local list beats the cache; a listed tag that is not Accepted, or expired, is
 *   refused; with LocalAuthorizeOffline a locally Accepted tag starts; an unknown tag starts only
 *   with AllowOfflineTxForUnknownId.
 */
export async function authorizeIdTag(
  idTag: string,
  deps: { policy: AuthorizationPolicy; data: AuthorizationData; remote: RemoteAuthorizer; now: () => number },
): Promise<AuthorizationDecision> {
  const { policy, data, remote, now } = deps;
  const local = localEntry(idTag, deps);
  const localAccepted = local !== undefined && effectiveStatus(local.info, now()) === 'Accepted';

  if (remote.online()) {
    if (localAccepted && policy.localPreAuthorize) {
      return { accepted: true, info: local.info, source: local.source, offline: false };
    }
    const answer = await remote.authorize(idTag);
    if (answer) {
      rememberVerdict(deps, idTag, answer, 'authorize');
      return { accepted: answer.status === 'Accepted', info: answer, source: 'csms', offline: false };
    }
    // The central system could not be asked after all: decide as offline.
  }

  if (local) {
    const status = effectiveStatus(local.info, now());
    if (status !== 'Accepted') return { accepted: false, info: { ...local.info, status }, source: local.source, offline: true };
    if (policy.localAuthorizeOffline) return { accepted: true, info: local.info, source: local.source, offline: true };
  }
  if (policy.offlineTxForUnknownId) {
    return { accepted: true, info: { status: 'Accepted' }, source: 'offline-unknown', offline: true };
  }
  return { accepted: false, info: { status: 'Invalid' }, source: 'none', offline: true };
}
