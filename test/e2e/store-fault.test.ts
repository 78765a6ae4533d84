import { describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

describe('a stop that cannot be written', () => {
  it('is kept, the charge point is Faulted meanwhile, and the stop is recorded and delivered once the store takes writes again', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const t = await startAgent(url);
    try {
      const cp = t.agent.chargePoint!;
      await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
      await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'FULLDISK1' });
      await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'charging');
      const txId = await waitFor(() => t.agent.ledger!.get(cp.session(1)!.localId)?.transactionId, 10_000, 'transactionId');
      // The disk refuses the next write of the ledger (as SQLite does when the disk is full).
      const ledger = t.agent.ledger!;
      const close = ledger.close.bind(ledger);
      let refusals = 0;
      ledger.close = (...args) => {
        if (refusals++ === 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        return close(...args);
      };
      await csms.call('CP-TEST-1', 'RemoteStopTransaction', { transactionId: txId });
      await waitFor(() => toV16Status(cp.stationCondition()) === 'Faulted' || toV16Status(cp.evseCondition(1)) === 'Faulted', 10_000, 'Faulted while the stop is unrecorded');
      // The store probe finds the store writable, the stop is recorded, delivered, and the fault clears.
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 15_000, 'StopTransaction');
      expect(stop.params).toMatchObject({ transactionId: txId, reason: 'Remote' });
      expect(refusals).toBe(2);
      await waitFor(() => toV16Status(cp.evseCondition(1)) !== 'Faulted', 10_000, 'fault cleared');
      expect(t.agent.ledger!.active()).toHaveLength(0);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });
});
