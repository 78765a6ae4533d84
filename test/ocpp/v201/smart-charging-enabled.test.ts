/**
 * OCPP 2.0.1 SmartChargingCtrlr.Enabled against the strict 2.0.1 server: set false, no installed
 * profile limits the charging any more (the simulated EV takes the connector's maximum again)
 * and SetChargingProfile is Rejected; persisted across a restart; set true again, the profiles
 * installed before limit again. A remote start's TxProfile is not used while disabled (K05).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { MemoryVariableStore } from '../../../src/ocpp/v201/device-model.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const agentConfig = (url: string) => ({
  csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
  ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300 },
});
const past = () => new Date(Date.now() - 60_000).toISOString();
const profile = (id: number, purpose: string, limit: number) => ({
  id, stackLevel: 0, chargingProfilePurpose: purpose, chargingProfileKind: 'Absolute',
  chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
});
const enabledVariable = { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'Enabled' } };

describe('OCPP 2.0.1 SmartChargingCtrlr.Enabled', () => {
  it('false: the profiles stop limiting, SetChargingProfile Rejected, persisted across a restart; true again: the profiles limit again', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, agentConfig(url));
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    /** Power.Active.Import of the Updated events from call index `from` on. */
    const powersAfter = (from: number): number[] => csms.calls.slice(from)
      .filter((c) => c.chargePointId === CP && c.action === 'TransactionEvent' && c.params.eventType === 'Updated' && c.params.meterValue)
      .flatMap((c) => c.params.meterValue.flatMap((m: any) => m.sampledValue.filter((v: any) => v.measurand === 'Power.Active.Import').map((v: any) => Number(v.value))));

    // 8 A on three phases for every transaction: 5520 W (the car could take 11 kW).
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'TxDefaultProfile', 8) })).toEqual({ status: 'Accepted' });
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'EN0001', type: 'Central' }, evseId: 1, remoteStartId: 3 })).toEqual({ status: 'Accepted' });
    let mark = csms.calls.length;
    await waitFor(() => powersAfter(mark).filter((x) => x > 0).length >= 2, 15_000, 'charging at the default');
    expect(powersAfter(mark).at(-1)).toBe(5_520);

    // Disabled: the car takes more than the profile's 8 A; a new profile Rejected.
    const off = await call('SetVariables', { setVariableData: [{ ...enabledVariable, attributeValue: 'false' }] });
    expect(off.setVariableResult[0].attributeStatus).toBe('Accepted');
    mark = csms.calls.length;
    await waitFor(() => powersAfter(mark).some((x) => x > 5_520), 15_000, 'charging above the profile');
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(2, 'TxDefaultProfile', 6) })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'NotEnabled' } });
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod[0].limit).toBeGreaterThan(8);

    // Restart on the same store: still disabled.
    await t.agent.stop();
    const again = await startAgent(url, agentConfig(url), { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await waitFor(() => again.agent.link!.state === 'accepted', 10_000, 'accepted again');
    const got = await call('GetVariables', { getVariableData: [enabledVariable] });
    expect(got.getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'false' });
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(2, 'TxDefaultProfile', 6) })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'NotEnabled' } });
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod[0].limit).toBeGreaterThan(8);

    // K05: a remote start's TxProfile is not used while disabled: the start goes on, nothing installed.
    const startedBefore = csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Started').length;
    expect(await call('RequestStartTransaction', {
      idToken: { idToken: 'EN0002', type: 'Central' }, evseId: 2, remoteStartId: 4,
      chargingProfile: { ...profile(30, 'TxProfile', 6) },
    })).toMatchObject({ status: 'Accepted' });
    const second = await waitFor(() => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Started')[startedBefore], 10_000, 'Started on EVSE 2');
    expect(second.params.evse.id).toBe(2);
    expect(again.agent.features!.smartCharging!.profiles().map((p) => p.profile.id)).toEqual([1]);

    // Enabled again: the profile installed before limits again.
    expect((await call('SetVariables', { setVariableData: [{ ...enabledVariable, attributeValue: 'true' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod[0].limit).toBe(8);
    // And SetChargingProfile is taken again (the same id replaces the profile).
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'TxDefaultProfile', 6) })).toEqual({ status: 'Accepted' });
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod[0].limit).toBe(6);
    expect(csms.validationFailures).toEqual([]);
  }, 120_000);

  it('TC_K_15_CS: SmartChargingCtrlr.Available: reported true; a station configured without it answers SetChargingProfile with CALLERROR NotSupported (K01.FR.29)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, agentConfig(url));
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'accepted');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const available = { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'Available' } };
    expect((await call('GetVariables', { getVariableData: [available] })).getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'true' });
    // ReadOnly for the central system.
    expect((await call('SetVariables', { setVariableData: [{ ...available, attributeValue: 'false' }] })).setVariableResult[0].attributeStatus).toBe('Rejected');
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'TxDefaultProfile', 8) })).toEqual({ status: 'Accepted' });
    // The station's own configuration says it has no smart charging (the stored variable, as the device model keeps it).
    t.agent.runtime!.settings.set(`ocpp2.0.1:${MemoryVariableStore.key({ component: 'SmartChargingCtrlr', variable: 'Available', attribute: 'Actual' })}`, 'false');
    expect((await call('GetVariables', { getVariableData: [available] })).getVariableResult[0]).toMatchObject({ attributeValue: 'false' });
    await expect(call('SetChargingProfile', { evseId: 0, chargingProfile: profile(2, 'TxDefaultProfile', 6) })).rejects.toMatchObject({ rpcErrorCode: 'NotSupported' });
    expect(csms.validationFailures).toEqual([]);
  }, 60_000);
});
