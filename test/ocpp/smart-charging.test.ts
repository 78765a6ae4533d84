/**
 * Smart Charging against the strict TestCsms: profiles installed, checked and cleared; the
 * composite schedule reported; the limit in force reaching the simulated EV (power in
 * MeterValues follows it, 0 suspends) and the EVSE board's current register (pymodbus);
 * profiles surviving a restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/index.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { startTcpSlave, tempDir } from '../helpers/modbus-slave.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';
import { toV16Installed } from '../../src/ocpp/v16/charging-profiles.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(overrides: Record<string, unknown> = {}, dir?: string): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, overrides, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
  return { csms, t };
}

type SampledValue = { value: string; measurand?: string };
const powerOf = (params: { meterValue: { sampledValue: SampledValue[] }[] }) =>
  Number(params.meterValue[0]!.sampledValue.find((v) => v.measurand === 'Power.Active.Import')?.value);

/** The power of the MeterValues sent after `from` (index into the calls). */
function powersAfter(csms: TestCsms, from: number): number[] {
  return csms.calls.slice(from).filter((c) => c.action === 'MeterValues' && c.params.transactionId).map((c) => powerOf(c.params));
}

/** The installed profiles as 1.6 says them (the core keeps them in its own words). */
const v16Profiles = (t: TestAgent) =>
  t.agent.features!.smartCharging!.profiles().map((ip) => toV16Installed(ip, (localId) => t.agent.ledger!.get(localId)?.transactionId ?? undefined));

const txDefault = (id: number, limit: number, extra: Record<string, unknown> = {}) => ({
  chargingProfileId: id, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute',
  chargingSchedule: { chargingRateUnit: 'A', startSchedule: new Date(Date.now() - 60_000).toISOString(), chargingSchedulePeriod: [{ startPeriod: 0, limit }] },
  ...extra,
});

describe('Smart Charging', () => {
  it('reports its configuration keys and the profile in SupportedFeatureProfiles', async () => {
    const { csms } = await setup();
    const res = await csms.call(CP, 'GetConfiguration', {
      key: ['SupportedFeatureProfiles', 'ChargeProfileMaxStackLevel', 'ChargingScheduleAllowedChargingRateUnit', 'ChargingScheduleMaxPeriods', 'MaxChargingProfilesInstalled', 'ConnectorSwitch3to1PhaseSupported'],
    });
    const v = Object.fromEntries(res.configurationKey.map((k: { key: string; value: string; readonly: boolean }) => [k.key, [k.value, k.readonly]]));
    expect(v.SupportedFeatureProfiles[0].split(',')).toEqual(expect.arrayContaining(['Core', 'SmartCharging', 'Reservation', 'FirmwareManagement', 'RemoteTrigger', 'LocalAuthListManagement']));
    expect(v).toMatchObject({
      ChargeProfileMaxStackLevel: ['10', true], ChargingScheduleAllowedChargingRateUnit: ['Current,Power', true], ChargingScheduleMaxPeriods: ['48', true],
      MaxChargingProfilesInstalled: ['20', true], ConnectorSwitch3to1PhaseSupported: ['false', true],
    });
  });

  it('checks profiles: purpose and connector, transaction, stack level, periods; clears them', async () => {
    const { csms } = await setup();
    const set = (connectorId: number, p: unknown) => csms.call(CP, 'SetChargingProfile', { connectorId, csChargingProfiles: p });
    expect(await set(1, { ...txDefault(1, 16), chargingProfilePurpose: 'ChargePointMaxProfile' })).toEqual({ status: 'Rejected' });
    expect(await set(1, { ...txDefault(2, 16), chargingProfilePurpose: 'TxProfile' })).toEqual({ status: 'Rejected' }); // no transaction
    expect(await set(1, { ...txDefault(3, 16), stackLevel: 11 })).toEqual({ status: 'Rejected' });
    expect(await set(3, txDefault(4, 16))).toEqual({ status: 'Rejected' }); // no connector 3
    expect(await set(1, { ...txDefault(5, 16), chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 10, limit: 6 }] } })).toEqual({ status: 'Rejected' });
    expect(await set(1, { ...txDefault(6, 16), chargingProfileKind: 'Recurring' })).toEqual({ status: 'Rejected' }); // no recurrencyKind
    expect(await set(0, txDefault(7, 16))).toEqual({ status: 'Accepted' });
    expect(await set(1, { ...txDefault(8, 10), stackLevel: 1 })).toEqual({ status: 'Accepted' });
    // Same purpose and stack level on the same connector: replaces profile 8.
    expect(await set(1, { ...txDefault(9, 12), stackLevel: 1 })).toEqual({ status: 'Accepted' });
    expect(await csms.call(CP, 'ClearChargingProfile', { id: 8 })).toEqual({ status: 'Unknown' });
    const composite = await csms.call(CP, 'GetCompositeSchedule', { connectorId: 1, duration: 600, chargingRateUnit: 'W' });
    expect(composite).toMatchObject({ status: 'Accepted', connectorId: 1, chargingSchedule: { duration: 600, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 * 230 * 3 }] } });
    expect(await csms.call(CP, 'GetCompositeSchedule', { connectorId: 5, duration: 60 })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'ClearChargingProfile', { connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile' })).toEqual({ status: 'Accepted' });
    expect((await csms.call(CP, 'GetCompositeSchedule', { connectorId: 1, duration: 60, chargingRateUnit: 'A' })).chargingSchedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 16 }]);
    expect(await csms.call(CP, 'ClearChargingProfile', {})).toEqual({ status: 'Accepted' });
    expect(await csms.call(CP, 'ClearChargingProfile', {})).toEqual({ status: 'Unknown' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('the simulated EV follows the limit: power in MeterValues, 0 → SuspendedEVSE, the next period by timer; TxProfile goes with its transaction', async () => {
    const { csms, t } = await setup();
    const cp = t.agent.chargePoint!;
    // 8 A on three phases: 5520 W (the car could take 11 kW).
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 0, csChargingProfiles: txDefault(1, 8) })).toEqual({ status: 'Accepted' });
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'SMART001' })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    let mark = csms.calls.length;
    await waitFor(() => powersAfter(csms, mark).length >= 2, 10_000, 'MeterValues');
    expect(powersAfter(csms, mark).at(-1)).toBe(5_520);
    const transactionId = await waitFor(() => t.agent.ledger!.get(cp.session(1)!.localId)?.transactionId, 10_000, 'transactionId');

    // A TxProfile for this transaction, in W: 0 for 2 s, then 4140 W (6 A). Applied by the Clock at the boundary.
    const txProfile = {
      chargingProfileId: 20, transactionId, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'W', startSchedule: new Date().toISOString(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 0 }, { startPeriod: 2, limit: 4_140 }] },
    };
    mark = csms.calls.length;
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 1, csChargingProfiles: txProfile })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.calls.slice(mark).some((c) => c.action === 'StatusNotification' && c.params.connectorId === 1 && c.params.status === 'SuspendedEVSE'), 10_000, 'SuspendedEVSE');
    await waitFor(() => powersAfter(csms, mark).includes(0), 10_000, 'zero power');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging again at the next period');
    const resumed = csms.calls.length;
    await waitFor(() => powersAfter(csms, resumed).length >= 2, 10_000, 'MeterValues');
    expect(powersAfter(csms, resumed).at(-1)).toBe(4_140);
    const composite = await csms.call(CP, 'GetCompositeSchedule', { connectorId: 1, duration: 300, chargingRateUnit: 'A' });
    expect(composite.chargingSchedule.chargingSchedulePeriod[0].limit).toBe(6);

    // The transaction ends: its TxProfile is removed; the TxDefaultProfile stays.
    expect(await csms.call(CP, 'RemoteStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StopTransaction').length === 1, 10_000, 'StopTransaction');
    await waitFor(() => !v16Profiles(t).some((p) => p.profile.chargingProfileId === 20), 5_000, 'TxProfile removed');
    expect(v16Profiles(t).map((p) => p.profile.chargingProfileId)).toEqual([1]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('RemoteStartTransaction with a chargingProfile installs it as TxProfile', async () => {
    const { csms, t } = await setup();
    const cp = t.agent.chargePoint!;
    const profile = {
      chargingProfileId: 30, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative',
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
    };
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 2, idTag: 'SMART002', chargingProfile: { ...profile, chargingProfilePurpose: 'TxDefaultProfile' } })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 2, idTag: 'SMART002', chargingProfile: profile })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Charging', 10_000, 'Charging');
    const mark = csms.calls.length;
    await waitFor(() => powersAfter(csms, mark).length >= 2, 10_000, 'MeterValues');
    expect(powersAfter(csms, mark).at(-1)).toBe(10 * 230 * 3);
    expect(v16Profiles(t)).toMatchObject([{ connectorId: 2, profile: { chargingProfileId: 30, chargingProfilePurpose: 'TxProfile' } }]);
  });

  it('profiles survive a restart on the same store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-sc-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await setup({}, dir);
    const recurring = {
      chargingProfileId: 40, stackLevel: 2, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Recurring', recurrencyKind: 'Daily',
      chargingSchedule: { chargingRateUnit: 'A', startSchedule: '2026-01-01T00:00:00.000Z', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7 }] },
    };
    expect(await first.csms.call(CP, 'SetChargingProfile', { connectorId: 1, csChargingProfiles: recurring })).toEqual({ status: 'Accepted' });
    expect(await first.csms.call(CP, 'SetChargingProfile', { connectorId: 0, csChargingProfiles: { ...txDefault(41, 20), chargingProfilePurpose: 'ChargePointMaxProfile' } })).toEqual({ status: 'Accepted' });
    await first.t.agent.stop();
    await first.csms.stop();
    const second = await setup({}, dir);
    expect(v16Profiles(second.t).map((p) => [p.connectorId, p.profile.chargingProfileId]).sort()).toEqual([[0, 41], [1, 40]]);
    const composite = await second.csms.call(CP, 'GetCompositeSchedule', { connectorId: 1, duration: 60, chargingRateUnit: 'A' });
    expect(composite.chargingSchedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 7 }]);
  });

  it('the limit reaches the EVSE board: register 1000 holds the current (pymodbus evse-wb)', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const boardValues = join(tmp.dir, 'board.json');
    writeFileSync(boardValues, JSON.stringify({ 'hr:1000': 0, 'hr:1001': 0, 'hr:1002': 1, 'hr:1003': 32, 'hr:1005': 18, 'hr:1006': 1 }));
    const slave = await startTcpSlave([{ unitId: 3, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues }]);
    cleanups.push(slave.stop);
    const device = { driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 300, retries: 1, unitId: 3, profile: 'evse-wb' };
    const { csms, t } = await setup({ connectors: [{ id: 1, evse: device }] });
    const cp = t.agent.chargePoint!;
    const register = async (want: string) => {
      let got = '';
      for (let i = 0; i < 200 && got !== want; i++) {
        got = await slave.command('get 3 3 1000 1');
        if (got !== want) await new Promise((r) => setTimeout(r, 25));
      }
      return got;
    };
    // A grid cap of 10 A for the charge point.
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 0, csChargingProfiles: { ...txDefault(1, 10), chargingProfilePurpose: 'ChargePointMaxProfile' } })).toEqual({ status: 'Accepted' });
    await slave.command('set 3 3 1002 2'); // vehicle connected (state B)
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Preparing', 10_000, 'Preparing');
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'BOARD001' })).toEqual({ status: 'Accepted' });
    expect(await register('= 10')).toBe('= 10');
    // Cleared: the connector's maximum (32 A).
    expect(await csms.call(CP, 'ClearChargingProfile', { id: 1 })).toEqual({ status: 'Accepted' });
    expect(await register('= 32')).toBe('= 32');
    // A TxProfile of 0: the board stops (0 is its "off" value); the connector is SuspendedEVSE.
    const transactionId = await waitFor(() => t.agent.ledger!.get(cp.session(1)!.localId)?.transactionId, 10_000, 'transactionId');
    const zero = { ...txDefault(2, 0), chargingProfilePurpose: 'TxProfile', transactionId };
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 1, csChargingProfiles: zero })).toEqual({ status: 'Accepted' });
    expect(await register('= 0')).toBe('= 0');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'SuspendedEVSE', 10_000, 'SuspendedEVSE');
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 1, csChargingProfiles: { ...zero, chargingSchedule: { ...zero.chargingSchedule, chargingSchedulePeriod: [{ startPeriod: 0, limit: 13 }] } } })).toEqual({ status: 'Accepted' });
    expect(await register('= 13')).toBe('= 13');
  });
});
