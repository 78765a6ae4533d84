import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { FaultReport, PresentedToken } from '../../src/core/ports.js';
import { pseudonymiser } from '../../src/lib/pseudonym.js';
import { processTimers } from '../../src/drivers/serial-link.js';
import { SerialRfidReader, watchRfid, type SerialRfidReaderOptions } from '../../src/drivers/rfid/index.js';
import { startPtyPair, waitFor, writeAll, type PtyPair } from '../helpers/pty.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fast = { initialDelayMs: 20, maxDelayMs: 100, factor: 2 };
// RDM6300 card 0F 00 A1 B2 C3 (checksum DF), and the same with a wrong checksum.
const RDM_FRAME = hex('02 30463030413142324333 4446 03');
const RDM_BAD = hex('02 30463030413142324333 4445 03');

describe('serial RFID readers over socat pty pairs', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function setup(opts: Omit<SerialRfidReaderOptions, 'port'>) {
    const pair = await startPtyPair();
    cleanups.push(() => pair.cleanup());
    const reader = new SerialRfidReader({ reopen: fast, ...opts, port: pair.host });
    cleanups.push(() => reader.stop());
    const tokens: PresentedToken[] = [];
    const faults: FaultReport[] = [];
    reader.onToken((t) => tokens.push(t));
    reader.onFault((f) => faults.push(f));
    await reader.start();
    await waitFor(() => reader.stats().linkUp, 'reader open');
    const device = await pair.openDevice();
    return { pair, reader, tokens, faults, device };
  }

  it('line protocol: one token per line, 4/7/10-byte UIDs, split writes', async () => {
    const { reader, tokens, device } = await setup({ protocol: 'line', connectors: [1] });
    await writeAll(device, '04a2b3c4\r\n04A2B3C4D5E6');
    await writeAll(device, '80\r\n0102030405060708090a\r\nnot-a-uid\r\n');
    await waitFor(() => tokens.length === 3, 'three tokens');
    expect(tokens).toEqual([
      { token: { id: '04A2B3C4', type: 'ISO14443' }, method: 'rfid', evseId: 1 },
      { token: { id: '04A2B3C4D5E680', type: 'ISO14443' }, method: 'rfid', evseId: 1 },
      { token: { id: '0102030405060708090A', type: 'ISO14443' }, method: 'rfid', evseId: 1 },
    ]);
    await waitFor(() => reader.stats().malformed === 1, 'malformed line counted');
  });

  it('byte order reversed, and no connectorId when the reader serves several', async () => {
    const { tokens, device } = await setup({ protocol: 'line', connectors: [1, 2], uid: { byteOrder: 'reversed' } });
    await writeAll(device, '04A2B3C4\n04A2B3C4D5E680\n');
    await waitFor(() => tokens.length === 2, 'two tokens');
    expect(tokens).toEqual([
      { token: { id: 'C4B3A204', type: 'ISO14443' }, method: 'rfid' },
      { token: { id: '80E6D5C4B3A204', type: 'ISO14443' }, method: 'rfid' },
    ]);
  });

  it('RDM6300: decodes frames, drops and counts bad checksums', async () => {
    const { reader, tokens, device } = await setup({ protocol: 'rdm6300' });
    await writeAll(device, Buffer.concat([RDM_BAD, RDM_FRAME.subarray(0, 6)]));
    await writeAll(device, RDM_FRAME.subarray(6));
    await waitFor(() => tokens.length === 1, 'token');
    expect(tokens).toEqual([{ token: { id: '0F00A1B2C3', type: 'ISO14443' }, method: 'rfid' }]);
    expect(reader.stats()).toMatchObject({ frames: 1, badChecksum: 1, tokens: 1 });
  });

  it('debounce: a held card is one presentation until absent for absentMs', async () => {
    const manual = new ManualClock();
    const clock = { now: () => manual.now(), setTimeout: processTimers.setTimeout };
    const { reader, tokens, device } = await setup({ protocol: 'rdm6300', absentMs: 1000, clock });
    // The RDM6300 repeats its frame while the card lies on it.
    for (let i = 1; i <= 5; i++) {
      await writeAll(device, RDM_FRAME);
      await waitFor(() => reader.stats().frames === i, `frame ${i}`);
      manual.advance(300);
    }
    expect(tokens).toHaveLength(1);
    manual.advance(1000); // card lifted for a second
    await writeAll(device, RDM_FRAME);
    await waitFor(() => reader.stats().frames === 6, 'sixth frame');
    expect(tokens).toHaveLength(2);
  });

  it('unplugged reader: ReaderFailure, reopened on replug, fault cleared, reads again', async () => {
    const { pair, reader, tokens, faults } = await setup({ protocol: 'line', connectors: [1] });
    // Each step waits for what the reader does, as long as a loaded machine needs (socat's
    // restart, serialport's hang-up detection, the reopen back-off), and says where it stood.
    const step = (done: () => boolean, what: string) => waitFor(done, what, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; faults ${JSON.stringify(faults)}, tokens ${tokens.length}, reader ${JSON.stringify(reader.stats())}`);
    });
    await pair.unplug();
    await step(() => faults.length === 1, 'fault');
    expect(faults[0]).toMatchObject({ source: 'reader', errorCode: 'ReaderFailure', active: true });
    expect(reader.fault).toBeDefined();

    await pair.plug();
    await step(() => faults.length === 2, 'fault cleared');
    expect(faults[1]).toEqual({ source: 'reader', errorCode: 'ReaderFailure', active: false });
    await step(() => reader.stats().linkUp, 'reader open again');
    const device = await pair.openDevice();
    await writeAll(device, 'DEADBEEF\r\n');
    await step(() => tokens.length === 1, 'token after replug');
    expect(tokens[0]).toEqual({ token: { id: 'DEADBEEF', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
  });

  it('a reader absent at start is reported, also to a listener that subscribes later', async () => {
    const pair = await startPtyPair();
    cleanups.push(() => pair.cleanup());
    await pair.unplug();
    const reader = new SerialRfidReader({ port: pair.host, protocol: 'rdm6300', reopen: fast, faultSource: 'reader@front' });
    cleanups.push(() => reader.stop());
    await reader.start();
    const faults: FaultReport[] = [];
    reader.onFault((f) => faults.push(f));
    await waitFor(() => faults.length === 1, 'replayed fault');
    expect(faults[0]).toMatchObject({ source: 'reader@front', active: true });
    await pair.plug();
    await waitFor(() => faults.length === 2, 'cleared');
    expect(faults[1]!.active).toBe(false);
  });

  it('watchRfid prints pseudonyms, or every UID form when showUid', async () => {
    const pair = await startPtyPair();
    cleanups.push(() => pair.cleanup());
    const pseudonym = pseudonymiser(Buffer.alloc(32, 7));
    let hidden = '';
    const w1 = await watchRfid({ port: pair.host, protocol: 'line', showUid: false, pseudonym, out: { write: (s: string) => (hidden += s) } });
    cleanups.push(() => w1.stop());
    await waitFor(() => w1.reader.stats().linkUp, 'open');
    const device = await pair.openDevice();
    await writeAll(device, '04A2B3C4\r\n');
    await waitFor(() => hidden.includes('card '), 'a card line');
    expect(hidden).toContain(pseudonym('04A2B3C4'));
    expect(hidden).not.toMatch(/04A2B3C4|C4B3A204/i);
    await w1.stop();

    let clear = '';
    const w2 = await watchRfid({ port: pair.host, protocol: 'line', showUid: true, out: { write: (s: string) => (clear += s) } });
    cleanups.push(() => w2.stop());
    await waitFor(() => w2.reader.stats().linkUp, 'open');
    await writeAll(device, '04A2B3C4\r\n');
    await waitFor(() => clear.includes('card '), 'a card line');
    expect(clear).toContain('idTag=04A2B3C4');
    expect(clear).toContain('hex-reversed=C4B3A204');
    expect(clear).toContain(`dec10=${String(0x04a2b3c4).padStart(10, '0')}`);
    await expect(watchRfid({ port: pair.host, protocol: 'line', showUid: false, out: { write: () => true } }))
      .rejects.toMatchObject({ code: 'ERR_RFID_WATCH_NO_PSEUDONYM' });
  });
});
