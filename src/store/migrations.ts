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
  // 3: session cost (integer minor units) and the tariff it was computed with
  `
  ALTER TABLE sessions ADD COLUMN cost_minor INTEGER;
  ALTER TABLE sessions ADD COLUMN vat_minor INTEGER;
  ALTER TABLE sessions ADD COLUMN currency TEXT;
  ALTER TABLE sessions ADD COLUMN tariff TEXT;
  CREATE INDEX sessions_customer ON sessions (customer_ref);
  -- Erasure asked for while billing data was undelivered: applied when it is acknowledged.
  CREATE TABLE erasure_requests (customer_ref TEXT PRIMARY KEY, requested_at INTEGER NOT NULL);
  -- A central system whose database was reset may hand out a transactionId again: that must
  -- not block delivery. Lookups take the most recent session with the id.
  DROP INDEX sessions_transaction;
  CREATE INDEX sessions_transaction ON sessions (charge_point_id, transaction_id) WHERE transaction_id IS NOT NULL;
  `,
  // 4: smart-charging profiles and reservations (tags only as keyed pseudonyms)
  `
  CREATE TABLE charging_profiles (
    charge_point_id     TEXT NOT NULL,
    charging_profile_id INTEGER NOT NULL,
    connector_id        INTEGER NOT NULL,
    purpose             TEXT NOT NULL CHECK (purpose IN ('ChargePointMaxProfile', 'TxDefaultProfile', 'TxProfile')),
    stack_level         INTEGER NOT NULL,
    profile             TEXT NOT NULL,
    installed_at        INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, charging_profile_id)
  );
  CREATE TABLE reservations (
    charge_point_id   TEXT NOT NULL,
    reservation_id    INTEGER NOT NULL,
    connector_id      INTEGER NOT NULL,
    id_tag_ref        TEXT NOT NULL,
    parent_id_tag_ref TEXT,
    expires_at        INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, reservation_id)
  );
  `,
  // security events (SecurityEventNotification, OCPP 1.6 security whitepaper) join the outbox:
  // SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows and seq.
  `
  DROP VIEW dead_letters;
  CREATE TABLE outbox_new (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_point_id TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('start', 'meter', 'stop', 'security')),
    local_id        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    payload         TEXT,
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'acked', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    done_at         INTEGER
  );
  INSERT INTO outbox_new (seq, charge_point_id, kind, local_id, created_at, payload, state, attempts, not_before, last_error, done_at)
    SELECT seq, charge_point_id, kind, local_id, created_at, payload, state, attempts, not_before, last_error, done_at FROM outbox;
  DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_new', seq FROM sqlite_sequence WHERE name = 'outbox';
  DROP TABLE outbox;
  ALTER TABLE outbox_new RENAME TO outbox;
  CREATE INDEX outbox_queued ON outbox (charge_point_id, seq) WHERE state = 'queued';
  CREATE UNIQUE INDEX outbox_one_start_stop ON outbox (local_id, kind) WHERE kind IN ('start', 'stop');
  CREATE VIEW dead_letters AS
    SELECT seq, charge_point_id, kind, local_id, created_at, payload, attempts, last_error, done_at AS dead_at
    FROM outbox WHERE state = 'dead';
  `,
  // meter registers: the last energy register each connector's meter showed at a session's
  // close, kept when retention deletes the sessions. A meter without non-volatile memory (a
  // simulated one) resumes from it, so a charger's registers never go backwards.
  `
  CREATE TABLE meter_registers (
    charge_point_id TEXT NOT NULL,
    connector_id    INTEGER NOT NULL,
    energy_wh       REAL NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, connector_id)
  );
  `,
  // The rows of one session: retention (and a fleet's housekeeping) deletes a session's
  // acknowledged rows by local_id; outbox_one_start_stop covers start and stop rows only, so
  // every deleted session scanned the whole outbox (34 of a fleet worker's 44 % in SQLite at
  // 20,000 chargers). The dead letters of a charge point (the outbox summary of every status
  // and diagnostics request, the technician's list and retry) scanned it too; a partial index
  // holds only dead rows, normally none. test/store/query-plans.test.ts checks every plan.
  `
  CREATE INDEX outbox_session ON outbox (local_id);
  CREATE INDEX outbox_dead ON outbox (charge_point_id, seq) WHERE state = 'dead';
  `,
  // A protocol-neutral ledger (OCPP201.md §8). The protocol's transaction id is held as text with
  // the version that assigned it (1.6: the central system's integer; 2.0.1: the station's
  // string), no longer as an INTEGER column. The outbox holds each session's event log: tx_seq
  // numbers a session's events from 0 (persisted: 2.0.1's seqNo); the next is one past the
  // session's highest row, and no less than sessions.event_count, which housekeeping raises
  // before it deletes delivered MeterValues rows (so a number is never used twice), `offline` says whether the link was down when the event was recorded (NULL:
  // recorded before this version), `format` names the body's schema (event/1: the body this
  // program has always written: the core's facts in epoch ms, no protocol's transaction id).
  // The version binding renders an event when it delivers it. Rows written before keep their
  // bodies byte for byte: a charger upgraded in the field sends them unchanged.
  `
  ALTER TABLE sessions ADD COLUMN transaction_ref TEXT;
  ALTER TABLE sessions ADD COLUMN transaction_ref_version TEXT;
  ALTER TABLE sessions ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
  UPDATE sessions SET transaction_ref = CAST(transaction_id AS TEXT), transaction_ref_version = 'ocpp1.6' WHERE transaction_id IS NOT NULL;
  DROP INDEX sessions_transaction;
  ALTER TABLE sessions DROP COLUMN transaction_id;
  CREATE INDEX sessions_transaction_ref ON sessions (charge_point_id, transaction_ref) WHERE transaction_ref IS NOT NULL;

  ALTER TABLE outbox ADD COLUMN tx_seq INTEGER;
  ALTER TABLE outbox ADD COLUMN offline INTEGER;
  ALTER TABLE outbox ADD COLUMN format TEXT NOT NULL DEFAULT 'event/1';
  -- A session's highest event number is one index search (the ledger's next tx_seq); the
  -- deletion of a session's rows by local_id still searches it.
  DROP INDEX outbox_session;
  CREATE INDEX outbox_session ON outbox (local_id, tx_seq);
  UPDATE outbox SET tx_seq = (SELECT COUNT(*) FROM outbox o WHERE o.local_id = outbox.local_id AND o.seq < outbox.seq AND o.kind != 'security')
    WHERE kind != 'security';
  UPDATE sessions SET event_count = (SELECT COALESCE(MAX(o.tx_seq) + 1, 0) FROM outbox o WHERE o.local_id = sessions.local_id AND o.kind != 'security');
  `,
  // 9: charging profiles in the core's words (src/core/smart-charging/types.ts), no longer as
  // OCPP 1.6 wrote them: the station (evse_id NULL) instead of connector 0; the purposes
  // StationMaximum, TransactionDefault, Transaction; the profile's JSON as a LimitProfile (id,
  // stackLevel, purpose, kind, recurrence, validFrom/To verbatim, schedules[0] with durationS,
  // unit, periods, minRate; numbers copied as written). A TxProfile's transactionId becomes the
  // local id of the session it names (sessionId): the latest session the central system knows by
  // it, else the running session on its connector whose StartTransaction was not confirmed (1.6
  // accepted and applied the profile to that one). A TxProfile naming neither is dropped: its
  // transaction is not one this station holds, so it limits no session the core knows.
  // test/store/charging-profiles-upgrade.test.ts compares the limits before and after.
  `
  CREATE TABLE charging_profiles_new (
    charge_point_id TEXT NOT NULL,
    profile_id      INTEGER NOT NULL,
    evse_id         INTEGER,
    purpose         TEXT NOT NULL CHECK (purpose IN ('StationMaximum', 'TransactionDefault', 'Transaction')),
    stack_level     INTEGER NOT NULL,
    profile         TEXT NOT NULL,
    installed_at    INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, profile_id)
  );
  WITH old AS (
    SELECT p.charge_point_id, p.charging_profile_id, p.connector_id, p.stack_level, p.installed_at, p.profile AS j,
      p.profile -> '$.chargingSchedule' AS s,
      CAST(p.profile ->> '$.transactionId' AS TEXT) AS tx,
      CASE p.purpose WHEN 'ChargePointMaxProfile' THEN 'StationMaximum' WHEN 'TxDefaultProfile' THEN 'TransactionDefault' ELSE 'Transaction' END AS purpose
    FROM charging_profiles p
  ), resolved AS (
    SELECT old.*, CASE WHEN tx IS NULL THEN NULL ELSE COALESCE(
      (SELECT x.local_id FROM sessions x WHERE x.charge_point_id = old.charge_point_id AND x.transaction_ref = old.tx AND x.transaction_ref_version = 'ocpp1.6'
        ORDER BY x.started_at DESC LIMIT 1),
      (SELECT x.local_id FROM sessions x WHERE x.charge_point_id = old.charge_point_id AND x.connector_id = old.connector_id AND x.stopped_at IS NULL
        AND x.transaction_ref IS NULL ORDER BY x.started_at DESC LIMIT 1)) END AS session_id
    FROM old
  )
  INSERT INTO charging_profiles_new (charge_point_id, profile_id, evse_id, purpose, stack_level, profile, installed_at)
  SELECT charge_point_id, charging_profile_id, NULLIF(connector_id, 0), purpose, stack_level,
    json_patch('{}', json_object(
      'id', json(j -> '$.chargingProfileId'),
      'stackLevel', json(j -> '$.stackLevel'),
      'purpose', purpose,
      'kind', j ->> '$.chargingProfileKind',
      'recurrence', j ->> '$.recurrencyKind',
      'validFrom', j ->> '$.validFrom',
      'validTo', j ->> '$.validTo',
      'schedules', json_array(json_patch('{}', json_object(
        'startSchedule', s ->> '$.startSchedule',
        'durationS', json(s -> '$.duration'),
        'unit', s ->> '$.chargingRateUnit',
        'periods', json((SELECT json_group_array(json_patch('{}', json_object(
            'startPeriod', json(e.value -> '$.startPeriod'), 'limit', json(e.value -> '$.limit'), 'numberPhases', json(e.value -> '$.numberPhases'))))
          FROM (SELECT value FROM json_each(s, '$.chargingSchedulePeriod') ORDER BY key) e)),
        'minRate', json(s -> '$.minChargingRate')))),
      'sessionId', session_id)),
    installed_at
  FROM resolved WHERE tx IS NULL OR session_id IS NOT NULL;
  DROP TABLE charging_profiles;
  ALTER TABLE charging_profiles_new RENAME TO charging_profiles;
  `,
  // 10: display messages the central system set (2.0.1 SetDisplayMessage), kept across restarts;
  // session_id is the local id of the session a message belongs to (removed when it ends)
  `
  CREATE TABLE display_messages (
    charge_point_id TEXT NOT NULL,
    message_id      INTEGER NOT NULL,
    priority        TEXT NOT NULL CHECK (priority IN ('AlwaysFront', 'InFront', 'NormalCycle')),
    state           TEXT CHECK (state IN ('Charging', 'Faulted', 'Idle', 'Unavailable')),
    starts_at       INTEGER,
    ends_at         INTEGER,
    session_id      TEXT,
    format          TEXT NOT NULL CHECK (format IN ('ASCII', 'UTF8', 'HTML', 'URI')),
    language        TEXT,
    content         TEXT NOT NULL,
    set_at          INTEGER NOT NULL,
    PRIMARY KEY (charge_point_id, message_id)
  );
  `,
  // 11: the security log (OCPP 1.6 security whitepaper, 2.0.1 N01 SecurityLog): every security
  // event the charger recorded, kept across restarts (the newest SECURITY_LOG_MAX_ENTRIES per
  // charge point), whether or not the central system has had it.
  `
  CREATE TABLE security_log (
    seq             INTEGER PRIMARY KEY,
    charge_point_id TEXT NOT NULL,
    at              INTEGER NOT NULL,
    clock_trusted   INTEGER NOT NULL,
    type            TEXT NOT NULL,
    tech_info       TEXT
  );
  CREATE INDEX security_log_cp ON security_log (charge_point_id);
  `,
  // 12: transactions a protocol begins on an EVSE before the session does (OCPP 2.0.1
  // TxStartPoint EVConnected or Authorized: the cable plugged before any card, a card before any
  // cable). Its opening event is queued under its own local id; the session that opens next on
  // the EVSE takes that id and continues its event numbers (event_count: the events queued so
  // far); one that ends without a session is closed with its own closing event. At most one open
  // per EVSE.
  `
  CREATE TABLE transaction_openings (
    local_id        TEXT PRIMARY KEY,
    charge_point_id TEXT NOT NULL,
    evse_id         INTEGER NOT NULL,
    opened_at       INTEGER NOT NULL,
    cause           TEXT NOT NULL,
    event_count     INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'adopted', 'closed'))
  );
  CREATE UNIQUE INDEX transaction_openings_open ON transaction_openings (charge_point_id, evse_id) WHERE state = 'open';
  `,
  // 13: calibration law (issue 20): every signed meter value a session's meter gave (OCMF
  // records), as the meter signed it, kept with the session and exported with it. Deleted with
  // the session by retention; nothing in it names a customer.
  `
  CREATE TABLE signed_meter_values (
    id             INTEGER PRIMARY KEY,
    local_id       TEXT NOT NULL,
    taken_at       INTEGER NOT NULL,
    context        TEXT NOT NULL,
    encoding       TEXT NOT NULL,
    signing_method TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    data           TEXT NOT NULL
  );
  CREATE INDEX signed_meter_values_session ON signed_meter_values (local_id, id);
  `,
];
