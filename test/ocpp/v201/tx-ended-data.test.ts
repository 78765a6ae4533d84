import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { ChildAgent } from '../../helpers/child-agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * SampledDataCtrlr.TxEndedInterval / TxEndedMeasurands and AlignedDataCtrlr.TxEndedInterval /
 * TxEndedMeasurands (J02, E06) against the strict 2.0.1 server: the Ended carries the values
 * sampled during the transaction at those intervals (Sample.Periodic, Sample.Clock) between its
 * Transaction.Begin and Transaction.End, even when none was sent as it was taken (TxUpdatedInterval
 * and AlignedDataCtrlr.Interval 0), and they survive a kill -9 (kept in SQLite with the session).
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const setVars = async (csms: TestCsms, cp: string, vars: [string, string, string][]): Promise<string[]> =>
  (await csms.call(cp, 'SetVariables', { setVariableData: vars.map(([component, variable, attributeValue]) => ({ component: { name: component }, variable: { name: variable }, attributeValue })) }))
    .setVariableResult.map((r: { attributeStatus: string }) => r.attributeStatus);

/** The Ended's values flattened: time, context, measurand. */
const valuesOf = (ended: any) => (ended.meterValue as any[]).flatMap((mv) => mv.sampledValue.map((v: any) => ({ at: Date.parse(mv.timestamp), context: v.context, measurand: v.measurand ?? 'Energy.Active.Import.Register' })));

describe('OCPP 2.0.1 TxEndedInterval', () => {
  it('the Ended carries periodic values at SampledDataCtrlr.TxEndedInterval and clock-aligned ones at AlignedDataCtrlr.TxEndedInterval, none sent before; 0 gives Begin and End only', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 0, HeartbeatInterval: 300 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    expect(await setVars(csms, CP, [
      ['SampledDataCtrlr', 'TxEndedInterval', '1'], ['SampledDataCtrlr', 'TxEndedMeasurands', 'Energy.Active.Import.Register'],
      ['AlignedDataCtrlr', 'TxEndedInterval', '2'], ['AlignedDataCtrlr', 'TxEndedMeasurands', 'Power.Active.Import'], ['AlignedDataCtrlr', 'Interval', '0'],
    ])).toEqual(['Accepted', 'Accepted', 'Accepted', 'Accepted', 'Accepted']);
    const present = () => t.agent.sim.reader.present({ token: { id: 'CARD-TXENDED-INT', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    present();
    await waitFor(() => csms.callsOf('TransactionEvent', CP).some((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const localId = t.agent.chargePoint!.session(1)!.localId;
    // Wait on the store, not the clock: five periodic samples, and clock-aligned ones in two 2 s slots
    // (the Ended keeps one per slot: on a busy machine two samples can land in the same slot).
    const count = (context: string) => (t.agent.db!.prepare(`SELECT COUNT(*) AS n FROM meter_samples WHERE local_id = ? AND context = ?`).get(localId, context) as { n: number }).n;
    const clockSlots = () => (t.agent.db!.prepare(`SELECT COUNT(DISTINCT taken_at / 2000) AS n FROM meter_samples WHERE local_id = ? AND context = 'Sample.Clock'`).get(localId) as { n: number }).n;
    await waitFor(() => count('Sample.Periodic') >= 5 && clockSlots() >= 2, 20_000, 'samples for the Ended');
    present();
    const ended = (await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended')).params;
    // Nothing periodic or clock-aligned went as it was taken (only a change of charging state may have).
    const updated = csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Updated').map((c) => c.params.triggerReason);
    expect(updated.every((r: string) => r === 'ChargingStateChanged')).toBe(true);
    const values = valuesOf(ended);
    expect(values[0]).toMatchObject({ context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register' });
    expect(values.at(-1)).toMatchObject({ context: 'Transaction.End', measurand: 'Energy.Active.Import.Register' });
    const periodic = values.filter((v) => v.context === 'Sample.Periodic');
    expect(periodic.length).toBeGreaterThanOrEqual(4);
    expect(periodic.every((v) => v.measurand === 'Energy.Active.Import.Register')).toBe(true);
    // At the interval: never two within 0.9 s.
    expect(periodic.slice(1).every((v, i) => v.at - periodic[i]!.at >= 900)).toBe(true);
    const clock = values.filter((v) => v.context === 'Sample.Clock');
    expect(clock.length).toBeGreaterThanOrEqual(2);
    expect(clock.every((v) => v.measurand === 'Power.Active.Import')).toBe(true);
    // One per 2 s aligned slot.
    expect(new Set(clock.map((v) => Math.floor(v.at / 2_000))).size).toBe(clock.length);
    const times = (ended.meterValue as any[]).map((mv) => Date.parse(mv.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // Both intervals 0: the next transaction's Ended has its Begin and End only.
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'delivered');
    t.agent.sim.connectors.get(1)!.unplug();
    await waitFor(() => t.agent.chargePoint!.evseCondition(1).chargingState === 'Idle', 10_000, 'unplugged');
    expect(await setVars(csms, CP, [['SampledDataCtrlr', 'TxEndedInterval', '0'], ['AlignedDataCtrlr', 'TxEndedInterval', '0']])).toEqual(['Accepted', 'Accepted']);
    const endedBefore = csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Ended').length;
    present();
    await waitFor(() => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Started').length === 2, 10_000, 'second Started');
    // Charging: a stored sample of the Periodic context exists (the change), which interval 0 leaves out.
    const secondId = (await waitFor(() => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Started')[1], 1_000, 'second Started')).params.transactionInfo.transactionId;
    await waitFor(() => csms.callsOf('TransactionEvent', CP).some((c) => c.params.transactionInfo.transactionId === secondId && c.params.triggerReason === 'ChargingStateChanged'), 15_000, 'charging');
    present();
    const ended2 = (await waitFor(() => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Ended')[endedBefore], 10_000, 'second Ended')).params;
    // (The End sample of TxEndedMeasurands and the meterStop register are both Transaction.End.)
    expect([...new Set(valuesOf(ended2).map((v) => v.context))]).toEqual(['Transaction.Begin', 'Transaction.End']);
    expect(csms.validationFailures).toEqual([]);
  });

  it('kill -9 mid-transaction: the Ended after the restart (PowerLoss) carries the periodic values recorded before the kill', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const child = new ChildAgent({
      url, chargePointId: 'CP-TXENDED-KILL', csms: { ocppVersions: ['ocpp2.0.1'] },
      ocpp: { MeterValueSampleInterval: 0 }, session: { meterPollIntervalMs: 100, checkpointIntervalMs: 1000 }, simulation: { arrivalDelayMs: 30, seed: 5 },
    });
    cleanups.push(() => child.cleanup());
    child.start();
    await waitFor(() => csms.clients.has('CP-TXENDED-KILL') && csms.callsOf('StatusNotification', 'CP-TXENDED-KILL').length >= 2, 20_000, 'boot');
    expect(await setVars(csms, 'CP-TXENDED-KILL', [['SampledDataCtrlr', 'TxEndedInterval', '1']])).toEqual(['Accepted']);
    const start = await csms.call('CP-TXENDED-KILL', 'RequestStartTransaction', { remoteStartId: 7, idToken: { idToken: 'APP-TXENDED', type: 'Central' }, evseId: 1 });
    expect(start.status).toBe('Accepted');
    await waitFor(() => csms.callsOf('TransactionEvent', 'CP-TXENDED-KILL').some((c) => c.params.eventType === 'Started'), 15_000, 'Started');
    const periodicStored = (): number => {
      const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM meter_samples WHERE context = 'Sample.Periodic'`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    await waitFor(() => periodicStored() >= 4, 20_000, 'four periodic samples stored');
    await child.kill9();
    const stored = periodicStored();

    child.start();
    const ended = (await waitFor(() => csms.callsOf('TransactionEvent', 'CP-TXENDED-KILL').find((c) => c.params.eventType === 'Ended'), 20_000, 'Ended after the restart')).params;
    expect(ended.transactionInfo.stoppedReason).toBe('PowerLoss');
    const periodic = valuesOf(ended).filter((v) => v.context === 'Sample.Periodic');
    // Every one stored before the kill, but one the 1 s spacing drops (the charging state change's sample, taken between two periodic ones, is stored as periodic too).
    expect(periodic.length).toBeGreaterThanOrEqual(stored - 1);
    const contexts = valuesOf(ended).map((v) => v.context);
    expect(contexts[0]).toBe('Transaction.Begin');
    expect(contexts.at(-1)).toBe('Transaction.End');
    const events = csms.callsOf('TransactionEvent', 'CP-TXENDED-KILL').map((c) => c.params);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    expect(csms.validationFailures).toEqual([]);
  });
});
