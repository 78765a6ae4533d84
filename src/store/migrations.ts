/**
 * Versioned schema. Each entry runs once, in order, inside a transaction; PRAGMA user_version
 * holds the number applied. Never edit a shipped migration: add the next one.
 */
export const migrations: readonly string[] = [
  // 1: session ledger, meter samples, transaction outbox, OCPP configuration, authorisation data
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE sessions (
    local_id            TEXT PRIMARY KEY,
    charge_point_id     TEXT NOT NULL,
    connector_id        INTEGER NOT NULL,
    transaction_id      INTEGER,
    id_tag              TEXT,
    customer_ref        TEXT,
    auth_method         TEXT NOT NULL CHECK (auth_method IN ('rfid', 'touchscreen', 'app', 'free')),
    started_at          INTEGER NOT NULL,
    start_clock_trusted INTEGER NOT NULL,
    meter_start_wh      INTEGER NOT NULL,
    last_energy_wh      REAL NOT NULL,
    last_checkpoint_at  INTEGER NOT NULL,
    stopped_at          INTEGER,
    stop_clock_trusted  INTEGER,
    meter_stop_wh       INTEGER,
    stop_reason         TEXT,
    reservation_id      INTEGER,
    start_acked_at      INTEGER,
    stop_acked_at       INTEGER
  );
  CREATE INDEX sessions_open ON sessions (charge_point_id, connector_id) WHERE stopped_at IS NULL;
  CREATE UNIQUE INDEX sessions_transaction ON sessions (charge_point_id, transaction_id) WHERE transaction_id IS NOT NULL;
  CREATE INDEX sessions_started ON sessions (charge_point_id, started_at);

  CREATE TABLE meter_samples (
    id            INTEGER PRIMARY KEY,
    local_id      TEXT NOT NULL REFERENCES sessions (local_id) ON DELETE CASCADE,
    taken_at      INTEGER NOT NULL,
    clock_trusted INTEGER NOT NULL,
    context       TEXT NOT NULL,
    energy_wh     REAL NOT NULL,
    reading       TEXT NOT NULL
  );
  CREATE INDEX meter_samples_session ON meter_samples (local_id, taken_at);

  CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_point_id TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('start', 'meter', 'stop')),
    local_id        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    payload         TEXT,
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'acked', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    done_at         INTEGER
  );
  CREATE INDEX outbox_queued ON outbox (charge_point_id, seq) WHERE state = 'queued';
  -- One StartTransaction and one StopTransaction per session, ever.
  CREATE UNIQUE INDEX outbox_one_start_stop ON outbox (local_id, kind) WHERE kind IN ('start', 'stop');
  CREATE VIEW dead_letters AS
    SELECT seq, charge_point_id, kind, local_id, created_at, payload, attempts, last_error, done_at AS dead_at
    FROM outbox WHERE state = 'dead';

  CREATE TABLE ocpp_config (
    charge_point_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (charge_point_id, key)
  );

  CREATE TABLE local_auth_list (
    charge_point_id TEXT NOT NULL,
    id_tag          TEXT NOT NULL,
    status          TEXT NOT NULL,
    expiry_date     TEXT,
    parent_id_tag   TEXT,
    PRIMARY KEY (charge_point_id, id_tag)
  );
  CREATE TABLE auth_cache (
    charge_point_id TEXT NOT NULL,
    id_tag          TEXT NOT NULL,
    status          TEXT NOT NULL,
    expiry_date     TEXT,
    parent_id_tag   TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, id_tag)
  );
  CREATE TABLE charge_points (
    id                 TEXT PRIMARY KEY,
    local_list_version INTEGER NOT NULL DEFAULT 0
  );
  `,
  // 2: audit of diagnostics commands
  `
  CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    charge_point_id TEXT NOT NULL,
    username        TEXT,
    role            TEXT,
    command         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error_code      TEXT,
    correlation     TEXT
  );
  CREATE INDEX audit_log_at ON audit_log (charge_point_id, at);
  `,
];
