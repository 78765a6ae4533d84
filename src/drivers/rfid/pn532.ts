import type { Clock, Timer } from '../../core/ports.js';
import { EvseError } from '../../lib/errors.js';
import { silentLog, type Log } from '../../lib/log.js';
import { emptyStats, type DecoderStats } from './decoder.js';
import { isUidLength } from './uid.js';

/**
 * NXP PN532 over UART (HSU), reading ISO 14443A cards (PN532 User Manual UM0701-02).
 *
 * Information frame: 00 (preamble) 00 FF (start code) LEN LCS TFI PD0..PDn DCS 00 (postamble),
 * LEN counting TFI and data, LEN + LCS = 0 and TFI + data + DCS = 0 (mod 256). TFI D4 is
 * host to PN532, D5 the answer; the answer's command code is the request's plus one.
 * ACK is 00 00 FF 00 FF 00, NACK 00 00 FF FF 00 00, an application error 00 00 FF 01 FF 7F 81 00.
 * Frames longer than 254 bytes use LEN FF FF LENM LENL LCS.
 */
export const TFI_HOST = 0xd4;
export const TFI_PN532 = 0xd5;
export const PN532_ACK = Buffer.from('0000ff00ff00', 'hex');
export const PN532_NACK = Buffer.from('0000ffff0000', 'hex');
/** HSU wake-up: 55 55 then zeros, sent just before the first command (UM0701 §7.2.11). */
export const PN532_WAKEUP = Buffer.from('5555' + '00'.repeat(14), 'hex');

export const Pn532Command = Object.freeze({
  GetFirmwareVersion: 0x02,
  SAMConfiguration: 0x14,
  RFConfiguration: 0x32,
  InListPassiveTarget: 0x4a,
  InRelease: 0x52,
});

export class Pn532Error extends EvseError {}

export function pn532Frame(tfi: number, command: number, params: Buffer | number[] = []): Buffer {
  const data = Buffer.concat([Buffer.from([tfi, command]), Buffer.from(params)]);
  if (data.length > 254) throw new Pn532Error('ERR_PN532_FRAME', 'extended frames are not sent by this driver');
  const len = data.length;
  const dcs = (0x100 - (data.reduce((s, b) => s + b, 0) & 0xff)) & 0xff;
  return Buffer.concat([Buffer.from([0x00, 0x00, 0xff, len, (0x100 - len) & 0xff]), data, Buffer.from([dcs, 0x00])]);
}

/** SAMConfiguration: normal mode (no SAM), timeout 0x14 × 50 ms, use IRQ. */
export function samConfigurationFrame(): Buffer {
  return pn532Frame(TFI_HOST, Pn532Command.SAMConfiguration, [0x01, 0x14, 0x01]);
}

/**
 * RFConfiguration item 5 (MxRtyATR, MxRtyPSL, MxRtyPassiveActivation): a finite number of
 * passive activation retries, so InListPassiveTarget answers "no target" instead of waiting
 * for a card forever.
 */
export function passiveActivationRetriesFrame(retries: number): Buffer {
  return pn532Frame(TFI_HOST, Pn532Command.RFConfiguration, [0x05, 0xff, 0x01, retries & 0xff]);
}

/** InListPassiveTarget: at most one target, 106 kbps type A (ISO 14443A / MIFARE). */
export function inListPassiveTargetFrame(): Buffer {
  return pn532Frame(TFI_HOST, Pn532Command.InListPassiveTarget, [0x01, 0x00]);
}

export type Pn532Message =
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'error' }
  | { kind: 'frame'; tfi: number; command: number; params: Buffer };

/** Splits a byte stream (either direction) into PN532 frames; pure, handles split reads. */
export class Pn532Decoder {
  readonly stats: DecoderStats = emptyStats();
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Pn532Message[] {
    const out: Pn532Message[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      const start = findStartCode(this.buf);
      if (start < 0) {
        // Keep a trailing 00 that may begin the next start code.
        this.buf = this.buf.length && this.buf[this.buf.length - 1] === 0x00 ? Buffer.from([0x00]) : Buffer.alloc(0);
        break;
      }
      const b = this.buf.subarray(start);
      if (b.length < 4) { this.buf = Buffer.from(b); break; }
      const len = b[2]!;
      const lcs = b[3]!;
      if (len === 0x00 && lcs === 0xff) { out.push({ kind: 'ack' }); this.buf = b.subarray(4); continue; }
      if (len === 0xff && lcs === 0x00) { out.push({ kind: 'nack' }); this.buf = b.subarray(4); continue; }
      let header = 4;
      let length = len;
      if (len === 0xff && lcs === 0xff) {
        if (b.length < 7) { this.buf = Buffer.from(b); break; }
        length = (b[4]! << 8) | b[5]!;
        if (((b[4]! + b[5]! + b[6]!) & 0xff) !== 0) { this.stats.malformed++; this.buf = b.subarray(2); continue; }
        header = 7;
      } else if (((len + lcs) & 0xff) !== 0) {
        this.stats.malformed++;
        this.buf = b.subarray(2);
        continue;
      }
      if (length === 0) { this.stats.malformed++; this.buf = b.subarray(header); continue; }
      if (b.length < header + length + 1) { this.buf = Buffer.from(b); break; }
      const data = b.subarray(header, header + length);
      const dcs = b[header + length]!;
      this.buf = b.subarray(header + length + 1);
      if (((data.reduce((s, x) => s + x, 0) + dcs) & 0xff) !== 0) { this.stats.badChecksum++; continue; }
      if (length === 1 && data[0] === 0x7f) { out.push({ kind: 'error' }); continue; }
      if (length < 2) { this.stats.malformed++; continue; }
      this.stats.frames++;
      out.push({ kind: 'frame', tfi: data[0]!, command: data[1]!, params: Buffer.from(data.subarray(2)) });
    }
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}

function findStartCode(buf: Buffer): number {
  for (let i = 0; i + 1 < buf.length; i++) if (buf[i] === 0x00 && buf[i + 1] === 0xff) return i;
  return -1;
}

/**
 * The UIDs in an InListPassiveTarget answer (type A, 106 kbps): NbTg, then per target
 * Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1, and ATSLength + ATS when SEL_RES says
 * ISO 14443-4. UIDs that are not 4, 7 or 10 bytes are skipped.
 */
export function parseInListPassiveTarget(params: Buffer): Buffer[] {
  const uids: Buffer[] = [];
  const count = params[0] ?? 0;
  let i = 1;
  for (let t = 0; t < count; t++) {
    if (i + 5 > params.length) break;
    const selRes = params[i + 3]!;
    const idLength = params[i + 4]!;
    const idStart = i + 5;
    if (idStart + idLength > params.length) break;
    const uid = Buffer.from(params.subarray(idStart, idStart + idLength));
    if (isUidLength(uid.length) && uid.length !== 5) uids.push(uid);
    i = idStart + idLength;
    if (selRes & 0x20 && i < params.length) i += params[i]!; // ATS, its length byte included
  }
  return uids;
}

export interface Pn532Timing {
  /** Pause between two InListPassiveTarget polls. */
  pollIntervalMs: number;
  /** How long a command may take from write to its answer. */
  responseTimeoutMs: number;
  /** MxRtyPassiveActivation: how many times the PN532 looks for a card in one poll. */
  passiveActivationRetries: number;
  /** Consecutive unanswered commands before the reader is reported failed. */
  unansweredBeforeFault: number;
}

export const defaultPn532Timing: Readonly<Pn532Timing> = Object.freeze({
  pollIntervalMs: 200,
  responseTimeoutMs: 1_000,
  passiveActivationRetries: 0x10,
  unansweredBeforeFault: 3,
});

export interface Pn532Deps {
  write(data: Buffer): Promise<void>;
  clock: Pick<Clock, 'setTimeout'>;
  onUid(uid: Buffer): void;
  /** A problem with the PN532 itself (the serial link is up but it does not answer), or undefined. */
  onHealth(problem: string | undefined): void;
  log?: Log;
}

interface Pending {
  expect: number;
  resolve(params: Buffer): void;
  reject(err: Error): void;
  timer: Timer;
}

/**
 * Drives a PN532 while its serial link is up: wake-up and SAMConfiguration, then
 * InListPassiveTarget polls. Every link-up starts a fresh generation; link-down ends it.
 */
export class Pn532Session {
  readonly decoder = new Pn532Decoder();
  private readonly timing: Pn532Timing;
  private readonly log: Log;
  private generation = 0;
  private pending: Pending | undefined;
  private sleeping: { timer: Timer; wake(): void } | undefined;
  unanswered = 0;

  constructor(private readonly deps: Pn532Deps, timing: Partial<Pn532Timing> = {}) {
    this.timing = { ...defaultPn532Timing, ...timing };
    this.log = deps.log ?? silentLog;
  }

  linkUp(): void {
    const gen = this.halt();
    void this.run(gen);
  }

  linkDown(): void {
    this.halt();
  }

  stop(): void {
    this.halt();
  }

  data(chunk: Buffer): void {
    for (const msg of this.decoder.push(chunk)) {
      const p = this.pending;
      if (!p) continue;
      if (msg.kind === 'ack') continue;
      if (msg.kind === 'nack') this.settle(p, new Pn532Error('ERR_PN532_NACK', 'PN532 answered NACK'));
      else if (msg.kind === 'error') this.settle(p, new Pn532Error('ERR_PN532_APPLICATION', 'PN532 reported an application error'));
      else if (msg.tfi === TFI_PN532 && msg.command === p.expect) this.settle(p, msg.params);
    }
  }

  /** Ends the current generation; returns the next one. */
  private halt(): number {
    this.generation++;
    const p = this.pending;
    if (p) this.settle(p, new Pn532Error('ERR_PN532_ABORTED', 'link went away'));
    const s = this.sleeping;
    this.sleeping = undefined;
    if (s) { s.timer.cancel(); s.wake(); }
    this.decoder.reset();
    return this.generation;
  }

  private async run(gen: number): Promise<void> {
    let ready = false;
    while (gen === this.generation) {
      try {
        if (!ready) {
          await this.call(gen, Buffer.concat([PN532_WAKEUP, samConfigurationFrame()]), Pn532Command.SAMConfiguration);
          await this.call(gen, passiveActivationRetriesFrame(this.timing.passiveActivationRetries), Pn532Command.RFConfiguration);
          ready = true;
        }
        const params = await this.call(gen, inListPassiveTargetFrame(), Pn532Command.InListPassiveTarget);
        if (gen !== this.generation) return;
        this.answered();
        for (const uid of parseInListPassiveTarget(params)) this.deps.onUid(uid);
      } catch (err) {
        if (gen !== this.generation) return;
        const code = (err as { code?: string }).code;
        if (code === 'ERR_PN532_TIMEOUT') {
          ready = false;
          this.unanswered++;
          if (this.unanswered >= this.timing.unansweredBeforeFault) this.deps.onHealth('PN532 not responding');
        } else {
          this.log.debug('PN532 command failed', { err });
        }
      }
      await this.sleep(gen, this.timing.pollIntervalMs);
    }
  }

  private answered(): void {
    if (this.unanswered >= this.timing.unansweredBeforeFault) this.deps.onHealth(undefined);
    this.unanswered = 0;
  }

  private call(gen: number, frame: Buffer, command: number): Promise<Buffer> {
    if (gen !== this.generation) return Promise.reject(new Pn532Error('ERR_PN532_ABORTED', 'link went away'));
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = {
        expect: command + 1,
        resolve,
        reject,
        timer: this.deps.clock.setTimeout(
          () => this.settle(p, new Pn532Error('ERR_PN532_TIMEOUT', `no answer to command 0x${command.toString(16)}`)),
          this.timing.responseTimeoutMs,
        ),
      };
      this.pending = p;
      this.deps.write(frame).catch((err: unknown) => this.settle(p, err instanceof Error ? err : new Error(String(err))));
    });
  }

  private settle(p: Pending, result: Buffer | Error): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    p.timer.cancel();
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private sleep(gen: number, ms: number): Promise<void> {
    if (gen !== this.generation) return Promise.resolve();
    return new Promise((resolve) => {
      const s = {
        wake: resolve,
        timer: this.deps.clock.setTimeout(() => {
          if (this.sleeping === s) this.sleeping = undefined;
          resolve();
        }, ms),
      };
      this.sleeping = s;
    });
  }
}
