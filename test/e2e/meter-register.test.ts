/**
 * A simulated meter is as non-volatile as a real one: its register resumes after a restart at
 * the highest register the store recorded, even once retention has deleted the sessions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, SessionRecords } from '../../src/store/index.js';
import { silentLog } from '../../src/lib/log.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';

describe('simulated meter register across restarts', () => {
  let csms: TestCsms | undefined;
  let agent: TestAgent | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-register-'));

  afterEach(async () => {
    await agent?.cleanup();
    await csms?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never goes backwards: the next run starts at the last meterStop, also after retention deleted the sessions', async () => {
    csms = new TestCsms();
    const url = await csms.start();
    const session = async (n: number) => {
      // This run's boot and its three StatusNotifications after it: the last run's statuses (and
      // its client, still closing) must not pass for this run's.
      await waitFor(() => {
        const boot = csms!.callsOf('BootNotification')[n - 1];
        return csms!.clients.has(CP) && boot !== undefined && csms!.callsOf('StatusNotification').filter((c) => c.at >= boot.at).length >= 3;
      }, 10_000, 'boot');
      expect(await csms!.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Accepted' });
      const start = await waitFor(() => csms!.callsOf('StartTransaction')[n - 1], 10_000, 'StartTransaction');
      // Let it draw energy.
      await waitFor(() => csms!.callsOf('MeterValues').filter((c) => c.params.transactionId === n).length >= 2, 15_000, 'MeterValues');
      expect(await csms!.call(CP, 'RemoteStopTransaction', { transactionId: n })).toEqual({ status: 'Accepted' });
      const stop = await waitFor(() => csms!.callsOf('StopTransaction')[n - 1], 10_000, 'StopTransaction');
      expect(stop.params.meterStop).toBeGreaterThan(start.params.meterStart);
      return { meterStart: start.params.meterStart as number, meterStop: stop.params.meterStop as number };
    };
    agent = await startAgent(url, {}, { dir });
    const first = await session(1);
    await waitFor(() => {
      const db = openDatabase(join(dir, 'agent.db'), { log: silentLog });
      try {
        return new SessionRecords(db).get((db.prepare(`SELECT local_id FROM sessions`).get() as { local_id: string }).local_id)?.synced;
      } finally {
        db.close();
      }
    }, 10_000, 'the stop acknowledged');
    await agent.agent.stop();
    agent = undefined;
    // Retention: every synced session is deleted.
    const db = openDatabase(join(dir, 'agent.db'), { log: silentLog });
    expect(new SessionRecords(db).purge(Date.now() + 86_400_000).sessions).toBe(1);
    db.close();

    agent = await startAgent(url, {}, { dir });
    const second = await session(2);
    expect(second.meterStart).toBeGreaterThanOrEqual(first.meterStop);
  });
});
