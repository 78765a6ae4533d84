/**
 * What the OCPP 1.6 side needs of a charge point's store, as ports: src/store implements them
 * (SqliteSettings, SqliteAuthorizationData, SqliteLedger, SqliteOutbox) without knowing OCPP,
 * and the app (src/app/charger) hands its store views to the link. OCPP never imports the store.
 *
 * The outbox payloads below are what the store queues today and the link reads back (JSON): the
 * same shapes as src/store's, checked by test/ocpp/store-ports.test.ts against a real store.
 */
import type { AuthorizationData, AuthorizationInfo, Sample, SessionRecord, Settings } from '../../core/ports.js';

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
}

/** What the link reads and records of the session ledger while it delivers transaction messages. */
export interface TransactionLedger {
  get(localId: string): SessionRecord | undefined;
  /** The central system's transactionId of a session: null before StartTransaction.conf, undefined if unknown. */
  transactionIdOf(localId: string): number | null | undefined;
  /** The session a transactionId names (the latest, should the central system reuse one). */
  byTransactionId(transactionId: number): SessionRecord | undefined;
  confirmStart(localId: string, transactionId: number, at: number): void;
  confirmStop(localId: string, at: number): void;
}

/** Transaction messages, and security events (SecurityEventNotification). */
export type OutboxKind = 'start' | 'meter' | 'stop' | 'security';

export interface OutboxEntry {
  seq: number;
  kind: OutboxKind;
  localId: string;
  createdAt: number;
  payload: string;
  attempts: number;
  notBefore: number;
  lastError: string | null;
}

/** The transaction-message queue, strictly ordered by seq, as the link delivers it. */
export interface MessageOutbox {
  head(limit?: number): OutboxEntry[];
  ack(seq: number, at: number, alsoDo?: () => void): void;
  ackDelivered(seqs: readonly number[], at: number): void;
  fail(seq: number, error: string, notBefore: number): void;
  deadLetter(seq: number, error: string, at: number, countAttempt?: boolean): void;
  /** Re-times the entries stamped on an untrusted clock since sinceMs; returns how many. */
  retimeUntrusted(deltaMs: number, sinceMs: number): number;
}

/** What a queued StartTransaction holds until it is delivered. */
export interface StartPayload {
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reservationId?: number;
}
export interface MeterPayload {
  connectorId: number;
  sample: Sample;
}
export interface StopPayload {
  idTag?: string;
  meterStopWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reason: SessionRecord['stopReason'];
  transactionData: Sample[];
}

/** The outbox payload of a security event (kind 'security'). */
export interface SecurityEventPayload {
  type: string;
  /** Epoch ms on the charger's clock; re-timed with the rest of the outbox when the clock is set. */
  timestamp: number;
  clockTrusted: boolean;
  techInfo?: string;
}
