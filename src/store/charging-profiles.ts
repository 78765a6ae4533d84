import type { ChargingProfileStore, InstalledProfile } from '../core/smart-charging/index.js';
import { transact, type SqliteDatabase } from './database.js';

/** Installed charging profiles of one charge point; they survive restarts. */
export class SqliteChargingProfiles implements ChargingProfileStore {
  private readonly q;

  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = {
      all: db.prepare(`SELECT connector_id, profile, installed_at FROM charging_profiles WHERE charge_point_id = ? ORDER BY charging_profile_id`),
      put: db.prepare(`INSERT INTO charging_profiles (charge_point_id, charging_profile_id, connector_id, purpose, stack_level, profile, installed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (charge_point_id, charging_profile_id) DO UPDATE SET connector_id = excluded.connector_id,
        purpose = excluded.purpose, stack_level = excluded.stack_level, profile = excluded.profile, installed_at = excluded.installed_at`),
      remove: db.prepare(`DELETE FROM charging_profiles WHERE charge_point_id = ? AND charging_profile_id = ?`),
    };
  }

  all(): InstalledProfile[] {
    return (this.q.all.all(this.chargePointId) as { connector_id: number; profile: string; installed_at: number }[])
      .map((r) => ({ connectorId: r.connector_id, profile: JSON.parse(r.profile), installedAt: r.installed_at }));
  }

  put(p: InstalledProfile): void {
    this.q.put.run(this.chargePointId, p.profile.chargingProfileId, p.connectorId, p.profile.chargingProfilePurpose, p.profile.stackLevel, JSON.stringify(p.profile), p.installedAt);
  }

  remove(ids: number[]): void {
    transact(this.db, () => {
      for (const id of ids) this.q.remove.run(this.chargePointId, id);
    });
  }
}
