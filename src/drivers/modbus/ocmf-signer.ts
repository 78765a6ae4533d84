/**
 * A calibration-law meter's signing over Modbus registers (profile `signing`, interface
 * ocmf-registers): before each command (begin, end) the charger sets the meter's clock and writes
 * the record's metadata (OCMF payload fields it owns, as JSON); at the end it writes the end
 * command and reads back the payload section the meter signed and the DER
 * signature, and makes the OCMF record `OCMF|<payload>|{"SA":…,"SD":…}`. The meter's own
 * transaction survives the charger's restart: after a power loss the end command still closes
 * it with a signed end value. Every address and code comes from the profile.
 */
import type { Clock, MeterReading, MeterSigner, SignedReadingKind } from '../../core/ports.js';
import { EvseError } from '../../lib/errors.js';
import type { Log } from '../../lib/log.js';
import type { ModbusBus, RequestOptions } from './bus.js';
import type { OcmfSigning } from './meter-profile.js';

/** The DER SubjectPublicKeyInfo header of an uncompressed secp256r1 point (04 || X || Y follows the 04). */
export const P256_SPKI_PREFIX = '3059301306072A8648CE3D020106082A8648CE3D03010703420004';

export interface ModbusOcmfSignerOptions {
  bus: ModbusBus;
  request: RequestOptions;
  signing: OcmfSigning;
  /** The meter's plain reading (the profile's values). */
  readPlain: () => Promise<MeterReading>;
  clock: Pick<Clock, 'now' | 'setTimeout'> & Partial<Pick<Clock, 'trusted'>>;
  /** OCMF payload fields the charger owns (GI, GS, …), written as the meter's metadata. */
  metadata?: Record<string, string | boolean | string[]>;
  log?: Log;
}

/** A signing command the meter refused or did not finish (its status code in the message). */
export class MeterSigningError extends EvseError {}

export class ModbusOcmfSigner implements MeterSigner {
  readonly signsIntervals = false;
  private key?: string;
  private algorithmChecked = false;

  constructor(private readonly o: ModbusOcmfSignerOptions) {}

  async publicKey(): Promise<string> {
    if (this.key) return this.key;
    await this.checkAlgorithm();
    const pk = this.o.signing.publicKey;
    this.key = P256_SPKI_PREFIX + (await this.readHolding(pk.address, pk.registers)).toString('hex').toUpperCase();
    return this.key;
  }

  /** The meter is set to sign as the profile says (its algorithm register), else a clear error before any record. */
  private async checkAlgorithm(): Promise<void> {
    const a = this.o.signing.algorithm;
    if (!a || this.algorithmChecked) return;
    const value = (await this.readHolding(a.address, 1)).readUInt16BE(0);
    if (value !== a.value) {
      throw new MeterSigningError('ERR_METER_ALGORITHM', `meter's signature format register ${a.address} reads ${value}, not ${a.value} (${this.o.signing.signingMethod}): it would not sign as its profile says`);
    }
    this.algorithmChecked = true;
  }

  async readSigned(kind: SignedReadingKind): Promise<MeterReading> {
    if (kind === 'interval') return this.o.readPlain();
    const s = this.o.signing;
    const state = (await this.readHolding(s.state.address, 1)).readUInt16BE(0);
    const open = s.state.active.includes(state);
    if (kind === 'begin') {
      await this.checkAlgorithm();
      // A transaction the meter still holds (one a crash left open): closed first, its record dropped.
      if (open) {
        this.o.log?.warn('meter holds an open signed transaction: ending it before the new one', { state });
        await this.command(s.command.end);
      }
      await this.prepare();
      await this.command(s.command.begin);
      const reading = await this.o.readPlain();
      return s.beginRecord ? { ...reading, signed: await this.signedRecord() } : reading;
    }
    if (!open) throw new MeterSigningError('ERR_METER_NO_TRANSACTION', `the meter holds no signed transaction (state ${state})`);
    // Time, dataset and its length are set before every command (the WM3M4C manual, 6.5.8), the
    // end's too: the end reading carries the time of the end, and after the meter's own power
    // failure its clock and dataset are gone.
    await this.prepare();
    await this.command(s.command.end);
    const signed = await this.signedRecord();
    return { ...(await this.o.readPlain()), signed };
  }

  /** Set the meter's clock and write the record's metadata. */
  private async prepare(): Promise<void> {
    const s = this.o.signing;
    const now = Math.floor(this.o.clock.now() / 1000);
    await this.write(s.clock.unixSecondsAddress, [(now >>> 16) & 0xffff, now & 0xffff]);
    await this.write(s.clock.utcOffsetMinutesAddress, [0]);
    if (this.o.clock.trusted?.() ?? true) await this.write(s.clock.syncAddress, [s.clock.synced]);
    const json = Buffer.from(JSON.stringify(this.o.metadata ?? {}).replaceAll('|', ' '), 'utf8');
    if (json.length > s.metadata.maxRegisters * 2) throw new MeterSigningError('ERR_METER_METADATA', `metadata of ${json.length} bytes does not fit the meter's ${s.metadata.maxRegisters * 2}`);
    const padded = Buffer.concat([json, Buffer.alloc(json.length % 2)]);
    const regs: number[] = [];
    for (let i = 0; i < padded.length; i += 2) regs.push(padded.readUInt16BE(i));
    for (let i = 0; i < regs.length; i += 100) await this.write(s.metadata.address + i, regs.slice(i, i + 100));
    await this.write(s.metadata.lengthAddress, [json.length]);
  }

  /** Write a command and wait until the meter has signed (status ok), or fail with its status. */
  private async command(code: number): Promise<void> {
    const s = this.o.signing;
    await this.write(s.command.address, [code]);
    const deadline = this.o.clock.now() + s.commandTimeoutMs;
    for (;;) {
      const status = (await this.readHolding(s.status.address, 1)).readUInt16BE(0);
      if (status === s.status.ok) return;
      if (!s.status.busy.includes(status)) throw new MeterSigningError('ERR_METER_SIGNING', `meter refused command 0x${code.toString(16)}: status ${status}`);
      if (this.o.clock.now() > deadline) throw new MeterSigningError('ERR_METER_SIGNING', `meter did not sign within ${s.commandTimeoutMs} ms (status ${status})`);
      await new Promise<void>((r) => this.o.clock.setTimeout(r, 20));
    }
  }

  private async signedRecord(): Promise<{ encoding: 'OCMF'; data: string; signingMethod: string; publicKey: string }> {
    const s = this.o.signing;
    const payload = (await this.readBlock(s.record)).toString('utf8');
    const signature = (await this.readBlock(s.signature)).toString('hex').toUpperCase();
    const data = `OCMF|${payload}|${JSON.stringify({ SA: s.signingMethod, SD: signature })}`;
    return { encoding: 'OCMF', data, signingMethod: s.signingMethod, publicKey: await this.publicKey() };
  }

  private async readBlock(b: OcmfSigning['record']): Promise<Buffer> {
    const length = (await this.readHolding(b.lengthAddress, 1)).readUInt16BE(0);
    if (length === 0 || length > b.maxRegisters * 2) throw new MeterSigningError('ERR_METER_SIGNING', `meter block at ${b.address} has length ${length}`);
    const count = Math.ceil(length / 2);
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i += 100) parts.push(await this.readHolding(b.address + i, Math.min(100, count - i)));
    return Buffer.concat(parts).subarray(0, length);
  }

  private readHolding(address: number, count: number): Promise<Buffer> {
    return this.o.bus.read(this.o.request, 3, address, count);
  }

  private write(address: number, values: number[]): Promise<void> {
    return this.o.bus.write(this.o.request, values.length === 1 ? 6 : 16, address, values);
  }
}
