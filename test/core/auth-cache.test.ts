import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authorizeIdTag, localEntry, rememberVerdict } from '../../src/core/authorization.js';
import { DEFAULT_POLICY, type AuthorizationPolicy } from '../../src/core/policy.js';
import type { AuthorizationInfo, RemoteAuthorizer } from '../../src/core/ports.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { CACHE_ENTRY_OVERHEAD_BYTES } from '../../src/store/authorization-data.js';
import { openDatabase, SqliteAuthorizationData } from '../../src/store/index.js';

/**
 * The authorisation cache's one writer (src/core/authorization.ts rememberVerdict) over a real
 * SQLite store: 2.0.1's LifeTime and eviction (AuthCacheCtrlr.Storage, Policy LRU), and the
 * 1.6 behaviour without them.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): { data: SqliteAuthorizationData; clock: { now: number } } {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-cache-'));
  dirs.push(dir);
  const db = openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
  const clock = { now: Date.UTC(2026, 5, 1, 12) };
  return { data: new SqliteAuthorizationData(db, 'CP-1', () => clock.now), clock };
}

const v201Like = (o: Partial<AuthorizationPolicy> = {}): AuthorizationPolicy => ({ ...DEFAULT_POLICY.authorization, cacheLifeTimeS: 60, ...o });
const entryBytes = (idTag: string, info: AuthorizationInfo) =>
  Buffer.byteLength(idTag) + info.status.length + (info.expiryDate?.length ?? 0) + (info.groupId?.length ?? 0) + CACHE_ENTRY_OVERHEAD_BYTES;

describe('the authorisation cache', () => {
  it('2.0.1 LifeTime: an answer without expiry holds LifeTime seconds, one with cacheExpiryDateTime keeps it; an expired entry is forgotten, not Expired', async () => {
    const { data, clock } = store();
    const policy = v201Like();
    const now = () => clock.now;
    rememberVerdict({ policy, data, now }, 'A', { status: 'Accepted' }, 'authorize');
    expect(data.cacheEntry('A')!.expiryDate).toBe(new Date(clock.now + 60_000).toISOString());
    const given = new Date(clock.now + 3_600_000).toISOString();
    rememberVerdict({ policy, data, now }, 'B', { status: 'Accepted', expiryDate: given }, 'authorize');
    expect(data.cacheEntry('B')!.expiryDate).toBe(given);

    clock.now += 61_000;
    expect(localEntry('A', { policy, data, now })).toBeUndefined();
    expect(data.cacheEntry('A')).toBeUndefined();
    expect(localEntry('B', { policy, data, now })).toMatchObject({ source: 'cache' });
    // Offline, the forgotten token is unknown: OfflineTxForUnknownIdEnabled decides, not an Expired entry.
    rememberVerdict({ policy, data, now }, 'C', { status: 'Accepted' }, 'authorize');
    clock.now += 61_000;
    const offline: RemoteAuthorizer = { online: () => false, authorize: async () => undefined };
    const decision = await authorizeIdTag('C', { policy: v201Like({ offlineTxForUnknownId: true }), data, remote: offline, now });
    expect(decision).toMatchObject({ accepted: true, source: 'offline-unknown' });
  });

  it('1.6 (no LifeTime): an answer without expiry holds forever and an expired one reads Expired, as before', async () => {
    const { data, clock } = store();
    const policy = DEFAULT_POLICY.authorization;
    const now = () => clock.now;
    rememberVerdict({ policy, data, now }, 'A', { status: 'Accepted' }, 'authorize');
    expect(data.cacheEntry('A')).toEqual({ status: 'Accepted' });
    rememberVerdict({ policy, data, now }, 'B', { status: 'Accepted', expiryDate: new Date(clock.now + 1_000).toISOString() }, 'authorize');
    clock.now += 2_000;
    const offline: RemoteAuthorizer = { online: () => false, authorize: async () => undefined };
    const decision = await authorizeIdTag('B', { policy: { ...policy, offlineTxForUnknownId: true }, data, remote: offline, now });
    expect(decision).toMatchObject({ accepted: false, source: 'cache', info: { status: 'Expired' } });
    expect(data.cacheEntry('B')).toBeDefined();
  });

  it('Storage counts the bytes; full, entries that no longer authorise go first, then the least recently used (Policy LRU)', async () => {
    const { data, clock } = store();
    const put = (id: string, info: AuthorizationInfo, maxBytes: number) => {
      clock.now += 1_000;
      rememberVerdict({ policy: v201Like({ cacheMaxBytes: maxBytes, cacheLifeTimeS: 3_600 }), data, now: () => clock.now }, id, info, 'authorize');
    };
    // Ids of one length: every Accepted entry takes the same bytes, a Blocked one one byte less.
    const big = 1_000_000;
    put('OLD-OK', { status: 'Accepted' }, big);
    put('BLOCKD', { status: 'Blocked' }, big);
    put('MID-OK', { status: 'Accepted' }, big);
    put('NEW-OK', { status: 'Accepted' }, big);
    const sizes = ['OLD-OK', 'BLOCKD', 'MID-OK', 'NEW-OK'].map((id) => entryBytes(id, data.cacheEntry(id)!));
    expect(data.cacheBytes()).toBe(sizes.reduce((a, b) => a + b, 0));
    const accepted = sizes[0]!;

    // OLD-OK is used (pre-authorised from the cache): now the most recently used.
    clock.now += 1_000;
    const online: RemoteAuthorizer = { online: () => true, authorize: async () => { throw new Error('not asked'); } };
    const used = await authorizeIdTag('OLD-OK', { policy: v201Like({ localPreAuthorize: true }), data, remote: online, now: () => clock.now });
    expect(used).toMatchObject({ accepted: true, source: 'cache' });

    // Room for three Accepted entries: writing a fifth evicts two, the Blocked one, then MID-OK (least recently used).
    put('FIFTH1', { status: 'Accepted' }, 3 * accepted);
    expect(['OLD-OK', 'BLOCKD', 'MID-OK', 'NEW-OK', 'FIFTH1'].filter((id) => data.cacheEntry(id))).toEqual(['OLD-OK', 'NEW-OK', 'FIFTH1']);
    expect(data.cacheBytes()).toBe(3 * accepted);
    // The entry just written stays even when it alone is over the limit.
    put('SIXTH1', { status: 'Accepted' }, 1);
    expect(['OLD-OK', 'NEW-OK', 'FIFTH1', 'SIXTH1'].filter((id) => data.cacheEntry(id))).toEqual(['SIXTH1']);
  });

  it('DisablePostAuthorize (2.0.1): online with LocalPreAuthorize a cached Blocked token is refused from the cache; without it (and on 1.6) the central system is asked', async () => {
    const { data, clock } = store();
    const now = () => clock.now;
    data.cachePut('B', { status: 'Blocked' });
    const asked: string[] = [];
    const online: RemoteAuthorizer = { online: () => true, authorize: async (id) => { asked.push(id); return { status: 'Accepted' }; } };
    const refused = await authorizeIdTag('B', { policy: v201Like({ localPreAuthorize: true, disablePostAuthorize: true }), data, remote: online, now });
    expect(refused).toMatchObject({ accepted: false, source: 'cache', info: { status: 'Blocked' }, offline: false });
    expect(asked).toEqual([]);
    for (const policy of [v201Like({ localPreAuthorize: true }), { ...DEFAULT_POLICY.authorization, localPreAuthorize: true }]) {
      data.cachePut('B', { status: 'Blocked' });
      expect(await authorizeIdTag('B', { policy, data, remote: online, now })).toMatchObject({ accepted: true, source: 'csms' });
    }
    expect(asked).toEqual(['B', 'B']);
  });
});
