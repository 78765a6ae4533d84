import { afterEach, describe, expect, it } from 'vitest';
import { rdm6300Frame } from '../../src/drivers/rfid/index.js';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { startPtyPair, writeAll } from '../helpers/pty.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('an agent with a serial RFID reader and a touchscreen in its config', () => {
  it('loads their drivers and wires them: a card on the reader and a code on the screen each go to the central system as Authorize', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const reader = await startPtyPair();
    cleanups.push(() => reader.cleanup());
    const screen = await startPtyPair();
    cleanups.push(() => screen.cleanup());
    const screenDevice = await screen.openDevice();
    let screenOut = '';
    screenDevice.on('data', (d: Buffer) => (screenOut += d.toString('utf8')));

    const t = await startAgent(url, {
      readers: [{ driver: 'serial', port: reader.host, protocol: 'rdm6300' }],
      touchscreen: { driver: 'json-lines', port: screen.host },
    });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    expect(t.agent.hardware!.rfid).toHaveLength(1);
    expect(t.agent.hardware!.hmi).toBeDefined();
    await waitFor(() => screenOut.includes('"type":"hello"'), 10_000, 'the screen greeted');

    const card = await reader.openDevice();
    await writeAll(card, rdm6300Frame(Buffer.from('0A1B2C3D4E', 'hex')));
    await waitFor(() => csms.callsOf('Authorize').some((c) => c.params.idTag === '0A1B2C3D4E'), 10_000, 'Authorize for the card');
    await writeAll(screenDevice, '{"type":"code","code":"2468"}\n');
    await waitFor(() => csms.callsOf('Authorize').some((c) => c.params.idTag === '2468'), 10_000, 'Authorize for the code');
    expect(csms.validationFailures).toEqual([]);
  });
});
