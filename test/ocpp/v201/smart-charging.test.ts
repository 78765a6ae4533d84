/**
 * OCPP 2.0.1 Smart Charging (K01, K05-style remote start profile, K08, K09, K10) against the
 * strict 2.0.1 server: profiles checked with the 2.0.1 rules (Rejected with a StatusInfo),
 * installed, persisted, reported, cleared; the composite schedule per EVSE and for the station;
 * the limit reaching the simulated EV (power in TransactionEvent Updated); a TxProfile removed
 * with its transaction.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../../src/config/index.js';
import { toV16Status } from '../../../src/ocpp/v16/mapping.js';
import { startTcpSlave, tempDir } from '../../helpers/modbus-slave.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';
import { toV201Installed } from '../../../src/ocpp/v201/charging-profiles.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const agentConfig = (url: string, ocpp: Record<string, unknown> = {}) => ({
  csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
  ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp },
});

/** An agent on 2.0.1 against the strict 2.0.1 server, booted and with its statuses sent. */
async function ready(o: { ocpp?: Record<string, unknown>; dir?: string } = {}): Promise<{ csms: TestCsms; url: string; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, agentConfig(url, o.ocpp), o.dir ? { dir: o.dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, url, t, call: (action, params) => csms.call(CP, action, params) };
}

const token = (idToken: string) => ({ idToken, type: 'Central' });
const txEvents = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP);
const past = () => new Date(Date.now() - 60_000).toISOString();

/** A profile in 2.0.1's words (Absolute from a minute ago, one period). */
const profile = (id: number, purpose: string, limit: number, extra: Record<string, unknown> = {}, unit = 'A') => ({
  id, stackLevel: 0, chargingProfilePurpose: purpose, chargingProfileKind: 'Absolute',
  chargingSchedule: [{ id: 1, chargingRateUnit: unit, startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
  ...extra,
});

/** The installed profiles as 2.0.1 says them (the core keeps them in its own words). */
const installed = (t: TestAgent) => t.agent.features!.smartCharging!.profiles().map((ip) => toV201Installed(ip, (localId) => localId));

/** The Power.Active.Import of the Updated TransactionEvents after `from` (index into the calls). */
function powersAfter(csms: TestCsms, from: number): number[] {
  return csms.calls.slice(from)
    .filter((c) => c.action === 'TransactionEvent' && c.params.eventType === 'Updated' && c.params.meterValue)
    .flatMap((c) => c.params.meterValue.flatMap((m: any) => m.sampledValue.filter((v: any) => v.measurand === 'Power.Active.Import').map((v: any) => Number(v.value))));
}

async function startTransaction(csms: TestCsms, call: (a: string, p: unknown) => Promise<any>, evseId: number, remoteStartId: number, extra: Record<string, unknown> = {}): Promise<string> {
  const before = txEvents(csms).filter((c) => c.params.eventType === 'Started').length;
  expect(await call('RequestStartTransaction', { idToken: token(`SMART00${evseId}`), evseId, remoteStartId, ...extra })).toEqual({ status: 'Accepted' });
  const started = await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started')[before], 10_000, 'Started');
  return started.params.transactionInfo.transactionId as string;
}

describe('OCPP 2.0.1 Smart Charging against a strict 2.0.1 central system', () => {
  it('TC_K_01_CS, TC_K_02_CS, TC_K_03_CS, TC_K_04_CS, TC_K_05_CS, TC_K_08_CS, TC_K_10_CS, TC_K_43_CS, TC_K_44_CS: SetChargingProfile: the 2.0.1 rules, each refusal Rejected with a StatusInfo; same id replaced, same purpose and stackLevel refused when validity overlaps; GetCompositeSchedule per EVSE and station in A and W; ClearChargingProfile by id and criteria; persisted across a restart (K01, K08, K10)', async () => {
    const { csms, url, t, call } = await ready();
    const set = (evseId: number, chargingProfile: unknown) => call('SetChargingProfile', { evseId, chargingProfile });
    const rejected = async (evseId: number, p: unknown, reasonCode: string) => {
      const res = await set(evseId, p);
      expect(res, JSON.stringify(p)).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode } });
      expect(typeof res.statusInfo.additionalInfo).toBe('string');
    };
    await rejected(1, profile(1, 'ChargingStationMaxProfile', 16), 'InvalidValue'); // only on evseId 0
    await rejected(0, { ...profile(1, 'ChargingStationMaxProfile', 16), chargingProfileKind: 'Relative', chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] }] }, 'InvalidValue'); // never Relative
    await rejected(0, profile(1, 'ChargingStationExternalConstraints', 16), 'UnsupportedParam');
    await rejected(1, { ...profile(1, 'TxProfile', 16), transactionId: 'no-such-transaction' }, 'TxNotFound');
    await rejected(1, profile(1, 'TxProfile', 16), 'MissingParam');
    await rejected(0, { ...profile(1, 'TxProfile', 16), transactionId: 'x' }, 'InvalidValue');
    await rejected(9, profile(1, 'TxDefaultProfile', 16), 'UnknownEvse');
    await rejected(1, { ...profile(1, 'TxDefaultProfile', 16), stackLevel: 11 }, 'InvalidValue');
    await rejected(1, { ...profile(1, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 10, limit: 6 }] }] }, 'InvalidSchedule');
    await rejected(1, { ...profile(1, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] }] }, 'InvalidSchedule'); // Absolute without startSchedule
    await rejected(1, { ...profile(1, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 6, numberPhases: 3, phaseToUse: 1 }] }] }, 'InvalidSchedule');
    await rejected(1, { ...profile(1, 'TxDefaultProfile', 16), chargingProfileKind: 'Recurring' }, 'MissingParam');
    expect(installed(t)).toEqual([]);

    expect(await set(0, profile(1, 'TxDefaultProfile', 16))).toEqual({ status: 'Accepted' });
    // A TxDefaultProfile on an EVSE at the stack level of the station's: refused (K01.FR.52).
    await rejected(1, profile(2, 'TxDefaultProfile', 10), 'DuplicateProfile');
    // Valid for the next 30 days.
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString();
    expect(await set(1, { ...profile(3, 'TxDefaultProfile', 10), stackLevel: 1, validTo: until })).toEqual({ status: 'Accepted' });
    // Same purpose and stack level on the same EVSE, overlapping validity: refused, profile 3 kept (K01.FR.06).
    await rejected(1, { ...profile(4, 'TxDefaultProfile', 6), stackLevel: 1 }, 'DuplicateProfile');
    // The same, valid only from next year (after profile 3's validity): accepted beside profile 3.
    const nextYear = new Date(Date.now() + 365 * 86_400_000).toISOString();
    expect(await set(1, { ...profile(4, 'TxDefaultProfile', 6), stackLevel: 1, validFrom: nextYear })).toEqual({ status: 'Accepted' });
    // The same id again: replaced (K01.FR.05), numberPhases kept.
    const three = { ...profile(3, 'TxDefaultProfile', 12), stackLevel: 1, validTo: until };
    three.chargingSchedule[0]!.chargingSchedulePeriod = [{ startPeriod: 0, limit: 12, numberPhases: 3 } as never];
    expect(await set(1, three)).toEqual({ status: 'Accepted' });
    expect(installed(t).map((p) => [p.evseId, p.profile.id, p.profile.chargingSchedule[0]!.chargingSchedulePeriod[0]!.limit]).sort()).toEqual([[0, 1, 16], [1, 3, 12], [1, 4, 6]]);
    expect(installed(t).find((p) => p.profile.id === 3)!.profile).toEqual(three);

    // K08: the composite of EVSE 1 in W and A, of the station, of an unknown EVSE.
    const w = await call('GetCompositeSchedule', { evseId: 1, duration: 600, chargingRateUnit: 'W' });
    expect(w).toMatchObject({ status: 'Accepted', schedule: { evseId: 1, duration: 600, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 * 230 * 3 }] } });
    expect(Number.isFinite(Date.parse(w.schedule.scheduleStart))).toBe(true);
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 12, numberPhases: 3 }]);
    expect((await call('GetCompositeSchedule', { evseId: 2, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 16 }]);
    expect(await call('GetCompositeSchedule', { evseId: 9, duration: 60 })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'UnknownEvse' } });
    expect(await set(0, profile(6, 'ChargingStationMaxProfile', 20))).toEqual({ status: 'Accepted' });
    expect(await call('GetCompositeSchedule', { evseId: 0, duration: 60, chargingRateUnit: 'A' })).toMatchObject({ status: 'Accepted', schedule: { evseId: 0, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] } });

    // Restart on the same store: every profile is still installed, and the composite the same.
    await t.agent.stop();
    const again = await startAgent(url, agentConfig(url), { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await waitFor(() => again.agent.link!.state === 'accepted', 10_000, 'accepted again');
    expect(installed(again).map((p) => [p.evseId, p.profile.id]).sort()).toEqual([[0, 1], [0, 6], [1, 3], [1, 4]]);
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 12, numberPhases: 3 }]);

    // K10: by id; again Unknown; by criteria; ExternalConstraints never cleared; everything.
    expect(await call('ClearChargingProfile', { chargingProfileId: 3 })).toEqual({ status: 'Accepted' });
    expect(await call('ClearChargingProfile', { chargingProfileId: 3 })).toEqual({ status: 'Unknown' });
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 16 }]);
    expect(await call('ClearChargingProfile', { chargingProfileCriteria: { evseId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 0 } })).toEqual({ status: 'Unknown' });
    expect(await call('ClearChargingProfile', { chargingProfileCriteria: { evseId: 0, chargingProfilePurpose: 'ChargingStationMaxProfile' } })).toEqual({ status: 'Accepted' });
    expect(await call('ClearChargingProfile', { chargingProfileCriteria: { chargingProfilePurpose: 'ChargingStationExternalConstraints' } })).toEqual({ status: 'Unknown' });
    expect(installed(again).map((p) => p.profile.id).sort()).toEqual([1, 4]);
    expect(await call('ClearChargingProfile', { chargingProfileCriteria: {} })).toEqual({ status: 'Accepted' });
    expect(installed(again)).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_K_06_CS: ClearChargingProfile with evseId, TxDefaultProfile and stackLevel clears that one profile: Accepted, the other stack level kept; again Unknown', async () => {
    const { csms, call } = await ready();
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(21, 'TxDefaultProfile', 10), stackLevel: 1 } })).toEqual({ status: 'Accepted' });
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(22, 'TxDefaultProfile', 8), stackLevel: 2 } })).toEqual({ status: 'Accepted' });
    const criteria = { chargingProfileCriteria: { evseId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 2 } };
    expect(await call('ClearChargingProfile', criteria)).toEqual({ status: 'Accepted' });
    // Profile 21 (stack level 1) is what limits EVSE 1 now.
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 60, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod).toEqual([{ startPeriod: 0, limit: 10 }]);
    expect(await call('ClearChargingProfile', criteria)).toEqual({ status: 'Unknown' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_K_19_CS: a Recurring (Daily) TxDefaultProfile is Accepted and repeats: its second period applies at the same time of day, days after its startSchedule', async () => {
    const { csms, call } = await ready();
    // Started two days ago, 60 s before this time of day: 10 A, then 14 A from 120 s into each day.
    const startSchedule = new Date(Date.now() - 2 * 86_400_000 - 60_000).toISOString();
    const recurring = {
      id: 31, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Recurring', recurrencyKind: 'Daily',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule, duration: 86_400, chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 120, limit: 14 }] }],
    };
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: recurring })).toEqual({ status: 'Accepted' });
    const composite = await call('GetCompositeSchedule', { evseId: 1, duration: 600, chargingRateUnit: 'A' });
    expect(composite.status).toBe('Accepted');
    const periods = composite.schedule.chargingSchedulePeriod as { startPeriod: number; limit: number }[];
    expect(periods[0]).toMatchObject({ startPeriod: 0, limit: 10 });
    // Today's 120 s mark is about 60 s from now (the request itself takes a moment).
    expect(periods[1]!.limit).toBe(14);
    expect(periods[1]!.startPeriod).toBeGreaterThanOrEqual(50);
    expect(periods[1]!.startPeriod).toBeLessThanOrEqual(60);
    expect(csms.validationFailures).toEqual([]);
  });

  it('phaseToUse with numberPhases 1 is kept where AC phase switching is supported (K01.FR.19/20)', async () => {
    const { t, call } = await ready();
    const p1 = { ...profile(7, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 2, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases: 1, phaseToUse: 2 }] }] };
    // The station says it cannot switch phases (ConnectorSwitch3to1PhaseSupported, a read-only key: set as a product would ship it).
    const switching = async () => (await call('GetVariables', { getVariableData: [{ component: { name: 'SmartChargingCtrlr' }, variable: { name: 'ACPhaseSwitchingSupported' } }] })).getVariableResult[0];
    expect(await switching()).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'false' });
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: p1 })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidSchedule' } });
    t.agent.settings!.set('ConnectorSwitch3to1PhaseSupported', 'true');
    expect(await switching()).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'true' });
    const p = { ...profile(7, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 2, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases: 1, phaseToUse: 2 }] }] };
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: p })).toEqual({ status: 'Accepted' });
    expect(installed(t)).toEqual([{ evseId: 1, profile: p }]);
  });

  it('TC_K_60_CS: a TxProfile for the running transaction: the EV follows it (power in TransactionEvent), a wrong transactionId Rejected, removed when the transaction ends; the TxDefaultProfile stays (K01)', async () => {
    const { csms, t, call } = await ready();
    // 8 A on three phases for every transaction: 5520 W (the car could take 11 kW).
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'TxDefaultProfile', 8) })).toEqual({ status: 'Accepted' });
    const transactionId = await startTransaction(csms, call, 1, 11);
    let mark = csms.calls.length;
    await waitFor(() => powersAfter(csms, mark).filter((x) => x > 0).length >= 2, 15_000, 'charging at the default');
    expect(powersAfter(csms, mark).at(-1)).toBe(5_520);

    expect(await call('SetChargingProfile', { evseId: 2, chargingProfile: { ...profile(20, 'TxProfile', 6), transactionId } })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'TxNotFound' } });
    // 6 A, in W: 4140 W.
    mark = csms.calls.length;
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(20, 'TxProfile', 4_140, { stackLevel: 1 }, 'W'), transactionId } })).toEqual({ status: 'Accepted' });
    await waitFor(() => powersAfter(csms, mark).includes(4_140), 15_000, 'the TxProfile in force');
    expect((await call('GetCompositeSchedule', { evseId: 1, duration: 300, chargingRateUnit: 'A' })).schedule.chargingSchedulePeriod[0].limit).toBe(6);
    expect(installed(t).find((p) => p.profile.id === 20)!.profile.transactionId).toBe(transactionId);

    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    await waitFor(() => !installed(t).some((p) => p.profile.id === 20), 10_000, 'TxProfile removed');
    expect(installed(t).map((p) => p.profile.id)).toEqual([1]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_K_37_CS: RequestStartTransaction with a chargingProfile: a TxProfile without transactionId is applied to the new transaction; another purpose or a transactionId Rejected', async () => {
    const { csms, t, call } = await ready();
    const relative = {
      id: 30, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] }],
    };
    expect(await call('RequestStartTransaction', { idToken: token('SMART002'), evseId: 2, remoteStartId: 1, chargingProfile: { ...relative, chargingProfilePurpose: 'TxDefaultProfile' } })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('SMART002'), evseId: 2, remoteStartId: 2, chargingProfile: { ...relative, transactionId: 'abc' } })).toEqual({ status: 'Rejected' });
    expect(installed(t)).toEqual([]);
    csms.on('ReportChargingProfiles', () => ({}));
    const mark = csms.calls.length;
    const transactionId = await startTransaction(csms, call, 2, 3, { chargingProfile: relative });
    await waitFor(() => powersAfter(csms, mark).filter((x) => x > 0).length >= 2, 15_000, 'charging');
    expect(powersAfter(csms, mark).at(-1)).toBe(10 * 230 * 3);
    expect(installed(t)).toMatchObject([{ evseId: 2, profile: { id: 30, chargingProfilePurpose: 'TxProfile' } }]);
    // Reported with the transaction it applies to.
    expect(await call('GetChargingProfiles', { requestId: 5, chargingProfile: { chargingProfilePurpose: 'TxProfile' } })).toEqual({ status: 'Accepted' });
    const report = await waitFor(() => csms.callsOf('ReportChargingProfiles', CP)[0], 10_000, 'ReportChargingProfiles');
    expect(report.params).toMatchObject({ requestId: 5, evseId: 2, chargingLimitSource: 'CSO', chargingProfile: [{ id: 30, transactionId }] });
    // A start refused (EVSE 2 is busy): its profile is not kept, and the profile of that id it replaced is back.
    expect(await call('RequestStartTransaction', { idToken: token('SMART003'), evseId: 2, remoteStartId: 4, chargingProfile: { ...relative, stackLevel: 1, chargingSchedule: [{ ...relative.chargingSchedule[0], chargingSchedulePeriod: [{ startPeriod: 0, limit: 7 }] }] } })).toEqual({ status: 'Rejected' });
    expect(installed(t)).toMatchObject([{ evseId: 2, profile: { id: 30, stackLevel: 0, chargingSchedule: [{ chargingSchedulePeriod: [{ limit: 10 }] }] } }]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_K_30_CS, TC_K_34_CS, TC_K_35_CS, TC_K_36_CS: GetChargingProfiles for EVSE 1 alone, by chargingLimitSource CSO, by chargingProfilePurpose, by purpose and stackLevel: each Accepted and one ReportChargingProfiles with just those profiles', async () => {
    const { csms, call } = await ready();
    csms.on('ReportChargingProfiles', () => ({}));
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(50, 'ChargingStationMaxProfile', 32) })).toEqual({ status: 'Accepted' });
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(51, 'TxDefaultProfile', 10), stackLevel: 0 } })).toEqual({ status: 'Accepted' });
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(52, 'TxDefaultProfile', 12), stackLevel: 1 } })).toEqual({ status: 'Accepted' });
    expect(await call('SetChargingProfile', { evseId: 2, chargingProfile: { ...profile(53, 'TxDefaultProfile', 14), stackLevel: 1 } })).toEqual({ status: 'Accepted' });
    const reportOf = async (requestId: number, criteria: Record<string, unknown>) => {
      expect(await call('GetChargingProfiles', { requestId, evseId: 1, chargingProfile: criteria })).toEqual({ status: 'Accepted' });
      const report = await waitFor(() => csms.callsOf('ReportChargingProfiles', CP).find((c) => c.params.requestId === requestId), 10_000, `report ${requestId}`);
      expect(report.params).toMatchObject({ requestId, evseId: 1, chargingLimitSource: 'CSO', tbc: false });
      return (report.params.chargingProfile as { id: number }[]).map((p) => p.id).sort((a, b) => a - b);
    };
    expect(await reportOf(30, {})).toEqual([51, 52]); // TC_K_30
    expect(await reportOf(34, { chargingLimitSource: ['CSO'] })).toEqual([51, 52]); // TC_K_34
    expect(await reportOf(35, { chargingProfilePurpose: 'TxDefaultProfile' })).toEqual([51, 52]); // TC_K_35
    expect(await reportOf(36, { chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 1 })).toEqual([52]); // TC_K_36
    expect(await call('GetChargingProfiles', { requestId: 37, evseId: 1, chargingProfile: { chargingProfilePurpose: 'ChargingStationMaxProfile' } })).toEqual({ status: 'NoProfiles' });
    expect(csms.callsOf('ReportChargingProfiles', CP)).toHaveLength(4);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_K_29_CS, TC_K_31_CS, TC_K_32_CS, TC_K_33_CS: GetChargingProfiles: NoProfiles when none match; Accepted, then ReportChargingProfiles per EVSE with the requestId, split and tbc on all but the last; filtered by evseId, stackLevel, id and source (K09)', async () => {
    const { csms, call } = await ready();
    csms.on('ReportChargingProfiles', () => ({}));
    expect(await call('GetChargingProfiles', { requestId: 1, chargingProfile: {} })).toEqual({ status: 'NoProfiles' });
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(100, 'ChargingStationMaxProfile', 32) })).toEqual({ status: 'Accepted' });
    for (let level = 0; level <= 10; level++) {
      expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(level + 1, 'TxDefaultProfile', 6 + level), stackLevel: level } })).toEqual({ status: 'Accepted' });
    }
    const reports = () => csms.callsOf('ReportChargingProfiles', CP).map((c) => c.params);
    expect(await call('GetChargingProfiles', { requestId: 7, chargingProfile: {} })).toEqual({ status: 'Accepted' });
    await waitFor(() => reports().length === 3, 10_000, 'three reports');
    expect(reports().map((r) => [r.requestId, r.evseId, r.chargingProfile.length, r.tbc])).toEqual([[7, 0, 1, true], [7, 1, 10, true], [7, 1, 1, false]]);
    expect(reports().flatMap((r) => r.chargingProfile.map((p: any) => p.id)).sort((a: number, b: number) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 100]);

    expect(await call('GetChargingProfiles', { requestId: 8, evseId: 1, chargingProfile: { stackLevel: 3 } })).toEqual({ status: 'Accepted' });
    await waitFor(() => reports().length === 4, 10_000, 'the filtered report');
    expect(reports()[3]).toMatchObject({ requestId: 8, evseId: 1, tbc: false, chargingProfile: [{ id: 4, stackLevel: 3, chargingProfilePurpose: 'TxDefaultProfile' }] });
    expect(await call('GetChargingProfiles', { requestId: 9, evseId: 0, chargingProfile: { chargingProfileId: [100, 2] } })).toEqual({ status: 'Accepted' });
    await waitFor(() => reports().length === 5, 10_000, 'the station report');
    expect(reports()[4]).toMatchObject({ requestId: 9, evseId: 0, tbc: false, chargingProfile: [{ id: 100, chargingProfilePurpose: 'ChargingStationMaxProfile' }] });
    expect(await call('GetChargingProfiles', { requestId: 10, chargingProfile: { chargingLimitSource: ['EMS'] } })).toEqual({ status: 'NoProfiles' });
    expect(await call('GetChargingProfiles', { requestId: 11, evseId: 2, chargingProfile: {} })).toEqual({ status: 'NoProfiles' });
    expect(reports()).toHaveLength(5);
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('OCPP 2.0.1 Smart Charging on a one-phase EVSE', () => {
  it('numberPhases above the phases wired Rejected, numberPhases 1 Accepted (K01.FR.45)', async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const charger = join(tmp.dir, 'sim-ac-1x7kw.json');
    writeFileSync(charger, JSON.stringify({
      id: 'sim-ac-1x7kw', description: 'one-phase test charger', vendor: 'evse-edge', model: 'SIM-AC-1x7', firmwareVersion: 'sim-1',
      connectors: [{ id: 1, type: 'Type2', phases: '1', maxCurrentA: 32, nominalVoltageV: 230, maxPowerW: 7360 }],
      simulation: { vehicle: { batteryWh: 60000, maxPowerW: 7400, socPctMin: 20, socPctMax: 60, targetSocPct: 90 }, arrivalDelayMs: 2000, departureDelayMs: 5000 },
    }));
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { ...agentConfig(url), charger });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'accepted');
    const phased = (id: number, numberPhases: number) => ({
      ...profile(id, 'TxDefaultProfile', 16), chargingSchedule: [{ id: 1, chargingRateUnit: 'A', startSchedule: past(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases }] }],
    });
    expect(await csms.call(CP, 'SetChargingProfile', { evseId: 1, chargingProfile: phased(1, 3) })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidSchedule' } });
    const onePhase = phased(1, 1);
    expect(await csms.call(CP, 'SetChargingProfile', { evseId: 1, chargingProfile: onePhase })).toEqual({ status: 'Accepted' });
    expect(installed(t)).toEqual([{ evseId: 1, profile: onePhase }]);
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('OCPP 2.0.1 SmartChargingCtrlr', () => {
  it('Entries[ChargingProfiles] is the number of profiles installed; the limits are the 1.6 keys\' values', async () => {
    const { call } = await ready();
    const get = async () => (await call('GetVariables', {
      getVariableData: ['Entries', 'ProfileStackLevel', 'PeriodsPerSchedule', 'RateUnit'].map((name) => ({
        component: { name: 'SmartChargingCtrlr' }, variable: { name, ...(name === 'Entries' ? { instance: 'ChargingProfiles' } : {}) },
      })),
    })).getVariableResult.map((r: any) => [r.variable.name, r.attributeStatus, r.attributeValue]);
    expect(await get()).toEqual([['Entries', 'Accepted', '0'], ['ProfileStackLevel', 'Accepted', '10'], ['PeriodsPerSchedule', 'Accepted', '48'], ['RateUnit', 'Accepted', 'A,W']]);
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'ChargingStationMaxProfile', 32) })).toEqual({ status: 'Accepted' });
    expect(await call('SetChargingProfile', { evseId: 2, chargingProfile: profile(2, 'TxDefaultProfile', 16) })).toEqual({ status: 'Accepted' });
    expect((await get())[0]).toEqual(['Entries', 'Accepted', '2']);
    expect(await call('ClearChargingProfile', { chargingProfileId: 1 })).toEqual({ status: 'Accepted' });
    expect((await get())[0]).toEqual(['Entries', 'Accepted', '1']);
  });
});

describe('OCPP 2.0.1 Smart Charging on real hardware drivers', () => {
  it('the limit reaches the EVSE board as on 1.6: register 1000 holds the current (pymodbus evse-wb)', async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const boardValues = join(tmp.dir, 'board.json');
    writeFileSync(boardValues, JSON.stringify({ 'hr:1000': 0, 'hr:1001': 0, 'hr:1002': 1, 'hr:1003': 32, 'hr:1005': 18, 'hr:1006': 1 }));
    const slave = await startTcpSlave([{ unitId: 3, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues }]);
    cleanups.push(async () => slave.stop());
    const device = { driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 300, retries: 1, unitId: 3, profile: 'evse-wb' };
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { ...agentConfig(url), connectors: [{ id: 1, evse: device }] });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'accepted');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const cp = t.agent.chargePoint!;
    const register = async (want: string) => {
      let got = '';
      for (let i = 0; i < 200 && got !== want; i++) {
        got = await slave.command('get 3 3 1000 1');
        if (got !== want) await new Promise((r) => setTimeout(r, 25));
      }
      return got;
    };
    // A grid cap of 10 A for the station.
    expect(await call('SetChargingProfile', { evseId: 0, chargingProfile: profile(1, 'ChargingStationMaxProfile', 10) })).toEqual({ status: 'Accepted' });
    await slave.command('set 3 3 1002 2'); // vehicle connected (state B)
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Preparing', 10_000, 'vehicle connected');
    expect(await call('RequestStartTransaction', { idToken: token('BOARD001'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Accepted' });
    expect(await register('= 10')).toBe('= 10');
    // Cleared: the connector's maximum (32 A).
    expect(await call('ClearChargingProfile', { chargingProfileId: 1 })).toEqual({ status: 'Accepted' });
    expect(await register('= 32')).toBe('= 32');
    // A TxProfile of 0 for the running transaction: the board stops (0 is its "off" value).
    const transactionId = await waitFor(() => cp.session(1)?.localId, 10_000, 'transaction');
    const zero = { ...profile(2, 'TxProfile', 0), transactionId };
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: zero })).toEqual({ status: 'Accepted' });
    expect(await register('= 0')).toBe('= 0');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'SuspendedEVSE', 10_000, 'SuspendedEVSE');
    // The same id again with 13 A: replaced (K01.FR.05).
    expect(await call('SetChargingProfile', { evseId: 1, chargingProfile: { ...profile(2, 'TxProfile', 13), transactionId } })).toEqual({ status: 'Accepted' });
    expect(await register('= 13')).toBe('= 13');
    expect(csms.validationFailures).toEqual([]);
  });
});
