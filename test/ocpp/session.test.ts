import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';

type SampledValue = { value: string; context?: string; measurand?: string; phase?: string; unit?: string; location?: string };
type MeterValue = { timestamp: string; sampledValue: SampledValue[] };

const energyOf = (mv: MeterValue): number => Number(mv.sampledValue.find((v) => v.measurand === 'Energy.Active.Import.Register')!.value);

function ledgerRows(a: TestAgent): any[] {
  const db = new Database(join(a.dir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    // The ledger holds the central system's transactionId as text with the version that assigned it.
    return db.prepare(`SELECT *, CASE transaction_ref_version WHEN 'ocpp1.6' THEN CAST(transaction_ref AS INTEGER) END AS transaction_id
      FROM sessions ORDER BY started_at`).all();
  } finally {
    db.close();
  }
}

describe('charging sessions end to end against a real central system', () => {
  let csms: TestCsms;
  let url: string;
  let agent: TestAgent | undefined;

  beforeEach(async () => {
    csms = new TestCsms();
    url = await csms.start();
  });

  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
    await csms.stop();
  });

  const statusesOf = (connectorId: number) => csms.callsOf('StatusNotification').filter((c) => c.params.connectorId === connectorId).map((c) => c.params.status);
  const ready = () => waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'boot and statuses');

  it('remote start: StartTransaction, MeterValues with every measurand and unit, remote stop with transactionData', async () => {
    agent = await startAgent(url, {
      ocpp: { StopTxnSampledData: 'Energy.Active.Import.Register,Power.Active.Import' },
      simulation: { departureDelayMs: 100 },
    });
    await ready();
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Accepted' });

    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params).toMatchObject({ connectorId: 1, idTag: 'APPUSER1' });
    expect(Number.isInteger(start.params.meterStart)).toBe(true);
    expect(start.params.timestamp).toMatch(/\.\d{3}Z$/);
    // No Authorize for a remote start (AuthorizeRemoteTxRequests is false by default).
    expect(csms.callsOf('Authorize')).toHaveLength(0);

    // The TestCsms hands out transactionIds from 1.
    const transactionId = 1;
    await waitFor(() => csms.callsOf('MeterValues').filter((c) => c.params.transactionId === transactionId).length >= 3, 15_000, 'three MeterValues');
    const mvs = csms.callsOf('MeterValues').map((c) => c.params);
    for (const p of mvs) {
      expect(p).toMatchObject({ connectorId: 1, transactionId });
      const [mv] = p.meterValue as MeterValue[];
      expect(mv!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const sv = mv!.sampledValue;
      for (const v of sv) expect(v.context).toBe('Sample.Periodic');
      const one = (measurand: string, phase?: string) => sv.filter((v) => v.measurand === measurand && v.phase === phase);
      expect(one('Energy.Active.Import.Register')).toEqual([expect.objectContaining({ unit: 'Wh' })]);
      expect(one('Power.Active.Import')).toEqual([expect.objectContaining({ unit: 'W' })]);
      for (const phase of ['L1', 'L2', 'L3']) expect(one('Current.Import', phase)).toEqual([expect.objectContaining({ unit: 'A' })]);
      for (const phase of ['L1-N', 'L2-N', 'L3-N']) expect(one('Voltage', phase)).toEqual([expect.objectContaining({ unit: 'V' })]);
      expect(sv).toHaveLength(8);
      for (const v of sv) expect(Number.isFinite(Number(v.value))).toBe(true);
      // An EV drawing about 11 kW on three phases.
      expect(Number(one('Power.Active.Import')[0]!.value)).toBeGreaterThan(5_000);
      expect(Number(one('Current.Import', 'L1')[0]!.value)).toBeGreaterThan(5);
      expect(Number(one('Voltage', 'L1-N')[0]!.value)).toBeGreaterThan(200);
    }
    // Energy rises from sample to sample.
    const energies = mvs.map((p) => energyOf(p.meterValue[0]));
    for (let i = 1; i < energies.length; i++) expect(energies[i]).toBeGreaterThanOrEqual(energies[i - 1]!);
    expect(energies.at(-1)!).toBeGreaterThan(start.params.meterStart);
    expect(energies[0]).toBeGreaterThanOrEqual(start.params.meterStart);

    expect(await csms.call(CP, 'RemoteStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId, reason: 'Remote' });
    expect(stop.params.meterStop).toBeGreaterThan(start.params.meterStart);
    expect(stop.params.meterStop).toBeGreaterThanOrEqual(energies.at(-1)!);
    // transactionData follows StopTxnSampledData: Begin and End, with exactly those measurands.
    const data = stop.params.transactionData as MeterValue[];
    expect(data.map((d) => d.sampledValue[0]!.context)).toEqual(['Transaction.Begin', 'Transaction.End']);
    for (const d of data) {
      expect(d.sampledValue.map((v) => v.measurand)).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import']);
      expect(d.sampledValue.map((v) => v.unit)).toEqual(['Wh', 'W']);
    }
    expect(energyOf(data[0]!)).toBe(start.params.meterStart);
    expect(energyOf(data[1]!)).toBe(stop.params.meterStop);
    expect(Date.parse(stop.params.timestamp)).toBeGreaterThan(Date.parse(start.params.timestamp));

    // Available → Preparing → Charging → Finishing → Available (the driver unplugs after 100 ms).
    await waitFor(() => statusesOf(1).at(-1) === 'Available' && statusesOf(1).length >= 5, 10_000, 'Available again');
    expect(statusesOf(1)).toEqual(['Available', 'Preparing', 'Charging', 'Finishing', 'Available']);
    expect(statusesOf(2)).toEqual(['Available']);

    // Every message was delivered in order: Start, MeterValues…, Stop.
    const txMessages = csms.calls.filter((c) => ['StartTransaction', 'MeterValues', 'StopTransaction'].includes(c.action)).map((c) => c.action);
    expect(txMessages[0]).toBe('StartTransaction');
    expect(txMessages.at(-1)).toBe('StopTransaction');
    expect(csms.validationFailures).toEqual([]);

    // The ledger row.
    await waitFor(() => ledgerRows(agent!)[0]?.stop_acked_at, 5_000, 'stop acknowledged in the ledger');
    const [row] = ledgerRows(agent);
    expect(row).toMatchObject({
      connector_id: 1, transaction_id: transactionId, auth_method: 'app', meter_start_wh: start.params.meterStart,
      meter_stop_wh: stop.params.meterStop, stop_reason: 'Remote', start_clock_trusted: 1,
    });
    expect(row.start_acked_at).not.toBeNull();
    // The customer reference is a keyed pseudonym, never the tag itself.
    expect(row.customer_ref).toMatch(/\S/);
    expect(row.customer_ref).not.toContain('APPUSER1');
  });

  it('local session: a card authorises (Authorize, StartTransaction) and the same card stops it (Local)', async () => {
    agent = await startAgent(url, { simulation: { departureDelayMs: 100 } });
    await ready();
    agent.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    const authorize = csms.callsOf('Authorize');
    expect(authorize.map((c) => c.params)).toEqual([{ idTag: 'CARD0001' }]);
    expect(csms.calls.indexOf(authorize[0]!)).toBeLessThan(csms.calls.indexOf(start));
    expect(start.params).toMatchObject({ connectorId: 2, idTag: 'CARD0001' });

    await waitFor(() => csms.callsOf('MeterValues').length >= 2, 10_000, 'MeterValues');
    await waitFor(() => agent!.agent.chargePoint!.session(2)!.energyWh > 0, 5_000, 'energy delivered');

    // A different card does not stop it.
    agent.agent.sim.reader.present({ token: { id: 'CARD0002', type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(csms.callsOf('StopTransaction')).toHaveLength(0);

    agent.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 1, reason: 'Local', idTag: 'CARD0001' });
    expect(stop.params.meterStop).toBeGreaterThan(start.params.meterStart);
    // StopTxnSampledData default: the energy register at Begin and End.
    expect((stop.params.transactionData as MeterValue[]).map((d) => d.sampledValue.map((v) => v.measurand))).toEqual([
      ['Energy.Active.Import.Register'], ['Energy.Active.Import.Register'],
    ]);

    await waitFor(() => statusesOf(2).at(-1) === 'Available' && statusesOf(2).length >= 5, 10_000, 'Available again');
    expect(statusesOf(2)).toEqual(['Available', 'Preparing', 'Charging', 'Finishing', 'Available']);

    await waitFor(() => ledgerRows(agent!)[0]?.stop_acked_at, 5_000, 'stop acknowledged');
    const [row] = ledgerRows(agent);
    expect(row).toMatchObject({
      connector_id: 2, transaction_id: 1, auth_method: 'rfid', meter_start_wh: start.params.meterStart,
      meter_stop_wh: stop.params.meterStop, stop_reason: 'Local',
    });
  });

  it('the EV is unplugged mid-session: StopTransaction with EVDisconnected (StopTransactionOnEVSideDisconnect)', async () => {
    agent = await startAgent(url);
    await ready();
    agent.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => csms.callsOf('MeterValues').length >= 1, 10_000, 'charging');
    agent.agent.sim.connectors.get(1)!.unplug();
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 1, reason: 'EVDisconnected' });
    await waitFor(() => statusesOf(1).at(-1) === 'Available', 5_000, 'Available');
    // Unplugged: no Finishing in between.
    expect(statusesOf(1)).toEqual(['Available', 'Preparing', 'Charging', 'Available']);
  });

  it('authorised but no cable within ConnectionTimeOut: back to Available, no transaction', async () => {
    // arrivalDelayMs 0: the simulated driver never plugs in.
    agent = await startAgent(url, { ocpp: { ConnectionTimeOut: 1 }, simulation: { arrivalDelayMs: 0 } });
    await ready();
    agent.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => statusesOf(1).length >= 3, 10_000, 'Preparing, then Available');
    expect(statusesOf(1)).toEqual(['Available', 'Preparing', 'Available']);
    expect(csms.callsOf('Authorize')).toHaveLength(1);
    // Plugging in later starts nothing.
    agent.agent.sim.connectors.get(1)!.plug();
    await waitFor(() => statusesOf(1).at(-1) === 'Preparing', 5_000, 'Preparing (plugged, not authorised)');
    await new Promise((r) => setTimeout(r, 200));
    expect(csms.callsOf('StartTransaction')).toHaveLength(0);
  });

  it('clock-aligned MeterValues carry MeterValuesAlignedData with context Sample.Clock', async () => {
    agent = await startAgent(url, { ocpp: { ClockAlignedDataInterval: 1, MeterValueSampleInterval: 0, MeterValuesAlignedData: 'Energy.Active.Import.Register,Power.Active.Import' } });
    await ready();
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('MeterValues').length >= 2, 10_000, 'aligned MeterValues');
    for (const c of csms.callsOf('MeterValues')) {
      expect(c.params.transactionId).toBe(1);
      const [mv] = c.params.meterValue as MeterValue[];
      expect(mv!.sampledValue.map((v) => [v.measurand, v.context])).toEqual([
        ['Energy.Active.Import.Register', 'Sample.Clock'], ['Power.Active.Import', 'Sample.Clock'],
      ]);
    }
  });

  it('two sessions in a row get their own transactionIds and ledger rows; the meter continues', async () => {
    agent = await startAgent(url, { simulation: { departureDelayMs: 100 } });
    await ready();
    for (const tag of ['CARDAAAA', 'CARDBBBB']) {
      const n = csms.callsOf('StopTransaction').length;
      agent.agent.sim.reader.present({ token: { id: tag, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await waitFor(() => csms.callsOf('StartTransaction').length === n + 1, 10_000, 'start');
      await waitFor(() => csms.callsOf('MeterValues').filter((c) => c.params.transactionId === n + 1).length >= 1, 10_000, 'meter values');
      agent.agent.sim.reader.present({ token: { id: tag, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await waitFor(() => csms.callsOf('StopTransaction').length === n + 1, 10_000, 'stop');
      await waitFor(() => statusesOf(1).at(-1) === 'Available', 10_000, 'available');
    }
    const starts = csms.callsOf('StartTransaction').map((c) => c.params);
    const stops = csms.callsOf('StopTransaction').map((c) => c.params);
    expect(stops.map((s) => s.transactionId)).toEqual([1, 2]);
    expect(starts[1].meterStart).toBeGreaterThanOrEqual(stops[0].meterStop);
    await waitFor(() => ledgerRows(agent!).every((r) => r.stop_acked_at), 5_000, 'acknowledged');
    expect(ledgerRows(agent).map((r) => [r.transaction_id, r.auth_method, r.stop_reason])).toEqual([[1, 'rfid', 'Local'], [2, 'rfid', 'Local']]);
  });
  it('sends every configured measurand the charger produces (SoC, Current.Offered, Power.Offered) with unit, location and context, in periodic, clock-aligned and Stop data; refuses one it cannot produce', async () => {
    const four = 'Energy.Active.Import.Register,SoC,Current.Offered,Power.Offered';
    agent = await startAgent(url, {
      ocpp: {
        MeterValuesSampledData: four, MeterValuesAlignedData: four, ClockAlignedDataInterval: 1,
        StopTxnSampledData: four, StopTxnAlignedData: 'Energy.Active.Import.Register,Current.Offered',
      },
      simulation: { departureDelayMs: 100 },
    });
    await ready();
    // A smart-charging limit of 8 A: that is what is offered (8 A × 230 V × 3 phases = 5520 W).
    const txDefault = {
      chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'A', startSchedule: new Date(Date.now() - 60_000).toISOString(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] },
    };
    expect(await csms.call(CP, 'SetChargingProfile', { connectorId: 0, csChargingProfiles: txDefault })).toEqual({ status: 'Accepted' });
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Accepted' });
    const values = (context: string) => csms.callsOf('MeterValues').filter((c) => c.params.transactionId === 1)
      .flatMap((c) => (c.params.meterValue as MeterValue[]).flatMap((mv) => mv.sampledValue)).filter((v) => v.context === context);
    await waitFor(() => values('Sample.Periodic').length >= 8 && values('Sample.Clock').length >= 8, 15_000, 'periodic and clock-aligned MeterValues');
    for (const context of ['Sample.Periodic', 'Sample.Clock']) {
      for (const mv of csms.callsOf('MeterValues').flatMap((c) => c.params.meterValue as MeterValue[]).filter((m) => m.sampledValue[0]!.context === context)) {
        const by = (m: string) => mv.sampledValue.filter((v) => v.measurand === m);
        expect(mv.sampledValue.map((v) => v.measurand)).toEqual(['Energy.Active.Import.Register', 'SoC', 'Current.Offered', 'Power.Offered']);
        expect(by('Energy.Active.Import.Register')).toEqual([expect.objectContaining({ unit: 'Wh', location: 'Outlet', context })]);
        expect(by('SoC')).toEqual([expect.objectContaining({ unit: 'Percent', location: 'EV', context })]);
        expect(Number(by('SoC')[0]!.value)).toBeGreaterThan(0);
        expect(by('Current.Offered')).toEqual([{ context, location: 'Outlet', measurand: 'Current.Offered', unit: 'A', value: '8' }]);
        expect(by('Power.Offered')).toEqual([{ context, location: 'Outlet', measurand: 'Power.Offered', unit: 'W', value: '5520' }]);
      }
    }
    expect(await csms.call(CP, 'RemoteStopTransaction', { transactionId: 1 })).toEqual({ status: 'Accepted' });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    const data = stop.params.transactionData as MeterValue[];
    const contexts = data.map((mv) => mv.sampledValue[0]!.context);
    expect(contexts[0]).toBe('Transaction.Begin');
    expect(contexts.at(-1)).toBe('Transaction.End');
    expect(contexts.filter((c) => c === 'Sample.Clock').length).toBeGreaterThanOrEqual(1);
    for (const mv of data) {
      const names = mv.sampledValue.map((v) => v.measurand);
      if (mv.sampledValue[0]!.context === 'Sample.Clock') expect(names).toEqual(['Energy.Active.Import.Register', 'Current.Offered']);
      else expect(names).toEqual(['Energy.Active.Import.Register', 'SoC', 'Current.Offered', 'Power.Offered']);
    }
    // At Begin 8 A were about to be offered; at End the power path is open: nothing offered.
    expect(data[0]!.sampledValue.find((v) => v.measurand === 'Current.Offered')!.value).toBe('8');
    expect(data.at(-1)!.sampledValue.find((v) => v.measurand === 'Current.Offered')!.value).toBe('0');
    // A simulated charger has no temperature sensor, frequency reading or export register: Rejected (§9.1).
    for (const [key, value] of [['MeterValuesSampledData', 'Energy.Active.Import.Register,Temperature'], ['MeterValuesAlignedData', 'Frequency'],
      ['StopTxnSampledData', 'Energy.Active.Export.Register'], ['StopTxnAlignedData', 'Power.Active.Export']]) {
      expect(await csms.call(CP, 'ChangeConfiguration', { key, value }), `${key}=${value}`).toEqual({ status: 'Rejected' });
    }
    expect(await csms.call(CP, 'ChangeConfiguration', { key: 'MeterValuesSampledData', value: 'Energy.Active.Import.Register,Current.Import,Voltage,Power.Active.Import,SoC,Current.Offered,Power.Offered' })).toEqual({ status: 'Accepted' });
    expect(csms.validationFailures).toEqual([]);
  });
});
