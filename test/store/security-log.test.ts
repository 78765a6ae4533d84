import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { openDatabase } from '../../src/store/index.js';
import { SqliteSecurityEvents } from '../../src/store/security-events.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const T = Date.UTC(2026, 11, 1, 8);
const CP = 'CP-LOG-1';

function file(): string {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-seclog-'));
  dirs.push(dir);
  return join(dir, 'agent.db');
}
const open = (path: string) => openDatabase(path, { log: createLog(new MemorySink()) });
const queued = (path: string) => {
  const db = open(path);
  try {
    return (db.prepare(`SELECT payload FROM outbox WHERE kind = 'security' AND state = 'queued' ORDER BY seq`).all() as { payload: string }[]).map((r) => JSON.parse(r.payload).type);
  } finally {
    db.close();
  }
};

describe('the security log (src/store/security-events.ts)', () => {
  it('keeps every event across a reopen, each one logged even when an identical one is already queued, per charge point, filtered by window', () => {
    const path = file();
    let db = open(path);
    const events = new SqliteSecurityEvents(db, CP);
    expect(events.record({ type: 'StartupOfTheDevice', timestamp: T, clockTrusted: false })).toBe(true);
    expect(events.record({ type: 'InvalidTLSVersion', timestamp: T + 1_000, clockTrusted: true, techInfo: 'TLSv1.1' })).toBe(true);
    // The same failure again while the first waits: logged, not queued twice.
    expect(events.record({ type: 'InvalidTLSVersion', timestamp: T + 2_000, clockTrusted: true, techInfo: 'TLSv1.1' })).toBe(false);
    new SqliteSecurityEvents(db, 'CP-OTHER').record({ type: 'TamperDetectionActivated', timestamp: T + 1_500, clockTrusted: true });
    db.close();

    db = open(path);
    const again = new SqliteSecurityEvents(db, CP);
    expect(again.entries()).toEqual([
      { at: T, clockTrusted: false, type: 'StartupOfTheDevice' },
      { at: T + 1_000, clockTrusted: true, type: 'InvalidTLSVersion', techInfo: 'TLSv1.1' },
      { at: T + 2_000, clockTrusted: true, type: 'InvalidTLSVersion', techInfo: 'TLSv1.1' },
    ]);
    expect(again.entries({ startMs: T + 1_000, stopMs: T + 1_999 }).map((e) => e.at)).toEqual([T + 1_000]);
    expect(again.entries({ stopMs: T - 1 })).toEqual([]);
    db.close();
    expect(queued(path)).toEqual(['StartupOfTheDevice', 'InvalidTLSVersion', 'TamperDetectionActivated']);
  });

  it('keeps the newest entries up to its limit, of its own charge point only', () => {
    const path = file();
    const db = open(path);
    const small = new SqliteSecurityEvents(db, CP, 3);
    const other = new SqliteSecurityEvents(db, 'CP-OTHER', 3);
    other.record({ type: 'StartupOfTheDevice', timestamp: T, clockTrusted: true });
    for (let i = 0; i < 7; i++) small.record({ type: 'InvalidMessages', timestamp: T + i, clockTrusted: true, techInfo: `message ${i}` });
    expect(small.entries().map((e) => e.techInfo)).toEqual(['message 4', 'message 5', 'message 6']);
    expect(other.entries().map((e) => e.type)).toEqual(['StartupOfTheDevice']);
    db.close();
  });
});
