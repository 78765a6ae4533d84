import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/profiles.js';
import { ConfigError } from '../../src/lib/errors.js';
import {
  buildReadRequest,
  crc16,
  decodeRaw,
  decodeValues,
  loadEvseProfile,
  loadMeterProfile,
  parseMeterProfile,
  planReads,
  RegisterImage,
  RtuResponseAssembler,
  toReading,
} from '../../src/drivers/modbus/index.js';
import { profileSchemaFiles } from '../../src/drivers/modbus/write-schemas.js';
import { FIXTURES } from '../helpers/modbus-slave.js';

const meterFiles = readdirSync(join(PROFILES_DIR, 'meters')).filter((f) => f.endsWith('.json'));
const ids = meterFiles.map((f) => f.replace(/\.json$/, ''));

function fixture(id: string) {
  const lines = readFileSync(join(FIXTURES, `${id}.hex`), 'utf8').split('\n');
  const requests = lines.filter((l) => l.startsWith('> ')).map((l) => Buffer.from(l.slice(2), 'hex'));
  const responses = lines.filter((l) => l.startsWith('< ')).map((l) => Buffer.from(l.slice(2), 'hex'));
  const values = JSON.parse(readFileSync(join(FIXTURES, `${id}.values.json`), 'utf8')) as Record<string, number>;
  return { requests, responses, values };
}

const TO_BASE: Record<string, number> = { kWh: 1000, kW: 1000 };

describe('meter profiles', () => {
  it('ships at least six meter profiles plus the template, each with a fixture', () => {
    expect(ids).toContain('template');
    expect(ids.filter((i) => i !== 'template').length).toBeGreaterThanOrEqual(6);
    for (const id of ids) expect(() => fixture(id), id).not.toThrow();
  });

  it.each(ids)('%s validates, names its schema, and its file name equals its id', (id) => {
    const p = loadMeterProfile(id === 'template' ? join(PROFILES_DIR, 'meters', 'template.json') : id);
    expect(p.id).toBe(id);
    expect(p.$schema).toBe('../schema/meter.schema.json');
    expect(p.values.some((v) => v.measurand === 'Energy.Active.Import.Register' && v.phase === undefined)).toBe(true);
  });

  it('the JSON Schema files are generated from the profile schemas and up to date', () => {
    for (const [file, text] of Object.entries(profileSchemaFiles())) expect(readFileSync(file, 'utf8'), file).toBe(text);
  });

  it('the EVSE-WB profile validates', () => {
    const p = loadEvseProfile('evse-wb');
    expect(p.current.address).toBe(1000);
    expect(p.vehicleState.address).toBe(1002);
    expect(p.lock).toBeUndefined();
  });

  it('reports every problem with its field path', () => {
    const raw = JSON.parse(readFileSync(join(PROFILES_DIR, 'meters', 'eastron-sdm630.json'), 'utf8'));
    raw.values[0].type = 'float64';
    delete raw.values[1].wordOrder;
    raw.values[2].unit = 'kWh';
    raw.values.push({ ...raw.values[3], wordOrder: undefined, type: 'uint16' });
    raw.values = raw.values.filter((v: { measurand: string }) => v.measurand !== 'Energy.Active.Import.Register');
    let err: ConfigError | undefined;
    try {
      parseMeterProfile(JSON.parse(JSON.stringify(raw)), 'x.json');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.code).toBe('ERR_CONFIG_INVALID');
    const paths = err!.problems.map((p) => p.path);
    expect(paths).toContain('values[0].type');
    // Schema errors stop before cross-field checks; fix the type and look again.
    raw.values[0].type = 'float32';
    try {
      parseMeterProfile(JSON.parse(JSON.stringify(raw)), 'x.json');
    } catch (e) {
      err = e as ConfigError;
    }
    const again = err!.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(again).toMatch(/values\[1\]\.wordOrder: is required for float32/);
    expect(again).toMatch(/values\[2\]\.unit: Voltage is measured in V, got kWh/);
    expect(again).toMatch(/is already given by values\[3\]/);
    expect(again).toMatch(/values: needs the total Energy.Active.Import.Register/);
  });
});

describe('codec', () => {
  it('computes the Modbus CRC (reference frame 01 04 00 00 00 02 → 71 CB)', () => {
    expect(buildReadRequest(1, 4, 0, 2).toString('hex')).toBe('01040000000271cb');
    expect(crc16(Buffer.from('0103500000045509', 'hex'))).toBe(0);
  });

  it('decodes every data type, word order and byte order', () => {
    const b = Buffer.from('1234abcd', 'hex');
    expect(decodeRaw(b, { type: 'uint32', wordOrder: 'msw-first', byteOrder: 'big' })).toBe(0x1234abcd);
    expect(decodeRaw(b, { type: 'uint32', wordOrder: 'lsw-first', byteOrder: 'big' })).toBe(0xabcd1234);
    expect(decodeRaw(b, { type: 'uint32', wordOrder: 'msw-first', byteOrder: 'little' })).toBe(0x3412cdab);
    expect(decodeRaw(Buffer.from('ffff', 'hex'), { type: 'int16', byteOrder: 'big' })).toBe(-1);
    expect(decodeRaw(Buffer.from('fffffffe', 'hex'), { type: 'int32', wordOrder: 'msw-first', byteOrder: 'big' })).toBe(-2);
    expect(decodeRaw(Buffer.from('4248147b', 'hex'), { type: 'float32', wordOrder: 'msw-first', byteOrder: 'big' })).toBeCloseTo(50.02, 4);
    expect(decodeRaw(Buffer.from('147b4248', 'hex'), { type: 'float32', wordOrder: 'lsw-first', byteOrder: 'big' })).toBeCloseTo(50.02, 4);
    expect(decodeRaw(Buffer.from('0000000000000101', 'hex'), { type: 'int64', wordOrder: 'msw-first', byteOrder: 'big' })).toBe(257);
    expect(decodeRaw(Buffer.from('0101000000000000', 'hex'), { type: 'uint64', wordOrder: 'lsw-first', byteOrder: 'big' })).toBe(257);
  });

  it('rejects a corrupt frame, an exception and an answer from another unit', () => {
    const good = Buffer.from('010304000a000b', 'hex');
    const frame = Buffer.concat([good, Buffer.alloc(2)]);
    frame.writeUInt16LE(crc16(good), good.length);
    expect(new RtuResponseAssembler(1, 3).push(frame)?.data.toString('hex')).toBe('000a000b');
    const bad = Buffer.from(frame);
    bad[4] = bad[4]! ^ 0x5a;
    expect(() => new RtuResponseAssembler(1, 3).push(bad)).toThrow(expect.objectContaining({ code: 'ERR_MODBUS_CRC' }));
    expect(() => new RtuResponseAssembler(2, 3).push(frame)).toThrow(expect.objectContaining({ code: 'ERR_MODBUS_UNEXPECTED' }));
    const exc = Buffer.from('018302', 'hex');
    const excFrame = Buffer.concat([exc, Buffer.alloc(2)]);
    excFrame.writeUInt16LE(crc16(exc), 3);
    expect(() => new RtuResponseAssembler(1, 3).push(excFrame)).toThrow(expect.objectContaining({ code: 'ERR_MODBUS_EXCEPTION', modbusCode: 2 }));
  });
});

describe.each(ids)('fixture %s.hex', (id) => {
  const profile = loadMeterProfile(join(PROFILES_DIR, 'meters', `${id}.json`));
  const fx = fixture(id);
  const plan = planReads(profile);

  it('our read plan sends exactly the fixture requests, few of them', () => {
    expect(plan.map((r) => buildReadRequest(1, r.functionCode, r.address, r.count).toString('hex'))).toEqual(fx.requests.map((b) => b.toString('hex')));
    expect(plan.length).toBeLessThanOrEqual(4);
  });

  for (const split of [0, 1, 3]) {
    it(`decodes the responses ${split ? `split into ${split}-byte reads` : 'whole'}`, () => {
      const image = new RegisterImage();
      plan.forEach((r, i) => {
        const asm = new RtuResponseAssembler(1, r.functionCode);
        const frame = fx.responses[i]!;
        let res;
        if (!split) res = asm.push(frame);
        else for (let o = 0; o < frame.length; o += split) res = asm.push(frame.subarray(o, o + split)) ?? res;
        expect(res, `response ${i}`).toBeDefined();
        image.add(r.functionCode, r.address, res!.data);
      });
      const values = decodeValues(profile, image);
      for (const [key, expected] of Object.entries(fx.values)) {
        const v = profile.values.find((x) => `${x.measurand}|${x.phase ?? ''}` === key)!;
        const want = expected * (TO_BASE[v.unit] ?? 1);
        const got = values.get(key)!;
        // float32 keeps about 7 significant digits; integers are exact to their scale.
        expect(Math.abs(got - want), `${key}: ${got} vs ${want}`).toBeLessThanOrEqual(Math.max(Math.abs(want) * 1e-6, v.scale * (TO_BASE[v.unit] ?? 1) * 0.5 + 1e-9));
      }
      const reading = toReading(values, 1);
      expect(reading.energyWh).toBeGreaterThan(0);
    });
  }
});
