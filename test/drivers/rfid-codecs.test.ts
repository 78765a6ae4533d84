import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import {
  Debouncer, LineDecoder, Pn532Decoder, Rdm6300Decoder, inListPassiveTargetFrame, normaliseUid,
  parseInListPassiveTarget, passiveActivationRetriesFrame, pn532Frame, samConfigurationFrame,
  TFI_HOST,
} from '../../src/drivers/rfid/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytewise = (buf: Buffer) => [...buf].map((b) => Buffer.from([b]));
const feed = <T>(d: { push(c: Buffer): T[] }, chunks: Buffer[]) => chunks.flatMap((c) => d.push(c));
const asHex = (uids: Buffer[]) => uids.map((u) => u.toString('hex').toUpperCase());

describe('line protocol', () => {
  it('decodes one ASCII hex UID per line, CR, LF or CRLF', () => {
    const d = new LineDecoder();
    // "04a2b3c4\r\n" "04A2B3C4D5E680\n" "0102030405060708090A\r"
    const uids = d.push(hex('3034613262336334 0d0a 3034413242334334443545363830 0a 3031303230333034303530363037303830393041 0d'));
    expect(asHex(uids)).toEqual(['04A2B3C4', '04A2B3C4D5E680', '0102030405060708090A']);
    expect(d.stats).toEqual({ frames: 3, badChecksum: 0, malformed: 0 });
  });

  it('handles split reads, byte by byte', () => {
    const d = new LineDecoder();
    expect(asHex(feed(d, bytewise(Buffer.from('04A2B3C4\r\n04:a2:b3:c4:d5:e6:80\r\n'))))).toEqual(['04A2B3C4', '04A2B3C4D5E680']);
  });

  it('strips STX/ETX around a line and drops malformed lines, counting them', () => {
    const d = new LineDecoder();
    const uids = d.push(Buffer.concat([hex('02'), Buffer.from('DEADBEEF'), hex('03 0d0a'), Buffer.from('hello\nABC\n0102\n' + 'A'.repeat(100) + '\n11223344\n')]));
    expect(asHex(uids)).toEqual(['DEADBEEF', '11223344']);
    expect(d.stats.malformed).toBe(4);
  });

  it('reads decimal lines when configured', () => {
    const d = new LineDecoder('dec');
    expect(asHex(d.push(Buffer.from('0004718321\r\n3735928559\r\n')))).toEqual(['0047FEF1', 'DEADBEEF']);
  });
});

describe('RDM6300 frames', () => {
  // Card 0F 00 A1 B2 C3, checksum DF: STX "0F00A1B2C3DF" ETX.
  const frame = hex('02 30 46 30 30 41 31 42 32 43 33 44 46 03');
  const badChecksum = hex('02 30 46 30 30 41 31 42 32 43 33 44 45 03');

  it('decodes a frame, split and concatenated', () => {
    const d = new Rdm6300Decoder();
    expect(asHex(d.push(frame))).toEqual(['0F00A1B2C3']);
    const two = Buffer.concat([frame, frame]);
    expect(asHex(feed(d, [two.subarray(0, 5), two.subarray(5, 20), two.subarray(20)]))).toEqual(['0F00A1B2C3', '0F00A1B2C3']);
    expect(asHex(feed(d, bytewise(frame)))).toEqual(['0F00A1B2C3']);
    expect(d.stats.frames).toBe(4);
  });

  it('drops and counts a bad checksum, then reads the next frame', () => {
    const d = new Rdm6300Decoder();
    expect(asHex(d.push(Buffer.concat([badChecksum, frame])))).toEqual(['0F00A1B2C3']);
    expect(d.stats).toEqual({ frames: 1, badChecksum: 1, malformed: 0 });
  });

  it('resynchronises after noise and a truncated frame', () => {
    const d = new Rdm6300Decoder();
    const uids = d.push(Buffer.concat([hex('ff 00 41'), frame.subarray(0, 7), frame]));
    expect(asHex(uids)).toEqual(['0F00A1B2C3']);
    expect(d.stats.malformed).toBe(1);
  });
});

describe('PN532 frames', () => {
  it('encodes wake-up commands as in the user manual', () => {
    expect(samConfigurationFrame().toString('hex')).toBe('0000ff05fbd414011401' + '0200');
    expect(inListPassiveTargetFrame().toString('hex')).toBe('0000ff04fcd44a0100e100');
    expect(pn532Frame(TFI_HOST, 0x02).toString('hex')).toBe('0000ff02fed4022a00');
    expect(passiveActivationRetriesFrame(0x10).toString('hex')).toBe('0000ff06fad43205ff0110' + 'e5' + '00');
  });

  it('parses ACK, NACK, error and responses, split anywhere', () => {
    const stream = hex(`
      0000ff00ff00
      0000ff0cf4d54b010100040804922e58328400
      0000ffff0000
      0000ff01ff7f8100
      0000ff03fdd54b00e000`);
    for (const chunks of [[stream], bytewise(stream), [stream.subarray(0, 9), stream.subarray(9, 30), stream.subarray(30)]]) {
      const d = new Pn532Decoder();
      const msgs = feed(d, chunks);
      expect(msgs.map((m) => m.kind)).toEqual(['ack', 'frame', 'nack', 'error', 'frame']);
      const resp = msgs[1]!;
      expect(resp.kind === 'frame' && [resp.tfi, resp.command, resp.params.toString('hex')]).toEqual([0xd5, 0x4b, '010100040804922e5832']);
    }
  });

  it('drops a frame with a bad data checksum, counting it', () => {
    const d = new Pn532Decoder();
    const msgs = d.push(hex('0000ff0cf4d54b010100040804922e583285 00 0000ff00ff00'));
    expect(msgs.map((m) => m.kind)).toEqual(['ack']);
    expect(d.stats.badChecksum).toBe(1);
  });

  it('extracts 4, 7 and 10 byte UIDs from InListPassiveTarget, skipping the ATS', () => {
    const uidOf = (frame: string) => {
      const [m] = new Pn532Decoder().push(hex(frame));
      return asHex(m?.kind === 'frame' ? parseInListPassiveTarget(m.params) : []);
    };
    expect(uidOf('0000ff0cf4d54b010100040804922e58328400')).toEqual(['922E5832']);
    expect(uidOf('0000ff0ff1d54b01010044000704a2b3c4d5e6803b00')).toEqual(['04A2B3C4D5E680']);
    expect(uidOf('0000ff12eed54b01010044000a041122334455667788998f00')).toEqual(['04112233445566778899']);
    expect(uidOf('0000ff14ecd54b01010344200704a2b3c4d5e6800575778002a500')).toEqual(['04A2B3C4D5E680']);
    expect(uidOf('0000ff03fdd54b00e000')).toEqual([]);
  });
});

describe('UID normalisation', () => {
  const four = hex('04922e58');
  const seven = hex('04a2b3c4d5e680');
  const ten = hex('04112233445566778899');
  it('upper-case hex in reader order or reversed, for 4, 7 and 10 bytes', () => {
    expect(normaliseUid(four)).toBe('04922E58');
    expect(normaliseUid(seven)).toBe('04A2B3C4D5E680');
    expect(normaliseUid(ten)).toBe('04112233445566778899');
    expect(normaliseUid(four, { byteOrder: 'reversed', encoding: 'hex' })).toBe('582E9204');
    expect(normaliseUid(seven, { byteOrder: 'reversed', encoding: 'hex' })).toBe('80E6D5C4B3A204');
    expect(normaliseUid(ten, { byteOrder: 'reversed', encoding: 'hex' })).toBe('99887766554433221104');
  });
  it('decimal forms', () => {
    expect(normaliseUid(hex('0F00A1B2C3'), { byteOrder: 'as-read', encoding: 'dec10' })).toBe('0010597059');
    expect(normaliseUid(four, { byteOrder: 'reversed', encoding: 'dec10' })).toBe(String(0x582e9204).padStart(10, '0'));
    expect(normaliseUid(seven, { byteOrder: 'as-read', encoding: 'dec' })).toBe(BigInt('0x04a2b3c4d5e680').toString());
  });
  it('refuses other lengths with a stable code', () => {
    expect(() => normaliseUid(hex('010203'))).toThrow(expect.objectContaining({ code: 'ERR_RFID_UID_LENGTH' }));
  });
});

describe('debounce', () => {
  it('a held card is one presentation until it has been absent for absentMs', () => {
    const clock = new ManualClock();
    const d = new Debouncer(1000, () => clock.now());
    expect(d.accept('A')).toBe(true);
    for (let i = 0; i < 20; i++) { clock.advance(500); expect(d.accept('A')).toBe(false); }
    expect(d.accept('B')).toBe(true);
    clock.advance(1000);
    expect(d.accept('A')).toBe(true);
    expect(d.accept('B')).toBe(true);
  });
});
