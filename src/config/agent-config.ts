import { readFileSync } from 'node:fs';
import { ConfigError } from '../lib/errors.js';
import { chargerProfileSchema, loadJsonFile, loadProfile, type ChargerProfile } from './profiles.js';
import { deepFreeze, s, type Infer } from './schema.js';

export const agentConfigSchema = s.object({
  $schema: s.optional(s.string()),
  chargePointId: s.string({ minLength: 1, maxLength: 48, pattern: /^[A-Za-z0-9._:\-]+$/, patternHint: 'letters, digits and . _ : -' }),
  csms: s.object({
    url: s.string({ pattern: /^wss?:\/\/[^\s]+$/, patternHint: 'a ws:// or wss:// URL' }).describe('the agent connects to <url>/<chargePointId>'),
    callTimeoutMs: s.withDefault(s.int({ min: 1000, max: 300_000 }), 30_000),
    reconnectInitialDelayMs: s.withDefault(s.int({ min: 100, max: 600_000 }), 1_000),
    reconnectMaxDelayMs: s.withDefault(s.int({ min: 100, max: 3_600_000 }), 60_000),
  }),
  store: s.withDefault(s.object({ path: s.withDefault(s.string({ minLength: 1 }), './var/evse-edge.db') }), { path: './var/evse-edge.db' }),
  charger: s.withDefault(s.string({ minLength: 1 }), 'sim-ac-2x22kw').describe('a charger profile id in profiles/chargers, or a path to one'),
  log: s.withDefault(s.object({ level: s.withDefault(s.enum(['debug', 'info', 'warn', 'error', 'silent']), 'info') }), { level: 'info' }),
  ocpp: s.optional(s.record(s.scalar()).describe('initial values of OCPP configuration keys (a central system may change them later)')),
  session: s.withDefault(
    s.object({
      resumePolicy: s.withDefault(s.enum(['resume-or-stop', 'stop']), 'resume-or-stop'),
      stopOnSecondPresentation: s.withDefault(s.boolean(), true),
      freeVendIdTag: s.optional(s.string({ minLength: 1, maxLength: 20 })),
      meterPollIntervalMs: s.withDefault(s.int({ min: 100, max: 60_000 }), 1_000),
      checkpointIntervalMs: s.withDefault(s.int({ min: 1_000, max: 300_000 }), 10_000),
    }),
    { resumePolicy: 'resume-or-stop', stopOnSecondPresentation: true, meterPollIntervalMs: 1_000, checkpointIntervalMs: 10_000 },
  ),
  simulation: s.optional(
    s.object({
      arrivalDelayMs: s.optional(s.int({ min: 0 })),
      departureDelayMs: s.optional(s.int({ min: 0 })),
      seed: s.optional(s.int({ min: 0 })),
    }),
  ),
});

export type AgentConfig = Infer<typeof agentConfigSchema>;

export interface LoadedAgentConfig {
  file: string;
  config: AgentConfig;
  charger: ChargerProfile;
}

/** Parse, validate and freeze the agent's config file and the profiles it names. */
export function loadAgentConfig(file: string): LoadedAgentConfig {
  const config = loadJsonFile(file, agentConfigSchema);
  const charger = loadProfile('chargers', config.charger, chargerProfileSchema);
  return deepFreeze({ file, config, charger });
}

/** The same from an object (the demo and tests build configs in code). */
export function parseAgentConfig(value: unknown, file = '<inline>'): LoadedAgentConfig {
  const problems: { path: string; message: string }[] = [];
  const config = agentConfigSchema.check(value, '', problems);
  if (problems.length || !config) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  const charger = loadProfile('chargers', config.charger, chargerProfileSchema);
  return deepFreeze({ file, config, charger });
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
