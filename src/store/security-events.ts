import { randomUUID } from 'node:crypto';
import { transact, type SqliteDatabase } from './database.js';

/** The outbox payload of a security event (kind 'security'). */
export interface SecurityEventPayload {
  type: string;
  /** Epoch ms on the charger's clock; re-timed with the rest of the outbox when the clock is set. */
  timestamp: number;
  clockTrusted: boolean;
  techInfo?: string;
}

/** One entry of the security log, as recorded (the time on the charger's clock then). */
export interface SecurityLogEntry {
  at: number;
  clockTrusted: boolean;
  type: string;
  techInfo?: string;
}

/** The security log keeps this many entries per charge point (the newest). */
export const SECURITY_LOG_MAX_ENTRIES = 10_000;

/**
 * Security events of every charge point of a database: each one is written to the security log
 * (kept across restarts, the newest SECURITY_LOG_MAX_ENTRIES per charge point, for GetLog
 * SecurityLog) and queued for the central system through the outbox (in order with the
 * transaction messages, with the same guaranteed delivery), in one transaction. An event
 * identical to one still waiting in the queue is logged but not queued again: a TLS failure on
 * every reconnect attempt of a long outage is one notification, not thousands. One per database
 * (its statements prepared once): a fleet's thousands of charge points share it through their
 * views (forChargePoint).
 */
export class SqliteSecurityLog {
  private readonly q;
  constructor(private readonly db: SqliteDatabase, private readonly maxLogEntries = SECURITY_LOG_MAX_ENTRIES) {
    this.q = {
      queued: db.prepare(`SELECT payload FROM outbox WHERE charge_point_id = ? AND kind = 'security' AND state = 'queued'`),
      enqueue: db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at, payload) VALUES (?, 'security', ?, ?, ?)`),
      log: db.prepare('INSERT INTO security_log (charge_point_id, at, clock_trusted, type, tech_info) VALUES (?, ?, ?, ?, ?)'),
      prune: db.prepare(`DELETE FROM security_log WHERE charge_point_id = ? AND seq <= (
        SELECT seq FROM security_log WHERE charge_point_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`),
      entries: db.prepare('SELECT at, clock_trusted, type, tech_info FROM security_log WHERE charge_point_id = ? AND at >= ? AND at <= ? ORDER BY seq'),
    };
  }

  /** Log an event of a charge point and queue it; returns false when an identical one is still queued (logged all the same). */
  record(chargePointId: string, event: SecurityEventPayload): boolean {
    return transact(this.db, () => {
      this.q.log.run(chargePointId, event.timestamp, event.clockTrusted ? 1 : 0, event.type, event.techInfo ?? null);
      this.q.prune.run(chargePointId, chargePointId, this.maxLogEntries);
      const same = (this.q.queued.all(chargePointId) as { payload: string }[]).some((r) => {
        const p = JSON.parse(r.payload) as SecurityEventPayload;
        return p.type === event.type && (p.techInfo ?? '') === (event.techInfo ?? '');
      });
      if (same) return false;
      this.q.enqueue.run(chargePointId, `security-${randomUUID()}`, event.timestamp, JSON.stringify(event));
      return true;
    });
  }

  /** A charge point's security log within a window (epoch ms, both ends included), oldest first. */
  entries(chargePointId: string, window: { startMs?: number; stopMs?: number } = {}): SecurityLogEntry[] {
    const rows = this.q.entries.all(chargePointId, window.startMs ?? Number.MIN_SAFE_INTEGER, window.stopMs ?? Number.MAX_SAFE_INTEGER) as
      { at: number; clock_trusted: number; type: string; tech_info: string | null }[];
    return rows.map((r) => ({ at: r.at, clockTrusted: r.clock_trusted === 1, type: r.type, ...(r.tech_info !== null ? { techInfo: r.tech_info } : {}) }));
  }

  /** One charge point's view (a small object; the statements stay shared). */
  forChargePoint(chargePointId: string): SqliteSecurityEvents {
    return new SqliteSecurityEvents(this, chargePointId);
  }
}

/** One charge point's security events and security log (see SqliteSecurityLog). */
export class SqliteSecurityEvents {
  private readonly log: SqliteSecurityLog;
  /** `db`: its own statements (one charge point, the agent's); a SqliteSecurityLog: shared with the other charge points of its database. */
  constructor(db: SqliteDatabase | SqliteSecurityLog, private readonly chargePointId: string, maxLogEntries = SECURITY_LOG_MAX_ENTRIES) {
    this.log = db instanceof SqliteSecurityLog ? db : new SqliteSecurityLog(db, maxLogEntries);
  }

  /** Log an event and queue it; returns false when an identical one is still queued (logged all the same). */
  record(event: SecurityEventPayload): boolean {
    return this.log.record(this.chargePointId, event);
  }

  /** The security log within a window (epoch ms, both ends included), oldest first. */
  entries(window: { startMs?: number; stopMs?: number } = {}): SecurityLogEntry[] {
    return this.log.entries(this.chargePointId, window);
  }
}
