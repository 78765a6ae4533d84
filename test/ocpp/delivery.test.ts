import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { openDatabase } from '../../src/store/index.js';
import { SqliteSecurityEvents } from '../../src/store/security-events.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
let csms: TestCsms | undefined;
let agent: TestAgent | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await agent?.cleanup();
  await csms?.stop();
  agent = csms = undefined;
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('delivery of queued events (src/ocpp/v16/delivery.ts)', () => {
  it('sets aside an event in a format it does not know (written by a newer program), sends nothing for it, and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-delivery-'));
    dirs.push(dir);
    const db = openDatabase(join(dir, 'agent.db'), { log: createLog(new MemorySink()) });
    const t = Date.parse('2026-11-30T10:00:00.000Z');
    db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at, payload, format) VALUES (?, 'security', 'security-future', ?, ?, 'event/9')`)
      .run(CP, t, JSON.stringify({ type: 'FromTheFuture', at: '2026-11-30T10:00:00Z' }));
    new SqliteSecurityEvents(db, CP).record({ type: 'SettingSystemTime', timestamp: t + 1_000, clockTrusted: true });
    db.close();

    csms = new TestCsms();
    const url = await csms.start();
    agent = await startAgent(url, {}, { dir });
    const dead = await waitFor(() => agent!.agent.outbox!.deadLetters().find((d) => d.localId === 'security-future'), 10_000, 'the unknown format set aside');
    expect(dead).toMatchObject({ kind: 'security', attempts: 0 });
    expect(dead.lastError).toMatch(/format event\/9/);
    await waitFor(() => csms!.callsOf('SecurityEventNotification', CP).some((c) => c.params.type === 'SettingSystemTime'), 10_000, 'the next event delivered');
    expect(csms.callsOf('SecurityEventNotification', CP).map((c) => c.params.type)).not.toContain('FromTheFuture');
    expect(agent.logs.records.some((r) => /dead-letter table/.test(r.msg))).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });
});
