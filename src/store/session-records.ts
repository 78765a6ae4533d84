import { transact, type SqliteDatabase } from './database.js';

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
      const ids = (this.db.prepare(`SELECT local_id FROM sessions WHERE stop_acked_at IS NOT NULL AND stopped_at < ?`).all(beforeMs) as { local_id: string }[]).map((r) => r.local_id);
      let samples = 0;
      let outbox = 0;
      const delSamples = this.db.prepare(`DELETE FROM meter_samples WHERE local_id = ?`);
      const delSigned = this.db.prepare(`DELETE FROM signed_meter_values WHERE local_id = ?`);
      const delOutbox = this.db.prepare(`DELETE FROM outbox WHERE local_id = ? AND state = 'acked'`);
      const delSession = this.db.prepare(`DELETE FROM sessions WHERE local_id = ?`);
      for (const id of ids) {
        samples += delSamples.run(id).changes;
        delSigned.run(id);
        outbox += delOutbox.run(id).changes;
        delSession.run(id);
      }
      const audit = this.db.prepare(`DELETE FROM audit_log WHERE at < ?`).run(beforeMs).changes;
      const keptUnsynced = (this.db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE stop_acked_at IS NULL AND started_at < ?`).get(beforeMs) as { n: number }).n;
      return { sessions: ids.length, samples, outbox, audit, keptUnsynced };
    });
  }

  /**
   * Delete the delivered MeterValues rows of the outbox (their payload is already gone, and
   * nothing refers to them). A fleet's store does so with purge() to stay bounded in long runs.
   */
  dropDeliveredMeterRows(): number {
    return transact(this.db, () => {
      // An open session's next event number (tx_seq) is one past its highest row: kept in
      // event_count before the rows that may hold it go, so that no number is used twice.
      this.db.prepare(`UPDATE sessions SET event_count = MAX(event_count, COALESCE((SELECT MAX(o.tx_seq) + 1 FROM outbox o WHERE o.local_id = sessions.local_id), 0))
        WHERE stopped_at IS NULL`).run();
      return this.db.prepare(`DELETE FROM outbox WHERE state = 'acked' AND kind = 'meter'`).run().changes;
    });
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
