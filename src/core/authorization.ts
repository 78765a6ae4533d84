import type { AuthorizationData, IdTagInfo, RemoteAuthorizer, Settings } from './ports.js';

export type AuthorizationSource = 'csms' | 'local-list' | 'cache' | 'offline-unknown' | 'none';

export interface AuthorizationDecision {
  accepted: boolean;
  info: IdTagInfo;
  source: AuthorizationSource;
  /** Decided without the central system: it must check the tag again (StartTransaction.conf). */
  offline: boolean;
}

/** An entry's status at `now`: an expired Accepted entry is Expired. */
export function effectiveStatus(info: IdTagInfo, now: number): IdTagInfo['status'] {
  if (info.status === 'Accepted' && info.expiryDate && Date.parse(info.expiryDate) <= now) return 'Expired';
  return info.status;
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
  deps: { settings: Settings; data: AuthorizationData; remote: RemoteAuthorizer; now: () => number },
): Promise<AuthorizationDecision> {
  const { settings, data, remote, now } = deps;
  const listed = settings.bool('LocalAuthListEnabled') ? data.localListEntry(idTag) : undefined;
  const cached = settings.bool('AuthorizationCacheEnabled') ? data.cacheEntry(idTag) : undefined;
  const local = listed ? { info: listed, source: 'local-list' as const } : cached ? { info: cached, source: 'cache' as const } : undefined;
  const localAccepted = local !== undefined && effectiveStatus(local.info, now()) === 'Accepted';

  if (remote.online()) {
    if (localAccepted && settings.bool('LocalPreAuthorize')) {
      return { accepted: true, info: local.info, source: local.source, offline: false };
    }
    const answer = await remote.authorize(idTag);
    if (answer) {
      if (settings.bool('AuthorizationCacheEnabled')) data.cachePut(idTag, answer);
      return { accepted: answer.status === 'Accepted', info: answer, source: 'csms', offline: false };
    }
    // The central system could not be asked after all: decide as offline.
  }

  if (local) {
    const status = effectiveStatus(local.info, now());
    if (status !== 'Accepted') return { accepted: false, info: { ...local.info, status }, source: local.source, offline: true };
    if (settings.bool('LocalAuthorizeOffline')) return { accepted: true, info: local.info, source: local.source, offline: true };
  }
  if (settings.bool('AllowOfflineTxForUnknownId')) {
    return { accepted: true, info: { status: 'Accepted' }, source: 'offline-unknown', offline: true };
  }
  return { accepted: false, info: { status: 'Invalid' }, source: 'none', offline: true };
}
