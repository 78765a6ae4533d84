import type { SqliteDatabase } from './database.js';

/**
 * Persisted configuration values of one charge point, with defaults for keys never set.
 * Values are kept as the strings OCPP carries; typed reads parse them. Reads come from memory.
 * It fits the 1.6 binding's Settings and ConfigurationStore ports by shape (the store never
 * imports OCPP; test/ocpp/store-ports.test.ts checks the fit).
 */
export class SqliteSettings {
  /** The values written (no Map while there are none: a fleet's chargers mostly run on defaults). */
  private values?: Map<string, string>;
  private readonly upsert;

  /** `onChange`: told of every value written, after it is stored. */
  constructor(db: SqliteDatabase, private readonly chargePointId: string, private readonly defaults: ReadonlyMap<string, string>,
    private readonly onChange?: (key: string) => void) {
    this.upsert = db.prepare(`INSERT INTO ocpp_config (charge_point_id, key, value) VALUES (?, ?, ?)
      ON CONFLICT (charge_point_id, key) DO UPDATE SET value = excluded.value`);
    const rows = db.prepare(`SELECT key, value FROM ocpp_config WHERE charge_point_id = ?`).all(chargePointId) as { key: string; value: string }[];
    for (const r of rows) (this.values ??= new Map()).set(r.key, r.value);
  }

  has(key: string): boolean {
    return this.values?.has(key) || this.defaults.has(key);
  }

  get(key: string): string | undefined {
    return this.values?.get(key) ?? this.defaults.get(key);
  }

  set(key: string, value: string): void {
    this.upsert.run(this.chargePointId, key, value);
    (this.values ??= new Map()).set(key, value);
    this.onChange?.(key);
  }

  int(key: string): number {
    const n = Number.parseInt(this.get(key) ?? '', 10);
    return Number.isFinite(n) ? n : 0;
  }

  bool(key: string): boolean {
    return (this.get(key) ?? '').toLowerCase() === 'true';
  }

  list(key: string): string[] {
    return (this.get(key) ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  }
}
