import { randomUUID } from 'node:crypto';
import { StoreError } from '../lib/errors.js';
import type { ChargingState, MeterReading, NewSession, Sample, SessionLedger, SessionRecord, SessionStartCause, SessionStop, SignedMeterValue } from '../core/ports.js';
import { sessionCost, type Tariff } from '../core/tariff.js';
import { transact, type SqliteDatabase } from './database.js';
import { preparePlucked, prepareRaw, statementsFor } from './statement-cache.js';

interface SessionRow {
  local_id: string;
  connector_id: number;
  transaction_ref: string | null;
  transaction_ref_version: string | null;
  id_tag: string | null;
  customer_ref: string | null;
  auth_method: SessionRecord['authMethod'];
  started_at: number;
  start_clock_trusted: number;
  meter_start_wh: number;
  last_energy_wh: number;
  last_checkpoint_at: number;
  stopped_at: number | null;
  meter_stop_wh: number | null;
  stop_reason: SessionRecord['stopReason'];
  reservation_id: number | null;
}

/**
 * The protocol's transaction id when it is an integer (OCPP 1.6's), for the views that show it
 * as one (diagnostics' session list, tests); an id that is not an integer (2.0.1's) is null.
 */
function numericRef(ref: string | null): number | null {
  return ref !== null && /^-?\d{1,15}$/.test(ref) ? Number(ref) : null;
}

/**
 * A session as the store holds it: the core's SessionRecord, and the protocol's transaction id
 * as a number where it is one (the core never reads it; a version binding asks
 * transactionRefOf for the id with the version that assigned it).
 */
export interface LedgerRecord extends SessionRecord {
  transactionId: number | null;
}

/** The protocol's id of a transaction, as text, with the protocol version that assigned it. */
export interface TransactionRef {
  /** The OCPP version that assigned it: 'ocpp1.6' (the central system's integer), 'ocpp2.0.1' (the station's string). */
  version: string;
  id: string;
}

function toRecord(r: SessionRow): LedgerRecord {
  return {
    localId: r.local_id,
    // The column keeps its name from 1.6 (connector n is EVSE n): it holds the EVSE's id.
    evseId: r.connector_id,
    transactionId: numericRef(r.transaction_ref),
    idTag: r.id_tag,
    customerRef: r.customer_ref,
    authMethod: r.auth_method,
    startedAt: r.started_at,
    startClockTrusted: r.start_clock_trusted === 1,
    meterStartWh: r.meter_start_wh,
    lastEnergyWh: r.last_energy_wh,
    lastCheckpointAt: r.last_checkpoint_at,
    stoppedAt: r.stopped_at,
    meterStopWh: r.meter_stop_wh,
    stopReason: r.stop_reason,
    reservationId: r.reservation_id,
  };
}

/**
 * At most this many samples of each kind (periodic, clock-aligned) in a session's end message:
 * a long session at a short interval is thinned evenly (first and last kept), so the message
 * stays deliverable (about 200 bytes a sample and measurand). All samples stay in meter_samples.
 */
export const TX_DATA_MAX_SAMPLES = 200;

/**
 * Samples (sorted by time) at `intervalMs` spacing: a periodic one at least the interval after
 * the last kept (a tenth of it in slack: reads are not exactly on time); a clock-aligned one, the
 * first of each aligned slot of the interval.
 */
function spaced<T extends { taken_at: number }>(rows: T[], intervalMs: number, alignedSlots: boolean): T[] {
  const out: T[] = [];
  let last: number | undefined;
  for (const r of rows) {
    if (alignedSlots) {
      const slot = Math.floor(r.taken_at / intervalMs);
      if (slot === last) continue;
      last = slot;
    } else {
      if (last !== undefined && r.taken_at - last < intervalMs * 0.9) continue;
      last = r.taken_at;
    }
    out.push(r);
  }
  return out;
}

/** At most `max` of `rows`, evenly spread, the first and the last kept. */
function bounded<T>(rows: T[], max: number): T[] {
  if (rows.length <= max) return rows;
  return Array.from({ length: max }, (_, i) => rows[Math.round((i * (rows.length - 1)) / (max - 1))]!);
}

interface OpeningRow {
  local_id: string;
  evse_id: number;
  opened_at: number;
  cause: SessionStartCause;
  event_count: number;
}

/** A stored sample's reading column: the meter reading, and what was offered (if recorded). */
function parseStored(json: string): { reading: MeterReading; offered?: Sample['offered'] } {
  const { offered, ...reading } = JSON.parse(json) as MeterReading & { offered?: Sample['offered'] };
  return offered ? { reading, offered } : { reading };
}

/**
 * The events of a session's log, as the outbox holds them (format 'event/1'): the core's facts,
 * in epoch ms, without any protocol's transaction id or wire shape. The version binding renders
 * them when it delivers them (OCPP 1.6: StartTransaction, MeterValues, StopTransaction; 2.0.1:
 * TransactionEvent Started, Updated, Ended with the row's tx_seq as seqNo). Never rename a field:
 * rows queued by an earlier release are delivered as they are. A new shape is a new format.
 */
export const EVENT_FORMAT = 'event/1';

/** The session opened (outbox kind 'start'). */
export interface SessionOpenedEvent {
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reservationId?: number;
  /** The remote start that began the session (optional, added after the first release: rows without it are as before). */
  remoteStartId?: number;
  /** What completed the start, and the charging state then (optional: only when the policy records them, 2.0.1). */
  startedBy?: SessionStartCause;
  chargingState?: ChargingState;
  /** The token's kind when it is not an RFID card's ISO14443 (a KeyCode, a remote start's Central…); absent in rows written before it was recorded. */
  idTokenType?: string;
  /** The session continues a transaction begun before it on its EVSE (openTransaction), by this cause; absent otherwise. */
  continues?: SessionStartCause;
  /** A signing meter's signed start value (optional: absent for other meters and in rows written before). */
  signedBegin?: SignedMeterValue;
}
/**
 * A transaction begun on an EVSE before its session (outbox kind 'meter', tx_seq 0, its own
 * local id: see openTransaction): what began it, and the token when an authorisation did.
 */
export interface TransactionOpenedEvent {
  connectorId: number;
  opening: {
    timestamp: number;
    clockTrusted: boolean;
    cause: SessionStartCause;
    idTag?: string;
    idTokenType?: string;
    /** The remote start whose authorisation began it. */
    remoteStartId?: number;
    /** The EVSE's energy register then, when the meter had been read. */
    meterWh?: number;
  };
}
/** A transaction opening as the ledger keeps it until a session takes it or it is closed. */
export interface TransactionOpening {
  localId: string;
  evseId: number;
  openedAt: number;
  cause: SessionStartCause;
}
/** A sample the session reports (outbox kind 'meter'). */
export interface SessionSampledEvent {
  connectorId: number;
  sample: Sample;
}
/** The session closed (outbox kind 'stop'); `transactionData`: the samples the close reports with it. */
export interface SessionClosedEvent {
  idTag?: string;
  meterStopWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reason: SessionRecord['stopReason'];
  transactionData: Sample[];
  /** The charging state once closed, when the closer knows it (a transaction ended before its session); absent: by the reason. */
  chargingState?: ChargingState;
}

/**
 * The session ledger of one charge point. Every change to a session and the transaction
 * message it causes are written in one SQLite transaction, before anything is sent.
 */
export class SqliteLedger implements SessionLedger {
  private readonly q;
  /**
   * The next event number of each session this ledger queued an event for (tx_seq, 2.0.1's
   * seqNo): kept here rather than written to the session's row with every sample. A number is
   * remembered once its row is inserted; a transaction that rolls back forgets the session's
   * number (write()), so the database's answer is read again and no number is skipped.
   */
  private eventSeqs?: Map<string, number>;
  /** The EVSE of each session this ledger opened or looked up and has not closed: read at every sample. */
  private evseOf?: Map<string, number>;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly chargePointId: string,
    private readonly pseudonym: (idTag: string) => string,
    /** The tariff in force when a session closes; its cost is stored with it. */
    private readonly tariff: () => Tariff | undefined = () => undefined,
    /** Whether the central system is reachable now: each event records whether it happened offline. */
    private readonly online?: () => boolean,
  ) {
    this.q = statementsFor(db, SqliteLedger, () => ({
      insertSession: db.prepare(`INSERT INTO sessions (local_id, charge_point_id, connector_id, id_tag, customer_ref, auth_method,
        started_at, start_clock_trusted, meter_start_wh, last_energy_wh, last_checkpoint_at, reservation_id)
        VALUES (@localId, @cp, @connectorId, @idTag, @customerRef, @authMethod, @startedAt, @trusted, @meterStartWh, @meterStartWh, @startedAt, @reservationId)`),
      insertSample: db.prepare(`INSERT INTO meter_samples (local_id, taken_at, clock_trusted, context, energy_wh, reading)
        VALUES (?, ?, ?, ?, ?, ?)`),
      insertSigned: db.prepare(`INSERT INTO signed_meter_values (local_id, taken_at, context, encoding, signing_method, public_key, data)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      // A session's next event number: one past the highest queued, and no less than
      // event_count, which housekeeping raises before it deletes delivered rows (outbox_session
      // is (local_id, tx_seq): one index search). Read once per session and run, then counted here.
      nextEvent: preparePlucked(db, `SELECT MAX(event_count, COALESCE((SELECT MAX(tx_seq) + 1 FROM outbox WHERE local_id = @localId), 0))
        FROM sessions WHERE local_id = @localId`),
      enqueue: db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at, payload, tx_seq, offline, format) VALUES (?, ?, ?, ?, ?, ?, ?, '${EVENT_FORMAT}')`),
      checkpoint: db.prepare(`UPDATE sessions SET last_energy_wh = ?, last_checkpoint_at = ? WHERE local_id = ? AND stopped_at IS NULL AND last_energy_wh <= ?`),
      close: db.prepare(`UPDATE sessions SET stopped_at = ?, stop_clock_trusted = ?, meter_stop_wh = ?, stop_reason = ?,
        last_energy_wh = MAX(last_energy_wh, ?), last_checkpoint_at = MAX(last_checkpoint_at, ?) WHERE local_id = ? AND stopped_at IS NULL`),
      active: db.prepare(`SELECT * FROM sessions WHERE charge_point_id = ? AND stopped_at IS NULL ORDER BY started_at`),
      // One value, not a row object: these run for every sample and every delivery.
      connectorOf: preparePlucked(db, `SELECT connector_id FROM sessions WHERE local_id = ?`),
      refOf: prepareRaw(db, `SELECT transaction_ref, transaction_ref_version FROM sessions WHERE local_id = ?`),
      byRef: db.prepare(`SELECT * FROM sessions WHERE charge_point_id = ? AND transaction_ref = ? AND transaction_ref_version = ? ORDER BY started_at DESC LIMIT 1`),
      byNumericRef: db.prepare(`SELECT * FROM sessions WHERE charge_point_id = ? AND transaction_ref = ? ORDER BY started_at DESC LIMIT 1`),
      get: db.prepare(`SELECT * FROM sessions WHERE local_id = ?`),
      confirmStart: db.prepare(`UPDATE sessions SET transaction_ref = ?, transaction_ref_version = ?, start_acked_at = ? WHERE local_id = ?`),
      // Once the central system has the StopTransaction, the idTag in clear has no purpose left here.
      confirmStop: db.prepare(`UPDATE sessions SET stop_acked_at = ?, id_tag = NULL,
        customer_ref = CASE WHEN customer_ref IN (SELECT customer_ref FROM erasure_requests) THEN NULL ELSE customer_ref END
        WHERE local_id = ?`),
      curve: db.prepare(`SELECT taken_at, energy_wh FROM meter_samples WHERE local_id = ? ORDER BY taken_at, id`),
      setCost: db.prepare(`UPDATE sessions SET cost_minor = ?, vat_minor = ?, currency = ?, tariff = ? WHERE local_id = ?`),
      costOf: db.prepare(`SELECT currency, tariff FROM sessions WHERE local_id = ?`),
      highestSample: db.prepare(`SELECT reading, taken_at FROM meter_samples WHERE local_id = ? ORDER BY energy_wh DESC, taken_at DESC LIMIT 1`),
      saveRegister: db.prepare(`INSERT INTO meter_registers (charge_point_id, connector_id, energy_wh, at) VALUES (?, ?, ?, ?)
        ON CONFLICT (charge_point_id, connector_id) DO UPDATE SET energy_wh = MAX(energy_wh, excluded.energy_wh), at = excluded.at`),
      highestRegister: preparePlucked(db, `SELECT MAX(v) FROM (
          SELECT energy_wh AS v FROM meter_registers WHERE charge_point_id = @cp AND connector_id = @connectorId
          UNION ALL SELECT MAX(last_energy_wh, COALESCE(meter_stop_wh, 0)) FROM sessions WHERE charge_point_id = @cp AND connector_id = @connectorId
          UNION ALL SELECT MAX(m.energy_wh) FROM meter_samples m JOIN sessions s ON s.local_id = m.local_id
            WHERE s.charge_point_id = @cp AND s.connector_id = @connectorId)`),
      periodicOf: db.prepare(`SELECT reading, taken_at, clock_trusted, context FROM meter_samples WHERE local_id = ? AND context = 'Sample.Periodic' ORDER BY taken_at, id`),
      alignedOf: db.prepare(`SELECT reading, taken_at, clock_trusted, context FROM meter_samples WHERE local_id = ? AND context = 'Sample.Clock' ORDER BY taken_at, id`),
      openingOf: db.prepare(`SELECT local_id, evse_id, opened_at, cause, event_count FROM transaction_openings WHERE charge_point_id = ? AND evse_id = ? AND state = 'open'`),
      openings: db.prepare(`SELECT local_id, evse_id, opened_at, cause, event_count FROM transaction_openings WHERE charge_point_id = ? AND state = 'open' ORDER BY evse_id`),
      insertOpening: db.prepare(`INSERT INTO transaction_openings (local_id, charge_point_id, evse_id, opened_at, cause, event_count) VALUES (?, ?, ?, ?, ?, 1)`),
      settleOpening: db.prepare(`UPDATE transaction_openings SET state = ? WHERE local_id = ? AND state = 'open'`),
      countEvents: db.prepare(`UPDATE sessions SET event_count = MAX(event_count, ?) WHERE local_id = ?`),
      samplesOf: db.prepare(`SELECT reading, taken_at, clock_trusted, context FROM meter_samples WHERE local_id = ? AND context IN ('Transaction.Begin') ORDER BY id LIMIT 1`),
    }));
  }

  open(input: NewSession): LedgerRecord {
    // A transaction begun on this EVSE before the session (openTransaction): the session takes its
    // id and continues its events. Read and settled in the session's own store transaction.
    const opening = this.q.openingOf.get(this.chargePointId, input.evseId) as OpeningRow | undefined;
    const localId = opening?.local_id ?? randomUUID();
    const payload: SessionOpenedEvent = {
      connectorId: input.evseId, idTag: input.idTag, meterStartWh: input.meterStartWh,
      timestamp: input.startedAt, clockTrusted: input.clockTrusted,
      ...(input.reservationId !== undefined ? { reservationId: input.reservationId } : {}),
      ...(input.remoteStartId !== undefined ? { remoteStartId: input.remoteStartId } : {}),
      ...(input.startedBy !== undefined ? { startedBy: input.startedBy } : {}),
      ...(input.chargingState !== undefined ? { chargingState: input.chargingState } : {}),
      ...(input.idTokenType !== undefined ? { idTokenType: input.idTokenType } : {}),
      ...(opening ? { continues: opening.cause } : {}),
      ...(input.begin.reading.signed ? { signedBegin: input.begin.reading.signed } : {}),
    };
    this.write(localId, () => {
      this.q.insertSession.run({
        localId, cp: this.chargePointId, connectorId: input.evseId, idTag: input.idTag,
        customerRef: this.pseudonym(input.idTag), authMethod: input.authMethod, startedAt: input.startedAt,
        trusted: input.clockTrusted ? 1 : 0, meterStartWh: input.meterStartWh, reservationId: input.reservationId ?? null,
      });
      this.insertSample(localId, input.begin);
      if (opening) {
        if (this.q.settleOpening.run('adopted', localId).changes !== 1) throw new StoreError('ERR_SESSION_CLOSED', `transaction opening ${localId} is not open`);
        this.q.countEvents.run(opening.event_count, localId);
      }
      this.enqueue('start', localId, input.startedAt, payload, opening?.event_count ?? 0);
      if (input.reportBegin) {
        const begin: SessionSampledEvent = { connectorId: input.evseId, sample: input.begin };
        this.enqueue('meter', localId, input.startedAt, begin, this.nextEventSeq(localId));
      }
    });
    return this.get(localId)!;
  }

  /**
   * A transaction begun on an EVSE before any session (a version's start point: the vehicle
   * connected, or an authorisation before the vehicle): its opening event is queued (tx_seq 0)
   * under a new local id, in one store transaction, and the session that opens next on the EVSE
   * continues it (open()). One open per EVSE (ERR_OPENING_EXISTS otherwise).
   */
  openTransaction(evseId: number, opening: TransactionOpenedEvent['opening']): string {
    if (this.q.openingOf.get(this.chargePointId, evseId)) throw new StoreError('ERR_OPENING_EXISTS', `a transaction is already open on EVSE ${evseId}`);
    const localId = randomUUID();
    this.write(localId, () => {
      this.q.insertOpening.run(localId, this.chargePointId, evseId, opening.timestamp, opening.cause);
      this.enqueue('meter', localId, opening.timestamp, { connectorId: evseId, opening }, 0);
    });
    return localId;
  }

  /** The transaction open on an EVSE without a session yet, if any. */
  openedTransaction(evseId: number): TransactionOpening | undefined {
    const r = this.q.openingOf.get(this.chargePointId, evseId) as OpeningRow | undefined;
    return r && { localId: r.local_id, evseId: r.evse_id, openedAt: r.opened_at, cause: r.cause };
  }

  /** Every transaction open without a session (at start: the ones the last run left). */
  openedTransactions(): TransactionOpening[] {
    return (this.q.openings.all(this.chargePointId) as OpeningRow[]).map((r) => ({ localId: r.local_id, evseId: r.evse_id, openedAt: r.opened_at, cause: r.cause }));
  }

  /** A transaction that ended before any session took it: its closing event queued, in one store transaction. */
  closeOpenedTransaction(localId: string, end: Omit<SessionClosedEvent, 'transactionData' | 'idTag'>): void {
    const r = (this.q.openings.all(this.chargePointId) as OpeningRow[]).find((x) => x.local_id === localId);
    if (!r) throw new StoreError('ERR_SESSION_CLOSED', `transaction opening ${localId} is not open`);
    const payload: SessionClosedEvent = { ...end, transactionData: [] };
    this.write(localId, () => {
      this.q.settleOpening.run('closed', localId);
      this.enqueue('stop', localId, end.timestamp, payload, r.event_count);
    });
    this.eventSeqs?.delete(localId);
  }

  sample(localId: string, sample: Sample, queue: boolean): void {
    const connectorId = this.connectorOf(localId);
    if (connectorId === undefined) throw new StoreError('ERR_NO_SESSION', `no session ${localId}`);
    this.write(localId, () => {
      this.insertSample(localId, sample);
      if (queue) {
        const payload: SessionSampledEvent = { connectorId, sample };
        this.enqueue('meter', localId, sample.takenAt, payload, this.nextEventSeq(localId));
      }
    });
  }

  checkpoint(localId: string, energyWh: number, at: number): void {
    this.q.checkpoint.run(energyWh, at, localId, energyWh);
  }

  close(localId: string, stop: SessionStop): void {
    type StoredSample = { reading: string; taken_at: number; clock_trusted: number; context: Sample['context'] };
    const toSample = (r: StoredSample, measurands: string[]): Sample =>
      ({ takenAt: r.taken_at, clockTrusted: r.clock_trusted === 1, context: r.context, ...parseStored(r.reading), measurands });
    const sampled = stop.transactionDataMeasurands;
    const aligned = stop.transactionDataAlignedMeasurands ?? [];
    // StopTxnSampledData: the Begin and End samples, and (2.0.1 TxEndedInterval) the periodic ones
    // between at that spacing; StopTxnAlignedData: the clock-aligned ones in between (every one,
    // or 2.0.1's at AlignedDataCtrlr.TxEndedInterval). Each kind bounded (TX_DATA_MAX_SAMPLES).
    // A signing meter's signed begin and end values go with the close whatever the measurands
    // (calibration law: the central system gets both from the one message).
    const transactionData: Sample[] = [];
    const beginRow = this.q.samplesOf.get(localId) as StoredSample | undefined;
    const begin = beginRow && toSample(beginRow, sampled);
    if (begin && (sampled.length > 0 || begin.reading.signed !== undefined)) transactionData.push(begin);
    const intervalS = stop.transactionDataIntervalS ?? 0;
    if (sampled.length > 0 && intervalS > 0) {
      const periodic = spaced(this.q.periodicOf.all(localId) as StoredSample[], intervalS * 1000, false);
      for (const r of bounded(periodic, TX_DATA_MAX_SAMPLES)) transactionData.push(toSample(r, sampled));
    }
    const alignedIntervalS = stop.transactionDataAlignedIntervalS;
    if (aligned.length > 0 && alignedIntervalS !== 0) {
      const rows = this.q.alignedOf.all(localId) as StoredSample[];
      const kept = alignedIntervalS === undefined ? rows : spaced(rows, alignedIntervalS * 1000, true);
      for (const r of bounded(kept, TX_DATA_MAX_SAMPLES)) transactionData.push(toSample(r, aligned));
    }
    if (sampled.length > 0 || stop.end.reading.signed) transactionData.push({ ...stop.end, measurands: sampled });
    transactionData.sort((a, b) => a.takenAt - b.takenAt);
    const payload: SessionClosedEvent = {
      ...(stop.idTag !== undefined ? { idTag: stop.idTag } : {}),
      meterStopWh: stop.meterStopWh, timestamp: stop.stoppedAt, clockTrusted: stop.clockTrusted, reason: stop.reason, transactionData,
    };
    this.write(localId, () => {
      const changed = this.q.close.run(stop.stoppedAt, stop.clockTrusted ? 1 : 0, stop.meterStopWh, stop.reason, stop.meterStopWh, stop.stoppedAt, localId).changes;
      if (changed !== 1) throw new StoreError('ERR_SESSION_CLOSED', `session ${localId} is not open`);
      this.insertSample(localId, stop.end);
      this.enqueue('stop', localId, stop.stoppedAt, payload, this.nextEventSeq(localId));
      const connectorId = this.connectorOf(localId)!;
      // The register outlives the session's record (retention): a volatile meter resumes from it.
      this.q.saveRegister.run(this.chargePointId, connectorId, Math.max(stop.meterStopWh, stop.end.reading.energyWh), stop.stoppedAt);
      this.recordCost(localId, stop);
    });
    // Closed: no event follows.
    this.eventSeqs?.delete(localId);
    this.evseOf?.delete(localId);
  }

  private connectorOf(localId: string): number | undefined {
    let id = this.evseOf?.get(localId);
    if (id === undefined) {
      id = this.q.connectorOf.get(localId) as number | undefined;
      if (id !== undefined) (this.evseOf ??= new Map()).set(localId, id);
    }
    return id;
  }

  highestReading(localId: string): MeterReading | undefined {
    const session = this.get(localId);
    if (!session) return undefined;
    const checkpoint: MeterReading = { takenAt: session.lastCheckpointAt, energyWh: session.lastEnergyWh };
    const top = this.q.highestSample.get(localId) as { reading: string; taken_at: number } | undefined;
    if (!top) return checkpoint;
    const sample: MeterReading = { ...parseStored(top.reading).reading, takenAt: top.taken_at };
    if (sample.energyWh > checkpoint.energyWh) return sample;
    return sample.energyWh === checkpoint.energyWh ? { ...sample, takenAt: Math.max(sample.takenAt, checkpoint.takenAt) } : checkpoint;
  }

  highestRegisterWh(evseId: number): number {
    return (this.q.highestRegister.get({ cp: this.chargePointId, connectorId: evseId }) as number | null) ?? 0;
  }

  active(): LedgerRecord[] {
    return (this.q.active.all(this.chargePointId) as SessionRow[]).map(toRecord);
  }

  /** The most recent session known by a numeric transaction id (OCPP 1.6's, whatever version assigned it). */
  byTransactionId(transactionId: number): LedgerRecord | undefined {
    const r = this.q.byNumericRef.get(this.chargePointId, String(transactionId)) as SessionRow | undefined;
    return r && toRecord(r);
  }

  /** The most recent session the protocol `ref.version` knows as `ref.id`. */
  byTransactionRef(ref: TransactionRef): LedgerRecord | undefined {
    const r = this.q.byRef.get(this.chargePointId, ref.id, ref.version) as SessionRow | undefined;
    return r && toRecord(r);
  }

  /** The session's protocol transaction id (null until one is assigned; undefined: no such session). */
  transactionRefOf(localId: string): TransactionRef | null | undefined {
    const r = this.q.refOf.get(localId) as [string | null, string | null] | undefined;
    if (!r) return undefined;
    return r[0] === null ? null : { id: r[0], version: r[1]! };
  }

  get(localId: string): LedgerRecord | undefined {
    const r = this.q.get.get(localId) as SessionRow | undefined;
    return r && toRecord(r);
  }

  /** Cost by the tariff in force; idle time runs from the last rise of the energy register. */
  private recordCost(localId: string, stop: SessionStop): void {
    const tariff = this.tariff();
    const session = this.get(localId);
    if (!tariff || !session) return;
    const curve = this.q.curve.all(localId) as { taken_at: number; energy_wh: number }[];
    let chargingEndedAt = session.startedAt;
    for (let i = 1; i < curve.length; i++) if (curve[i]!.energy_wh > curve[i - 1]!.energy_wh) chargingEndedAt = curve[i]!.taken_at;
    const cost = sessionCost(tariff, {
      energyWh: Math.max(0, stop.meterStopWh - session.meterStartWh),
      durationMs: Math.max(0, stop.stoppedAt - session.startedAt),
      idleMs: Math.max(0, stop.stoppedAt - chargingEndedAt),
    });
    this.q.setCost.run(cost.totalMinor, cost.vatMinor, cost.currency, JSON.stringify(tariff), localId);
  }

  /**
   * The central system's total cost of a session replaces the one computed here: in minor units of
   * the currency of the tariff in force (2 digits without one), VAT not told apart; `tariff`
   * records where it came from.
   */
  recordCentralCost(localId: string, totalCost: number): void {
    if (!Number.isFinite(totalCost)) return;
    const row = this.q.costOf.get(localId) as { currency: string | null; tariff: string | null } | undefined;
    if (!row) return;
    const local = this.tariff();
    const digits = row.tariff ? (JSON.parse(row.tariff) as { minorUnitDigits?: number }).minorUnitDigits ?? 2 : local?.minorUnitDigits ?? 2;
    const minor = Math.round(Number((totalCost * 10 ** digits).toFixed(6)));
    this.q.setCost.run(minor, null, row.currency ?? local?.currency ?? null, JSON.stringify({ source: 'central-system', minorUnitDigits: digits }), localId);
  }

  /** The most recent sessions, newest first. */
  recent(limit: number): LedgerRecord[] {
    return (this.db.prepare(`SELECT * FROM sessions WHERE charge_point_id = ? ORDER BY started_at DESC LIMIT ?`).all(this.chargePointId, limit) as SessionRow[]).map(toRecord);
  }

  /**
   * The session's opening was acknowledged, and the protocol's id of its transaction is known
   * (OCPP 1.6: StartTransaction.conf's transactionId).
   */
  confirmStart(localId: string, ref: TransactionRef, at: number): void {
    this.q.confirmStart.run(ref.id, ref.version, at, localId);
  }

  confirmStop(localId: string, at: number): void {
    this.q.confirmStop.run(at, localId);
  }

  /** Run `fn` in one transaction; if it fails, the session's event number is read from the database again. */
  private write(localId: string, fn: () => void): void {
    try {
      transact(this.db, fn);
    } catch (err) {
      this.eventSeqs?.delete(localId);
      throw err;
    }
  }

  /** The session's next event number (tx_seq); taken by enqueue() once the row is inserted. */
  private nextEventSeq(localId: string): number {
    return this.eventSeqs?.get(localId) ?? (this.q.nextEvent.get({ localId }) as number);
  }

  private enqueue(kind: 'start' | 'meter' | 'stop', localId: string, at: number, event: SessionOpenedEvent | SessionSampledEvent | SessionClosedEvent | TransactionOpenedEvent, seq: number): void {
    const online = this.online?.();
    this.q.enqueue.run(this.chargePointId, kind, localId, at, JSON.stringify(event), seq, online === undefined ? null : online ? 0 : 1);
    (this.eventSeqs ??= new Map()).set(localId, seq + 1);
  }

  private insertSample(localId: string, s: Sample): void {
    // What was offered goes with the reading (under `offered`), so transactionData can show it.
    const stored = s.offered ? { ...s.reading, offered: s.offered } : s.reading;
    this.q.insertSample.run(localId, s.takenAt, s.clockTrusted ? 1 : 0, s.context, s.reading.energyWh, JSON.stringify(stored));
    // A signing meter's record, kept as the session's own (the export hands it to the customer).
    const signed = s.reading.signed;
    if (signed) this.q.insertSigned.run(localId, s.takenAt, s.context, signed.encoding, signed.signingMethod, signed.publicKey, signed.data);
  }
}
