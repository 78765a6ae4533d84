import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const run = promisify(execFile);
const TAGS = ['PRIVTAG01', 'PRIVTAG02', 'PRIVTAG03'];
const TARIFF = { currency: 'EUR', energyPerKWh: '0.39', sessionFee: '0.50', pricesIncludeVat: true };

/**
 * The privacy rules as properties: after sessions started by card, by app, offline, across a
 * kill -9 and a replay, no test idTag is anywhere it should not be — not in any SQLite table,
 * not in the database file's bytes, not in a log line, not in an export.
 */
describe('privacy by construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-privacy-'));
  const logLines: string[] = [];
  let csms: TestCsms;
  let port = 0;
  afterAll(async () => {
    await csms?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps idTags only where OCPP needs them, and only until acknowledged', async () => {
    csms = new TestCsms();
    const url = await csms.start();
    port = csms.port;
    const common = {
      ocpp: { AuthorizationCacheEnabled: false, AllowOfflineTxForUnknownId: true, MeterValueSampleInterval: 1 },
      tariff: TARIFF,
    };

    // 1. In process: a card session online, then a card session while the central system is down.
    const t = await startAgent(url, common, { dir });
    const cp = t.agent.chargePoint!;
    await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
    t.agent.sim.reader.present({ token: { id: TAGS[0]!, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'charging 1');
    await new Promise((r) => setTimeout(r, 1_200));
    t.agent.sim.reader.present({ token: { id: TAGS[0]!, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => csms.callsOf('StopTransaction').length === 1, 10_000, 'stop 1');
    await csms.stop();
    await waitFor(() => t.agent.link?.state === 'offline', 10_000, 'offline');
    t.agent.sim.reader.present({ token: { id: TAGS[1]!, type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Charging', 10_000, 'charging offline');
    await new Promise((r) => setTimeout(r, 1_200));
    t.agent.sim.reader.present({ token: { id: TAGS[1]!, type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    await waitFor(() => !cp.session(2), 10_000, 'stopped offline');
    for (const r of t.logs.records) logLines.push(JSON.stringify(r));
    await t.agent.stop();

    // 2. As a process: the central system is back; an app session is killed with -9 and replayed.
    csms = new TestCsms();
    csms.nextTx = 100;
    await csms.start(port);
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({
      chargePointId: 'CP-TEST-1', csms: { url: `ws://127.0.0.1:${port}/ocpp`, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 },
      store: { path: join(dir, 'agent.db') }, log: { level: 'debug' }, ...common,
      simulation: { arrivalDelayMs: 50, departureDelayMs: 0 }, session: { checkpointIntervalMs: 1000, meterPollIntervalMs: 200 },
    }));
    const start = () => {
      const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout!.on('data', (d) => logLines.push(...String(d).split('\n').filter(Boolean)));
      return child;
    };
    let child: ChildProcess = start();
    await waitFor(() => csms.callsOf('StartTransaction').length === 1, 20_000, 'replayed offline start');
    await waitFor(() => csms.callsOf('StopTransaction').length === 1, 20_000, 'replayed offline stop');
    await waitFor(() => csms.clients.has('CP-TEST-1'), 10_000, 'connected');
    await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: TAGS[2] });
    await waitFor(() => csms.callsOf('StartTransaction').length === 2, 20_000, 'app start');
    await new Promise((r) => setTimeout(r, 1_500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = start();
    await waitFor(() => csms.callsOf('StopTransaction').length === 2, 20_000, 'PowerLoss stop after kill -9');
    expect(csms.callsOf('StopTransaction')[1]!.params.reason).toBe('PowerLoss');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    // Every session delivered: the ledger keeps no idTag in clear.
    const dbFile = join(dir, 'agent.db');
    const db = new Database(dbFile);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
    const allowed = new Set(['local_auth_list', 'auth_cache']);
    for (const table of tables) {
      const rows = db.prepare(`SELECT * FROM "${table}"`).all();
      const text = JSON.stringify(rows);
      for (const tag of TAGS) expect(text.includes(tag) && !allowed.has(table), `${tag} in table ${table}`).toBe(false);
    }
    const sessions = db.prepare(`SELECT customer_ref, auth_method, cost_minor, currency, stop_acked_at FROM sessions ORDER BY started_at`).all() as { customer_ref: string; auth_method: string; cost_minor: number; currency: string; stop_acked_at: number | null }[];
    expect(sessions).toHaveLength(3);
    expect(sessions.map((s) => s.auth_method)).toEqual(['rfid', 'rfid', 'app']);
    for (const s of sessions) {
      expect(s.customer_ref).toMatch(/^c-[0-9a-f]{16}$/);
      expect(s.stop_acked_at).not.toBeNull();
      expect(s.currency).toBe('EUR');
      expect(s.cost_minor).toBeGreaterThanOrEqual(50);
    }
    // And not in the file's bytes either (secure_delete, after a checkpoint of the WAL).
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    for (const f of [dbFile, `${dbFile}-wal`]) {
      if (!existsSync(f) || statSync(f).size === 0) continue;
      const bytes = readFileSync(f);
      for (const tag of TAGS) expect(bytes.includes(Buffer.from(tag)), `${tag} in the bytes of ${f}`).toBe(false);
    }
    // No log line carries an idTag.
    expect(logLines.length).toBeGreaterThan(20);
    for (const line of logLines) for (const tag of TAGS) expect(line.includes(tag), `${tag} in log: ${line.slice(0, 200)}`).toBe(false);
    // Exports carry the pseudonymous reference, the cost, and never the idTag.
    const json = (await run(process.execPath, [BIN, 'sessions', 'export', '--config', config, '--format', 'json'])).stdout;
    const csv = (await run(process.execPath, [BIN, 'sessions', 'export', '--config', config, '--format', 'csv'])).stdout;
    for (const tag of TAGS) {
      expect(json.includes(tag)).toBe(false);
      expect(csv.includes(tag)).toBe(false);
    }
    const exported = JSON.parse(json) as { customerRef: string; cost: string; currency: string; meterCurve: [string, number][]; energyWh: number }[];
    expect(exported).toHaveLength(3);
    for (const e of exported) {
      expect(e.meterCurve.length).toBeGreaterThanOrEqual(2);
      // 0.39 €/kWh + 0.50 € fee, exact to the cent.
      const expectedMinor = Math.floor((e.energyWh * 39 + 500) / 1000) + 50;
      expect(Math.round(Number(e.cost) * 100)).toBe(expectedMinor);
    }
    expect(csv.split('\n')[0]).toContain('customerRef');

    // Erasure by idTag: the customer's reference disappears from the records.
    const ref0 = exported[0]!.customerRef;
    const erase = (await run(process.execPath, [BIN, 'sessions', 'erase', '--config', config, '--id-tag', TAGS[0]!])).stdout;
    expect(erase).toContain(ref0);
    expect(erase).toMatch(/removed: the customer reference and idTag of 1 synced session/);
    const after = JSON.parse((await run(process.execPath, [BIN, 'sessions', 'export', '--config', config])).stdout) as { customerRef: string | null }[];
    expect(after.map((r) => r.customerRef)).not.toContain(ref0);
    expect(after.filter((r) => r.customerRef === null)).toHaveLength(1);
  });
});
