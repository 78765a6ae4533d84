import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { basename, join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../lib/errors.js';
import { deepFreeze, s, type Infer, type Schema } from './schema.js';

/** The profiles/ folder shipped with the program. */
export const PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../profiles');

const id = () => s.string({ pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'a kebab-case id (a-z, 0-9, -)' });

export const chargerProfileSchema = s.object({
  $schema: s.optional(s.string()),
  id: id(),
  description: s.optional(s.string()),
  vendor: s.string({ minLength: 1, maxLength: 20 }).describe('BootNotification chargePointVendor'),
  model: s.string({ minLength: 1, maxLength: 20 }).describe('BootNotification chargePointModel'),
  firmwareVersion: s.optional(s.string({ maxLength: 50 })),
  connectors: s.array(
    s.object({
      id: s.int({ min: 1, max: 32 }),
      type: s.enum(['Type2', 'Type1', 'CCS2', 'CCS1', 'CHAdeMO', 'Schuko']),
      phases: s.enum(['1', '3', 'DC']).describe('"1" or "3" (AC), or "DC" (current and voltage at the vehicle\'s DC side, no phases)'),
      maxCurrentA: s.number({ min: 1, max: 1000 }),
      nominalVoltageV: s.number({ min: 100, max: 1000 }),
      maxPowerW: s.number({ min: 100, max: 1_000_000 }),
    }),
    { minItems: 1, maxItems: 32 },
  ),
  simulation: s.optional(
    s.object({
      vehicle: s.object({
        batteryWh: s.number({ min: 1000 }),
        maxPowerW: s.number({ min: 100 }),
        socPctMin: s.number({ min: 0, max: 100 }),
        socPctMax: s.number({ min: 0, max: 100 }),
        targetSocPct: s.number({ min: 1, max: 100 }),
      }),
      arrivalDelayMs: s.int({ min: 0 }).describe('a vehicle arrives this long after authorisation'),
      departureDelayMs: s.int({ min: 0 }).describe('the driver unplugs this long after charging ends'),
    }),
  ),
});
export type ChargerProfile = Infer<typeof chargerProfileSchema>;

/** Phases a connector's limits and readings are counted in: a DC connector's power is V × A, like one phase. */
export function connectorPhases(c: ChargerProfile['connectors'][number]): 1 | 3 {
  return c.phases === '3' ? 3 : 1;
}

/** Read and validate a JSON file against a schema; every problem is reported with the file. */
export function loadJsonFile<T>(file: string, schema: Schema<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const message = e.code === 'ENOENT' ? 'file not found' : e instanceof SyntaxError ? `not valid JSON: ${e.message}` : e.message;
    throw new ConfigError([{ file, path: '', message }]);
  }
  const problems: { path: string; message: string }[] = [];
  const value = schema.check(raw, '', problems);
  if (problems.length || value === undefined) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  return deepFreeze(value);
}

/** A profile by id (profiles/<kind>/<id>.json) or by path. The file name must equal its id. */
export function loadProfile<T extends { id: string }>(kind: 'chargers' | 'meters' | 'scenarios' | 'evse', ref: string, schema: Schema<T>, baseDir = process.cwd()): T {
  const looksLikePath = ref.includes('/') || ref.endsWith('.json');
  const file = looksLikePath ? resolve(baseDir, ref) : join(PROFILES_DIR, kind, `${ref}.json`);
  if (!looksLikePath && !existsSync(file)) {
    const known = listProfiles(kind);
    throw new ConfigError([{ file, path: '', message: `no ${kind} profile "${ref}" (known: ${known.join(', ') || 'none'})` }]);
  }
  const profile = loadJsonFile(file, schema);
  if (basename(file, '.json') !== profile.id) {
    throw new ConfigError([{ file, path: 'id', message: `must equal the file name ("${basename(file, '.json')}")` }]);
  }
  return profile;
}

export function listProfiles(kind: string): string[] {
  const dir = join(PROFILES_DIR, kind);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'template.json').map((f) => basename(f, '.json')).sort();
}
