/**
 * Modbus RTU exchanges as a real bus carries them, for fixtures: framing by length (the
 * function codes the drivers use: 3, 4, 6, 16, and exception responses), the fixture file
 * format (`# ` comment, `> ` request, `< ` response, hex with the CRC), a recording tap between
 * two ptys and a player that answers the recorded responses in order.
 */
import { readFileSync } from 'node:fs';
import type { SerialPort } from 'serialport';
import { crc16 } from '../../src/drivers/modbus/index.js';

/** Bytes of the request starting `b`, once enough of it is in to know (undefined: wait for more). */
export function rtuRequestLength(b: Buffer): number | undefined {
  if (b.length < 2) return undefined;
  const fc = b[1]!;
  if (fc === 3 || fc === 4 || fc === 6) return 8;
  if (fc === 16) return b.length < 7 ? undefined : 9 + b[6]!;
  throw new Error(`request with function ${fc}: not framed here`);
}

/** Bytes of the response starting `b` (undefined: wait for more). */
export function rtuResponseLength(b: Buffer): number | undefined {
  if (b.length < 2) return undefined;
  const fc = b[1]!;
  if (fc & 0x80) return 5;
  if (fc === 3 || fc === 4) return b.length < 3 ? undefined : 5 + b[2]!;
  if (fc === 6 || fc === 16) return 8;
  throw new Error(`response with function ${fc}: not framed here`);
}

/** Takes whole frames off a byte stream. */
export class RtuFramer {
  private buf = Buffer.alloc(0);
  constructor(private readonly lengthOf: (b: Buffer) => number | undefined) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (let n = this.lengthOf(this.buf); n !== undefined && this.buf.length >= n; n = this.lengthOf(this.buf)) {
      out.push(Buffer.from(this.buf.subarray(0, n)));
      this.buf = this.buf.subarray(n);
    }
    return out;
  }
}

export interface Exchange {
  /** What the step is, from the `# ` line before it. */
  note?: string;
  request: Buffer;
  response: Buffer;
}

export function crcOk(frame: Buffer): boolean {
  return frame.length > 2 && crc16(frame) === 0;
}

/** A frame with its CRC recomputed (after a test changed a byte). */
export function withCrc(frame: Buffer): Buffer {
  const body = frame.subarray(0, frame.length - 2);
  const out = Buffer.concat([body, Buffer.alloc(2)]);
  out.writeUInt16LE(crc16(body), body.length);
  return out;
}

export function readExchanges(file: string): Exchange[] {
  const out: Exchange[] = [];
  let note: string | undefined;
  let request: Buffer | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('# ')) note = line.slice(2);
    else if (line.startsWith('> ')) request = Buffer.from(line.slice(2).replace(/\s+/g, ''), 'hex');
    else if (line.startsWith('< ')) {
      if (!request) throw new Error(`${file}: a response without its request`);
      out.push({ ...(note === undefined ? {} : { note }), request, response: Buffer.from(line.slice(2).replace(/\s+/g, ''), 'hex') });
      request = note = undefined;
    }
  }
  return out;
}

export function formatExchanges(header: string[], exchanges: Exchange[]): string {
  const lines = header.map((h) => `# ${h}`);
  for (const e of exchanges) {
    if (e.note) lines.push(`# ${e.note}`);
    lines.push(`> ${e.request.toString('hex')}`, `< ${e.response.toString('hex')}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Plays the slave end of a recorded exchange on `port`: each request the master sends must be
 * the next recorded one, byte for byte; it is answered with the recorded response. A request
 * that differs is kept in `mismatches` and not answered (the master times out).
 */
export function playSlave(port: SerialPort, exchanges: Exchange[]): { answered: () => number; mismatches: { index: number; expected: string; got: string }[] } {
  const framer = new RtuFramer(rtuRequestLength);
  const mismatches: { index: number; expected: string; got: string }[] = [];
  let next = 0;
  port.on('data', (chunk: Buffer) => {
    for (const request of framer.push(chunk)) {
      const e = exchanges[next];
      if (!e || !e.request.equals(request)) {
        mismatches.push({ index: next, expected: e?.request.toString('hex') ?? '(end of the fixture)', got: request.toString('hex') });
        continue;
      }
      next++;
      port.write(e.response);
    }
  });
  return { answered: () => next, mismatches };
}

/**
 * Records what passes between a master's pty end (`master`) and a slave's (`slave`), frame by
 * frame, forwarding each request whole and each response whole.
 */
export function tapLine(master: SerialPort, slave: SerialPort): { exchanges: Exchange[] } {
  const requests = new RtuFramer(rtuRequestLength);
  const responses = new RtuFramer(rtuResponseLength);
  const exchanges: Exchange[] = [];
  const pending: { request: Buffer }[] = [];
  master.on('data', (chunk: Buffer) => {
    for (const request of requests.push(chunk)) {
      pending.push({ request });
      slave.write(request);
    }
  });
  slave.on('data', (chunk: Buffer) => {
    for (const response of responses.push(chunk)) {
      const p = pending.shift();
      if (!p) throw new Error(`a response without a request: ${response.toString('hex')}`);
      exchanges.push({ ...p, response });
      master.write(response);
    }
  });
  return { exchanges };
}
