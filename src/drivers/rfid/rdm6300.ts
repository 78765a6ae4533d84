import { emptyStats, type DecoderStats, type UidDecoder } from './decoder.js';

/**
 * RDM6300 (125 kHz EM4100) frames: STX 0x02, ten ASCII hex characters (version byte and
 * 4-byte card number), two ASCII hex checksum characters (XOR of the five data bytes), ETX
 * 0x03. The reader repeats the frame while a card is in the field. A frame with a wrong
 * checksum is dropped and counted; noise resynchronises on the next STX.
 */
export const RDM6300_FRAME_BYTES = 14;
const STX = 0x02;
const ETX = 0x03;

export class Rdm6300Decoder implements UidDecoder {
  readonly stats: DecoderStats = emptyStats();
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      const start = this.buf.indexOf(STX);
      if (start < 0) {
        // Noise between frames: nothing to keep.
        this.buf = Buffer.alloc(0);
        break;
      }
      if (start > 0) this.buf = this.buf.subarray(start);
      if (this.buf.length < RDM6300_FRAME_BYTES) break;
      const ascii = this.buf.subarray(1, 13).toString('latin1');
      if (this.buf[13] !== ETX || !/^[0-9A-Fa-f]{12}$/.test(ascii)) {
        // Not a frame: skip this STX and look for the next one.
        this.stats.malformed++;
        this.buf = this.buf.subarray(1);
        continue;
      }
      const bytes = Buffer.from(ascii, 'hex');
      const data = bytes.subarray(0, 5);
      const checksum = data.reduce((x, b) => x ^ b, 0);
      this.buf = this.buf.subarray(RDM6300_FRAME_BYTES);
      if (checksum !== bytes[5]) {
        this.stats.badChecksum++;
        continue;
      }
      this.stats.frames++;
      out.push(Buffer.from(data));
    }
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}

/** Encodes a frame (for tests and simulators). */
export function rdm6300Frame(data: Buffer, checksum = data.reduce((x, b) => x ^ b, 0)): Buffer {
  const ascii = data.toString('hex').toUpperCase() + checksum.toString(16).toUpperCase().padStart(2, '0');
  return Buffer.concat([Buffer.from([STX]), Buffer.from(ascii, 'latin1'), Buffer.from([ETX])]);
}
