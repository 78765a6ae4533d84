/**
 * EVSE control board profiles (profiles/evse/<id>.json): which holding registers set the
 * charging current, report the vehicle state, and (if the board has one) unlock the plug.
 */
import { ConfigError } from '../../lib/errors.js';
import { deepFreeze, s, type Infer, type Problem } from '../../config/schema.js';
import { loadProfile } from '../../config/profiles.js';

const register = () => s.int({ min: 0, max: 65535 }).describe('register address as printed in the manual (see addressBase)');
const VEHICLE_STATES = ['disconnected', 'connected', 'charging', 'error'] as const;

export const evseProfileSchema = s.object({
  $schema: s.optional(s.string()),
  id: s.string({ pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'a kebab-case id (a-z, 0-9, -)' }),
  description: s.string(),
  vendor: s.string({ minLength: 1 }),
  model: s.string({ minLength: 1 }),
  sources: s.array(s.string(), { minItems: 1 }),
  addressBase: s.int({ min: 0, max: 1 }),
  writeFunctionCode: s.int({ min: 6, max: 16 }).describe('6: write single register, 16: write multiple registers'),
  current: s.object({
    functionCode: s.int({ min: 3, max: 4 }),
    address: register(),
    scale: s.number().describe('register value = amperes / scale (1: whole amperes, 0.01: centiamperes)'),
    offValue: s.int({ min: 0, max: 65535 }).describe('the raw value that stops charging (the board keeps 12 V, no PWM)'),
    minCurrentA: s.number({ min: 0 }).describe('below this an offer stops charging instead (IEC 61851: 6 A)'),
    maxCurrentA: s.number({ min: 1 }),
  }),
  vehicleState: s.object({
    functionCode: s.int({ min: 3, max: 4 }),
    address: register(),
    values: s.record(s.enum(VEHICLE_STATES), /^[0-9]+$/).describe('raw register value → vehicle state'),
  }),
  lock: s.optional(
    s.object({
      address: register(),
      unlockValue: s.int({ min: 0, max: 65535 }),
    }).describe('a plug lock register; absent: unlock answers NotSupported'),
  ),
});
export type EvseProfile = Infer<typeof evseProfileSchema>;

function check(p: EvseProfile): Problem[] {
  const problems: Problem[] = [];
  if (p.writeFunctionCode !== 6 && p.writeFunctionCode !== 16) problems.push({ path: 'writeFunctionCode', message: 'expected 6 or 16' });
  if (p.current.functionCode !== 3) problems.push({ path: 'current.functionCode', message: 'a writable setpoint is a holding register (3)' });
  if (p.current.minCurrentA > p.current.maxCurrentA) problems.push({ path: 'current.minCurrentA', message: 'exceeds maxCurrentA' });
  if (p.current.scale <= 0) problems.push({ path: 'current.scale', message: 'must be > 0' });
  if (!Object.keys(p.vehicleState.values).length) problems.push({ path: 'vehicleState.values', message: 'needs at least one state' });
  return problems;
}

export function parseEvseProfile(raw: unknown, file = '(evse profile)'): EvseProfile {
  const problems: Problem[] = [];
  const value = evseProfileSchema.check(raw, '', problems);
  if (value) problems.push(...check(value));
  if (problems.length || !value) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  return deepFreeze(value);
}

export function loadEvseProfile(ref: string, baseDir?: string): EvseProfile {
  const profile = loadProfile('evse', ref, evseProfileSchema, baseDir);
  const problems = check(profile);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ file: ref, ...p })));
  return profile;
}

export function evseProfileJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://evse-edge.local/schema/evse.schema.json',
    title: 'evse-edge EVSE control board profile',
    ...evseProfileSchema.jsonSchema(),
  };
}
