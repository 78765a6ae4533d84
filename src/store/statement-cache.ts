import type Database from 'better-sqlite3';

/** Statements kept per database; SQL built on the fly beyond this many is prepared each time. */
export const STATEMENT_CACHE_MAX = 512;

const cached = new WeakSet<Database.Database>();

/**
 * Make db.prepare() return one shared statement per SQL text. Every store view (settings,
 * ledger, outbox, authorisation data) prepares its statements in its constructor; a fleet
 * worker holds thousands of views on one database, and a prepared statement costs about 5 KB
 * of native memory and a parse each: shared, they cost that once per database. Safe because
 * the stores only use run/get/all (synchronous, never a statement left mid-iteration) and
 * change a statement's mode (pluck, raw) only through preparePlucked and prepareRaw, whose SQL
 * text is marked so that a plain prepare of the same query gets its own statement.
 */
export function shareStatements(db: Database.Database): Database.Database {
  if (cached.has(db)) return db;
  cached.add(db);
  const prepare = db.prepare.bind(db) as Database.Database['prepare'];
  const statements = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let s = statements.get(sql);
    if (s) return s;
    s = prepare(sql);
    if (statements.size < STATEMENT_CACHE_MAX) statements.set(sql, s);
    return s;
  }) as Database.Database['prepare'];
  return db;
}

/** A statement that returns the first column's value instead of a row object. */
export function preparePlucked(db: Database.Database, sql: string): Database.Statement {
  return db.prepare(`${sql} /* pluck */`).pluck();
}

/**
 * A statement that returns rows as arrays: better-sqlite3 builds a row object property by
 * property, which costs more than the query itself on a hot path.
 */
export function prepareRaw(db: Database.Database, sql: string): Database.Statement {
  return db.prepare(`${sql} /* raw */`).raw();
}

const bundles = new WeakMap<Database.Database, Map<object, unknown>>();

/**
 * A store view's statements, built once per database and view class (`owner`) and shared by
 * every view of that class on it: a fleet worker holds thousands of views on one database, and
 * each one's object of statements is some 100-300 bytes of heap more per charger. Only for a
 * database whose statements are shared (shareStatements): otherwise each view builds its own.
 */
export function statementsFor<T>(db: Database.Database, owner: object, build: () => T): T {
  if (!cached.has(db)) return build();
  let byOwner = bundles.get(db);
  if (!byOwner) bundles.set(db, (byOwner = new Map()));
  let bundle = byOwner.get(owner) as T | undefined;
  if (bundle === undefined) byOwner.set(owner, (bundle = build()));
  return bundle;
}
