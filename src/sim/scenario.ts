import { resolve, join } from 'node:path';
import { loadProfile, PROFILES_DIR } from '../config/profiles.js';
import { ConfigError } from '../lib/errors.js';
import { s, type Infer } from '../config/schema.js';

/** A truncated normal distribution: draws outside [min, max] are clamped. */
const dist = (what: string) =>
  s.object({
    mean: s.number({ min: 0 }),
    sd: s.withDefault(s.number({ min: 0 }), 0),
    min: s.number({ min: 0 }),
    max: s.number({ min: 0 }),
  }).describe(what);

const share = () => s.number({ min: 0, max: 1 });

export const scenarioSchema = s.object({
  $schema: s.optional(s.string()),
  id: s.string({ pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'a kebab-case id (a-z, 0-9, -)' }),
  description: s.optional(s.string()),
  charger: s.withDefault(s.string({ minLength: 1 }), 'sim-ac-2x22kw').describe('charger profile id (profiles/chargers) or path'),
  arrivals: s.object({
    ratePerHour: s.array(s.number({ min: 0 }), { minItems: 24, maxItems: 24 })
      .describe('Poisson arrival rate per connector, vehicles per hour, for each hour of the day (UTC) 0..23'),
  }),
  session: s.object({
    dwellMinutes: dist('how long the vehicle stays plugged, minutes'),
    energyKWh: dist('energy the driver wants, kWh (the vehicle stops drawing once it has it)'),
    presentDelaySeconds: s.withDefault(dist('plug-in to card/PIN/app start, seconds'), { mean: 10, sd: 5, min: 1, max: 60 }),
  }),
  vehicles: s.array(
    s.object({
      name: s.string({ minLength: 1 }),
      share: s.number({ min: 0 }).describe('relative weight'),
      batteryWh: s.number({ min: 1000 }),
      maxPowerW: s.number({ min: 100 }).describe('on-board charger (AC) or vehicle (DC) limit; constant to 80 % SoC, then tapering'),
      socPctMin: s.number({ min: 0, max: 100 }),
      socPctMax: s.number({ min: 0, max: 100 }),
      targetSocPct: s.number({ min: 1, max: 100 }),
    }),
    { minItems: 1 },
  ),
  auth: s.object({
    rfidShare: share(),
    touchscreenShare: share(),
    appShare: share().describe('remote start from the operator app'),
    idTagPool: s.object({
      prefix: s.string({ minLength: 1, maxLength: 12, pattern: /^[A-Za-z0-9]+$/, patternHint: 'letters and digits' }),
      size: s.int({ min: 1, max: 1_000_000 }),
    }),
    invalidShare: share().describe('share of presentations with a tag the central system does not know'),
    invalidPrefix: s.withDefault(s.string({ minLength: 1, maxLength: 12, pattern: /^[A-Za-z0-9]+$/ }), 'BAD'),
  }),
  faults: s.withDefault(
    s.object({
      meterTimeoutShare: share().describe('share of sessions during which the meter stops answering for a while'),
      readerFailureShare: share().describe('share of arrivals at which the card reader reports a failure for a while'),
      durationSeconds: dist('how long a fault lasts'),
    }),
    { meterTimeoutShare: 0, readerFailureShare: 0, durationSeconds: { mean: 60, sd: 0, min: 60, max: 60 } },
  ),
  network: s.withDefault(
    s.object({
      flapShare: share().describe('share of chargers that go offline once during the run'),
      flapWithinMinutes: s.number({ min: 0 }).describe('the flap starts at a uniform time within this many (simulated) minutes'),
      offlineSeconds: dist('how long a flapping charger stays offline'),
      stormAtSeconds: s.optional(s.number({ min: 0 }).describe('every charger drops its link at this (simulated) second and reconnects')),
    }),
    { flapShare: 0, flapWithinMinutes: 0, offlineSeconds: { mean: 0, sd: 0, min: 0, max: 0 } },
  ),
  csms: s.withDefault(
    s.object({
      callTimeoutMs: s.withDefault(s.int({ min: 1000, max: 300_000 }), 30_000),
      reconnectInitialDelayMs: s.withDefault(s.int({ min: 100, max: 600_000 }), 1_000),
      reconnectMaxDelayMs: s.withDefault(s.int({ min: 100, max: 3_600_000 }), 60_000),
    }),
    { callTimeoutMs: 30_000, reconnectInitialDelayMs: 1_000, reconnectMaxDelayMs: 60_000 },
  ),
  ocpp: s.withDefault(s.record(s.scalar()).describe('OCPP configuration values of every simulated charger'), {}),
  timing: s.withDefault(
    s.object({
      meterPollIntervalMs: s.withDefault(s.int({ min: 100, max: 3_600_000 }), 30_000).describe('simulated ms between meter reads while charging'),
      checkpointIntervalMs: s.withDefault(s.int({ min: 1000, max: 3_600_000 }), 60_000),
    }),
    { meterPollIntervalMs: 30_000, checkpointIntervalMs: 60_000 },
  ),
});
export type Scenario = Infer<typeof scenarioSchema>;

/** Load profiles/scenarios/<id>.json (or a path), validated and frozen. */
export function loadScenario(ref: string, baseDir?: string): Scenario {
  const sc = loadProfile('scenarios', ref, scenarioSchema, baseDir);
  const looksLikePath = ref.includes('/') || ref.endsWith('.json');
  const file = looksLikePath ? resolve(baseDir ?? process.cwd(), ref) : join(PROFILES_DIR, 'scenarios', `${ref}.json`);
  const problems = scenarioProblems(sc);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  return sc;
}

/** Checks across fields that the schema cannot express. */
export function scenarioProblems(sc: Scenario): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const d = (path: string, x: { mean: number; min: number; max: number }) => {
    if (x.min > x.max) out.push({ path: `${path}.min`, message: `must be ≤ max (${x.max})` });
  };
  d('session.dwellMinutes', sc.session.dwellMinutes);
  d('session.energyKWh', sc.session.energyKWh);
  d('session.presentDelaySeconds', sc.session.presentDelaySeconds);
  d('faults.durationSeconds', sc.faults.durationSeconds);
  d('network.offlineSeconds', sc.network.offlineSeconds);
  sc.vehicles.forEach((v, i) => {
    if (v.socPctMin > v.socPctMax) out.push({ path: `vehicles[${i}].socPctMin`, message: 'must be ≤ socPctMax' });
  });
  if (!sc.vehicles.some((v) => v.share > 0)) out.push({ path: 'vehicles', message: 'at least one vehicle needs a share > 0' });
  const a = sc.auth;
  if (a.rfidShare + a.touchscreenShare + a.appShare <= 0) out.push({ path: 'auth', message: 'rfidShare + touchscreenShare + appShare must be > 0' });
  return out;
}

/** Every valid idTag of the scenario's pool, for provisioning a central system. */
export function idTagPool(sc: Scenario): string[] {
  const { prefix, size } = sc.auth.idTagPool;
  const digits = Math.max(4, String(size).length);
  return Array.from({ length: size }, (_, i) => `${prefix}${String(i + 1).padStart(digits, '0')}`);
}
