import { transact, type SqliteDatabase } from './database.js';
import { prepareRaw, statementsFor } from './statement-cache.js';

/**
 * What a row holds: an event of a session's log (the session opened, reported a sample,
 * closed), or a security event. Which protocol messages they become is the version binding's.
 */
export type OutboxKind = 'start' | 'meter' | 'stop' | 'security';

export interface OutboxEntry {
  seq: number;
  kind: OutboxKind;
  localId: string;
  createdAt: number;
  /** The event, as JSON in `format` (see ledger.ts, security-events.ts): opaque to the queue. */
  payload: string;
  /** The body's schema, e.g. 'event/1'; a binding refuses a format it does not know. */
  format: string;
  /** The event's number in its session's log, from 0 (null: a security event). */
  txSeq: number | null;
  /** Whether the link was down when the event was recorded (null: not known, recorded by an earlier release). */
  offline: boolean | null;
  attempts: number;
  notBefore: number;
  lastError: string | null;
}

export type DeadLetter = Pick<OutboxEntry, 'seq' | 'kind' | 'localId' | 'createdAt' | 'attempts' | 'lastError'>;

export interface OutboxSummary {
  depth: number;
  oldestCreatedAt: number | null;
  deadLetters: number;
}

type HeadRow = [number, OutboxKind, string, number, string, number, number, string | null, string, number | null, number | null];
const toEntry = (r: HeadRow): OutboxEntry => ({
  seq: r[0], kind: r[1], localId: r[2], createdAt: r[3], payload: r[4], attempts: r[5], notBefore: r[6], lastError: r[7],
  format: r[8], txSeq: r[9], offline: r[10] === null ? null : r[10] === 1,
});

/** The synchronous pragma each database was opened with (set once, by openDatabase): read once. */
const synchronousMode = new WeakMap<SqliteDatabase, number>();

/**
 * The transaction-message queue of one charge point, strictly ordered by seq. Delivered rows
 * are kept as 'acked' without their payload (so the unique Start/Stop index holds for ever);
 * rows the central system refused too often are kept as 'dead'.
 */
export class SqliteOutbox {
  private readonly q;
  constructor(private readonly db: SqliteDatabase, private readonly chargePointId: string) {
    this.q = statementsFor(db, SqliteOutbox, () => ({
      // Rows as arrays (toEntry): better-sqlite3 builds a row object property by property.
      head: prepareRaw(db, `SELECT seq, kind, local_id, created_at, payload, attempts, not_before, last_error, format, tx_seq, offline
        FROM outbox WHERE charge_point_id = ? AND state = 'queued' ORDER BY seq LIMIT ?`),
      // A bound LIMIT makes SQLite's plan about 15 times slower than a literal one: the
      // delivery loop asks for the head and the entry after it, on every message.
      head2: prepareRaw(db, `SELECT seq, kind, local_id, created_at, payload, attempts, not_before, last_error, format, tx_seq, offline
        FROM outbox WHERE charge_point_id = ? AND state = 'queued' ORDER BY seq LIMIT 2`),
      ack: db.prepare(`UPDATE outbox SET state = 'acked', payload = NULL, done_at = ?, last_error = NULL WHERE seq = ? AND state = 'queued'`),
      fail: db.prepare(`UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ? WHERE seq = ?`),
      dead: db.prepare(`UPDATE outbox SET state = 'dead', attempts = attempts + ?, last_error = ?, done_at = ? WHERE seq = ?`),
      retryDead: db.prepare(`UPDATE outbox SET state = 'queued', attempts = 0, not_before = 0, done_at = NULL WHERE charge_point_id = ? AND state = 'dead'`),
      summary: db.prepare(`SELECT
          (SELECT COUNT(*) FROM outbox WHERE charge_point_id = @cp AND state = 'queued') AS depth,
          (SELECT MIN(created_at) FROM outbox WHERE charge_point_id = @cp AND state = 'queued') AS oldestCreatedAt,
          (SELECT COUNT(*) FROM outbox WHERE charge_point_id = @cp AND state = 'dead') AS deadLetters`),
      dead_list: db.prepare(`SELECT seq, kind, local_id AS localId, created_at AS createdAt, attempts, last_error AS lastError FROM outbox WHERE charge_point_id = ? AND state = 'dead' ORDER BY seq`),
    }));
  }

  /**
   * The clock was wrong until the central system set it: shift the untrusted timestamps of
   * messages queued since `sinceMs` (this run) by the correction, so no message carries the
   * wrong (e.g. 1970) time. Returns how many messages changed.
   */
  retimeUntrusted(deltaMs: number, sinceMs: number): number {
    // Only bodies in the format this program writes (event/1): one it does not know is left as it is.
    const rows = this.db.prepare(`SELECT seq, kind, payload FROM outbox WHERE charge_point_id = ? AND state = 'queued' AND created_at >= ? AND format = 'event/1'`)
      .all(this.chargePointId, sinceMs) as { seq: number; kind: OutboxKind; payload: string }[];
    const update = this.db.prepare(`UPDATE outbox SET payload = ?, created_at = created_at + ? WHERE seq = ?`);
    type Sampled = { takenAt: number; clockTrusted: boolean };
    const fix = (x: Sampled) => {
      if (x.clockTrusted) return false;
      x.takenAt += deltaMs;
      x.clockTrusted = true;
      return true;
    };
    let changed = 0;
    transact(this.db, () => {
      for (const r of rows) {
        const p = JSON.parse(r.payload) as { timestamp?: number; clockTrusted?: boolean; sample?: Sampled; transactionData?: Sampled[]; opening?: { timestamp: number; clockTrusted: boolean } };
        let touched = false;
        // A transaction begun before its session (ledger.openTransaction): its opening's time.
        if (p.opening && p.opening.clockTrusted === false) {
          p.opening.timestamp += deltaMs;
          p.opening.clockTrusted = true;
          touched = true;
        }
        if (p.timestamp !== undefined && p.clockTrusted === false) {
          p.timestamp += deltaMs;
          p.clockTrusted = true;
          touched = true;
        }
        if (p.sample) touched = fix(p.sample) || touched;
        for (const s of p.transactionData ?? []) touched = fix(s) || touched;
        if (touched) {
          update.run(JSON.stringify(p), deltaMs, r.seq);
          changed++;
        }
      }
      this.db.prepare(`UPDATE sessions SET started_at = started_at + ?, start_clock_trusted = 1 WHERE charge_point_id = ? AND start_clock_trusted = 0 AND started_at >= ?`)
        .run(deltaMs, this.chargePointId, sinceMs);
      this.db.prepare(`UPDATE sessions SET stopped_at = stopped_at + ?, stop_clock_trusted = 1 WHERE charge_point_id = ? AND stop_clock_trusted = 0 AND stopped_at >= ?`)
        .run(deltaMs, this.chargePointId, sinceMs);
      this.db.prepare(`UPDATE meter_samples SET taken_at = taken_at + ?, clock_trusted = 1 WHERE clock_trusted = 0 AND taken_at >= ?
        AND local_id IN (SELECT local_id FROM sessions WHERE charge_point_id = ?)`).run(deltaMs, sinceMs, this.chargePointId);
    });
    return changed;
  }

  head(limit = 1): OutboxEntry[] {
    const rows = (limit <= 2 ? this.q.head2.all(this.chargePointId) : this.q.head.all(this.chargePointId, limit)) as HeadRow[];
    const out: OutboxEntry[] = [];
    for (let i = 0; i < rows.length && i < limit; i++) out.push(toEntry(rows[i]!));
    return out;
  }

  /** Acknowledge an entry, running `alsoDo` (e.g. recording the transactionId) in the same transaction. */
  ack(seq: number, at: number, alsoDo?: () => void): void {
    if (!alsoDo) {
      this.q.ack.run(at, seq);
      return;
    }
    transact(this.db, () => {
      alsoDo();
      this.q.ack.run(at, seq);
    });
  }

  /**
   * Acknowledge delivered MeterValues rows. These commits skip the fsync (synchronous=NORMAL
   * for this transaction only): a process crash loses nothing in WAL mode, and what a power cut
   * could lose is only the knowledge that the rows went out, so they would be sent again, never
   * lost. The ledger's own writes stay synchronous=FULL.
   */
  ackDelivered(seqs: readonly number[], at: number): void {
    let before = synchronousMode.get(this.db);
    if (before === undefined) synchronousMode.set(this.db, (before = this.db.pragma('synchronous', { simple: true }) as number));
    if (before > 1) this.db.pragma('synchronous = NORMAL');
    try {
      // One row (live operation): a single statement is its own transaction.
      if (seqs.length === 1) this.q.ack.run(at, seqs[0]);
      else {
        transact(this.db, () => {
          for (const seq of seqs) this.q.ack.run(at, seq);
        });
      }
    } finally {
      if (before > 1) this.db.pragma(`synchronous = ${before}`);
    }
  }

  fail(seq: number, error: string, notBefore: number): void {
    this.q.fail.run(notBefore, error, seq);
  }

  deadLetter(seq: number, error: string, at: number, countAttempt = true): void {
    this.q.dead.run(countAttempt ? 1 : 0, error, at, seq);
  }

  /** Put every dead letter back in the queue (a technician's retry). Returns how many. */
  retryDeadLetters(): number {
    return this.q.retryDead.run(this.chargePointId).changes;
  }

  deadLetters(): DeadLetter[] {
    return this.q.dead_list.all(this.chargePointId) as DeadLetter[];
  }

  summary(): OutboxSummary {
    return this.q.summary.get({ cp: this.chargePointId }) as OutboxSummary;
  }
}
