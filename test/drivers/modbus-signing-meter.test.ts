/**
 * A calibration-law meter over Modbus (profile iskra-wm3m4c, its `signing` block): a pymodbus
 * slave that signs like the meter (its key generated here by openssl; it signs with
 * python-cryptography), the agent reading the signed record at the transaction's end, the 1.6
 * central system verifying it against MeterPublicKey[1]; and after the agent stops mid-session,
 * the session closed at the next start with the meter's signed end value. And the profile's
 * signature format register (the manual's 47060, table 14), checked before a meter signs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/profiles.js';
import { createModbusMeter, loadMeterProfile, ModbusBus } from '../../src/drivers/modbus/index.js';
import { P256_SPKI_PREFIX } from '../../src/drivers/modbus/ocmf-signer.js';
import { parseOcmf, publicKeyHex, readPrivateKey, verifyOcmf } from '../../src/lib/ocmf.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { startTcpSlave } from '../helpers/modbus-slave.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const ENERGY = 'Energy.Active.Import.Register|';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

function signedValues(meterValue: any[] | undefined): { context: string; ocmf: string }[] {
  return (meterValue ?? []).flatMap((mv) => mv.sampledValue).filter((sv: any) => sv.format === 'SignedData')
    .map((sv: any) => ({ context: sv.context, ocmf: Buffer.from(JSON.parse(sv.value).signedMeterData, 'base64').toString('utf8') }));
}

describe('a signing Modbus meter (iskra-wm3m4c against a signing pymodbus slave)', () => {
  it('signs the transaction in the meter: the end record carries begin and end, verified with MeterPublicKey[1]; a session left open is closed at the next start with the meter\'s signed end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocmf-meter-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'meter-key.pem');
    writeFileSync(keyFile, execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']));
    const expectedKey = publicKeyHex(readPrivateKey(execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', keyFile]).toString()));
    const values = join(dir, 'values.json');
    writeFileSync(values, JSON.stringify({ [ENERGY]: 1_234_567.8, 'Energy.Active.Export.Register|': 0 }));
    const slave = await startTcpSlave([{ unitId: 1, profileFile: join(PROFILES_DIR, 'meters', 'iskra-wm3m4c.json'), valuesFile: values, signingKeyFile: keyFile }]);
    cleanups.push(slave.stop);
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const agentDir = join(dir, 'agent');
    const config = {
      connectors: [{ id: 1, meter: { driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 500, retries: 1, unitId: 1, profile: 'iskra-wm3m4c' } }],
      ocpp: { MeterValueSampleInterval: 1 },
    };
    let t: TestAgent = await startAgent(url, config, { dir: agentDir });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link?.state === 'accepted', 15_000, 'accepted');

    const conf = await csms.call(CP, 'GetConfiguration', { key: ['MeterPublicKey[1]'] });
    expect(conf.configurationKey[0].value).toBe(expectedKey);

    // A session: the meter's transaction opens at its start, and its signed record comes at the end.
    expect((await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'SIGNED-1' })).status).toBe('Accepted');
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 15_000, 'StartTransaction');
    expect(start.params.meterStart).toBe(1_234_568);
    expect(await slave.command('get 1 3 7000 1')).toBe('= 1');
    for (const wh of [1_234_569.1, 1_234_570.4, 1_234_572.2]) {
      expect(await slave.command(`val 1 ${ENERGY} ${wh}`)).toBe('OK');
      await new Promise((r) => setTimeout(r, 300));
    }
    const txId = start.params.transactionId ?? 1;
    await csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 15_000, 'StopTransaction');
    expect(stop.params.meterStop).toBe(1_234_572);
    expect(await slave.command('get 1 3 7000 1')).toBe('= 0');
    const [end] = signedValues(stop.params.transactionData).filter((v) => v.context === 'Transaction.End');
    expect(end, JSON.stringify(stop.params.transactionData)).toBeDefined();
    expect(verifyOcmf(end!.ocmf, expectedKey).valid).toBe(true);
    const rd = parseOcmf(end!.ocmf).payload.RD;
    expect(rd.map((r) => r.TX)).toEqual(['B', 'E']);
    expect(Math.round(rd[0]!.RV * 1000)).toBe(start.params.meterStart);
    expect(Math.round(rd[1]!.RV * 1000)).toBe(stop.params.meterStop);
    // The charger's metadata is in the signed payload: its gateway serial, no customer data.
    expect(parseOcmf(end!.ocmf).payload).toMatchObject({ GS: CP, IS: false, IT: 'NONE', MS: 'ISK-SIM-0001' });
    expect(verifyOcmf(end!.ocmf.replace(/"RV":1234\.572/, '"RV":1234.573'), expectedKey).valid).toBe(false);

    // A second session left open (the agent stops without ending it), closed at the next start.
    t.agent.sim.connectors.get(1)!.unplug();
    await waitFor(() => csms.callsOf('StatusNotification').at(-1)?.params.status === 'Available', 10_000, 'Available');
    expect((await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'SIGNED-2' })).status).toBe('Accepted');
    await waitFor(() => csms.callsOf('StartTransaction').length === 2, 15_000, 'second StartTransaction');
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'delivered');
    expect(await slave.command(`val 1 ${ENERGY} 1234575.0`)).toBe('OK');
    await t.agent.stop();
    expect(await slave.command('get 1 3 7000 1')).toBe('= 1');
    t = await startAgent(url, config, { dir: agentDir });
    const stop2 = await waitFor(() => csms.callsOf('StopTransaction')[1], 20_000, 'StopTransaction after the restart');
    expect(stop2.params.reason).toBe('PowerLoss');
    expect(stop2.params.meterStop).toBe(1_234_575);
    const [end2] = signedValues(stop2.params.transactionData).filter((v) => v.context === 'Transaction.End');
    expect(verifyOcmf(end2!.ocmf, expectedKey).valid).toBe(true);
    expect(Math.round(parseOcmf(end2!.ocmf).payload.RD[1]!.RV * 1000)).toBe(1_234_575);
    expect(await slave.command('get 1 3 7000 1')).toBe('= 0');
    expect(csms.validationFailures).toEqual([]);
  }, 120_000);
});

describe('the signature format register (manual 6.5.6, table 14: 47060)', () => {
  it('a meter set to sign nothing (0) is refused with a clear error before any command; set to ECDSA-secp256r1-SHA256 (4) it is used', async () => {
    const profile = loadMeterProfile(join(PROFILES_DIR, 'meters', 'iskra-wm3m4c.json'));
    const sg = profile.signing!;
    expect(sg.algorithm).toEqual({ address: 7060, value: 4 });
    const dir = mkdtempSync(join(tmpdir(), 'ocmf-algorithm-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'meter-key.pem');
    writeFileSync(keyFile, execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']));
    const values = join(dir, 'values.json');
    writeFileSync(values, JSON.stringify({ 'Energy.Active.Import.Register|': 1000, 'Energy.Active.Export.Register|': 0 }));
    const slave = await startTcpSlave([{ unitId: 1, profileFile: join(PROFILES_DIR, 'meters', 'iskra-wm3m4c.json'), valuesFile: values, signingKeyFile: keyFile }]);
    cleanups.push(slave.stop);
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: slave.port });
    cleanups.push(() => bus.stop());
    const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => { const h = setTimeout(fn, ms); return { cancel: () => clearTimeout(h) }; } };
    const meter = () => createModbusMeter({ bus, profile, unitId: 1, connectorId: 1, timeoutMs: 2_000, retries: 0, clock, ocmfMetadata: { GS: CP } });

    expect(await slave.command(`set 1 3 ${sg.algorithm!.address} 0`)).toBe('OK');
    const unset = meter();
    await expect(unset.signer!.publicKey()).rejects.toMatchObject({ code: 'ERR_METER_ALGORITHM', message: expect.stringMatching(/reads 0, not 4/) });
    await expect(unset.signer!.readSigned('begin')).rejects.toMatchObject({ code: 'ERR_METER_ALGORITHM' });
    // Nothing was asked of the meter: no transaction open, no command written.
    expect(await slave.command(`get 1 3 ${sg.state.address} 1`)).toBe('= 0');
    expect(await slave.command(`get 1 3 ${sg.command.address} 1`)).toBe('= 0');

    expect(await slave.command(`set 1 3 ${sg.algorithm!.address} 4`)).toBe('OK');
    const set = meter();
    expect(await set.signer!.publicKey()).toMatch(new RegExp(`^${P256_SPKI_PREFIX}[0-9A-F]{128}$`));
    await set.signer!.readSigned('begin');
    expect(await slave.command(`get 1 3 ${sg.state.address} 1`)).toBe('= 1');
  }, 60_000);
});
