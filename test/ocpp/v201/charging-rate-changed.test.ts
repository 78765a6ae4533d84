/**
 * OCPP 2.0.1: a TransactionEvent Updated with triggerReason ChargingRateChanged when the limit
 * applied to a running transaction changes (a TxProfile set, then cleared: K01), once per change
 * and never on the periodic samples in between; a change smaller than
 * SmartChargingCtrlr.LimitChangeSignificance sends none. Against the strict 2.0.1 server, the
 * simulated EV following the limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const past = () => new Date(Date.now() - 60_000).toISOString();
const profile = (id: number, purpose: string, limit: number, extra: Record<string, unknown> = {}) => ({
  id, stackLevel: 0, chargingProfilePurpose: purpose, chargingProfileKind: 'Absolute',
  chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
  ...extra,
});

describe('OCPP 2.0.1 TransactionEvent ChargingRateChanged', () => {
  it('one Updated with ChargingRateChanged per change of the limit in force (TxProfile set, cleared), none on the periodic samples, none below LimitChangeSignificance', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, {
      csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
      ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300 },
    });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const updated = (): RecordedCall[] => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Updated');
    const rateChanges = () => updated().filter((c) => c.params.triggerReason === 'ChargingRateChanged');
    /** Wait until `n` more periodic Updated events have arrived (the meter loop kept sampling). */
    const periodic = async (n: number) => {
      const from = updated().filter((c) => c.params.triggerReason === 'MeterValuePeriodic').length;
      await waitFor(() => updated().filter((c) => c.params.triggerReason === 'MeterValuePeriodic').length >= from + n, 20_000, `${n} periodic samples`);
    };

    // 8 A for every transaction, then a transaction: its first limit is no change.
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'TxDefaultProfile', 8) })).toEqual({ status: 'Accepted' });
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'RATE001', type: 'Central' }, evseId: 1, remoteStartId: 7 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const transactionId = started.params.transactionInfo.transactionId as string;
    await periodic(2);
    expect(rateChanges()).toEqual([]);

    // A TxProfile of 6 A: one ChargingRateChanged, for this transaction, with the sample taken then.
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(20, 'TxProfile', 6, { stackLevel: 1 }), transactionId } })).toEqual({ status: 'Accepted' });
    const first = await waitFor(() => rateChanges()[0], 10_000, 'ChargingRateChanged');
    expect(first.params).toMatchObject({ eventType: 'Updated', triggerReason: 'ChargingRateChanged', transactionInfo: { transactionId } });
    expect(first.params.meterValue?.[0]?.sampledValue?.length).toBeGreaterThan(0);
    await periodic(3);
    expect(rateChanges()).toHaveLength(1);

    // Cleared: back to the default's 8 A, one more.
    expect(await call('ClearChargingProfile', { chargingProfileId: 20 })).toEqual({ status: 'Accepted' });
    await waitFor(() => rateChanges()[1], 10_000, 'second ChargingRateChanged');
    await periodic(3);
    expect(rateChanges()).toHaveLength(2);

    // LimitChangeSignificance 0.5: 8 A to 7 A (12.5 %) is no significant change.
    expect((await call('SetVariables', { setVariableData: [{ component: { name: 'SmartChargingCtrlr' }, variable: { name: 'LimitChangeSignificance' }, attributeValue: '0.5' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(21, 'TxProfile', 7, { stackLevel: 1 }), transactionId } })).toEqual({ status: 'Accepted' });
    await periodic(3);
    expect(rateChanges()).toHaveLength(2);
    // Each event's seqNo is the next of the transaction's: nothing was sent twice.
    const seqs = csms.callsOf('TransactionEvent', CP).map((c) => c.params.seqNo as number);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(csms.validationFailures).toEqual([]);
  }, 120_000);
});
