/**
 * Meter profiles: a meter model is a data file (profiles/meters/<id>.json). Every value names
 * its OCPP measurand and phase, function code, address, data type, word and byte order, scale
 * (or exponent register) and unit. Nothing is implicit: absent means the meter lacks it.
 */
import { ConfigError, type ConfigProblem } from '../../lib/errors.js';
import { deepFreeze, s, type Infer, type Problem } from '../../config/schema.js';
import { loadProfile } from '../../config/profiles.js';

export const DATA_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64'] as const;
export type DataType = (typeof DATA_TYPES)[number];
/** Registers (16-bit words) each data type occupies. */
export const WORDS: Record<DataType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4 };

/** The OCPP 1.6 measurands a meter profile may name (wire strings, verbatim). */
export const MEASURANDS = [
  'Energy.Active.Import.Register',
  'Energy.Active.Export.Register',
  'Power.Active.Import',
  'Power.Active.Export',
  'Current.Import',
  'Voltage',
  'Frequency',
] as const;
export type Measurand = (typeof MEASURANDS)[number];
/**
 * The measurands the meter driver's toReading carries into a MeterReading (others a profile
 * names are decoded for diagnostics only). Here, with the profile, so that what a profile's
 * meter produces is known without loading the driver.
 */
export const READING_MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage', 'Frequency'] as const;
export const PHASES = ['L1', 'L2', 'L3', 'L1-N', 'L2-N', 'L3-N'] as const;
export type Phase = (typeof PHASES)[number];
export const UNITS = ['Wh', 'kWh', 'W', 'kW', 'A', 'V', 'Hz'] as const;
export type Unit = (typeof UNITS)[number];

/** What each measurand must be measured in (the unit family), checked on load. */
const UNIT_FAMILY: Record<Measurand, readonly Unit[]> = {
  'Energy.Active.Import.Register': ['Wh', 'kWh'],
  'Energy.Active.Export.Register': ['Wh', 'kWh'],
  'Power.Active.Import': ['W', 'kW'],
  'Power.Active.Export': ['W', 'kW'],
  'Current.Import': ['A'],
  Voltage: ['V'],
  Frequency: ['Hz'],
};

const functionCode = () => s.int({ min: 3, max: 4 }).describe('3: read holding registers, 4: read input registers');
const address = () => s.int({ min: 0, max: 65535 }).describe('register address as printed in the manual (see addressBase)');

export const meterValueSchema = s.object({
  measurand: s.enum(MEASURANDS).describe('OCPP 1.6 measurand'),
  phase: s.optional(s.enum(PHASES).describe('absent: the total (or the only) value')),
  functionCode: functionCode(),
  address: address(),
  type: s.enum(DATA_TYPES),
  wordOrder: s.optional(
    s.enum(['msw-first', 'lsw-first']).describe('required for 32- and 64-bit types, forbidden for 16-bit ones'),
  ),
  byteOrder: s.enum(['big', 'little']).describe('byte order inside each register; big is the Modbus standard'),
  scale: s.number().describe('multiplier from the raw value to `unit` (1 when the register holds the unit itself)'),
  exponentRegister: s.optional(
    s
      .object({ functionCode: functionCode(), address: address(), type: s.enum(['int16']) })
      .describe('value = raw × scale × 10^exponent (SunSpec-style scale factor register)'),
  ),
  unit: s.enum(UNITS),
  note: s.optional(s.string().describe('the manual\'s name for the register')),
});
export type MeterValue = Infer<typeof meterValueSchema>;

const register = () => s.int({ min: 0, max: 65535 }).describe('holding register, wire (PDU) address');
const word = () => s.int({ min: 0, max: 65535 });
/** A text or byte block: its bytes two per register (high byte first), its length in a register of its own. */
const block = (what: string) => s.object({
  address: register().describe(`first register of ${what}`),
  lengthAddress: register().describe(`the register holding ${what}'s length in bytes`),
  maxRegisters: s.int({ min: 1, max: 2000 }).describe('registers the block spans at most'),
});

/**
 * A calibration-law meter's signing interface: OCMF over Modbus holding registers (read with
 * function 3, written with 6 and 16). The charger sets the meter's clock and writes the
 * record's metadata (OCMF payload fields as JSON), then the begin command; at the end the end
 * command, and reads back the payload the meter signed and its signature. Every address and
 * code is data: the driver (src/drivers/modbus/ocmf-signer.ts) knows the sequence only.
 */
export const ocmfSigningSchema = s.object({
  interface: s.enum(['ocmf-registers'] as const).describe('OCMF payload and signature read from registers after a begin/end command'),
  signingMethod: s.enum(['ECDSA-secp256r1-SHA256'] as const).describe('the OCMF signature algorithm (SA) the meter signs with'),
  publicKey: s.object({
    address: register(),
    registers: s.int({ min: 1, max: 125 }),
    encoding: s.enum(['p256-raw-xy'] as const).describe('the 64 bytes X||Y of the secp256r1 point; the driver adds the DER SubjectPublicKeyInfo header'),
  }),
  algorithm: s.optional(s.object({
    address: register(),
    value: word().describe('what the register reads when the meter signs with signingMethod'),
  }).describe('a register naming the signature format the meter is set to: the driver refuses to use a meter that reads otherwise (e.g. one set to sign nothing)')),
  state: s.object({ address: register(), idle: word().describe('no transaction open in the meter'), active: s.array(word(), { minItems: 1 }).describe('a transaction open (incl. after a power failure or reset)') }),
  command: s.object({ address: register(), begin: word(), end: word() }),
  status: s.object({ address: register(), ok: word().describe('the last command signed'), busy: s.array(word()).describe('still working: poll again') }),
  clock: s.object({
    unixSecondsAddress: register().describe('UTC seconds, uint32 across two registers, high word first'),
    utcOffsetMinutesAddress: register(),
    syncAddress: register(),
    synced: word().describe('written to syncAddress: the clock was set from a synchronised source'),
  }),
  metadata: block('the metadata JSON the charger writes before the begin command'),
  record: block('the payload section the meter signed'),
  signature: block('the DER signature'),
  beginRecord: s.boolean().describe('the begin command gives a signed record of its own; false: the end record carries the begin and end readings'),
  commandTimeoutMs: s.int({ min: 100, max: 60_000 }).describe('how long a command may take to sign'),
});
export type OcmfSigning = Infer<typeof ocmfSigningSchema>;

export const meterProfileSchema = s.object({
  $schema: s.optional(s.string()),
  id: s.string({ pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'a kebab-case id (a-z, 0-9, -)' }),
  description: s.string(),
  vendor: s.string({ minLength: 1 }),
  model: s.string({ minLength: 1 }),
  sources: s.array(s.string(), { minItems: 1 }).describe('manuals and references the register map was checked against'),
  addressBase: s.int({ min: 0, max: 1 }).describe('0: addresses are wire (PDU) addresses; 1: the manual numbers registers from 1 (wire = address - 1)'),
  maxRegistersPerRead: s.int({ min: 1, max: 125 }).describe('the most registers the meter answers in one request'),
  maxGapRegisters: s.int({ min: 0, max: 124 }).describe('unused registers a read may span to join two values into one request'),
  serial: s.optional(
    s.object({
      baudRate: s.int({ min: 1200, max: 115200 }),
      parity: s.enum(['none', 'even', 'odd']),
      stopBits: s.int({ min: 1, max: 2 }),
    }).describe('the meter\'s factory serial settings (a hint for the bus configuration)'),
  ),
  values: s.array(meterValueSchema, { minItems: 1 }),
  signing: s.optional(ocmfSigningSchema.describe('a calibration-law meter: how it signs transaction begin and end (OCMF)')),
});
export type MeterProfile = Infer<typeof meterProfileSchema>;

/** Cross-field checks the schema cannot express; each problem with its field path. */
export function checkMeterProfile(p: MeterProfile): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  p.values.forEach((v, i) => {
    const at = `values[${i}]`;
    const words = WORDS[v.type];
    if (words > 1 && v.wordOrder === undefined) problems.push({ path: `${at}.wordOrder`, message: `is required for ${v.type}` });
    if (words === 1 && v.wordOrder !== undefined) problems.push({ path: `${at}.wordOrder`, message: `must be absent for ${v.type} (one register)` });
    if (v.address - p.addressBase < 0) problems.push({ path: `${at}.address`, message: `below addressBase ${p.addressBase}` });
    if (v.address - p.addressBase + words > 65536) problems.push({ path: `${at}.address`, message: 'runs past register 65535' });
    if (!UNIT_FAMILY[v.measurand].includes(v.unit))
      problems.push({ path: `${at}.unit`, message: `${v.measurand} is measured in ${UNIT_FAMILY[v.measurand].join(' or ')}, got ${v.unit}` });
    if (v.scale === 0) problems.push({ path: `${at}.scale`, message: 'must not be 0' });
    if (v.type === 'float32' && v.exponentRegister) problems.push({ path: `${at}.exponentRegister`, message: 'a float32 needs no exponent register' });
    if (words > p.maxRegistersPerRead) problems.push({ path: `${at}.type`, message: `needs ${words} registers, more than maxRegistersPerRead` });
    const key = `${v.measurand}|${v.phase ?? ''}`;
    const prev = seen.get(key);
    if (prev !== undefined) problems.push({ path: `${at}`, message: `${key} is already given by values[${prev}]` });
    else seen.set(key, i);
  });
  if (!seen.has('Energy.Active.Import.Register|'))
    problems.push({ path: 'values', message: 'needs the total Energy.Active.Import.Register (no phase): it is what is billed' });
  return problems;
}

/** Validate a parsed JSON value as a meter profile; throws ConfigError listing every problem. */
export function parseMeterProfile(raw: unknown, file = '(meter profile)'): MeterProfile {
  const problems: Problem[] = [];
  const value = meterProfileSchema.check(raw, '', problems);
  if (value) problems.push(...checkMeterProfile(value));
  if (problems.length || !value) throw new ConfigError(problems.map((p): ConfigProblem => ({ file, ...p })));
  return deepFreeze(value);
}

/** A meter profile by id (profiles/meters/<id>.json) or path; the file name must equal its id. */
export function loadMeterProfile(ref: string, baseDir?: string): MeterProfile {
  const profile = loadProfile('meters', ref, meterProfileSchema, baseDir);
  const problems = checkMeterProfile(profile);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ file: ref, ...p })));
  return profile;
}

/** The JSON Schema technicians' editors use (profiles/schema/meter.schema.json). */
export function meterProfileJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://evse-edge.local/schema/meter.schema.json',
    title: 'evse-edge Modbus meter profile',
    ...meterProfileSchema.jsonSchema(),
  };
}
