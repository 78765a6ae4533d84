/**
 * What an OCPP version binding needs of a charge point's store, in its own terms: src/ocpp never
 * imports src/store. src/store implements these ports (SqliteSettings, SqliteAuthorizationData,
 * SqliteLedger, SqliteOutbox) without knowing OCPP, and the app (src/app/charger) hands its store
 * views to the link; test/ocpp/store-ports.test.ts checks a real store against them.
 */
import type { AuthorizationData, AuthorizationInfo, ChargingState, SessionRecord, SessionStartCause, StopReason } from '../core/ports.js';

/** OCPP configuration values, read live by key (1.6 key names, verbatim; 2.0.1 variables map onto them). */
export interface Settings {
  int(key: string): number;
  bool(key: string): boolean;
  list(key: string): string[];
}

/** The configuration keys' values (GetConfiguration, ChangeConfiguration, the link's intervals). */
export interface ConfigurationStore extends Settings {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

export interface LocalListEntry {
  idTag: string;
  /** Absent: the entry is removed (a Differential update). */
  info?: AuthorizationInfo;
}

/** The Local Authorization List (SendLocalList, GetLocalListVersion) and the cache (ClearCache). */
export interface AuthorizationStore extends AuthorizationData {
  clearCache(): void;
  localListVersion(): number;
  localListSize(): number;
  updateLocalList(version: number, type: 'Full' | 'Differential', entries: LocalListEntry[]): void;
  /** The bytes the cache's entries take (2.0.1 AuthCacheCtrlr.Storage). */
  cacheBytes(): number;
}

/** One queued event, as the queue hands it out: the body is JSON in `format`. */
export interface QueuedEvent {
  seq: number;
  /** start / meter / stop: a session's opening, sample, closing; security: a security event. */
  kind: string;
  localId: string;
  createdAt: number;
  payload: string;
  format: string;
  attempts: number;
  notBefore: number;
  /** The event's number within its session, from 0 (2.0.1's seqNo); null for security events and old rows. */
  txSeq?: number | null;
  /** Whether the central system was unreachable when it happened (2.0.1's `offline`); null when unknown. */
  offline?: boolean | null;
}

/** The ordered queue of events to deliver (the outbox). */
export interface EventQueue {
  /** The first `limit` queued events, oldest first. */
  head(limit?: number): QueuedEvent[];
  /** Delivered; `alsoDo` runs in the same store transaction. */
  ack(seq: number, at: number, alsoDo?: () => void): void;
  /** Delivered MeterValues rows (acknowledged without an fsync of their own). */
  ackDelivered(seqs: readonly number[], at: number): void;
  /** Not delivered: try again from `notBefore`. */
  fail(seq: number, error: string, notBefore: number): void;
  /** Refused too often: kept aside, never dropped. */
  deadLetter(seq: number, error: string, at: number, countAttempt?: boolean): void;
  /** Shift the untrusted timestamps of events queued since `sinceMs` by `deltaMs`; returns how many changed. */
  retimeUntrusted(deltaMs: number, sinceMs: number): number;
}

/** The protocol's id of a transaction, as text, and the version that assigned it. */
export interface TransactionRef {
  version: string;
  id: string;
}

/** The session ledger as the binding sees it: the protocol's ids it assigns, and acknowledgements. */
export interface TransactionRefs {
  transactionRefOf(localId: string): TransactionRef | null | undefined;
  /** The session a protocol's transaction id names (the latest, should a central system reuse one). */
  byTransactionRef(ref: TransactionRef): SessionRecord | undefined;
  confirmStart(localId: string, ref: TransactionRef, at: number): void;
  confirmStop(localId: string, at: number): void;
  get(localId: string): SessionRecord | undefined;
  /**
   * The central system's total cost of an ended session (2.0.1: the Ended TransactionEvent's
   * totalCost, in its currency): the session's cost from now on, replacing one computed here.
   */
  recordCentralCost?(localId: string, totalCost: number): void;
  /**
   * A transaction begun on an EVSE before its session (2.0.1 TxStartPoint EVConnected/Authorized):
   * its opening queued under a new local id, which the session that opens next on the EVSE takes
   * (its opening event then says `continues`). Absent: the store cannot (the start point is then
   * the session's start).
   */
  openTransaction?(evseId: number, opening: TransactionOpeningFacts): string;
  /** The transaction open on an EVSE without a session, if any. */
  openedTransaction?(evseId: number): { localId: string; evseId: number; openedAt: number; cause: SessionStartCause } | undefined;
  /** Every transaction open without a session. */
  openedTransactions?(): { localId: string; evseId: number; openedAt: number; cause: SessionStartCause }[];
  /** A transaction that ended before a session took it: its closing event queued. */
  closeOpenedTransaction?(localId: string, end: { meterStopWh: number; timestamp: number; clockTrusted: boolean; reason: StopReason; chargingState?: ChargingState }): void;
}

/** What began a transaction before its session: the cause, and the token when an authorisation did. */
export interface TransactionOpeningFacts {
  timestamp: number;
  clockTrusted: boolean;
  cause: SessionStartCause;
  idTag?: string;
  idTokenType?: string;
  /** The remote start whose authorisation began it (2.0.1 remoteStartId). */
  remoteStartId?: number;
  meterWh?: number;
}
