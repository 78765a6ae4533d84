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

/**
 * Security events queued for the central system through the outbox (in order with the
 * transaction messages, with the same guaranteed delivery). An event identical to one still
 * waiting in the queue is not queued again: a TLS failure on every reconnect attempt of a
 * long outage is one event, not thousands.
 */
export class SqliteSecurityEvents {
  private readonly q;
  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = {
      queued: db.prepare(`SELECT payload FROM outbox WHERE charge_point_id = ? AND kind = 'security' AND state = 'queued'`),
      enqueue: db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at, payload) VALUES (?, 'security', ?, ?, ?)`),
    };
  }

  /** Queue an event; returns false when an identical one is still queued. */
  record(event: SecurityEventPayload): boolean {
    return transact(this.db, () => {
      const same = (this.q.queued.all(this.chargePointId) as { payload: string }[]).some((r) => {
        const p = JSON.parse(r.payload) as SecurityEventPayload;
        return p.type === event.type && (p.techInfo ?? '') === (event.techInfo ?? '');
      });
      if (same) return false;
      this.q.enqueue.run(this.chargePointId, `security-${randomUUID()}`, event.timestamp, JSON.stringify(event));
      return true;
    });
  }
}
