import { emptyStats, type DecoderStats, type UidDecoder } from './decoder.js';
import { isUidLength } from './uid.js';

/**
 * The line protocol of common USB-serial readers: one UID per line, terminated by CR, LF or
 * CRLF. 'hex': ASCII hex, optionally with ':', '-' or ' ' between bytes and STX/ETX around it
 * ("04A2B3C4", "04:a2:b3:c4"). 'dec': a decimal number (the 10-digit form some readers send),
 * turned into the shortest of 4/5/7/10 big-endian bytes that holds it.
 */
export const MAX_LINE_CHARS = 64;

export class LineDecoder implements UidDecoder {
  readonly stats: DecoderStats = emptyStats();
  private pending = '';
  private overlong = false;

  constructor(private readonly input: 'hex' | 'dec' = 'hex') {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const byte of chunk) {
      if (byte === 0x0a || byte === 0x0d) {
        const line = this.pending;
        const overlong = this.overlong;
        this.pending = '';
        this.overlong = false;
        if (overlong) {
          this.stats.malformed++;
          continue;
        }
        if (line.length === 0) continue;
        const uid = this.parse(line);
        if (uid) {
          this.stats.frames++;
          out.push(uid);
        } else {
          this.stats.malformed++;
        }
        continue;
      }
      if (this.overlong) continue;
      if (this.pending.length >= MAX_LINE_CHARS) {
        this.overlong = true;
        this.pending = '';
        continue;
      }
      this.pending += String.fromCharCode(byte);
    }
    return out;
  }

  reset(): void {
    this.pending = '';
    this.overlong = false;
  }

  private parse(raw: string): Buffer | undefined {
    // Strip control characters some readers wrap around the line (STX, ETX), and blanks.
    const line = raw.replace(/[\x00-\x1f\x7f]/g, '').trim();
    if (this.input === 'dec') {
      if (!/^[0-9]{1,25}$/.test(line)) return undefined;
      const value = BigInt(line);
      for (const size of [4, 5, 7, 10]) {
        if (value < 1n << BigInt(size * 8)) return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
      }
      return undefined;
    }
    const hex = /^[0-9A-Fa-f]{2}([:\- ][0-9A-Fa-f]{2})*$/.test(line) ? line.replace(/[:\- ]/g, '') : line;
    if (!/^(?:[0-9A-Fa-f]{2})+$/.test(hex)) return undefined;
    const uid = Buffer.from(hex, 'hex');
    return isUidLength(uid.length) ? uid : undefined;
  }
}
