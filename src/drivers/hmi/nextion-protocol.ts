/**
 * The Nextion serial HMI protocol, as a pure codec.
 *
 * Out: an instruction is text (the screen's code page, ISO-8859-1 by default) followed by
 * FF FF FF: `page 1`, `t0.txt="Charging"`, `get t1.txt`.
 * In: every message ends in FF FF FF. 0x65 page component event(1 press, 0 release);
 * 0x66 page; 0x67/0x68 x(2) y(2) event (awake/asleep); 0x70 string bytes; 0x71 int32 LE;
 * 0x86 sleep, 0x87 wake, 0x88 ready, 0x89 SD upgrade; 00 00 00 FF FF FF at power-on; and the
 * return codes (0x00 invalid instruction, 0x01 success, 0x02 invalid component, ...).
 * Fixed-size messages are read by size, since their payload may itself hold FF bytes.
 */
export const NEXTION_TERMINATOR = Buffer.from([0xff, 0xff, 0xff]);

export type NextionEncoding = 'latin1' | 'utf8';

export const nextionReturnCodes: Readonly<Record<number, string>> = Object.freeze({
  0x00: 'invalid instruction',
  0x01: 'success',
  0x02: 'invalid component id',
  0x03: 'invalid page id',
  0x04: 'invalid picture id',
  0x05: 'invalid font id',
  0x06: 'invalid file operation',
  0x09: 'invalid CRC',
  0x11: 'invalid baud rate setting',
  0x12: 'invalid waveform id or channel',
  0x1a: 'invalid variable name or attribute',
  0x1b: 'invalid variable operation',
  0x1c: 'assignment failed',
  0x1d: 'EEPROM operation failed',
  0x1e: 'invalid quantity of parameters',
  0x1f: 'IO operation failed',
  0x20: 'escape character invalid',
  0x23: 'variable name too long',
  0x24: 'serial buffer overflow',
  0xfd: 'transparent data finished',
  0xfe: 'transparent data ready',
});

export type NextionEvent =
  | { type: 'touch'; page: number; component: number; event: 'press' | 'release' }
  | { type: 'page'; page: number }
  | { type: 'xy'; x: number; y: number; event: 'press' | 'release'; asleep: boolean }
  | { type: 'string'; text: string }
  | { type: 'number'; value: number }
  | { type: 'startup' }
  | { type: 'ready' }
  | { type: 'sleep' }
  | { type: 'wake' }
  | { type: 'upgrade' }
  | { type: 'return'; code: number; meaning: string };

/** Total size (header, payload and terminator) of the fixed-size messages. */
const fixedSize: Readonly<Record<number, number>> = { 0x65: 7, 0x66: 5, 0x67: 9, 0x68: 9, 0x71: 8 };

export interface NextionDecoderStats {
  messages: number;
  malformed: number;
}

export class NextionDecoder {
  readonly stats: NextionDecoderStats = { messages: 0, malformed: 0 };
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly encoding: NextionEncoding = 'latin1', private readonly maxMessageBytes = 1024) {}

  push(chunk: Buffer): NextionEvent[] {
    const out: NextionEvent[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      const b = this.buf;
      if (b.length === 0) break;
      const head = b[0]!;
      // Power-on: 00 00 00 FF FF FF (a 0x00 return code is 00 FF FF FF).
      if (head === 0x00 && b.length >= 2 && b[1] === 0x00) {
        if (b.length < 6) break;
        if (b.subarray(2, 6).equals(Buffer.from([0x00, 0xff, 0xff, 0xff]))) {
          this.take(6);
          out.push({ type: 'startup' });
          this.stats.messages++;
        } else {
          this.skip();
        }
        continue;
      }
      const size = fixedSize[head];
      if (size !== undefined) {
        if (b.length < size) break;
        if (!b.subarray(size - 3, size).equals(NEXTION_TERMINATOR)) { this.skip(); continue; }
        out.push(this.fixed(head, b.subarray(1, size - 3)));
        this.take(size);
        this.stats.messages++;
        continue;
      }
      const end = b.indexOf(NEXTION_TERMINATOR);
      if (end < 0) {
        if (b.length > this.maxMessageBytes) { this.stats.malformed++; this.buf = Buffer.alloc(0); }
        break;
      }
      const payload = b.subarray(1, end);
      const event = this.variable(head, payload);
      this.take(end + 3);
      if (event) { out.push(event); this.stats.messages++; } else this.stats.malformed++;
    }
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }

  private take(n: number): void {
    this.buf = this.buf.subarray(n);
  }

  /** Drops one byte of a message that did not frame, and resynchronises. */
  private skip(): void {
    this.stats.malformed++;
    const next = this.buf.indexOf(NEXTION_TERMINATOR, 1);
    this.buf = next < 0 ? this.buf.subarray(1) : this.buf.subarray(next + 3);
  }

  private fixed(head: number, p: Buffer): NextionEvent {
    switch (head) {
      case 0x65: return { type: 'touch', page: p[0]!, component: p[1]!, event: p[2] === 0x01 ? 'press' : 'release' };
      case 0x66: return { type: 'page', page: p[0]! };
      case 0x71: return { type: 'number', value: p.readInt32LE(0) };
      default: return { type: 'xy', x: p.readUInt16BE(0), y: p.readUInt16BE(2), event: p[4] === 0x01 ? 'press' : 'release', asleep: head === 0x68 };
    }
  }

  private variable(head: number, payload: Buffer): NextionEvent | undefined {
    if (head === 0x70) return { type: 'string', text: payload.toString(this.encoding) };
    if (payload.length !== 0) return undefined;
    switch (head) {
      case 0x86: return { type: 'sleep' };
      case 0x87: return { type: 'wake' };
      case 0x88: return { type: 'ready' };
      case 0x89: return { type: 'upgrade' };
    }
    const meaning = nextionReturnCodes[head];
    return meaning === undefined ? undefined : { type: 'return', code: head, meaning };
  }
}

/** An instruction, terminated. Bytes that would end it early (0xFF) become '?'. */
export function nextionInstruction(text: string, encoding: NextionEncoding = 'latin1'): Buffer {
  const safe = encoding === 'latin1' ? text.replace(/[^\x00-\xfe]/g, '?') : text;
  return Buffer.concat([Buffer.from(safe, encoding), NEXTION_TERMINATOR]);
}

/** A Nextion string literal: quotes and backslashes escaped, newlines as \r. */
export function nextionString(value: string): string {
  return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\r') + '"';
}

/** `<attribute>="<value>"`, e.g. `c1status.txt="Charging"`. */
export function nextionSetText(attribute: string, value: string): string {
  return `${attribute}=${nextionString(value)}`;
}
