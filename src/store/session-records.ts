import { transact, type SqliteDatabase } from './database.js';
import { preparePlucked } from './statement-cache.js';

/** One session as the station owner's report shows it: never an idTag. */
export interface SessionReportRow {
  chargePointId: string;
  connectorId: number;
  localId: string;
  /** The protocol's transaction id: a number as OCPP 1.6 assigns it, text as 2.0.1 does; null until assigned. */
  transactionId: number | string | null;
  startedAt: string;
  stoppedAt: string | null;
  energyWh: number;
  cost: string | null;
  currency: string | null;
  authMethod: string;
  stopReason: string | null;
  customerRef: string | null;
  /** The central system has acknowledged the StopTransaction. */
  synced: boolean;
  /**
   * Its StartTransaction or StopTransaction is in the dead-letter table: the central system
   * does not have this session (its energy is not billed) until a technician requeues them.
   */
  unsynced: boolean;
}

export interface MeterPoint {
  at: string;
  energyWh: number;
  context: string;
}

/** A signed meter value of a session, as its meter signed it (calibration law): what a verifier checks. */
export interface SignedValueRow {
  at: string;
  context: string;
  /** OCMF: `data` is the record text. */
  encoding: string;
  signingMethod: string;
  /** The meter's public key, hex of its DER SubjectPublicKeyInfo. */
  publicKey: string;
  data: string;
}

interface Row {
  charge_point_id: string;
  connector_id: number;
  local_id: string;
  transaction_ref: string | null;
  transaction_ref_version: string | null;
  started_at: number;
  stopped_at: number | null;
  meter_start_wh: number;
  meter_stop_wh: number | null;
  last_energy_wh: number;
  cost_minor: number | null;
  currency: string | null;
  tariff: string | null;
  auth_method: string;
  stop_reason: string | null;
  customer_ref: string | null;
  stop_acked_at: number | null;
  dead: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** A session's row and whether its Start or Stop was dead-lettered (outbox_one_start_stop serves the lookup). */
const SESSION_COLUMNS = `*, EXISTS (SELECT 1 FROM outbox o WHERE o.local_id = sessions.local_id AND o.kind IN ('start', 'stop') AND o.state = 'dead') AS dead`;

function money(minor: number | null, tariffJson: string | null): string | null {
  if (minor === null) return null;
  const digits = tariffJson ? (JSON.parse(tariffJson) as { minorUnitDigits?: number }).minorUnitDigits ?? 2 : 2;
  const abs = Math.abs(minor);
  const whole = Math.floor(abs / 10 ** digits);
  return `${minor < 0 ? '-' : ''}${whole}${digits ? '.' + String(abs % 10 ** digits).padStart(digits, '0') : ''}`;
}

function toRow(r: Row): SessionReportRow {
  return {
    chargePointId: r.charge_point_id, connectorId: r.connector_id, localId: r.local_id, transactionId: r.transaction_ref === null ? null : r.transaction_ref_version === 'ocpp1.6' ? Number(r.transaction_ref) : r.transaction_ref,
    startedAt: iso(r.started_at), stoppedAt: r.stopped_at === null ? null : iso(r.stopped_at),
    energyWh: Math.round((r.meter_stop_wh ?? r.last_energy_wh) - r.meter_start_wh),
    cost: money(r.cost_minor, r.tariff), currency: r.currency, authMethod: r.auth_method, stopReason: r.stop_reason,
    customerRef: r.customer_ref, synced: r.stop_acked_at !== null, unsynced: r.stop_acked_at === null && r.dead === 1,
  };
}

export interface ReportFilter {
  fromMs?: number;
  toMs?: number;
  chargePointId?: string;
  customerRef?: string;
}

/**
 * Session records for reports, exports, erasure and retention. Reads stream row by row
 * (better-sqlite3 iterate), so a ledger of any size exports in constant memory.
 */
export class SessionRecords {
  private readonly curveQuery;
  private readonly signedQuery;
  constructor(private readonly db: SqliteDatabase) {
    this.curveQuery = db.prepare(`SELECT taken_at, energy_wh, context FROM meter_samples WHERE local_id = ? ORDER BY taken_at, id`);
    this.signedQuery = db.prepare(`SELECT taken_at, context, encoding, signing_method, public_key, data FROM signed_meter_values WHERE local_id = ? ORDER BY id`);
  }

  /** The session's signed meter values, in the order the meter gave them. */
  signedValues(localId: string): SignedValueRow[] {
    return (this.signedQuery.all(localId) as { taken_at: number; context: string; encoding: string; signing_method: string; public_key: string; data: string }[])
      .map((r) => ({ at: iso(r.taken_at), context: r.context, encoding: r.encoding, signingMethod: r.signing_method, publicKey: r.public_key, data: r.data }));
  }

  private where(f: ReportFilter): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (f.fromMs !== undefined) (clauses.push('started_at >= ?'), params.push(f.fromMs));
    if (f.toMs !== undefined) (clauses.push('started_at < ?'), params.push(f.toMs));
    if (f.chargePointId) (clauses.push('charge_point_id = ?'), params.push(f.chargePointId));
    if (f.customerRef) (clauses.push('customer_ref = ?'), params.push(f.customerRef));
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  *iterate(f: ReportFilter = {}): Generator<SessionReportRow> {
    const w = this.where(f);
    for (const r of this.db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions ${w.sql} ORDER BY started_at, local_id`).iterate(...w.params) as Iterable<Row>) yield toRow(r);
  }

  get(localId: string): SessionReportRow | undefined {
    const r = this.db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE local_id = ?`).get(localId) as Row | undefined;
    return r && toRow(r);
  }

  curve(localId: string): MeterPoint[] {
    return (this.curveQuery.all(localId) as { taken_at: number; energy_wh: number; context: string }[])
      .map((p) => ({ at: iso(p.taken_at), energyWh: p.energy_wh, context: p.context }));
  }

  /**
   * Retention: delete sessions older than `beforeMs` whose StopTransaction the central system
   * acknowledged, with their samples and delivered outbox rows. Unsynced data is never deleted.
   */
  purge(beforeMs: number): { sessions: number; samples: number; outbox: number; audit: number; keptUnsynced: number } {
    return transact(this.db, () => {
      const { samples, outbox, sessions } = this.purgeSessions(this.expiredSessions(beforeMs));
      const audit = this.db.prepare(`DELETE FROM audit_log WHERE at < ?`).run(beforeMs).changes;
      const keptUnsynced = (this.db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE stop_acked_at IS NULL AND started_at < ?`).get(beforeMs) as { n: number }).n;
      return { sessions, samples, outbox, audit, keptUnsynced };
    });
  }

  /** The sessions purge() deletes: stopped before `beforeMs`, their StopTransaction acknowledged. One scan. */
  expiredSessions(beforeMs: number): string[] {
    return (this.db.prepare(`SELECT local_id FROM sessions WHERE stop_acked_at IS NOT NULL AND stopped_at < ?`).all(beforeMs) as { local_id: string }[]).map((r) => r.local_id);
  }

  /**
   * Delete these sessions (from expiredSessions()) with their samples and delivered outbox rows:
   * a fleet's housekeeping takes them in batches, one per turn of its event loop. One already
   * gone is skipped.
   */
  purgeSessions(localIds: readonly string[]): { sessions: number; samples: number; outbox: number } {
    // Prepared once per database: db.prepare shares a statement per SQL text (shareStatements).
    const q = {
      samples: this.db.prepare(`DELETE FROM meter_samples WHERE local_id = ?`),
      signed: this.db.prepare(`DELETE FROM signed_meter_values WHERE local_id = ?`),
      outbox: this.db.prepare(`DELETE FROM outbox WHERE local_id = ? AND state = 'acked'`),
      session: this.db.prepare(`DELETE FROM sessions WHERE local_id = ?`),
    };
    return transact(this.db, () => {
      let sessions = 0;
      let samples = 0;
      let outbox = 0;
      for (const id of localIds) {
        samples += q.samples.run(id).changes;
        q.signed.run(id);
        outbox += q.outbox.run(id).changes;
        sessions += q.session.run(id).changes;
      }
      return { sessions, samples, outbox };
    });
  }

  /**
   * Delete the delivered MeterValues rows of the outbox (their payload is already gone, and
   * nothing refers to them), but each session's highest-numbered one: the whole outbox at once
   * (a fleet's housekeeping takes it in slices, dropDeliveredMeterRowsBetween).
   */
  dropDeliveredMeterRows(): number {
    return this.dropDeliveredMeterRowsBetween(0, Number.MAX_SAFE_INTEGER).dropped;
  }

  /**
   * The outbox rows a sweep of delivered MeterValues rows covers, [from, to), up to the last row,
   * and the lowest MeterValues row still queued (it may be delivered before the next sweep), if
   * any. A fleet's housekeeping starts each sweep where the last one left rows behind: it reads
   * what was written since, not the whole table.
   */
  outboxSpan(from: number): { from: number; to: number; lowestQueued?: number } {
    const to = (preparePlucked(this.db, `SELECT COALESCE(MAX(seq), 0) FROM outbox`).get() as number) + 1;
    // outbox_queued is (charge_point_id, seq) WHERE state = 'queued': the queued rows only.
    const queued = preparePlucked(this.db, `SELECT MIN(seq) FROM outbox WHERE state = 'queued' AND kind = 'meter'`).get() as number | null;
    return { from, to, ...(queued !== null ? { lowestQueued: queued } : {}) };
  }

  /**
   * Delete the delivered MeterValues rows whose seq is in [from, to), but a session's
   * highest-numbered row: a fleet's housekeeping takes a sweep's span in slices, one per turn
   * (one statement over every row delivered in 10 s held a thread of 10,000 chargers 30-57 ms).
   * Returns the rows deleted and the lowest row left (a session's highest, which goes in a later
   * sweep once the session has written another), if any.
   */
  dropDeliveredMeterRowsBetween(from: number, to: number): { dropped: number; lowestKept?: number } {
    // A session's next event number (tx_seq) is one past its highest row: that row stays (its
    // payload is gone already), so that no number is used twice, also after a restart, and no
    // session row is written. outbox_session is (local_id, tx_seq): one index search per row.
    const dropped = this.db.prepare(`DELETE FROM outbox WHERE seq >= ? AND seq < ? AND state = 'acked' AND kind = 'meter'
      AND tx_seq < (SELECT MAX(o.tx_seq) FROM outbox o WHERE o.local_id = outbox.local_id)`).run(from, to).changes;
    const kept = preparePlucked(this.db, `SELECT MIN(seq) FROM outbox WHERE seq >= ? AND seq < ? AND state = 'acked' AND kind = 'meter'`).get(from, to) as number | null;
    return { dropped, ...(kept !== null ? { lowestKept: kept } : {}) };
  }

  /**
   * Erasure of one customer (by pseudonym; `idTag` also clears the cache entry): synced sessions
   * lose every link to the customer (reference and idTag); sessions whose billing data has not
   * reached the central system keep what delivery needs until it is acknowledged.
   */
  erase(customerRef: string, idTag?: string): { anonymised: number; cacheEntries: number; kept: { localId: string; why: string }[] } {
    // The kept sessions are anonymised when their StopTransaction is acknowledged (erasure_requests).
    return transact(this.db, () => {
      const anonymised = this.db.prepare(`UPDATE sessions SET customer_ref = NULL, id_tag = NULL WHERE customer_ref = ? AND stop_acked_at IS NOT NULL`).run(customerRef).changes;
      const kept = (this.db.prepare(`SELECT local_id, stopped_at FROM sessions WHERE customer_ref = ? AND stop_acked_at IS NULL`).all(customerRef) as { local_id: string; stopped_at: number | null }[])
        .map((r) => ({ localId: r.local_id, why: r.stopped_at === null ? 'session still running' : 'StopTransaction not yet acknowledged by the central system (billing data in the outbox)' }));
      const cacheEntries = idTag ? this.db.prepare(`DELETE FROM auth_cache WHERE id_tag = ?`).run(idTag).changes : 0;
      if (kept.length) {
        this.db.prepare(`INSERT OR REPLACE INTO erasure_requests (customer_ref, requested_at) VALUES (?, ?)`).run(customerRef, Date.now());
      }
      return { anonymised, cacheEntries, kept };
    });
  }
}
