import type { ChargingProfileStore, InstalledLimit, LimitTarget } from '../core/smart-charging/index.js';
import { statementsFor } from './statement-cache.js';
import { transact, type SqliteDatabase } from './database.js';

/**
 * Installed charging profiles of one charge point, in the core's words (migration 9 converted
 * the 1.6-shaped rows of earlier releases); they survive restarts. evse_id NULL: the station.
 */
export class SqliteChargingProfiles implements ChargingProfileStore {
  private readonly q;
  /**
   * The rows as last read or written through this view, the only writer of its charge point's
   * profiles: the ChargePoint asks for them at every limit it computes (each session's start,
   * stop and sample), nearly always unchanged and, in a fleet, nearly always none.
   */
  private cached?: InstalledLimit[];

  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = statementsFor(db, SqliteChargingProfiles, () => ({
      all: db.prepare(`SELECT evse_id, profile, installed_at FROM charging_profiles WHERE charge_point_id = ? ORDER BY profile_id`),
      put: db.prepare(`INSERT INTO charging_profiles (charge_point_id, profile_id, evse_id, purpose, stack_level, profile, installed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (charge_point_id, profile_id) DO UPDATE SET evse_id = excluded.evse_id,
        purpose = excluded.purpose, stack_level = excluded.stack_level, profile = excluded.profile, installed_at = excluded.installed_at`),
      remove: db.prepare(`DELETE FROM charging_profiles WHERE charge_point_id = ? AND profile_id = ?`),
    }));
  }

  all(): InstalledLimit[] {
    this.cached ??= (this.q.all.all(this.chargePointId) as { evse_id: number | null; profile: string; installed_at: number }[])
      .map((r) => ({ target: targetOf(r.evse_id), profile: JSON.parse(r.profile), installedAt: r.installed_at }));
    return this.cached.slice();
  }

  put(p: InstalledLimit): void {
    const evseId = p.target.kind === 'station' ? null : p.target.evseId;
    this.cached = undefined;
    this.q.put.run(this.chargePointId, p.profile.id, evseId, p.profile.purpose, p.profile.stackLevel, JSON.stringify(p.profile), p.installedAt);
  }

  remove(ids: number[]): void {
    this.cached = undefined;
    transact(this.db, () => {
      for (const id of ids) this.q.remove.run(this.chargePointId, id);
    });
  }
}

const targetOf = (evseId: number | null): LimitTarget => (evseId === null ? { kind: 'station' } : { kind: 'evse', evseId });
