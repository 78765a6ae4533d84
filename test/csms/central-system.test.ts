import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralSystem, type CentralSystemOptions } from '../../src/csms/central-system.js';
import { CsmsStore } from '../../src/csms/csms-store.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/ocpp-server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/evse-edge.js');

interface Call {
  chargePointId: string;
  action: string;
  params: any;
}

describe('the embedded central system with a real agent', () => {
  let dir: string;
  let csms: CentralSystem | undefined;
  let calls: Call[];
  let agents: TestAgent[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'evse-edge-csms-'));
    calls = [];
    agents = [];
  });

  afterEach(async () => {
    for (const a of agents) await a.cleanup();
    await csms?.close();
    csms = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function startCsms(opts: Partial<CentralSystemOptions> = {}): Promise<string> {
    csms = new CentralSystem({ port: 0, dbPath: join(dir, 'csms.db'), log: createLog(new MemorySink('error')), ...opts });
    csms.on('call', (c) => calls.push(c as Call));
    const port = await csms.listen();
    return `ws://127.0.0.1:${port}/ocpp`;
  }

  async function agentOn(url: string, chargePointId = 'CP-TEST-1', overrides: Record<string, unknown> = {}): Promise<TestAgent> {
    const a = await startAgent(url, { chargePointId, ...overrides });
    agents.push(a);
    await waitFor(() => a.agent.link?.state === 'accepted', 10_000, `${chargePointId} accepted`);
    return a;
  }

  const of = (action: string, cp = 'CP-TEST-1') => calls.filter((c) => c.action === action && c.chargePointId === cp);

  /** Present a card; resolves with 'started' or the refusal status. */
  function present(a: TestAgent, idTag: string, connectorId: number): Promise<string> {
    const cp = a.agent.chargePoint!;
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no decision for ${idTag}`)), 10_000);
      const done = (v: string) => {
        clearTimeout(timer);
        cp.off('auth-refused', onRefused);
        cp.off('session-started', onStarted);
        resolvePromise(v);
      };
      const onRefused = (e: { evseId?: number; status: string }) => e.evseId === connectorId && done(e.status);
      const onStarted = (e: { evseId: number }) => e.evseId === connectorId && done('started');
      cp.on('auth-refused', onRefused);
      cp.on('session-started', onStarted);
      a.agent.sim.reader.present({ token: { id: idTag, type: 'ISO14443' }, method: 'rfid', evseId: connectorId });
    });
  }

  it('idTag decisions follow its list: DEMO tags and --id-tag ones accepted, BLOCKED1 blocked, unknown invalid', async () => {
    const url = await startCsms({ idTags: ['EXTRA001'] });
    const a = await agentOn(url);
    expect(await present(a, 'BLOCKED1', 1)).toBe('Blocked');
    expect(await present(a, 'UNKNOWN1', 1)).toBe('Invalid');
    expect(await present(a, 'DEMO0001', 1)).toBe('started');
    expect(await present(a, 'EXTRA001', 2)).toBe('started');
    expect(of('Authorize').map((c) => c.params.idTag)).toEqual(['BLOCKED1', 'UNKNOWN1', 'DEMO0001', 'EXTRA001']);
    await waitFor(() => csms!.store.transactions().length === 2, 10_000, 'two transactions');
    expect(csms!.store.transactions().map((t) => t.idTag)).toEqual(['DEMO0001', 'EXTRA001']);
  });

  it('acceptUnknownIdTags accepts any tag except a blocked one', async () => {
    const url = await startCsms({ acceptUnknownIdTags: true });
    const a = await agentOn(url);
    expect(await present(a, 'BLOCKED1', 1)).toBe('Blocked');
    expect(await present(a, 'ANYONE01', 1)).toBe('started');
  });

  it('a remote start for a tag it does not know: StartTransaction.conf Invalid, the agent stops DeAuthorized', async () => {
    const url = await startCsms();
    const a = await agentOn(url);
    expect(await csms!.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'STRANGER' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms!.store.transactions()[0]?.stopReason, 10_000, 'stopped');
    expect(csms!.store.transactions()[0]).toMatchObject({ idTag: 'STRANGER', stopReason: 'DeAuthorized', chargePointId: 'CP-TEST-1' });
    await waitFor(() => !a.agent.chargePoint!.session(1), 5_000, 'session closed');
  });

  it('records sessions with increasing transactionIds across connectors and chargers; lists them on the CLI', async () => {
    const url = await startCsms({ heartbeatIntervalS: 120 });
    const a = await agentOn(url, 'CP-TEST-1', { simulation: { departureDelayMs: 50 } });
    const b = await agentOn(url, 'CP-TEST-2', { simulation: { departureDelayMs: 50 } });
    // BootNotification.conf interval becomes HeartbeatInterval.
    expect(a.agent.settings!.int('HeartbeatInterval')).toBe(120);

    // A card session on CP-TEST-1 connector 1, an app session on connector 2, a card session on CP-TEST-2.
    expect(await present(a, 'DEMO0001', 1)).toBe('started');
    expect(await csms!.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 2, idTag: 'DEMO0002' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms!.store.transactions('CP-TEST-1').length === 2, 10_000, 'two starts');
    expect(await present(b, 'DEMO0001', 1)).toBe('started');
    await waitFor(() => csms!.store.transactions().length === 3, 10_000, 'three starts');
    const ids = csms!.store.transactions().map((t) => t.transactionId);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(3);

    // Let them charge long enough for periodic MeterValues, then stop: card, remote, card.
    await waitFor(() => csms!.store.transactions().every((t) => t.meterValueCount >= 2), 15_000, 'meter values');
    a.agent.sim.reader.present({ token: { id: 'DEMO0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const appTx = csms!.store.transactions('CP-TEST-1').find((t) => t.connectorId === 2)!.transactionId;
    expect(await csms!.call('CP-TEST-1', 'RemoteStopTransaction', { transactionId: appTx })).toEqual({ status: 'Accepted' });
    b.agent.sim.reader.present({ token: { id: 'DEMO0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => csms!.store.transactions().every((t) => t.stoppedAt), 10_000, 'all stopped');

    const rows = csms!.store.transactions();
    for (const t of rows) {
      expect(t.meterStop!).toBeGreaterThan(t.meterStart);
      expect(t.energyWh).toBe(t.meterStop! - t.meterStart);
      expect(t.meterValueCount).toBeGreaterThanOrEqual(2);
      expect(Date.parse(t.stoppedAt!)).toBeGreaterThan(Date.parse(t.startedAt));
    }
    expect(rows.map((t) => [t.chargePointId, t.connectorId, t.idTag, t.stopReason])).toEqual([
      ['CP-TEST-1', 1, 'DEMO0001', 'Local'],
      ['CP-TEST-1', 2, 'DEMO0002', 'Remote'],
      ['CP-TEST-2', 1, 'DEMO0001', 'Local'],
    ]);
    // The meter curve is kept, not only the total.
    const curve = csms!.store.meterValues(rows[0]!.transactionId);
    expect(curve.length).toBe(rows[0]!.meterValueCount);
    // Connector statuses are tracked.
    await waitFor(() => csms!.store.statuses('CP-TEST-1').every((s) => s.status === 'Available'), 10_000, 'available');
    expect(csms!.store.statuses('CP-TEST-1').map((s) => s.connectorId)).toEqual([0, 1, 2]);

    // The CLI lists them from the database file (while the central system still runs: WAL).
    const dbFile = join(dir, 'csms.db');
    const table = await run(['csms', 'sessions', '--db', dbFile]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^tx\s+charge point\s+conn\s+started\s+stopped\s+Wh\s+reason\s+meter values$/);
    expect(lines).toHaveLength(2 + rows.length);
    for (const [i, t] of rows.entries()) {
      const cells = lines[2 + i]!.split(/\s{2,}/);
      expect(cells[0]).toBe(String(t.transactionId));
      expect(cells[1]).toBe(t.chargePointId);
      expect(lines[2 + i]).toContain(t.stopReason!);
      expect(lines[2 + i]).toContain(String(t.energyWh));
    }
    const json = await run(['csms', 'sessions', '--db', dbFile, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(rows);
  });

  it('pendingBoots: the first BootNotification is answered Pending, then Accepted', async () => {
    const url = await startCsms({ pendingBoots: 1 });
    const a = await startAgent(url);
    agents.push(a);
    await waitFor(() => a.agent.link?.state === 'pending', 10_000, 'pending');
    await waitFor(() => of('StatusNotification').length >= 3, 10_000, 'statuses after Accepted');
    expect(of('BootNotification')).toHaveLength(2);
    const firstOther = calls.findIndex((c) => c.action !== 'BootNotification');
    expect(firstOther).toBeGreaterThanOrEqual(2);
  });

  it('a repeated StartTransaction (a retry after a lost answer) gets the same transactionId', () => {
    const store = new CsmsStore(join(dir, 'store.db'));
    try {
      const t1 = store.startTransaction('CP-X', 1, 'DEMO0001', 1000, '2026-01-01T00:00:00.000Z');
      const again = store.startTransaction('CP-X', 1, 'DEMO0001', 1000, '2026-01-01T00:00:00.000Z');
      const t2 = store.startTransaction('CP-X', 1, 'DEMO0001', 1500, '2026-01-01T01:00:00.000Z');
      expect(again).toBe(t1);
      expect(t2).toBeGreaterThan(t1);
      expect(store.stopTransaction('CP-X', t1, 1400, '2026-01-01T00:30:00.000Z', 'Local')).toBe(true);
      // The same stop again is idempotent; a different one for a stopped transaction is refused.
      expect(store.stopTransaction('CP-X', t1, 1400, '2026-01-01T00:30:00.000Z', 'Local')).toBe(true);
      expect(store.stopTransaction('CP-X', t1, 1450, '2026-01-01T00:31:00.000Z', 'Local')).toBe(false);
      expect(store.stopTransaction('CP-Y', t2, 1600, '2026-01-01T01:30:00.000Z', 'Local')).toBe(false);
    } finally {
      store.close();
    }
  });

  it('call() to a charger that is not connected fails clearly', async () => {
    await startCsms();
    await expect(csms!.call('CP-NOBODY', 'ClearCache', {})).rejects.toThrow(/not connected/);
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
