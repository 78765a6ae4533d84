import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * Clock-aligned meter data (J01, AlignedDataCtrlr) against the strict 2.0.1 server: MeterValues
 * with context Sample.Clock for EVSEs without a transaction, TransactionEvent Updated
 * MeterValueClock inside one; the interval set by SetVariables takes effect at once.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('OCPP 2.0.1 clock-aligned meter values (J01)', () => {
  it('idle EVSEs send MeterValues Sample.Clock per AlignedDataCtrlr.Interval; in a transaction they go as TransactionEvent MeterValueClock; Interval 0 stops them', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    // No periodic samples: every Updated in the transaction below is a clock-aligned one or a change of charging state.
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 0, HeartbeatInterval: 300 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
    // Nothing clock-aligned while Interval is 0 (the default).
    expect(csms.callsOf('MeterValues', CP)).toEqual([]);

    const set = await csms.call(CP, 'SetVariables', { setVariableData: [
      { component: { name: 'AlignedDataCtrlr' }, variable: { name: 'Measurands' }, attributeValue: 'Energy.Active.Import.Register' },
      { component: { name: 'AlignedDataCtrlr' }, variable: { name: 'Interval' }, attributeValue: '1' },
    ] });
    expect(set.setVariableResult.map((r: { attributeStatus: string }) => r.attributeStatus)).toEqual(['Accepted', 'Accepted']);
    const mvOf = (evseId: number) => csms.callsOf('MeterValues', CP).filter((c) => c.params.evseId === evseId);
    await waitFor(() => mvOf(1).length >= 2 && mvOf(2).length >= 2, 15_000, 'clock-aligned MeterValues of both EVSEs');
    for (const c of csms.callsOf('MeterValues', CP)) {
      expect(c.params.meterValue).toHaveLength(1);
      expect(c.params.meterValue[0].sampledValue).toEqual([expect.objectContaining({ context: 'Sample.Clock', measurand: 'Energy.Active.Import.Register', value: expect.any(Number) })]);
    }

    // A transaction on EVSE 1: its clock-aligned values are TransactionEvent Updated MeterValueClock; EVSE 2 goes on with MeterValues.
    t.agent.sim.reader.present({ token: { id: 'CARD-ALIGNED', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => csms.callsOf('TransactionEvent', CP).some((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const mv1AtStart = mvOf(1).length;
    const mv2AtStart = mvOf(2).length;
    const clockEvents = () => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.triggerReason === 'MeterValueClock');
    await waitFor(() => clockEvents().length >= 2 && mvOf(2).length >= mv2AtStart + 2, 15_000, 'MeterValueClock events and EVSE 2 MeterValues');
    for (const c of clockEvents()) {
      expect(c.params.eventType).toBe('Updated');
      expect(c.params.meterValue[0].sampledValue).toEqual([expect.objectContaining({ context: 'Sample.Clock', measurand: 'Energy.Active.Import.Register' })]);
    }
    // At most one MeterValues of EVSE 1 raced the session's start; none once it ran.
    expect(mvOf(1).length).toBeLessThanOrEqual(mv1AtStart + 1);
    const events = csms.callsOf('TransactionEvent', CP).map((c) => c.params);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));

    // Interval 0: no more clock-aligned values, idle or in the transaction.
    expect((await csms.call(CP, 'SetVariables', { setVariableData: [{ component: { name: 'AlignedDataCtrlr' }, variable: { name: 'Interval' }, attributeValue: '0' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    // A clock-aligned read already under way may still land: let it, then count.
    await new Promise((r) => setTimeout(r, 1_500));
    const mvCount = csms.callsOf('MeterValues', CP).length;
    const clockCount = clockEvents().length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(csms.callsOf('MeterValues', CP).length).toBe(mvCount);
    expect(clockEvents().length).toBe(clockCount);
    expect(csms.validationFailures).toEqual([]);
  });

  it('Ended carries the clock-aligned values of AlignedDataCtrlr.TxEndedMeasurands taken during the transaction at its TxEndedInterval (Sample.Clock), and the sampled TxEndedMeasurands at its begin and end', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 0, HeartbeatInterval: 300 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    const set = await csms.call(CP, 'SetVariables', { setVariableData: [
      { component: { name: 'AlignedDataCtrlr' }, variable: { name: 'Interval' }, attributeValue: '1' },
      { component: { name: 'AlignedDataCtrlr' }, variable: { name: 'TxEndedMeasurands' }, attributeValue: 'Power.Active.Import' },
      { component: { name: 'AlignedDataCtrlr' }, variable: { name: 'TxEndedInterval' }, attributeValue: '1' },
      { component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxEndedMeasurands' }, attributeValue: 'Energy.Active.Import.Register' },
    ] });
    expect(set.setVariableResult.map((r: { attributeStatus: string }) => r.attributeStatus)).toEqual(['Accepted', 'Accepted', 'Accepted', 'Accepted']);
    const present = () => t.agent.sim.reader.present({ token: { id: 'CARD-TXENDED', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    present();
    await waitFor(() => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.triggerReason === 'MeterValueClock').length >= 2, 15_000, 'two clock-aligned values in the transaction');
    present();
    const ended = await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    const values = (ended.params.meterValue as any[]).flatMap((mv) => mv.sampledValue.map((v: any) => ({ at: mv.timestamp, context: v.context, measurand: v.measurand ?? 'Energy.Active.Import.Register' })));
    const clock = values.filter((v) => v.context === 'Sample.Clock');
    expect(clock.length).toBeGreaterThanOrEqual(2);
    expect(clock.every((v) => v.measurand === 'Power.Active.Import')).toBe(true);
    expect(values.filter((v) => v.context === 'Transaction.Begin').map((v) => v.measurand)).toEqual(['Energy.Active.Import.Register']);
    expect(values.some((v) => v.context === 'Transaction.End' && v.measurand === 'Energy.Active.Import.Register')).toBe(true);
    // In time order.
    const times = (ended.params.meterValue as any[]).map((mv) => Date.parse(mv.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(csms.validationFailures).toEqual([]);
  });
});

