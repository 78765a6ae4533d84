import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/index.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { startTcpSlave, tempDir, type PyPeer } from '../helpers/modbus-slave.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status, v16StatusOf } from '../../src/ocpp/v16/mapping.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(overrides: Record<string, unknown> = {}): Promise<{ csms: TestCsms; slave: PyPeer; t: TestAgent }> {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const boardValues = join(tmp.dir, 'board.json');
  writeFileSync(boardValues, JSON.stringify({ 'hr:1000': 0, 'hr:1001': 0, 'hr:1002': 1, 'hr:1003': 32, 'hr:1005': 18, 'hr:1006': 1 }));
  const slave = await startTcpSlave([
    { unitId: 1, profileFile: join(PROFILES_DIR, 'meters', 'eastron-sdm630.json'), valuesFile: join(import.meta.dirname, '../fixtures/modbus/eastron-sdm630.values.json') },
    { unitId: 3, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues },
  ]);
  cleanups.push(slave.stop);
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const device = { driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 300, retries: 1 };
  const t = await startAgent(url, {
    connectors: [{ id: 1, meter: { ...device, unitId: 1, profile: 'eastron-sdm630' }, evse: { ...device, unitId: 3, profile: 'evse-wb' } }],
    ocpp: { MeterValueSampleInterval: 1 },
    ...overrides,
  });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
  return { csms, slave, t };
}

describe('a charger with a Modbus meter and EVSE board (pymodbus over TCP)', () => {
  it('bills a session from the meter end to end, driving the board', async () => {
    const { csms, slave, t } = await setup();
    const cp = t.agent.chargePoint!;
    await waitFor(() => csms.callsOf('StatusNotification').some((c) => c.params.connectorId === 1 && c.params.status === 'Available'), 10_000, 'Available');
    await slave.command('set 3 3 1002 2'); // car connected (state B)
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Preparing', 10_000, 'Preparing');
    expect((await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG01' })).status).toBe('Accepted');
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params.meterStart).toBe(12_345_670);
    let offered = '';
    for (let i = 0; i < 100 && offered !== '= 32'; i++) {
      offered = await slave.command('get 3 3 1000 1');
      if (offered !== '= 32') await sleep(50);
    }
    expect(offered).toBe('= 32');
    await slave.command('set 3 3 1002 3'); // charging (state C)
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    let kWh = 12_345.67;
    for (let i = 0; i < 6; i++) {
      kWh += 0.004;
      await slave.command(`val 1 Energy.Active.Import.Register| ${kWh.toFixed(3)}`);
      await sleep(400);
    }
    await waitFor(() => csms.callsOf('MeterValues').length >= 2, 10_000, 'MeterValues');
    const txId = await waitFor(() => t.agent.ledger!.get(cp.session(1)!.localId)?.transactionId, 10_000, 'transactionId');
    expect((await csms.call('CP-TEST-1', 'RemoteStopTransaction', { transactionId: txId })).status).toBe('Accepted');
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params.meterStop).toBe(Math.round(kWh * 1000));
    expect(stop.params.reason).toBe('Remote');
    expect(await slave.command('get 3 3 1000 1')).toBe('= 0');
    // Meter values carry the meter's own figures, with units.
    const mv = csms.callsOf('MeterValues').at(-1)!.params.meterValue[0].sampledValue;
    expect(mv).toEqual(expect.arrayContaining([
      expect.objectContaining({ measurand: 'Voltage', phase: 'L1-N', unit: 'V', value: '230.1' }),
      expect.objectContaining({ measurand: 'Current.Import', phase: 'L1', unit: 'A', value: '16.01' }),
    ]));
  });

  it('a board error (vehicle state 5, E/F) faults the connector: Faulted OtherError, no start, no reservation; it recovers when the board does', async () => {
    const { csms, slave, t } = await setup();
    const cp = t.agent.chargePoint!;
    const statusOf1 = () => csms.callsOf('StatusNotification').filter((c) => c.params.connectorId === 1).at(-1)?.params;
    await waitFor(() => statusOf1()?.status === 'Available', 10_000, 'Available');
    await slave.command('set 3 3 1002 5');
    await waitFor(() => statusOf1()?.status === 'Faulted', 10_000, 'Faulted at the central system');
    expect(statusOf1()).toMatchObject({ status: 'Faulted', errorCode: 'OtherError', info: expect.stringContaining('control pilot') });
    expect((await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG04' })).status).toBe('Rejected');
    expect((await csms.call('CP-TEST-1', 'ReserveNow', { connectorId: 1, expiryDate: new Date(Date.now() + 60_000).toISOString(), idTag: 'HWTAG04', reservationId: 7 })).status).toBe('Faulted');
    expect(csms.callsOf('StartTransaction')).toHaveLength(0);
    // The board is well again, a vehicle plugged in: Preparing, and a session may start.
    await slave.command('set 3 3 1002 2');
    await waitFor(() => statusOf1()?.status === 'Preparing' && statusOf1()?.errorCode === 'NoError', 10_000, 'Preparing after the error');
    expect((await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG04' })).status).toBe('Accepted');
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a board error during a session stops it (reason Other) with the contactor opened; unplugged after recovery, Available', async () => {
    const { csms, slave, t } = await setup();
    const cp = t.agent.chargePoint!;
    await slave.command('set 3 3 1002 2');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Preparing', 10_000, 'Preparing');
    expect((await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG05' })).status).toBe('Accepted');
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    await slave.command('set 3 3 1002 3');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    await slave.command('set 3 3 1002 5');
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params.reason).toBe('Other');
    await waitFor(() => csms.callsOf('StatusNotification').some((c) => c.params.connectorId === 1 && c.params.status === 'Faulted' && c.params.errorCode === 'OtherError'), 10_000, 'Faulted OtherError');
    expect(await slave.command('get 3 3 1000 1')).toBe('= 0');
    expect(cp.session(1)).toBeUndefined();
    // The board recovers with the car still plugged: Finishing; unplugged: Available.
    await slave.command('set 3 3 1002 2');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Finishing', 10_000, 'Finishing');
    await slave.command('set 3 3 1002 1');
    await waitFor(() => csms.callsOf('StatusNotification').filter((c) => c.params.connectorId === 1).at(-1)?.params.status === 'Available', 10_000, 'Available');
    expect(csms.callsOf('StartTransaction')).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('free vend: a vehicle found plugged when the board leaves its error state starts a session, as a plug-in does', async () => {
    const { csms, slave, t } = await setup({ session: { freeVendIdTag: 'FREEVEND' } });
    const cp = t.agent.chargePoint!;
    await slave.command('set 3 3 1002 5');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Faulted', 10_000, 'Faulted');
    expect(csms.callsOf('StartTransaction')).toHaveLength(0);
    await slave.command('set 3 3 1002 2');
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params).toMatchObject({ connectorId: 1, idTag: 'FREEVEND' });
  });

  it('refuses a frozen energy register while power is drawn: PowerMeterFailure, no stale value republished', async () => {
    const { csms, slave, t } = await setup();
    const cp = t.agent.chargePoint!;
    await slave.command('set 3 3 1002 2');
    await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG03' });
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    await slave.command('set 3 3 1002 3');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    // The meter reports 300 kW but its energy register does not move: after a few seconds that
    // is more energy "owed" than any meter's resolution.
    await slave.command('val 1 Power.Active.Import| 300000');
    await waitFor(() => v16StatusOf(cp.evseCondition(1)).errorCode === 'PowerMeterFailure', 15_000, 'PowerMeterFailure (frozen register)');
    const faultedAt = Date.now();
    await sleep(1_500);
    const after = csms.callsOf('MeterValues').filter((c) => c.at > faultedAt);
    expect(after).toHaveLength(0);
    // The register moves again: the fault clears by itself.
    await slave.command('val 1 Power.Active.Import| 11000');
    await slave.command('val 1 Energy.Active.Import.Register| 12345.68');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 15_000, 'Charging again');
  });

  it('refuses an implausible meter jump: PowerMeterFailure, never billed', async () => {
    const { csms, slave, t } = await setup();
    const cp = t.agent.chargePoint!;
    await slave.command('set 3 3 1002 2');
    await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'HWTAG02' });
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    await slave.command('set 3 3 1002 3');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    await slave.command('val 1 Energy.Active.Import.Register| 12400.0'); // +54 kWh in a second
    await waitFor(() => v16StatusOf(cp.evseCondition(1)).errorCode === 'PowerMeterFailure', 10_000, 'PowerMeterFailure');
    // The charge point knows first; its StatusNotification may wait behind a MeterValues call.
    await waitFor(() => csms.callsOf('StatusNotification').some((c) => c.params.connectorId === 1 && c.params.status === 'Faulted' && c.params.errorCode === 'PowerMeterFailure'), 10_000, 'Faulted PowerMeterFailure at the central system');
    await csms.call('CP-TEST-1', 'RemoteStopTransaction', { transactionId: 1 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params.meterStop).toBeLessThan(12_346_000);
    const values = csms.callsOf('MeterValues').flatMap((c) => c.params.meterValue[0].sampledValue)
      .filter((v: { measurand: string }) => v.measurand === 'Energy.Active.Import.Register').map((v: { value: string }) => Number(v.value));
    expect(values.every((v: number) => v < 12_346_000)).toBe(true);
  });
});
