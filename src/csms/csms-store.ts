import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MeterValue } from '../ocpp/v16/messages.js';
import type { MeterValueType, TransactionEventRequest } from '../ocpp/v201/messages.js';
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

/** An OCPP 2.0.1 transaction, known by the station's transactionId, as its TransactionEvents told it. */
export interface CsmsTransactionV201 {
  transactionId: string;
  chargePointId: string;
  evseId: number | null;
  connectorId: number | null;
  idToken: string | null;
  idTokenType: string | null;
  startedAt: string;
  /** The Ended event's timestamp. */
  endedAt: string | null;
  stoppedReason: string | null;
  chargingState: string | null;
  remoteStartId: number | null;
  /** Events received (each seqNo once), the highest seqNo, and how many said `offline`. */
  events: number;
  lastSeqNo: number;
  offlineEvents: number;
  /** Energy.Active.Import.Register at the first and the last reading of the transaction (Wh), and their difference. */
  meterStartWh: number | null;
  meterStopWh: number | null;
  energyWh: number | null;
  meterValueCount: number;
}

/** One row of the session report, whatever the protocol. */
export interface CsmsSession {
  protocol: 'ocpp1.6' | 'ocpp2.0.1';
  transactionId: number | string;
  chargePointId: string;
  evseId: number | null;
  connectorId: number | null;
  idTag: string | null;
  startedAt: string;
  stoppedAt: string | null;
  stopReason: string | null;
  energyWh: number | null;
  meterValueCount: number;
}

/** Wh of an Energy.Active.Import.Register reading (unit Wh or kWh, with its power-of-ten multiplier); undefined for other samples. */
export function energyRegisterWh(v: { value: number; measurand?: string; phase?: string; unitOfMeasure?: { unit?: string; multiplier?: number } }): number | undefined {
  if ((v.measurand ?? 'Energy.Active.Import.Register') !== 'Energy.Active.Import.Register' || v.phase) return undefined;
  const unit = v.unitOfMeasure?.unit ?? 'Wh';
  const scale = unit === 'kWh' ? 1_000 : unit === 'Wh' ? 1 : NaN;
  const wh = v.value * scale * 10 ** (v.unitOfMeasure?.multiplier ?? 0);
  return Number.isFinite(wh) ? wh : undefined;
}

/** The embedded central system's own SQLite file: chargers, statuses, idTags, transactions (1.6 and 2.0.1). */
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
      CREATE TABLE IF NOT EXISTS connector_status_v201 (charge_point_id TEXT NOT NULL, evse_id INTEGER NOT NULL, connector_id INTEGER NOT NULL,
        status TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (charge_point_id, evse_id, connector_id));
      CREATE TABLE IF NOT EXISTS transactions_v201 (charge_point_id TEXT NOT NULL, transaction_id TEXT NOT NULL, evse_id INTEGER, connector_id INTEGER,
        id_token TEXT, id_token_type TEXT, started_at TEXT NOT NULL, ended_at TEXT, stopped_reason TEXT, charging_state TEXT, remote_start_id INTEGER,
        PRIMARY KEY (charge_point_id, transaction_id));
      CREATE TABLE IF NOT EXISTS transaction_events_v201 (charge_point_id TEXT NOT NULL, transaction_id TEXT NOT NULL, seq_no INTEGER NOT NULL,
        event_type TEXT NOT NULL, trigger_reason TEXT NOT NULL, timestamp TEXT NOT NULL, offline INTEGER NOT NULL, received_at INTEGER NOT NULL,
        PRIMARY KEY (charge_point_id, transaction_id, seq_no));
      CREATE TABLE IF NOT EXISTS meter_values_v201 (id INTEGER PRIMARY KEY, charge_point_id TEXT NOT NULL, evse_id INTEGER NOT NULL,
        transaction_id TEXT, timestamp TEXT NOT NULL, sampled_value TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS meter_values_v201_tx ON meter_values_v201 (charge_point_id, transaction_id);
      CREATE TABLE IF NOT EXISTS reports_v201 (charge_point_id TEXT NOT NULL, request_id INTEGER NOT NULL, seq_no INTEGER NOT NULL, tbc INTEGER NOT NULL,
        report_data TEXT NOT NULL, PRIMARY KEY (charge_point_id, request_id, seq_no));
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

  recordStatusV201(cp: string, evseId: number, connectorId: number, status: string, at: string): void {
    this.db.prepare(`INSERT INTO connector_status_v201 (charge_point_id, evse_id, connector_id, status, at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (charge_point_id, evse_id, connector_id) DO UPDATE SET status = excluded.status, at = excluded.at`).run(cp, evseId, connectorId, status, at);
  }

  statusesV201(chargePointId: string): { evseId: number; connectorId: number; status: string }[] {
    return this.db.prepare(`SELECT evse_id AS evseId, connector_id AS connectorId, status FROM connector_status_v201 WHERE charge_point_id = ? ORDER BY evse_id, connector_id`)
      .all(chargePointId) as { evseId: number; connectorId: number; status: string }[];
  }

  /**
   * A TransactionEvent, recorded under the station's transactionId. Each seqNo counts once: a
   * retried event (its answer was lost) changes nothing and answers `false`. The first event
   * of an unknown transaction opens it, whatever its eventType (the Started one may have been
   * recorded by an earlier database). Fields the station sends once (evse, idToken) are kept.
   */
  recordTransactionEvent(cp: string, e: TransactionEventRequest, receivedAt: number): boolean {
    return this.db.transaction(() => {
      const txId = e.transactionInfo.transactionId;
      const fresh = this.db.prepare(`INSERT OR IGNORE INTO transaction_events_v201 (charge_point_id, transaction_id, seq_no, event_type, trigger_reason, timestamp, offline, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(cp, txId, e.seqNo, e.eventType, e.triggerReason, e.timestamp, e.offline ? 1 : 0, receivedAt).changes === 1;
      if (!fresh) return false;
      this.db.prepare(`INSERT OR IGNORE INTO transactions_v201 (charge_point_id, transaction_id, started_at) VALUES (?, ?, ?)`).run(cp, txId, e.timestamp);
      const info = e.transactionInfo;
      this.db.prepare(`UPDATE transactions_v201 SET
          evse_id = COALESCE(evse_id, ?), connector_id = COALESCE(connector_id, ?), id_token = COALESCE(?, id_token), id_token_type = COALESCE(?, id_token_type),
          started_at = CASE WHEN ? = 'Started' THEN ? ELSE started_at END, ended_at = CASE WHEN ? = 'Ended' THEN ? ELSE ended_at END,
          stopped_reason = COALESCE(?, stopped_reason), charging_state = COALESCE(?, charging_state), remote_start_id = COALESCE(?, remote_start_id)
        WHERE charge_point_id = ? AND transaction_id = ?`)
        .run(e.evse?.id ?? null, e.evse?.connectorId ?? null, e.idToken?.idToken ?? null, e.idToken?.type ?? null, e.eventType, e.timestamp, e.eventType, e.timestamp,
          info.stoppedReason ?? (e.eventType === 'Ended' ? 'Local' : null), info.chargingState ?? null, info.remoteStartId ?? null, cp, txId);
      if (e.meterValue?.length) {
        const evseId = e.evse?.id ?? (this.db.prepare(`SELECT evse_id AS evseId FROM transactions_v201 WHERE charge_point_id = ? AND transaction_id = ?`).get(cp, txId) as { evseId: number | null }).evseId ?? 0;
        this.insertMeterValuesV201(cp, evseId, txId, e.meterValue);
      }
      return true;
    })();
  }

  /** MeterValues (outside a transaction, or evseId 0 for the main meter). */
  recordMeterValuesV201(cp: string, evseId: number, values: MeterValueType[]): void {
    this.db.transaction(() => this.insertMeterValuesV201(cp, evseId, null, values))();
  }

  private insertMeterValuesV201(cp: string, evseId: number, transactionId: string | null, values: MeterValueType[]): void {
    const insert = this.db.prepare(`INSERT INTO meter_values_v201 (charge_point_id, evse_id, transaction_id, timestamp, sampled_value) VALUES (?, ?, ?, ?, ?)`);
    for (const v of values) insert.run(cp, evseId, transactionId, v.timestamp, JSON.stringify(v.sampledValue));
  }

  meterValuesV201(chargePointId: string, transactionId: string | null): MeterValueType[] {
    const rows = this.db.prepare(`SELECT timestamp, sampled_value FROM meter_values_v201 WHERE charge_point_id = ? AND transaction_id IS ? ORDER BY id`)
      .all(chargePointId, transactionId) as { timestamp: string; sampled_value: string }[];
    return rows.map((r) => ({ timestamp: r.timestamp, sampledValue: JSON.parse(r.sampled_value) }));
  }

  /** The 2.0.1 transactions, in the order they were first heard of; energy from their Energy.Active.Import.Register readings. */
  transactionsV201(chargePointId?: string): CsmsTransactionV201[] {
    const rows = this.db.prepare(`SELECT t.charge_point_id AS chargePointId, t.transaction_id AS transactionId, t.evse_id AS evseId, t.connector_id AS connectorId,
        t.id_token AS idToken, t.id_token_type AS idTokenType, t.started_at AS startedAt, t.ended_at AS endedAt, t.stopped_reason AS stoppedReason,
        t.charging_state AS chargingState, t.remote_start_id AS remoteStartId,
        (SELECT COUNT(*) FROM transaction_events_v201 e WHERE e.charge_point_id = t.charge_point_id AND e.transaction_id = t.transaction_id) AS events,
        (SELECT MAX(seq_no) FROM transaction_events_v201 e WHERE e.charge_point_id = t.charge_point_id AND e.transaction_id = t.transaction_id) AS lastSeqNo,
        (SELECT COUNT(*) FROM transaction_events_v201 e WHERE e.charge_point_id = t.charge_point_id AND e.transaction_id = t.transaction_id AND e.offline = 1) AS offlineEvents
      FROM transactions_v201 t ${chargePointId ? 'WHERE t.charge_point_id = ?' : ''} ORDER BY t.rowid`);
    const txs = (chargePointId ? rows.all(chargePointId) : rows.all()) as Omit<CsmsTransactionV201, 'meterStartWh' | 'meterStopWh' | 'energyWh' | 'meterValueCount'>[];
    return txs.map((t) => {
      const values = this.meterValuesV201(t.chargePointId, t.transactionId);
      const readings = values
        .flatMap((v) => v.sampledValue.map((s) => ({ at: Date.parse(v.timestamp), wh: energyRegisterWh(s) })))
        .filter((r): r is { at: number; wh: number } => r.wh !== undefined)
        .sort((a, b) => a.at - b.at);
      const first = readings[0]?.wh ?? null;
      const last = readings.at(-1)?.wh ?? null;
      return { ...t, meterStartWh: first, meterStopWh: last, energyWh: first === null || last === null ? null : last - first, meterValueCount: values.length };
    });
  }

  /** A NotifyReport part; a repeat of one recorded changes nothing. */
  recordReportPart(cp: string, requestId: number, seqNo: number, tbc: boolean, reportData: unknown[]): void {
    this.db.prepare(`INSERT OR IGNORE INTO reports_v201 (charge_point_id, request_id, seq_no, tbc, report_data) VALUES (?, ?, ?, ?, ?)`)
      .run(cp, requestId, seqNo, tbc ? 1 : 0, JSON.stringify(reportData));
  }

  /** A report's parts in seqNo order and whether the last one has come (tbc false). */
  report(cp: string, requestId: number): { complete: boolean; reportData: unknown[] } {
    const rows = this.db.prepare(`SELECT seq_no AS seqNo, tbc, report_data AS data FROM reports_v201 WHERE charge_point_id = ? AND request_id = ? ORDER BY seq_no`)
      .all(cp, requestId) as { seqNo: number; tbc: number; data: string }[];
    const complete = rows.length > 0 && rows.at(-1)!.tbc === 0 && rows.every((r, i) => r.seqNo === i);
    return { complete, reportData: rows.flatMap((r) => JSON.parse(r.data) as unknown[]) };
  }

  /** Every session, the 1.6 ones then the 2.0.1 ones, for the session report. */
  sessions(chargePointId?: string): CsmsSession[] {
    const v16: CsmsSession[] = this.transactions(chargePointId).map((t) => ({
      protocol: 'ocpp1.6', transactionId: t.transactionId, chargePointId: t.chargePointId, evseId: null, connectorId: t.connectorId, idTag: t.idTag,
      startedAt: t.startedAt, stoppedAt: t.stoppedAt, stopReason: t.stopReason, energyWh: t.energyWh, meterValueCount: t.meterValueCount,
    }));
    const v201: CsmsSession[] = this.transactionsV201(chargePointId).map((t) => ({
      protocol: 'ocpp2.0.1', transactionId: t.transactionId, chargePointId: t.chargePointId, evseId: t.evseId, connectorId: t.connectorId, idTag: t.idToken,
      startedAt: t.startedAt, stoppedAt: t.endedAt, stopReason: t.stoppedReason, energyWh: t.energyWh, meterValueCount: t.meterValueCount,
    }));
    // Each version's sessions in the order the central system heard of them (1.6: its transactionIds).
    return [...v16, ...v201];
  }

  close(): void {
    this.db.close();
  }
}
