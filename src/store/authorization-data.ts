import type { AuthorizationData, AuthorizationInfo } from '../core/ports.js';
import { statementsFor } from './statement-cache.js';
import { transact, type SqliteDatabase } from './database.js';

export interface LocalListEntry {
  idTag: string;
  /** Absent: the entry is removed (a Differential update). */
  info?: AuthorizationInfo;
}

interface Row {
  status: AuthorizationInfo['status'];
  expiry_date: string | null;
  parent_id_tag: string | null;
}

/** What a cache entry costs beyond its text: its key, timestamps and the row (AuthCacheCtrlr.Storage counts it). */
export const CACHE_ENTRY_OVERHEAD_BYTES = 48;

/** A cache row's size in bytes, in SQL: its text as UTF-8 plus the overhead. */
const ENTRY_BYTES = `(length(CAST(id_tag AS BLOB)) + length(CAST(status AS BLOB)) + coalesce(length(CAST(expiry_date AS BLOB)), 0)
  + coalesce(length(CAST(parent_id_tag AS BLOB)), 0) + ${CACHE_ENTRY_OVERHEAD_BYTES})`;

const toInfo = (r: Row): AuthorizationInfo => ({
  status: r.status,
  ...(r.expiry_date ? { expiryDate: r.expiry_date } : {}),
  ...(r.parent_id_tag ? { groupId: r.parent_id_tag } : {}),
});

/** The Local Authorization List (with its version) and the authorisation cache of one charge point. */
export class SqliteAuthorizationData implements AuthorizationData {
  private readonly q;
  /**
   * Whether the local list holds no entry (undefined: not read yet). This view is its charge
   * point's only writer of the list, and every presented tag looks it up: an empty list, as
   * most chargers and every simulated one have, needs no query.
   */
  private listEmpty?: boolean;
  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string, private readonly now: () => number) {
    db.prepare(`INSERT OR IGNORE INTO charge_points (id) VALUES (?)`).run(chargePointId);
    this.q = statementsFor(db, SqliteAuthorizationData, () => ({
      list: db.prepare(`SELECT status, expiry_date, parent_id_tag FROM local_auth_list WHERE charge_point_id = ? AND id_tag = ?`),
      cache: db.prepare(`SELECT status, expiry_date, parent_id_tag FROM auth_cache WHERE charge_point_id = ? AND id_tag = ?`),
      cachePut: db.prepare(`INSERT INTO auth_cache (charge_point_id, id_tag, status, expiry_date, parent_id_tag, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (charge_point_id, id_tag) DO UPDATE SET status = excluded.status, expiry_date = excluded.expiry_date,
        parent_id_tag = excluded.parent_id_tag, updated_at = excluded.updated_at`),
      cacheClear: db.prepare(`DELETE FROM auth_cache WHERE charge_point_id = ?`),
      cacheDelete: db.prepare(`DELETE FROM auth_cache WHERE charge_point_id = ? AND id_tag = ?`),
      cacheTouch: db.prepare(`UPDATE auth_cache SET updated_at = ? WHERE charge_point_id = ? AND id_tag = ?`),
      cacheBytes: db.prepare(`SELECT coalesce(sum(${ENTRY_BYTES}), 0) AS n FROM auth_cache WHERE charge_point_id = ?`),
      // The next entry to evict: one that no longer authorises first (not Accepted, or expired), then the least recently used.
      cacheVictim: db.prepare(`SELECT id_tag, ${ENTRY_BYTES} AS bytes FROM auth_cache WHERE charge_point_id = ? AND id_tag <> ?
        ORDER BY CASE WHEN status = 'Accepted' AND (expiry_date IS NULL OR julianday(expiry_date) > julianday(?)) THEN 1 ELSE 0 END, updated_at, id_tag LIMIT 1`),
      listUpsert: db.prepare(`INSERT INTO local_auth_list (charge_point_id, id_tag, status, expiry_date, parent_id_tag) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (charge_point_id, id_tag) DO UPDATE SET status = excluded.status, expiry_date = excluded.expiry_date, parent_id_tag = excluded.parent_id_tag`),
      listDelete: db.prepare(`DELETE FROM local_auth_list WHERE charge_point_id = ? AND id_tag = ?`),
      listClear: db.prepare(`DELETE FROM local_auth_list WHERE charge_point_id = ?`),
      listCount: db.prepare(`SELECT COUNT(*) AS n FROM local_auth_list WHERE charge_point_id = ?`),
      // An empty list is version 0 (OCPP 1.6 §5.10), whatever version emptied it; also for a
      // store that an earlier release left with an emptied list and its last version.
      version: db.prepare(`SELECT CASE WHEN EXISTS (SELECT 1 FROM local_auth_list WHERE charge_point_id = cp.id)
        THEN cp.local_list_version ELSE 0 END AS v FROM charge_points cp WHERE cp.id = ?`),
      setVersion: db.prepare(`UPDATE charge_points SET local_list_version = ? WHERE id = ?`),
    }));
  }

  localListEntry(idTag: string): AuthorizationInfo | undefined {
    if ((this.listEmpty ??= this.localListSize() === 0)) return undefined;
    const r = this.q.list.get(this.chargePointId, idTag) as Row | undefined;
    return r && toInfo(r);
  }

  cacheEntry(idTag: string): AuthorizationInfo | undefined {
    const r = this.q.cache.get(this.chargePointId, idTag) as Row | undefined;
    return r && toInfo(r);
  }

  cachePut(idTag: string, info: AuthorizationInfo): void {
    this.q.cachePut.run(this.chargePointId, idTag, info.status, info.expiryDate ?? null, info.groupId ?? null, this.now());
  }

  clearCache(): void {
    this.q.cacheClear.run(this.chargePointId);
  }

  cacheRemove(idTag: string): void {
    this.q.cacheDelete.run(this.chargePointId, idTag);
  }

  /** The entry was used: it is the most recently used (updated_at orders the eviction). */
  cacheTouch(idTag: string): void {
    this.q.cacheTouch.run(this.now(), this.chargePointId, idTag);
  }

  cacheBytes(): number {
    return (this.q.cacheBytes.get(this.chargePointId) as { n: number }).n;
  }

  /** Evict down to `maxBytes` (see AuthorizationData.cacheEvict), in one store transaction. */
  cacheEvict(maxBytes: number, now: number, keep: string): void {
    if (this.cacheBytes() <= maxBytes) return; // the common case: no write transaction
    transact(this.db, () => {
      let total = this.cacheBytes();
      while (total > maxBytes) {
        const victim = this.q.cacheVictim.get(this.chargePointId, keep, new Date(now).toISOString()) as { id_tag: string; bytes: number } | undefined;
        if (!victim) return;
        this.q.cacheDelete.run(this.chargePointId, victim.id_tag);
        total -= victim.bytes;
      }
    });
  }

  /** The list's version: 0 while it holds no entries. */
  localListVersion(): number {
    return (this.q.version.get(this.chargePointId) as { v: number }).v;
  }

  localListSize(): number {
    return (this.q.listCount.get(this.chargePointId) as { n: number }).n;
  }

  /**
   * SendLocalList. Full: replaces the list. Differential: an entry with info is added or
   * updated, one without is removed. Applied with its version in one transaction.
   */
  updateLocalList(version: number, type: 'Full' | 'Differential', entries: LocalListEntry[]): void {
    this.listEmpty = undefined;
    transact(this.db, () => {
      if (type === 'Full') this.q.listClear.run(this.chargePointId);
      for (const e of entries) {
        if (e.info) {
          this.q.listUpsert.run(this.chargePointId, e.idTag, e.info.status, e.info.expiryDate ?? null, e.info.groupId ?? null);
        } else {
          this.q.listDelete.run(this.chargePointId, e.idTag);
        }
      }
      this.q.setVersion.run(version, this.chargePointId);
    });
  }
}
