import type { SqliteDatabase } from './database.js';

export interface AuditEntry {
  at: number;
  username: string | null;
  role: string | null;
  command: string;
  status: 'ok' | 'error';
  errorCode?: string;
  correlation: string | null;
}

/** Every diagnostics command, who asked and how it ended. */
export class SqliteAuditLog {
  private readonly insert;
  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string) {
    this.insert = db.prepare(`INSERT INTO audit_log (at, charge_point_id, username, role, command, status, error_code, correlation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  }
  record(e: AuditEntry): void {
    this.insert.run(e.at, this.chargePointId, e.username, e.role, e.command, e.status, e.errorCode ?? null, e.correlation);
  }
  recent(limit = 100): AuditEntry[] {
    return this.db.prepare(`SELECT at, username, role, command, status, error_code AS errorCode, correlation FROM audit_log WHERE charge_point_id = ? ORDER BY id DESC LIMIT ?`)
      .all(this.chargePointId, limit) as AuditEntry[];
  }
}
