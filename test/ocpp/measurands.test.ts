/**
 * The measurand keys (MeterValuesSampledData, MeterValuesAlignedData, StopTxnSampledData,
 * StopTxnAlignedData) accept only what this charger can produce: its meters' profile, a
 * simulated vehicle's SoC, and what it offers (Current.Offered, Power.Offered). Anything else
 * is Rejected at ChangeConfiguration (OCPP 1.6 §9.1) instead of silently missing from every
 * MeterValue. Here both connectors have a real Modbus meter (pymodbus, Eastron SDM630).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/index.js';
import { startAgent } from '../helpers/agent.js';
import { startTcpSlave } from '../helpers/modbus-slave.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('measurands a charger with Modbus meters can produce', () => {
  it('accepts its meter profile\'s measurands and the offered ones; rejects SoC and Temperature', async () => {
    const values = join(import.meta.dirname, '../fixtures/modbus/eastron-sdm630.values.json');
    const profileFile = join(PROFILES_DIR, 'meters', 'eastron-sdm630.json');
    const slave = await startTcpSlave([{ unitId: 1, profileFile, valuesFile: values }, { unitId: 2, profileFile, valuesFile: values }]);
    cleanups.push(slave.stop);
    const meter = (unitId: number) => ({ driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 300, retries: 1, unitId, profile: 'eastron-sdm630' });
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { connectors: [{ id: 1, meter: meter(1) }, { id: 2, meter: meter(2) }] });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
    const change = (key: string, value: string) => csms.call(CP, 'ChangeConfiguration', { key, value });
    expect(await change('MeterValuesSampledData', 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Frequency,Current.Offered,Power.Offered')).toEqual({ status: 'Accepted' });
    expect(await change('StopTxnAlignedData', 'Energy.Active.Import.Register,Power.Offered')).toEqual({ status: 'Accepted' });
    // No vehicle communication (SoC) and no temperature sensor on this charger.
    expect(await change('MeterValuesSampledData', 'Energy.Active.Import.Register,SoC')).toEqual({ status: 'Rejected' });
    expect(await change('MeterValuesAlignedData', 'Temperature')).toEqual({ status: 'Rejected' });
    expect(await change('StopTxnSampledData', 'SoC')).toEqual({ status: 'Rejected' });
    const res = await csms.call(CP, 'GetConfiguration', { key: ['MeterValuesSampledData'] });
    expect(res.configurationKey[0].value).toBe('Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Frequency,Current.Offered,Power.Offered');
  });
});
