export { openDatabase, checkHealth, probeWritable, type SqliteDatabase } from './database.js';
export { SqliteLedger, EVENT_FORMAT, type LedgerRecord, type SessionOpenedEvent, type SessionSampledEvent, type SessionClosedEvent, type TransactionRef } from './ledger.js';
export { SqliteOutbox, type DeadLetter, type OutboxEntry, type OutboxKind, type OutboxSummary } from './outbox.js';
export { SqliteSettings } from './settings.js';
export { SqliteAuthorizationData, type LocalListEntry } from './authorization-data.js';
export { SqliteAuditLog, type AuditEntry } from './audit.js';
export { SessionRecords, type SessionReportRow, type MeterPoint, type ReportFilter, type SignedValueRow } from './session-records.js';
export { SqliteChargingProfiles } from './charging-profiles.js';
export { SqliteReservations } from './reservations.js';
