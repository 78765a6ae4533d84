import Database from 'better-sqlite3';
import { mkdirSync, renameSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../lib/errors.js';
import type { Log } from '../lib/log.js';
import { migrations } from './migrations.js';
import { shareStatements } from './statement-cache.js';

export type SqliteDatabase = Database.Database;

export interface OpenOptions {
  log: Log;
  /** synchronous=FULL for the ledger (default); NORMAL only for throw-away fleet stores. */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * Overwrite deleted rows (default true). false only for throw-away fleet stores in memory,
   * where no file keeps free pages and zeroing every delivered outbox row is wasted work.
   */
  secureDelete?: boolean;
  now?: () => number;
}

/**
 * Open (creating if needed) and migrate a database. A file that fails integrity_check is
 * moved aside (quarantined, never deleted) and a fresh one is created in its place.
 */
export function openDatabase(path: string, opts: OpenOptions): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db = connect(path, opts);
  if (path !== ':memory:') {
    const problem = integrityProblem(db);
    if (problem) {
      db.close();
      const aside = `${path}.corrupt-${new Date(opts.now?.() ?? Date.now()).toISOString().replace(/[:.]/g, '-')}`;
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
      }
      opts.log.error('database failed its integrity check: quarantined, starting a new one', { path, quarantinedAs: aside, problem });
      db = connect(path, opts);
    }
  }
  migrate(db, opts.log);
  return shareStatements(db);
}

function connect(path: string, opts: OpenOptions): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    db = new Database(path);
  } catch (err) {
    throw new StoreError('ERR_STORE_OPEN', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('journal_mode = WAL');
  } catch (err) {
    // A file that is not a database at all shows here.
    const quarantine = /not a database|malformed/i.test((err as Error).message);
    if (!quarantine) throw err;
    db.close();
    const aside = `${path}.corrupt-${Date.now()}`;
    renameSync(path, aside);
    opts.log.error('database file unreadable: quarantined, starting a new one', { path, quarantinedAs: aside });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
  }
  db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  // Deleted rows (erasure, retention) are overwritten, not left readable in free pages.
  db.pragma(`secure_delete = ${opts.secureDelete === false ? 'OFF' : 'ON'}`);
  db.pragma('busy_timeout = 5000');
  return db;
}

function integrityProblem(db: SqliteDatabase): string | undefined {
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const text = rows.map((r) => r.integrity_check).join('; ');
    return text === 'ok' ? undefined : text;
  } catch (err) {
    return (err as Error).message;
  }
}

const runners = new WeakMap<SqliteDatabase, (fn: () => unknown) => unknown>();

/**
 * Run `fn` in a transaction (a savepoint when one is open). better-sqlite3 builds a new
 * wrapper (four variants and their properties) on every `db.transaction(fn)`: on the hot paths
 * (a sample, an ack) that was 7 % of a fleet's allocations. This one is built once per database.
 */
export function transact<T>(db: SqliteDatabase, fn: () => T): T {
  let run = runners.get(db);
  if (!run) runners.set(db, (run = db.transaction((f: () => unknown) => f())));
  return run(fn) as T;
}

export function migrate(db: SqliteDatabase, log: Log): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new StoreError('ERR_STORE_TOO_NEW', `database schema version ${current} is newer than this program (${migrations.length})`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
    log.info('database migrated', { version: v + 1 });
  }
}

export function checkHealth(db: SqliteDatabase): { ok: boolean; journalMode: string; synchronous: number; integrity: string } {
  const journalMode = db.pragma('journal_mode', { simple: true }) as string;
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  const integrity = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check).join('; ');
  return { ok: integrity === 'ok' && journalMode === 'wal', journalMode, synchronous, integrity };
}

/** Whether the database takes a write now (disk full or failing shows here). */
export function probeWritable(db: SqliteDatabase, now: number): { ok: true } | { ok: false; error: string } {
  try {
    db.prepare(`INSERT INTO meta (key, value) VALUES ('write-probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(now));
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
