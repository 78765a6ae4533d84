import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog, LEVELS, MemorySink } from '../../src/lib/log.js';
import { checkHealth, openDatabase } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations.js';
import { preparePlucked, prepareRaw } from '../../src/store/statement-cache.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'evse-edge-db-'));
  dirs.push(d);
  return d;
};

describe('opening the store', () => {
  it('migrates a new database to the latest version with WAL and synchronous=FULL', () => {
    const file = join(tmp(), 'agent.db');
    const db = openDatabase(file, { log: createLog(new MemorySink()) });
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(checkHealth(db)).toMatchObject({ ok: true, journalMode: 'wal', synchronous: 2, integrity: 'ok' });
    db.close();
    // Opening again applies nothing twice.
    const again = openDatabase(file, { log: createLog(new MemorySink()) });
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length);
    again.close();
  });

  it('quarantines, never deletes, a file that is not a database, and starts a new one', () => {
    const dir = tmp();
    const file = join(dir, 'agent.db');
    writeFileSync(file, 'this is not an SQLite database, but somebody\'s billing data may be in here'.repeat(100));
    const logs = new MemorySink();
    const db = openDatabase(file, { log: createLog(logs) });
    expect(checkHealth(db).ok).toBe(true);
    db.close();
    const aside = readdirSync(dir).filter((f) => f.startsWith('agent.db.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!), 'utf8')).toContain('billing data');
    expect(logs.records.some((r) => r.level === LEVELS.error && /quarantined/.test(r.msg))).toBe(true);
  });

  it('quarantines a database that fails its integrity check', () => {
    const dir = tmp();
    const file = join(dir, 'agent.db');
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE t (x TEXT); CREATE INDEX t_x ON t (x);');
    const ins = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 2000; i++) ins.run(`row ${i} ${'x'.repeat(50)}`);
    db.close();
    // Scribble over a page in the middle of the file.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3);
    closeSync(fd);
    const logs = new MemorySink();
    const fresh = openDatabase(file, { log: createLog(logs) });
    expect(checkHealth(fresh).ok).toBe(true);
    expect(fresh.prepare(`SELECT name FROM sqlite_master WHERE name = 't'`).get()).toBeUndefined();
    fresh.close();
    const aside = readdirSync(dir).filter((f) => /^agent\.db\.corrupt-[^-]+.*[^lm]$/.test(f) && !f.endsWith('-wal') && !f.endsWith('-shm'));
    expect(aside.length).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(dir, aside[0]!))).toBe(true);
  });
});

describe('shared statements', () => {
  it('one statement per SQL text; plucked and raw statements do not change what a plain prepare returns', () => {
    const db = openDatabase(':memory:', { log: createLog(new MemorySink()) });
    db.exec(`CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x')`);
    const sql = 'SELECT a, b FROM t WHERE a = ?';
    expect(db.prepare(sql)).toBe(db.prepare(sql));
    expect(preparePlucked(db, sql).get(1)).toBe(1);
    expect(prepareRaw(db, sql).get(1)).toEqual([1, 'x']);
    expect(db.prepare(sql).get(1)).toEqual({ a: 1, b: 'x' });
    expect(preparePlucked(db, sql)).toBe(preparePlucked(db, sql));
    db.close();
  });
});
