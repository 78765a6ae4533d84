import { describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { freePort } from '../helpers/mosquitto.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const TWO_HOURS = 2 * 3_600_000;

describe('time before the clock is set (R9)', () => {
  it('re-times events recorded on an untrusted clock once the central system sets it, keeping their order', async () => {
    const port = await freePort();
    // The central system is not there yet: the agent starts with a clock nobody has confirmed.
    const t = await startAgent(`ws://127.0.0.1:${port}/ocpp`, { ocpp: { AllowOfflineTxForUnknownId: true, MeterValueSampleInterval: 1 } });
    const csms = new TestCsms();
    try {
      const cp = t.agent.chargePoint!;
      expect(t.agent.clock.trusted()).toBe(false);
      const startedLocal = Date.now();
      t.agent.sim.reader.present({ token: { id: 'EARLY-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'charging offline');
      await new Promise((r) => setTimeout(r, 1_500));
      t.agent.sim.reader.present({ token: { id: 'EARLY-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await waitFor(() => !cp.session(1), 10_000, 'stopped');
      const stoppedLocal = Date.now();

      // The central system's time is two hours ahead of this machine's.
      const now = () => new Date(Date.now() + TWO_HOURS).toISOString();
      csms.on('BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: 300 }));
      csms.on('Heartbeat', () => ({ currentTime: now() }));
      await csms.start(port);
      await waitFor(() => csms.callsOf('StopTransaction').length === 1, 20_000, 'the offline session delivered');
      expect(t.agent.clock.trusted()).toBe(true);

      const start = Date.parse(csms.callsOf('StartTransaction')[0]!.params.timestamp);
      const stop = Date.parse(csms.callsOf('StopTransaction')[0]!.params.timestamp);
      // Each event carries its own time on the central system's clock, not this machine's.
      expect(start).toBeGreaterThanOrEqual(startedLocal + TWO_HOURS - 1_000);
      expect(start).toBeLessThanOrEqual(stoppedLocal + TWO_HOURS);
      expect(stop).toBeGreaterThan(start);
      expect(stop).toBeLessThanOrEqual(stoppedLocal + TWO_HOURS + 1_000);
      const meters = csms.callsOf('MeterValues').flatMap((c) => c.params.meterValue as { timestamp: string }[]).map((m) => Date.parse(m.timestamp));
      expect(meters.length).toBeGreaterThanOrEqual(1);
      for (const m of meters) {
        expect(m).toBeGreaterThanOrEqual(start);
        expect(m).toBeLessThanOrEqual(stop);
      }
      // The ledger agrees, and marks the times as corrected.
      const rec = t.agent.ledger!.recent(1)[0]!;
      expect(Math.abs(rec.startedAt - start)).toBeLessThan(5);
      expect(rec.startClockTrusted).toBe(true);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });
});
