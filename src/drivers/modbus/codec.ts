/**
 * Pure Modbus codec: RTU frames (CRC, request building, response assembly from split reads),
 * register decoding per a profile value, and the read plan that groups a profile's registers
 * into few requests. No I/O here.
 */
import { ModbusError } from './errors.js';
import { WORDS, type MeterProfile, type MeterValue } from './meter-profile.js';

export function crc16(data: Uint8Array): number {
  let crc = 0xffff;
  for (const b of data) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function buildReadRequest(unitId: number, functionCode: number, address: number, count: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(unitId, 0);
  b.writeUInt8(functionCode, 1);
  b.writeUInt16BE(address, 2);
  b.writeUInt16BE(count, 4);
  b.writeUInt16LE(crc16(b.subarray(0, 6)), 6);
  return b;
}

export interface ReadResponse {
  unitId: number;
  functionCode: number;
  /** Register bytes, two per register, as on the wire. */
  data: Buffer;
}

/**
 * Assembles one RTU read response from chunks as a serial port delivers them. `push` returns
 * the response once complete, undefined while more bytes are needed; it throws ModbusError
 * for a bad CRC, an exception response or an answer from the wrong unit or function.
 */
export class RtuResponseAssembler {
  private buf = Buffer.alloc(0);
  constructor(private readonly unitId: number, private readonly functionCode: number) {}
  push(chunk: Buffer): ReadResponse | undefined {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length < 3) return undefined;
    const fc = this.buf.readUInt8(1);
    const length = fc & 0x80 ? 5 : 3 + this.buf.readUInt8(2) + 2;
    if (this.buf.length < length) return undefined;
    const frame = this.buf.subarray(0, length);
    this.buf = this.buf.subarray(length);
    if (frame.readUInt16LE(length - 2) !== crc16(frame.subarray(0, length - 2)))
      throw new ModbusError('ERR_MODBUS_CRC', `CRC error in response ${frame.toString('hex')}`);
    if (frame.readUInt8(0) !== this.unitId)
      throw new ModbusError('ERR_MODBUS_UNEXPECTED', `answer from unit ${frame.readUInt8(0)}, expected ${this.unitId}`);
    if (fc & 0x80) throw new ModbusError('ERR_MODBUS_EXCEPTION', `Modbus exception ${frame.readUInt8(2)}`, { modbusCode: frame.readUInt8(2) });
    if (fc !== this.functionCode)
      throw new ModbusError('ERR_MODBUS_UNEXPECTED', `function ${fc} in answer, expected ${this.functionCode}`);
    return { unitId: this.unitId, functionCode: fc, data: Buffer.from(frame.subarray(3, length - 2)) };
  }
}

/** The raw (unscaled) number held by `words` registers at the start of `data`. */
export function decodeRaw(data: Buffer, v: Pick<MeterValue, 'type' | 'wordOrder' | 'byteOrder'>): number {
  const words = WORDS[v.type];
  if (data.length < words * 2) throw new ModbusError('ERR_MODBUS_SHORT', `need ${words * 2} bytes, got ${data.length}`);
  const regs: Buffer[] = [];
  for (let i = 0; i < words; i++) {
    const r = Buffer.from(data.subarray(i * 2, i * 2 + 2));
    regs.push(v.byteOrder === 'little' ? r.reverse() : r);
  }
  if (v.wordOrder === 'lsw-first') regs.reverse();
  const b = Buffer.concat(regs);
  switch (v.type) {
    case 'int16': return b.readInt16BE(0);
    case 'uint16': return b.readUInt16BE(0);
    case 'int32': return b.readInt32BE(0);
    case 'uint32': return b.readUInt32BE(0);
    case 'float32': return b.readFloatBE(0);
    case 'int64': return Number(b.readBigInt64BE(0));
    case 'uint64': return Number(b.readBigUInt64BE(0));
  }
}

const TO_BASE: Record<MeterValue['unit'], number> = { Wh: 1, kWh: 1000, W: 1, kW: 1000, A: 1, V: 1, Hz: 1 };

/** A value in the reading's base unit (Wh, W, A, V, Hz). */
export function toBaseUnit(raw: number, v: MeterValue, exponent = 0): number {
  return raw * v.scale * 10 ** exponent * TO_BASE[v.unit];
}

/** One register to read: a value's own registers, or the exponent register a value refers to. */
interface Need {
  functionCode: number;
  /** Wire address. */
  address: number;
  words: number;
}

export interface ReadRequest {
  functionCode: number;
  /** Wire address of the first register. */
  address: number;
  count: number;
}

/** Group a profile's registers into as few requests as its limits allow. */
export function planReads(profile: MeterProfile): ReadRequest[] {
  const needs: Need[] = [];
  for (const v of profile.values) {
    needs.push({ functionCode: v.functionCode, address: v.address - profile.addressBase, words: WORDS[v.type] });
    if (v.exponentRegister)
      needs.push({ functionCode: v.exponentRegister.functionCode, address: v.exponentRegister.address - profile.addressBase, words: 1 });
  }
  const out: ReadRequest[] = [];
  for (const fc of [3, 4]) {
    const mine = needs.filter((n) => n.functionCode === fc).sort((a, b) => a.address - b.address);
    let cur: ReadRequest | undefined;
    for (const n of mine) {
      const end = n.address + n.words;
      if (cur && n.address <= cur.address + cur.count + profile.maxGapRegisters && end - cur.address <= profile.maxRegistersPerRead) {
        cur.count = Math.max(cur.count, end - cur.address);
      } else {
        cur = { functionCode: fc, address: n.address, count: n.words };
        out.push(cur);
      }
    }
  }
  return out;
}

/** Register data read by a plan, keyed by function code, looked up by wire address. */
export class RegisterImage {
  private readonly blocks: { functionCode: number; address: number; data: Buffer }[] = [];
  add(functionCode: number, address: number, data: Buffer): void {
    this.blocks.push({ functionCode, address, data });
  }
  slice(functionCode: number, address: number, words: number): Buffer {
    for (const b of this.blocks) {
      if (b.functionCode !== functionCode) continue;
      const off = (address - b.address) * 2;
      if (off >= 0 && off + words * 2 <= b.data.length) return b.data.subarray(off, off + words * 2);
    }
    throw new ModbusError('ERR_MODBUS_SHORT', `register ${address} (fc ${functionCode}) was not read`);
  }
}

/** Decode every value of a profile from the registers read; values in base units. */
export function decodeValues(profile: MeterProfile, image: RegisterImage): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of profile.values) {
    const raw = decodeRaw(image.slice(v.functionCode, v.address - profile.addressBase, WORDS[v.type]), v);
    let exponent = 0;
    if (v.exponentRegister) {
      const e = v.exponentRegister;
      exponent = decodeRaw(image.slice(e.functionCode, e.address - profile.addressBase, 1), { type: 'int16', byteOrder: 'big' });
    }
    out.set(`${v.measurand}|${v.phase ?? ''}`, toBaseUnit(raw, v, exponent));
  }
  return out;
}
