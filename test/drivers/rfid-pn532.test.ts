import { afterEach, describe, expect, it } from 'vitest';
import type { SerialPort } from 'serialport';
import { ManualClock } from '../../src/core/clock.js';
import type { FaultReport, PresentedToken } from '../../src/core/ports.js';
import { processTimers } from '../../src/drivers/serial-link.js';
import {
  PN532_ACK, Pn532Command, Pn532Decoder, SerialRfidReader, TFI_HOST, TFI_PN532, pn532Frame,
} from '../../src/drivers/rfid/index.js';
import { startPtyPair, waitFor, type PtyPair } from '../helpers/pty.js';

/** A PN532 on the far end of the cable: ACKs every host frame and answers it. */
class FakePn532 {
  readonly decoder = new Pn532Decoder();
  readonly received: { command: number; params: string }[] = [];
  card: Buffer | undefined;
  answering = true;
  constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      for (const m of this.decoder.push(chunk)) {
        if (m.kind !== 'frame' || m.tfi !== TFI_HOST) continue;
        this.received.push({ command: m.command, params: m.params.toString('hex') });
        if (!this.answering) continue;
        port.write(Buffer.concat([PN532_ACK, this.answer(m.command)]));
      }
    });
  }
  polls(): number {
    return this.received.filter((r) => r.command === Pn532Command.InListPassiveTarget).length;
  }
  private answer(command: number): Buffer {
    if (command !== Pn532Command.InListPassiveTarget) return pn532Frame(TFI_PN532, command + 1);
    if (!this.card) return pn532Frame(TFI_PN532, command + 1, [0x00]);
    const sens = this.card.length === 4 ? [0x00, 0x04] : [0x00, 0x44];
    return pn532Frame(TFI_PN532, command + 1, [0x01, 0x01, ...sens, 0x00, this.card.length, ...this.card]);
  }
}

describe('PN532 over UART through a socat pty pair', () => {
  let pair: PtyPair | undefined;
  let reader: SerialRfidReader | undefined;
  afterEach(async () => {
    await reader?.stop();
    await pair?.cleanup();
    reader = pair = undefined;
  });

  it('configures the PN532, polls, and debounces a held 7-byte card', async () => {
    pair = await startPtyPair();
    const device = await pair.openDevice();
    const pn532 = new FakePn532(device);
    const manual = new ManualClock();
    reader = new SerialRfidReader({
      port: pair.host, protocol: 'pn532', connectors: [2], absentMs: 1000,
      pn532: { pollIntervalMs: 5 },
      clock: { now: () => manual.now(), setTimeout: processTimers.setTimeout },
    });
    const tokens: PresentedToken[] = [];
    reader.onToken((t) => tokens.push(t));
    await reader.start();

    await waitFor(() => pn532.polls() >= 2, 'polls');
    expect(pn532.received.slice(0, 3)).toEqual([
      { command: Pn532Command.SAMConfiguration, params: '011401' },
      { command: Pn532Command.RFConfiguration, params: '05ff0110' },
      { command: Pn532Command.InListPassiveTarget, params: '0100' },
    ]);
    expect(tokens).toEqual([]);

    pn532.card = Buffer.from('04a2b3c4d5e680', 'hex');
    const from = pn532.polls();
    await waitFor(() => pn532.polls() >= from + 10, 'ten polls with the card held');
    expect(tokens).toEqual([{ token: { id: '04A2B3C4D5E680', type: 'ISO14443' }, method: 'rfid', evseId: 2 }]);

    pn532.card = undefined;
    const lifted = pn532.polls();
    // The reader sends a poll only after handling the last answer: two more polls mean an
    // answer without the card has been handled.
    await waitFor(() => pn532.polls() >= lifted + 2, 'polls without the card');
    manual.advance(1000);
    pn532.card = Buffer.from('04a2b3c4d5e680', 'hex');
    await waitFor(() => tokens.length === 2, 'presented again');
    pn532.card = Buffer.from('11223344', 'hex');
    await waitFor(() => tokens.length === 3, 'a 4-byte card');
    expect(tokens[2]).toEqual({ token: { id: '11223344', type: 'ISO14443' }, method: 'rfid', evseId: 2 });
  });

  it('a PN532 that stops answering is a ReaderFailure until it answers again; unplug too', async () => {
    pair = await startPtyPair();
    const device = await pair.openDevice();
    const pn532 = new FakePn532(device);
    reader = new SerialRfidReader({
      port: pair.host, protocol: 'pn532', reopen: { initialDelayMs: 20, maxDelayMs: 100 },
      pn532: { pollIntervalMs: 5, responseTimeoutMs: 200, unansweredBeforeFault: 2 },
    });
    const faults: FaultReport[] = [];
    reader.onFault((f) => faults.push(f));
    // The next report after `from` that matches; a busy machine may add spurious timeouts.
    const next = (from: number, what: string, match: (f: FaultReport) => boolean) =>
      waitFor(() => { const i = faults.findIndex((f, k) => k >= from && match(f)); return i >= 0 ? i + 1 : undefined; }, what);
    await reader.start();
    await waitFor(() => pn532.polls() >= 2, 'polls');
    pn532.answering = false;
    let at = await next(0, 'not responding', (f) => f.active);
    expect(faults[at - 1]).toEqual({ source: 'reader', errorCode: 'ReaderFailure', active: true, info: 'PN532 not responding' });
    pn532.answering = true;
    at = await next(at, 'answering again', (f) => !f.active);

    await pair.unplug();
    at = await next(at, 'unplugged', (f) => f.active && f.info === 'reader unplugged or unavailable');
    await pair.plug();
    const again = new FakePn532(await pair.openDevice());
    await next(at, 'back', (f) => !f.active);
    await waitFor(() => again.received.some((r) => r.command === Pn532Command.InListPassiveTarget), 'polling the new device');
    expect(again.received[0]!.command).toBe(Pn532Command.SAMConfiguration);
    await waitFor(() => reader!.fault === undefined, 'no fault while it answers');
  });
});
