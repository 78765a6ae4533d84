import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MeterValue } from '../ocpp/v16/messages.js';
import { shareStatements } from '../store/statement-cache.js';

export interface CsmsTransaction {
  transactionId: number;
  chargePointId: string;
  connectorId: number;
  idTag: string;
  meterStart: number;
  startedAt: string;
  meterStop: number | null;
  stoppedAt: string | null;
  stopReason: string | null;
  energyWh: number | null;
  meterValueCount: number;
}

/** The embedded central system's own SQLite file: chargers, statuses, idTags, transactions. */
export class CsmsStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // Every call below prepares its SQL: shared, each text is parsed once (thousands of chargers call per second).
    this.db = shareStatements(new Database(path));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS charge_points (id TEXT PRIMARY KEY, vendor TEXT, model TEXT, boots INTEGER NOT NULL DEFAULT 0, last_boot_at INTEGER, last_seen_at INTEGER);
      CREATE TABLE IF NOT EXISTS connector_status (charge_point_id TEXT NOT NULL, connector_id INTEGER NOT NULL, status TEXT NOT NULL,
        error_code TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (charge_point_id, connector_id));
      CREATE TABLE IF NOT EXISTS id_tags (id_tag TEXT PRIMARY KEY, status TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, charge_point_id TEXT NOT NULL, connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL, meter_start INTEGER NOT NULL, started_at TEXT NOT NULL, reservation_id INTEGER,
        meter_stop INTEGER, stopped_at TEXT, stop_reason TEXT, transaction_data TEXT,
        UNIQUE (charge_point_id, connector_id, started_at, meter_start));
      CREATE TABLE IF NOT EXISTS meter_values (id INTEGER PRIMARY KEY, charge_point_id TEXT NOT NULL, connector_id INTEGER NOT NULL,
        transaction_id INTEGER, timestamp TEXT NOT NULL, sampled_value TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS meter_values_tx ON meter_values (transaction_id);
      INSERT OR IGNORE INTO id_tags (id_tag, status) VALUES ('DEMO0001', 'Accepted'), ('DEMO0002', 'Accepted'), ('BLOCKED1', 'Blocked');
    `);
  }

  upsertIdTag(idTag: string, status: string): void {
    this.db.prepare(`INSERT INTO id_tags (id_tag, status) VALUES (?, ?) ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status`).run(idTag, status);
  }

  idTagStatus(idTag: string): 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | undefined {
    const r = this.db.prepare(`SELECT status FROM id_tags WHERE id_tag = ?`).get(idTag) as { status: 'Accepted' } | undefined;
    return r?.status;
  }

  recordBoot(id: string, vendor: string, model: string, at: number): void {
    this.db.prepare(`INSERT INTO charge_points (id, vendor, model, boots, last_boot_at, last_seen_at) VALUES (?, ?, ?, 1, ?, ?)
      ON CONFLICT (id) DO UPDATE SET vendor = excluded.vendor, model = excluded.model, boots = boots + 1, last_boot_at = excluded.last_boot_at, last_seen_at = excluded.last_seen_at`)
      .run(id, vendor, model, at, at);
  }

  touchChargePoint(id: string, at: number): void {
    this.db.prepare(`INSERT INTO charge_points (id, last_seen_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`).run(id, at);
  }

  recordStatus(cp: string, connectorId: number, status: string, errorCode: string, at: string): void {
    this.db.prepare(`INSERT INTO connector_status (charge_point_id, connector_id, status, error_code, at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (charge_point_id, connector_id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code, at = excluded.at`)
      .run(cp, connectorId, status, errorCode, at);
  }

  /**
   * A StartTransaction. A repeat of one already recorded (a retry after a lost answer) gets
   * the same transactionId instead of a second transaction.
   */
  startTransaction(cp: string, connectorId: number, idTag: string, meterStart: number, startedAt: string, reservationId?: number): number {
    const existing = this.db.prepare(`SELECT id FROM transactions WHERE charge_point_id = ? AND connector_id = ? AND started_at = ? AND meter_start = ?`)
      .get(cp, connectorId, startedAt, meterStart) as { id: number } | undefined;
    if (existing) return existing.id;
    return Number(this.db.prepare(`INSERT INTO transactions (charge_point_id, connector_id, id_tag, meter_start, started_at, reservation_id) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(cp, connectorId, idTag, meterStart, startedAt, reservationId ?? null).lastInsertRowid);
  }

  stopTransaction(cp: string, transactionId: number, meterStop: number, stoppedAt: string, reason: string, data?: MeterValue[]): boolean {
    const r = this.db.prepare(`UPDATE transactions SET meter_stop = ?, stopped_at = ?, stop_reason = ?, transaction_data = ?
      WHERE id = ? AND charge_point_id = ? AND (stopped_at IS NULL OR (stopped_at = ? AND meter_stop = ?))`)
      .run(meterStop, stoppedAt, reason, data ? JSON.stringify(data) : null, transactionId, cp, stoppedAt, meterStop);
    return r.changes === 1;
  }

  meterStart(transactionId: number): number | undefined {
    return (this.db.prepare(`SELECT meter_start AS meterStart FROM transactions WHERE id = ?`).get(transactionId) as { meterStart: number } | undefined)?.meterStart;
  }

  recordMeterValues(cp: string, connectorId: number, transactionId: number | null, values: MeterValue[]): void {
    const insert = this.db.prepare(`INSERT INTO meter_values (charge_point_id, connector_id, transaction_id, timestamp, sampled_value) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const v of values) insert.run(cp, connectorId, transactionId, v.timestamp, JSON.stringify(v.sampledValue));
    })();
  }

  transactions(chargePointId?: string): CsmsTransaction[] {
    const rows = this.db.prepare(`SELECT t.id AS transactionId, t.charge_point_id AS chargePointId, t.connector_id AS connectorId, t.id_tag AS idTag,
        t.meter_start AS meterStart, t.started_at AS startedAt, t.meter_stop AS meterStop, t.stopped_at AS stoppedAt, t.stop_reason AS stopReason,
        CASE WHEN t.meter_stop IS NULL THEN NULL ELSE t.meter_stop - t.meter_start END AS energyWh,
        (SELECT COUNT(*) FROM meter_values m WHERE m.transaction_id = t.id AND m.charge_point_id = t.charge_point_id) AS meterValueCount
      FROM transactions t ${chargePointId ? 'WHERE t.charge_point_id = ?' : ''} ORDER BY t.id`);
    return (chargePointId ? rows.all(chargePointId) : rows.all()) as CsmsTransaction[];
  }

  meterValues(transactionId: number): { timestamp: string; sampledValue: unknown[] }[] {
    return (this.db.prepare(`SELECT timestamp, sampled_value FROM meter_values WHERE transaction_id = ? ORDER BY id`).all(transactionId) as { timestamp: string; sampled_value: string }[])
      .map((r) => ({ timestamp: r.timestamp, sampledValue: JSON.parse(r.sampled_value) }));
  }

  statuses(chargePointId: string): { connectorId: number; status: string; errorCode: string }[] {
    return this.db.prepare(`SELECT connector_id AS connectorId, status, error_code AS errorCode FROM connector_status WHERE charge_point_id = ? ORDER BY connector_id`)
      .all(chargePointId) as { connectorId: number; status: string; errorCode: string }[];
  }

  close(): void {
    this.db.close();
  }
}
