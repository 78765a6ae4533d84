import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { startPtyPair } from '../helpers/pty.js';

/**
 * Calibration law on the touchscreen (issue 20): the screen (json-lines or Nextion, over a pty) shows the
 * signing meter's public key, the one the central system reads as MeterPublicKey[1], and the
 * signed readings of the running session.
 */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('the touchscreen of a charger with a signing meter', () => {
  it('shows the meter\'s public key and the session\'s signed begin value', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const screen = await startPtyPair();
    cleanups.push(() => screen.cleanup());
    const device = await screen.openDevice();
    let out = '';
    device.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

    const t = await startAgent(url, { touchscreen: { driver: 'json-lines', port: screen.host }, simulation: { signedMeters: true } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'Accepted');
    const key = (await csms.call('CP-TEST-1', 'GetConfiguration', { key: ['MeterPublicKey[1]'] })).configurationKey[0].value;
    await waitFor(() => lines().some((l) => l.type === 'connector' && l.connectorId === 1 && l.meterPublicKey === key), 10_000, 'the key on the screen');

    await csms.call('CP-TEST-1', 'RemoteStartTransaction', { idTag: 'SCREEN-1', connectorId: 1 });
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    const shown = await waitFor(() => lines().find((l) => l.connectorId === 1 && l.signedValues?.length), 10_000, 'signed values on the screen');
    expect(shown.signedValues[0]).toMatchObject({ tx: 'B', unit: 'kWh', value: start.params.meterStart / 1000 });
    expect(shown.meterPublicKey).toBe(key);
    expect(csms.validationFailures).toEqual([]);
  });

  it('Nextion: the key in c1key.txt, the signed begin in c1signed.txt while the session runs, emptied after it', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const screen = await startPtyPair();
    cleanups.push(() => screen.cleanup());
    const device = await screen.openDevice();
    let out = Buffer.alloc(0);
    device.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
    // The instructions the screen received, split at FF FF FF.
    const instructions = () => out.toString('latin1').split('\xff\xff\xff');

    const t = await startAgent(url, { touchscreen: { driver: 'nextion', port: screen.host }, simulation: { signedMeters: true } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'Accepted');
    const key = (await csms.call('CP-TEST-1', 'GetConfiguration', { key: ['MeterPublicKey[1]'] })).configurationKey[0].value;
    await waitFor(() => instructions().includes(`c1key.txt="${key}"`), 10_000, 'the key on the screen');

    await csms.call('CP-TEST-1', 'RemoteStartTransaction', { idTag: 'SCREEN-2', connectorId: 1 });
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    const signed = await waitFor(() => instructions().find((i) => i.startsWith('c1signed.txt="B ')), 10_000, 'the signed begin on the screen');
    expect(signed).toMatch(new RegExp(`^c1signed\\.txt="B \\S+ \\S+ ${start.params.meterStart / 1000} kWh`));
    // Sent once per change, not with every reading.
    expect(instructions().filter((i) => i.startsWith('c1key.txt='))).toHaveLength(1);

    await csms.call('CP-TEST-1', 'RemoteStopTransaction', { transactionId: start.params.transactionId ?? 1 });
    await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    await waitFor(() => instructions().lastIndexOf('c1signed.txt=""') > instructions().indexOf(signed), 10_000, 'the readings emptied after the session');
    expect(csms.validationFailures).toEqual([]);
  });
});
