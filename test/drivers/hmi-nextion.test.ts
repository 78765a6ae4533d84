import { afterEach, describe, expect, it } from 'vitest';
import type { SerialPort } from 'serialport';
import type { FaultReport, PresentedToken } from '../../src/core/ports.js';
import { NextionDecoder, NextionHmi, nextionInstruction, type NextionHmiOptions } from '../../src/drivers/hmi/index.js';
import { generateOcmfKey, publicKeyHex, readPublicKey } from '../../src/lib/ocmf.js';
import { startPtyPair, waitFor, writeAll, type PtyPair } from '../helpers/pty.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('Nextion codec', () => {
  it('decodes events, return codes and strings, split anywhere', () => {
    const stream = hex(`
      000000ffffff 88ffffff
      650205 00 ffffff
      6603ffffff
      67 0010 0020 01 ffffff
      70 31323334 ffffff
      71 ffffffff ffffff
      71 39300000 ffffff
      1affffff 86ffffff 87ffffff`);
    const expected = [
      { type: 'startup' }, { type: 'ready' },
      { type: 'touch', page: 2, component: 5, event: 'release' },
      { type: 'page', page: 3 },
      { type: 'xy', x: 16, y: 32, event: 'press', asleep: false },
      { type: 'string', text: '1234' },
      { type: 'number', value: -1 },
      { type: 'number', value: 12345 },
      { type: 'return', code: 0x1a, meaning: 'invalid variable name or attribute' },
      { type: 'sleep' }, { type: 'wake' },
    ];
    expect(new NextionDecoder().push(stream)).toEqual(expected);
    const d = new NextionDecoder();
    expect([...stream].flatMap((b) => d.push(Buffer.from([b])))).toEqual(expected);
    expect(d.stats).toEqual({ messages: expected.length, malformed: 0 });
  });

  it('resynchronises after garbage', () => {
    const d = new NextionDecoder();
    expect(d.push(hex('65 01 ffffff 70 41 ffffff'))).toEqual([{ type: 'string', text: 'A' }]);
    expect(d.stats.malformed).toBe(1);
  });

  it('encodes instructions terminated by FF FF FF, escaping strings', () => {
    expect(nextionInstruction('page 1').toString('hex')).toBe(Buffer.from('page 1').toString('hex') + 'ffffff');
    expect(nextionInstruction('t0.txt="a\\"b"').toString('latin1')).toBe('t0.txt="a\\"b"\xff\xff\xff');
    expect(nextionInstruction('t0.txt="€ÿ"').toString('hex')).toBe(Buffer.from('t0.txt="??"').toString('hex') + 'ffffff');
  });
});

/** Instructions the screen end received, split at FF FF FF. */
function instructionsFrom(port: SerialPort): { list: string[]; raw: () => Buffer } {
  const chunks: Buffer[] = [];
  const list: string[] = [];
  let pending = Buffer.alloc(0);
  port.on('data', (c: Buffer) => {
    chunks.push(c);
    pending = Buffer.concat([pending, c]);
    for (let i = pending.indexOf(hex('ffffff')); i >= 0; i = pending.indexOf(hex('ffffff'))) {
      list.push(pending.subarray(0, i).toString('latin1'));
      pending = pending.subarray(i + 3);
    }
  });
  return { list, raw: () => Buffer.concat(chunks) };
}

describe('NextionHmi over a socat pty pair', () => {
  let pair: PtyPair | undefined;
  let hmi: NextionHmi | undefined;
  afterEach(async () => {
    await hmi?.stop();
    await pair?.cleanup();
    hmi = pair = undefined;
  });

  async function setup(opts: Partial<NextionHmiOptions> = {}) {
    pair = await startPtyPair();
    const screen = await pair.openDevice();
    const rx = instructionsFrom(screen);
    hmi = new NextionHmi({ port: pair.host, reopen: { initialDelayMs: 20, maxDelayMs: 100 }, ...opts });
    const tokens: PresentedToken[] = [];
    const faults: FaultReport[] = [];
    hmi.onToken((t) => tokens.push(t));
    hmi.onFault((f) => faults.push(f));
    await hmi.start();
    await waitFor(() => hmi!.connected, 'open');
    return { screen, rx, tokens, faults, hmi };
  }

  it('PIN entry: the submit touch makes the agent ask for the field; the answer is a touchscreen token', async () => {
    const { screen, rx, tokens } = await setup({ connectors: [1], pin: { page: 2, component: 5, field: 'pin.t0.txt' } });
    await writeAll(screen, hex('65 02 05 01 ffffff')); // press: ignored, release submits
    await writeAll(screen, hex('65 02 05 00 ffffff'));
    await waitFor(() => rx.list.includes('get pin.t0.txt'), 'get instruction');
    await writeAll(screen, Buffer.concat([hex('70'), Buffer.from('4711'), hex('ffffff')]));
    await waitFor(() => tokens.length === 1, 'token');
    expect(tokens).toEqual([{ token: { id: '4711', type: 'KeyCode' }, method: 'touchscreen', evseId: 1 }]);
    await waitFor(() => rx.list.includes('pin.t0.txt=""'), 'field cleared');
    expect(rx.list.filter((i) => i.startsWith('get '))).toHaveLength(1);
  });

  it('PIN entry pushed by the screen: PIN:<code> and PIN:<connector>:<code>', async () => {
    const { screen, tokens } = await setup({ connectors: [1, 2] });
    await writeAll(screen, Buffer.concat([hex('70'), Buffer.from('PIN:9999'), hex('ffffff 70'), Buffer.from('PIN:2:1234'), hex('ffffff')]));
    await writeAll(screen, Buffer.concat([hex('70'), Buffer.from('stray text'), hex('ffffff 70'), Buffer.from('PIN:'), hex('ffffff')]));
    await writeAll(screen, Buffer.concat([hex('70'), Buffer.from('PIN:1:55'), hex('ffffff')]));
    await waitFor(() => tokens.length === 3, 'tokens');
    expect(tokens).toEqual([
      { token: { id: '9999', type: 'KeyCode' }, method: 'touchscreen' },
      { token: { id: '1234', type: 'KeyCode' }, method: 'touchscreen', evseId: 2 },
      { token: { id: '55', type: 'KeyCode' }, method: 'touchscreen', evseId: 1 },
    ]);
  });

  it('show() sends terminated instructions for status, energy, power and cost', async () => {
    const { rx, hmi } = await setup({ currency: 'EUR' });
    await waitFor(() => rx.raw().length >= 3, 'greeting');
    hmi.show({ connectorId: 1, status: 'Charging', energyWh: 12_345, powerW: 7_360, cost: 3.5 });
    hmi.page(1);
    await waitFor(() => rx.list.includes('page 1'), 'instructions');
    expect(rx.list).toEqual([
      '',
      'c1status.txt="Charging"',
      'c1energy.txt="12.35 kWh"',
      'c1power.txt="7.4 kW"',
      'c1cost.txt="3.50 EUR"',
      'page 1',
    ]);
    expect(rx.raw().subarray(-3)).toEqual(hex('ffffff'));
  });

  it('showMessage() sets the message area (quotes escaped, Latin-1), empties it without text, and is shown again when the screen restarts', async () => {
    const { screen, rx, hmi } = await setup({ fields: { message: 'main.m{id}.txt' } });
    await waitFor(() => rx.raw().length >= 3, 'greeting');
    hmi.showMessage({ connectorId: 1, text: 'Tarif "Nacht": 0,29 €/kWh – grüne Energie', priority: 'NormalCycle' });
    hmi.showMessage({ connectorId: 1, text: 'Tarif "Nacht": 0,29 €/kWh – grüne Energie', priority: 'NormalCycle' }); // unchanged: not sent again
    hmi.showMessage({ connectorId: 2, text: 'Out of order', priority: 'AlwaysFront' });
    hmi.showMessage({ connectorId: 2 });
    hmi.page(0);
    await waitFor(() => rx.list.includes('page 0'), 'instructions');
    // € is not in Latin-1: a question mark; ü is.
    expect(rx.list.slice(1)).toEqual(['main.m1.txt="Tarif \\"Nacht\\": 0,29 ?/kWh ? grüne Energie"', 'main.m2.txt="Out of order"', 'main.m2.txt=""', 'page 0']);
    await writeAll(screen, hex('88ffffff'));
    await waitFor(() => rx.list.filter((i) => i.startsWith('main.m1.txt=')).length === 2, 'message again');
    // An emptied area is not sent again.
    expect(rx.list.filter((i) => i.startsWith('main.m2.txt='))).toHaveLength(2);
    // A connector never given a message hears nothing of the area.
    hmi.showMessage({ connectorId: 3 });
    hmi.page(2);
    await waitFor(() => rx.list.includes('page 2'), 'page 2');
    expect(rx.list.some((i) => i.startsWith('main.m3.txt'))).toBe(false);
  });

  it('a project without a message area (fields.message \'\') is sent no message instructions', async () => {
    const { rx, hmi } = await setup({ fields: { message: '' } });
    await waitFor(() => rx.raw().length >= 3, 'greeting');
    hmi.showMessage({ connectorId: 1, text: 'Hello' });
    hmi.show({ connectorId: 1, status: 'Available', energyWh: 0, powerW: 0 });
    hmi.page(1);
    await waitFor(() => rx.list.includes('page 1'), 'instructions');
    expect(rx.list.slice(1)).toEqual(['c1status.txt="Available"', 'c1energy.txt="0.00 kWh"', 'c1power.txt="0.0 kW"', 'page 1']);
  });

  it('calibration law: a signing meter\'s public key and the session\'s signed readings, sent when they change, emptied after the session, again when the screen restarts', async () => {
    const { screen, rx, hmi } = await setup();
    await waitFor(() => rx.raw().length >= 3, 'greeting');
    // A real key: the hex DER SubjectPublicKeyInfo the central system reads in MeterPublicKey[n].
    const key = publicKeyHex(generateOcmfKey().publicKey);
    const begin = { time: '2026-01-05T08:00:00,000+0000 S', tx: 'B', value: 1234.5, unit: 'kWh' };
    const end = { time: '2026-01-05T09:30:00,000+0000 S', tx: 'E', value: 1251.25, unit: 'kWh' };
    const base = { connectorId: 1, status: 'Charging', energyWh: 0, powerW: 0, meterPublicKey: key } as const;
    hmi.show({ ...base, signedValues: [begin] });
    hmi.show({ ...base, energyWh: 100, signedValues: [begin] }); // key and readings unchanged: not sent again
    hmi.show({ ...base, energyWh: 16_750, status: 'Finishing', signedValues: [begin, end] });
    hmi.show({ ...base, status: 'Available' }); // the session is over: its readings are emptied
    // A connector whose meter does not sign hears nothing of the fields.
    hmi.show({ connectorId: 2, status: 'Available', energyWh: 0, powerW: 0 });
    hmi.page(3);
    await waitFor(() => rx.list.includes('page 3'), 'instructions');
    const signing = rx.list.filter((i) => /^c\dkey\.txt=|^c\dsigned\.txt=/.test(i));
    expect(signing).toEqual([
      `c1key.txt="${key}"`,
      'c1signed.txt="B 2026-01-05T08:00:00,000+0000 S 1234.5 kWh"',
      'c1signed.txt="B 2026-01-05T08:00:00,000+0000 S 1234.5 kWh\\rE 2026-01-05T09:30:00,000+0000 S 1251.25 kWh"',
      'c1signed.txt=""',
    ]);
    // The key shown is the meter's key: it reads back as the key that verifies the meter's records.
    expect(publicKeyHex(readPublicKey(signing[0]!.slice('c1key.txt="'.length, -1)))).toBe(key);
    expect(rx.list.filter((i) => i.startsWith('c1status.txt='))).toHaveLength(4);

    // The screen restarts: it shows its defaults, so the key goes again (and the emptied readings).
    await writeAll(screen, hex('88ffffff'));
    await waitFor(() => rx.list.filter((i) => i.startsWith('c1key.txt=')).length === 2, 'key again');
    hmi.page(4);
    await waitFor(() => rx.list.includes('page 4'), 'page 4');
    expect(rx.list.filter((i) => i.startsWith('c1signed.txt=')).at(-1)).toBe('c1signed.txt=""');
    expect(rx.list.some((i) => i.startsWith('c2key.txt') || i.startsWith('c2signed.txt'))).toBe(false);
  });

  it('a project without the signing fields (fields.meterKey and signedValues \'\') is sent none of them', async () => {
    const { rx, hmi } = await setup({ fields: { meterKey: '', signedValues: '' } });
    await waitFor(() => rx.raw().length >= 3, 'greeting');
    hmi.show({ connectorId: 1, status: 'Charging', energyWh: 0, powerW: 0, meterPublicKey: 'AB', signedValues: [{ time: 't', tx: 'B', value: 1, unit: 'kWh' }] });
    hmi.page(1);
    await waitFor(() => rx.list.includes('page 1'), 'instructions');
    expect(rx.list.slice(1)).toEqual(['c1status.txt="Charging"', 'c1energy.txt="0.00 kWh"', 'c1power.txt="0.0 kW"', 'page 1']);
  });

  it('unplugged screen: ReaderFailure for hmi, state shown again on replug', async () => {
    const { faults, hmi } = await setup({ fields: { status: 'main.s{id}.txt' } });
    hmi.show({ connectorId: 2, status: 'Available', energyWh: 0, powerW: 0 });
    await pair!.unplug();
    await waitFor(() => faults.length === 1, 'fault');
    expect(faults[0]).toMatchObject({ source: 'hmi', errorCode: 'ReaderFailure', active: true });
    hmi.show({ connectorId: 2, status: 'Preparing', energyWh: 0, powerW: 0 }); // while away: remembered
    await pair!.plug();
    const screen = await pair!.openDevice();
    const rx = instructionsFrom(screen);
    await waitFor(() => faults.length === 2, 'cleared');
    expect(faults[1]).toEqual({ source: 'hmi', errorCode: 'ReaderFailure', active: false });
    // The refresh may have been written before we opened the screen end: restart the screen.
    await writeAll(screen, hex('88ffffff'));
    await waitFor(() => rx.list.includes('main.s2.txt="Preparing"'), 'state again');
    expect(rx.list).toContain('c2energy.txt="0.00 kWh"');
  });
});
