/**
 * kill -9 of the agent (a child process) at random instants during sessions (DOMAIN.md R5, R10):
 * the store stays intact, and every session in the ledger reaches the central system as
 * exactly one StartTransaction and one StopTransaction with its real transactionId, energy
 * matching the ledger. Sessions open at a kill are closed at restart with reason PowerLoss.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ChildAgent } from '../helpers/child-agent.js';
import { runKillStorm } from '../helpers/kill-storm.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CYCLES = Number(process.env.KILL9_CYCLES ?? 50);

describe('kill -9 storm', () => {
  it(`survives ${CYCLES} kill -9 cycles without losing or duplicating a transaction`, async () => {
    const seed = Number(process.env.KILL9_SEED ?? Date.now() % 1_000_000);
    const r = await runKillStorm({ cycles: CYCLES, seed, killAfterMs: { min: 50, max: 1_200 } });
    const summary = {
      seed, cycles: r.cycles, elapsedMs: r.elapsedMs, sessions: r.sessions.length, killsDuringSession: r.killsDuringSession,
      powerLoss: r.sessions.filter((s) => s.stop_reason === 'PowerLoss').length, redeliveries: r.redeliveries,
    };
    console.info('kill -9 storm', summary);
    expect(r.integrityFailures, r.stderr.slice(-2000)).toEqual([]);
    // Enough happened to mean something: sessions ran, and kills cut some of them.
    expect(r.sessions.length).toBeGreaterThanOrEqual(10);
    expect(r.killsDuringSession).toBeGreaterThan(0);
    expect(r.sessions.some((s) => s.stop_reason === 'PowerLoss')).toBe(true);
    expect(r.sessions.some((s) => s.stop_reason === 'Remote')).toBe(true);
    // Every session closed and delivered; nothing dead-lettered, nothing left queued.
    expect(r.sessions.every((s) => s.stopped_at !== null && s.meter_stop_wh !== null)).toBe(true);
    expect(r.deadLetters).toBe(0);
    expect(r.queuedLeft).toBe(0);
    // Per ledger session: one distinct Start, one distinct Stop on its transactionId, no -1,
    // energy as in the ledger; no transaction at the central system the ledger does not know.
    expect(r.sessionsLost).toBe(0);
    expect(r.duplicates).toBe(0);
    expect(r.badTransactionIds).toBe(0);
    expect(r.energyMismatches).toBe(0);
    expect(r.reasonMismatches).toBe(0);
    expect(r.orphans).toBe(0);
    // Every energy value the central system received lies within its transaction's
    // [meterStart, meterStop]; no meter register goes backwards from one session to the next.
    expect(r.metersOutOfRange).toEqual([]);
    expect(r.registerBackwards).toEqual([]);
    expect(new Set(r.sessions.map((s) => s.transaction_id)).size).toBe(r.sessions.length);
  }, 240_000);
});

describe('kill -9 in the middle of a session', () => {
  it('closes the session PowerLoss at the last checkpoint after the restart and delivers one StopTransaction with it', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    let nextTx = 1;
    csms.on('StartTransaction', () => ({ transactionId: nextTx++, idTagInfo: { status: 'Accepted' } }));
    const child = new ChildAgent({
      url, chargePointId: 'CP-KILL-2',
      ocpp: { MeterValueSampleInterval: 1, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1 },
      session: { meterPollIntervalMs: 100, checkpointIntervalMs: 1000 },
      simulation: { arrivalDelayMs: 30, seed: 3 },
    });
    try {
      child.start();
      await waitFor(() => csms.clients.has('CP-KILL-2') && csms.callsOf('StatusNotification').length >= 3, 15_000, 'boot');
      await csms.call('CP-KILL-2', 'RemoteStartTransaction', { idTag: 'APP-1', connectorId: 1 });
      const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
      // Charge past a few checkpoints, then cut the power.
      await waitFor(() => csms.callsOf('MeterValues').length >= 3, 10_000, 'three MeterValues');
      await child.kill9();
      const db0 = new Database(child.storePath, { readonly: true, fileMustExist: true });
      const before = db0.prepare(`SELECT local_id, last_energy_wh, meter_start_wh FROM sessions`).get() as { local_id: string; last_energy_wh: number; meter_start_wh: number };
      db0.close();
      expect(before.last_energy_wh).toBeGreaterThan(before.meter_start_wh);

      child.start();
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 15_000, 'StopTransaction after the restart');
      expect(stop.params.transactionId).toBe(1);
      expect(stop.params.reason).toBe('PowerLoss');
      expect(Number.isInteger(stop.params.meterStop)).toBe(true);
      // The last persisted energy, not meterStart (the "meterStop = meterStart after a power cut" failure).
      expect(stop.params.meterStop).toBeGreaterThan(start.params.meterStart);
      expect(Math.abs(stop.params.meterStop - before.last_energy_wh)).toBeLessThan(1);
      await waitFor(() => {
        const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
        try {
          return (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state != 'acked'`).get() as { n: number }).n === 0;
        } finally {
          db.close();
        }
      }, 10_000, 'the outbox to drain, nothing dead-lettered');
      expect(csms.callsOf('StartTransaction')).toHaveLength(1);
      expect(csms.callsOf('StopTransaction')).toHaveLength(1);
    } finally {
      await child.cleanup();
      await csms.stop();
    }
  });
});

/** Energy values (Wh) of a MeterValue list, as the central system received them. */
function energyValues(meterValue: any[] | undefined): number[] {
  const out: number[] = [];
  for (const mv of meterValue ?? []) {
    for (const sv of mv.sampledValue ?? []) {
      if ((sv.measurand ?? 'Energy.Active.Import.Register') === 'Energy.Active.Import.Register') out.push(Number(sv.value) * (sv.unit === 'kWh' ? 1000 : 1));
    }
  }
  return out;
}

describe('kill -9 between checkpoints', () => {
  it('closes the session at no less than the highest reading already sent, and the next session starts at no less than that', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const child = new ChildAgent({
      url, chargePointId: 'CP-KILL-3',
      ocpp: { MeterValueSampleInterval: 1, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1 },
      // The default checkpoint cadence (10 s): the kill falls before the first checkpoint.
      session: { meterPollIntervalMs: 200, checkpointIntervalMs: 10_000 },
      simulation: { arrivalDelayMs: 30, seed: 5 },
    });
    try {
      child.start();
      await waitFor(() => csms.clients.has('CP-KILL-3') && csms.callsOf('StatusNotification').length >= 3, 15_000, 'boot');
      await csms.call('CP-KILL-3', 'RemoteStartTransaction', { idTag: 'APP-1', connectorId: 1 });
      const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
      const meterStart = start.params.meterStart as number;
      // Periodic samples above meterStart reached the central system: energy was drawn.
      await waitFor(() => csms.callsOf('MeterValues').filter((c) => energyValues(c.params.meterValue).some((v) => v > meterStart)).length >= 2, 15_000, 'two MeterValues above meterStart');
      await child.kill9();
      const sentBefore = Math.max(...csms.callsOf('MeterValues').flatMap((c) => energyValues(c.params.meterValue)));
      expect(sentBefore).toBeGreaterThan(meterStart);

      child.start();
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 15_000, 'StopTransaction after the restart');
      expect(stop.params.reason).toBe('PowerLoss');
      // Never below a value the central system already has for this transaction.
      expect(stop.params.meterStop).toBeGreaterThanOrEqual(Math.round(sentBefore));
      for (const v of energyValues(stop.params.transactionData)) expect(v).toBeLessThanOrEqual(stop.params.meterStop);
      for (const c of csms.callsOf('MeterValues')) for (const v of energyValues(c.params.meterValue)) {
        expect(v).toBeGreaterThanOrEqual(meterStart);
        expect(v).toBeLessThanOrEqual(stop.params.meterStop);
      }

      // The meter register never goes backwards: the next session on this connector, in the
      // restarted process, starts at or above the last stop.
      const deadline = Date.now() + 15_000;
      while ((await csms.call('CP-KILL-3', 'RemoteStartTransaction', { idTag: 'APP-2', connectorId: 1 })).status !== 'Accepted') {
        if (Date.now() > deadline) throw new Error('connector 1 never took a second session');
        await new Promise((r) => setTimeout(r, 100));
      }
      const second = await waitFor(() => csms.callsOf('StartTransaction')[1], 10_000, 'the second StartTransaction');
      expect(second.params.connectorId).toBe(1);
      expect(second.params.meterStart).toBeGreaterThanOrEqual(stop.params.meterStop);
    } finally {
      await child.cleanup();
      await csms.stop();
    }
  });
});

describe('kill -9 after a triggered MeterValues', () => {
  it('closes the session at no less than the triggered value the central system received', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const child = new ChildAgent({
      url, chargePointId: 'CP-KILL-4',
      // No periodic samples, the default 10 s checkpoint: the triggered value is the only one above meterStart.
      ocpp: { MeterValueSampleInterval: 0, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1 },
      session: { meterPollIntervalMs: 200, checkpointIntervalMs: 10_000 },
      simulation: { arrivalDelayMs: 30, seed: 9 },
    });
    try {
      child.start();
      await waitFor(() => csms.clients.has('CP-KILL-4') && csms.callsOf('StatusNotification').length >= 3, 15_000, 'boot');
      await csms.call('CP-KILL-4', 'RemoteStartTransaction', { idTag: 'APP-1', connectorId: 1 });
      const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
      const meterStart = start.params.meterStart as number;
      await waitFor(() => csms.callsOf('StatusNotification').some((c) => c.params.connectorId === 1 && c.params.status === 'Charging'), 10_000, 'Charging');
      // Trigger until a value above meterStart has been received.
      let triggered = 0;
      const deadline = Date.now() + 15_000;
      while (triggered <= meterStart) {
        if (Date.now() > deadline) throw new Error('no triggered MeterValues above meterStart');
        const n = csms.callsOf('MeterValues').length;
        expect(await csms.call('CP-KILL-4', 'TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 })).toEqual({ status: 'Accepted' });
        const mv = await waitFor(() => csms.callsOf('MeterValues')[n], 10_000, 'the triggered MeterValues');
        expect(mv.params.transactionId).toBe(1);
        triggered = Math.max(...energyValues(mv.params.meterValue));
        if (triggered <= meterStart) await new Promise((r) => setTimeout(r, 300));
      }
      await child.kill9();
      child.start();
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 15_000, 'StopTransaction after the restart');
      expect(stop.params.reason).toBe('PowerLoss');
      expect(stop.params.meterStop).toBeGreaterThanOrEqual(triggered);
    } finally {
      await child.cleanup();
      await csms.stop();
    }
  });
});
