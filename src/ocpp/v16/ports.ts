import type { SessionRecord } from '../../core/ports.js';

/**
 * What the OCPP 1.6 binding needs of the store, in its own terms: src/ocpp never imports
 * src/store. The composition root passes the SQLite implementations (SqliteOutbox,
 * SqliteLedger), which fit these shapes; a version binding of its own can be tested against
 * any other.
 */

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
  confirmStart(localId: string, ref: TransactionRef, at: number): void;
  confirmStop(localId: string, at: number): void;
  get(localId: string): SessionRecord | undefined;
}
