import { readFileSync } from 'node:fs';
import { ConfigError } from '../lib/errors.js';
import { chargerProfileSchema, loadJsonFile, loadProfile, type ChargerProfile } from './profiles.js';
import { deepFreeze, s, type Infer } from './schema.js';
import { storePathProblem } from './store-path.js';
import { ANY_VERSION_PASSWORD_PATTERN, configPasswordProblem, securityProfileProblems } from './csms-security.js';

const unitId = () => s.int({ min: 0, max: 247 }).describe('Modbus unit (slave) id');
const modbusTiming = {
  timeoutMs: s.withDefault(s.int({ min: 20, max: 10_000 }), 500),
  retries: s.withDefault(s.int({ min: 0, max: 10 }), 2),
};
const serialLine = {
  port: s.string({ minLength: 1 }).describe('serial device, e.g. /dev/ttyUSB0'),
  baudRate: s.withDefault(s.int({ min: 300, max: 1_000_000 }), 9600),
  parity: s.withDefault(s.enum(['none', 'even', 'odd']), 'none'),
  stopBits: s.withDefault(s.enum(['1', '2']), '1'),
};
const modbusRtuDevice = s.object({ driver: s.literal('modbus-rtu'), ...serialLine, unitId: unitId(), profile: s.string({ minLength: 1 }), ...modbusTiming });
const modbusTcpDevice = s.object({
  driver: s.literal('modbus-tcp'), host: s.string({ minLength: 1 }), port: s.withDefault(s.int({ min: 1, max: 65_535 }), 502),
  unitId: unitId(), profile: s.string({ minLength: 1 }), ...modbusTiming,
});
const simDevice = s.object({ driver: s.literal('sim') });
export const modbusDeviceSchema = s.union('driver', { 'modbus-rtu': modbusRtuDevice, 'modbus-tcp': modbusTcpDevice, sim: simDevice });
export type DeviceConfig = Infer<typeof modbusDeviceSchema>;

export const readerConfigSchema = s.object({
  driver: s.literal('serial'),
  ...serialLine,
  protocol: s.enum(['line', 'rdm6300', 'pn532']),
  connectors: s.optional(s.array(s.int({ min: 1, max: 32 }), { minItems: 1 })),
  uidByteOrder: s.withDefault(s.enum(['as-read', 'reversed']), 'as-read'),
});
export type ReaderConfig = Infer<typeof readerConfigSchema>;

export const touchscreenConfigSchema = s.union('driver', {
  nextion: s.object({
    driver: s.literal('nextion'), ...serialLine,
    encoding: s.optional(s.enum(['latin1', 'utf8']).describe("the screen project's code page (default latin1)")),
    currency: s.optional(s.string({ minLength: 1, maxLength: 8 }).describe('shown after the cost, e.g. EUR')),
    // The attributes the agent sets; {id} is the connector id; message '' for a project without a message area.
    fields: s.optional(s.object({
      status: s.optional(s.string({ minLength: 1 })), energy: s.optional(s.string({ minLength: 1 })),
      power: s.optional(s.string({ minLength: 1 })), cost: s.optional(s.string({ minLength: 1 })), message: s.optional(s.string()),
      // Calibration law: a signing meter's public key and the session's signed readings ('' for a project without them).
      meterKey: s.optional(s.string()), signedValues: s.optional(s.string()),
    })),
    pin: s.optional(s.object({
      page: s.int({ min: 0, max: 255 }), component: s.int({ min: 0, max: 255 }), field: s.string({ minLength: 1 }),
      event: s.optional(s.enum(['press', 'release'])), connectorId: s.optional(s.int({ min: 1, max: 32 })), clearField: s.optional(s.boolean()),
    })),
  }),
  'json-lines': s.object({
    driver: s.literal('json-lines'), ...serialLine,
    messageFormats: s.optional(s.array(s.enum(['ASCII', 'UTF8', 'HTML', 'URI']), { minItems: 1 })
      .describe('message formats the HMI renders (default ASCII and UTF8); a display message in another is refused NotSupportedMessageFormat')),
  }),
});
export type TouchscreenConfig = Infer<typeof touchscreenConfigSchema>;

const decimal = () => s.string({ pattern: /^\d+(\.\d{1,6})?$/, patternHint: 'a decimal string such as "0.39"' });
export const tariffSchema = s.object({
  currency: s.string({ pattern: /^[A-Z]{3}$/, patternHint: 'an ISO 4217 code such as "EUR"' }),
  minorUnitDigits: s.withDefault(s.int({ min: 0, max: 4 }), 2),
  energyPerKWh: decimal().describe('price per kWh'),
  timePerMinute: s.optional(decimal().describe('price per minute of the session')),
  idlePerMinute: s.optional(decimal().describe('price per minute after charging ended while still plugged')),
  idleGraceMinutes: s.optional(s.int({ min: 0, max: 1440 })),
  sessionFee: s.optional(decimal()),
  vatPercent: s.optional(decimal()),
  pricesIncludeVat: s.withDefault(s.boolean(), true),
});

export const agentConfigSchema = s.object({
  $schema: s.optional(s.string()),
  chargePointId: s.string({ minLength: 1, maxLength: 48, pattern: /^[A-Za-z0-9._:\-]+$/, patternHint: 'letters, digits and . _ : -' }),
  csms: s.object({
    url: s.string({ pattern: /^wss?:\/\/[^\s]+$/, patternHint: 'a ws:// or wss:// URL' }).describe('the agent connects to <url>/<chargePointId>'),
    callTimeoutMs: s.withDefault(s.int({ min: 1000, max: 300_000 }), 30_000),
    reconnectInitialDelayMs: s.withDefault(s.int({ min: 100, max: 600_000 }), 1_000),
    reconnectMaxDelayMs: s.withDefault(s.int({ min: 100, max: 3_600_000 }), 60_000),
    meterValuesPerMessage: s.withDefault(s.int({ min: 1, max: 100 }).describe('after an outage, queued MeterValues of one transaction go up to this many per message (1: one each)'), 50),
    ocppVersions: s.withDefault(s.array(s.enum(['ocpp1.6', 'ocpp2.0.1']), { minItems: 1 }), ['ocpp1.6'])
      .describe('the OCPP versions the WebSocket offers, in preference order; the charger speaks the one the central system selects'),
    securityProfile: s.withDefault(s.int({ min: 0, max: 3 }), 0)
      .describe('OCPP security profile: 0 none (labs only), 1 HTTP Basic auth, 2 TLS 1.2+ and Basic auth, 3 mutual TLS'),
    authorizationKey: s.optional(s.string({ pattern: ANY_VERSION_PASSWORD_PATTERN, patternHint: '16-20 characters, or 32-40 hex digits (a station offering only ocpp2.0.1: 16-40 printable characters)' })
      .describe('the Basic auth password for profiles 1 and 2 (OCPP 1.6 AuthorizationKey: 16-20 characters or 32-40 hex digits; 2.0.1 alone: 16-40 characters, used as they are); keep this file readable by the service only')),
    ca: s.optional(s.string({ minLength: 1 }).describe('PEM file of the CA(s) the central system\'s certificate must chain to (default: the system trust store)')),
    cert: s.optional(s.string({ minLength: 1 }).describe('PEM file of the charge point\'s client certificate (profile 3)')),
    key: s.optional(s.string({ minLength: 1 }).describe('PEM file of the client certificate\'s private key (profile 3)')),
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
  connectors: s.optional(
    s.array(s.object({ id: s.int({ min: 1, max: 32 }), meter: s.optional(modbusDeviceSchema), evse: s.optional(modbusDeviceSchema) }), { minItems: 1 })
      .describe('hardware per connector; a connector or device left out is simulated'),
  ),
  readers: s.optional(s.array(readerConfigSchema)),
  touchscreen: s.optional(touchscreenConfigSchema),
  mqtt: s.optional(
    s.object({
      url: s.string({ pattern: /^((mqtts?|wss?):\/\/\S+|embedded)$/, patternHint: 'an mqtt://, mqtts://, ws:// or wss:// URL, or "embedded"' })
        .describe('the broker, or "embedded": the agent runs an MQTT 3.1.1 broker (aedes) on embeddedHost:embeddedPort, for a laptop on one charger'),
      embeddedPort: s.withDefault(s.int({ min: 0, max: 65_535 }).describe('TCP port of the embedded broker (0: any free port, printed at start)'), 1883),
      embeddedHost: s.withDefault(s.string({ minLength: 1 }).describe('address the embedded broker listens on; loopback by default (it authenticates nobody)'), '127.0.0.1'),
      username: s.optional(s.string({ minLength: 1 })),
      password: s.optional(s.string()),
      clientId: s.optional(s.string({ minLength: 1, maxLength: 64 })),
      protocolVersion: s.withDefault(s.int({ min: 4, max: 5 }).describe('5 (MQTT 5) or 4 (MQTT 3.1.1)'), 5),
      tls: s.optional(s.object({ ca: s.optional(s.string()), cert: s.optional(s.string()), key: s.optional(s.string()), rejectUnauthorized: s.withDefault(s.boolean(), true) })),
      topicPrefix: s.optional(s.string({ pattern: /^[^#+]+$/, patternHint: 'a topic without wildcards' }).describe('default evse/<chargePointId>')),
      healthIntervalS: s.withDefault(s.int({ min: 1, max: 3_600 }), 30),
      roles: s.withDefault(s.record(s.enum(['viewer', 'technician', 'admin'])).describe('broker username → role'), {}),
      technicianWritable: s.withDefault(s.array(s.string()), ['MeterValueSampleInterval', 'HeartbeatInterval', 'ClockAlignedDataInterval', 'MeterValuesSampledData', 'WebSocketPingInterval']),
      adminCommands: s.withDefault(s.boolean().describe('offer session start/stop, unlock and reset to admins'), false),
      requireLoginTopic: s.withDefault(s.boolean().describe('answer only requests on request/<login>/<noun>/<verb>, whose login the broker ACL binds (pattern write …/request/%u/#); refuse request/<noun>/<verb>, whose user is only claimed'), false),
      rateLimit: s.withDefault(s.object({ requests: s.int({ min: 1 }), perSeconds: s.int({ min: 1 }) }), { requests: 30, perSeconds: 60 }),
      maxRequestAgeS: s.withDefault(s.int({ min: 1, max: 3_600 }), 60),
    }),
  ),
  metrics: s.optional(
    s.object({
      listen: s.withDefault(s.string({ pattern: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, patternHint: 'HOST:PORT, e.g. 127.0.0.1:9464' })
        .describe('address of the Prometheus endpoint (GET /metrics); loopback by default (it authenticates nobody)'), '127.0.0.1:9464'),
    }).describe('a Prometheus /metrics endpoint: link state, outbox depth and age, sessions, meter read errors, faults'),
  ),
  tariff: s.optional(tariffSchema.describe('the local tariff; the central system may replace it (configuration key Tariff, or DataTransfer org.evse-edge/SetTariff)')),
  retention: s.withDefault(s.object({ days: s.withDefault(s.int({ min: 1, max: 3_650 }), 90) }), { days: 90 }),
  firmware: s.optional(
    s.object({
      installCommand: s.optional(s.array(s.string({ minLength: 1 }), { minItems: 1 }).describe('argv of the install command; the image path is appended and also given in EVSE_EDGE_FIRMWARE_IMAGE')),
      sha256: s.optional(s.string({ pattern: /^[0-9a-fA-F]{64}$/, patternHint: '64 hex digits' }).describe('expected SHA-256 of the next image (a "#sha256=<hex>" fragment on the location wins)')),
      requireChecksum: s.withDefault(s.boolean().describe('refuse an image whose checksum is not known'), false),
      downloadDir: s.optional(s.string({ minLength: 1 }).describe('default: "firmware" beside the store')),
      installTimeoutMs: s.withDefault(s.int({ min: 1_000, max: 86_400_000 }), 1_800_000),
    }).describe('UpdateFirmware: how the operator installs an image'),
  ),
  simulation: s.optional(
    s.object({
      arrivalDelayMs: s.optional(s.int({ min: 0 })),
      departureDelayMs: s.optional(s.int({ min: 0 })),
      seed: s.optional(s.int({ min: 0 })),
      signedMeters: s.withDefault(s.boolean().describe('simulated meters sign transaction begin and end readings (OCMF, ECDSA secp256r1), each with its own key kept beside the store'), false),
      signedIntervals: s.withDefault(s.boolean().describe('simulated signing meters also sign the periodic readings in between'), false),
    }),
  ),
});

export type AgentConfig = Infer<typeof agentConfigSchema>;

export interface LoadedAgentConfig {
  file: string;
  config: AgentConfig;
  charger: ChargerProfile;
}

/** References between the config and the charger profile: every problem, with its field path. */
function crossCheck(file: string, config: AgentConfig, charger: ChargerProfile): void {
  const ids = new Set(charger.connectors.map((c) => c.id));
  const problems: { file: string; path: string; message: string }[] = [];
  const known = `the charger profile "${charger.id}" has connectors ${[...ids].join(', ')}`;
  config.connectors?.forEach((c, i) => {
    if (!ids.has(c.id)) problems.push({ file, path: `connectors[${i}].id`, message: `no connector ${c.id}: ${known}` });
    if (config.connectors!.findIndex((x) => x.id === c.id) !== i) problems.push({ file, path: `connectors[${i}].id`, message: `connector ${c.id} is listed twice` });
  });
  config.readers?.forEach((r, i) => r.connectors?.forEach((id, j) => {
    if (!ids.has(id)) problems.push({ file, path: `readers[${i}].connectors[${j}]`, message: `no connector ${id}: ${known}` });
  }));
  config.csms.ocppVersions.forEach((v, i) => {
    if (config.csms.ocppVersions.indexOf(v) !== i) problems.push({ file, path: `csms.ocppVersions[${i}]`, message: `${v} is listed twice` });
  });
  const key = config.csms.authorizationKey;
  const keyProblem = key !== undefined ? configPasswordProblem(key, config.csms.ocppVersions) : undefined;
  if (keyProblem) problems.push({ file, path: 'csms.authorizationKey', message: keyProblem });
  problems.push(...securityProfileProblems(config.csms).map((p) => ({ file, ...p })));
  const store = storePathProblem(config.store.path);
  if (store) problems.push({ file, path: 'store.path', message: store });
  if (problems.length) throw new ConfigError(problems);
}

/** Parse, validate and freeze the agent's config file and the profiles it names. */
export function loadAgentConfig(file: string): LoadedAgentConfig {
  const config = loadJsonFile(file, agentConfigSchema);
  const charger = loadProfile('chargers', config.charger, chargerProfileSchema);
  crossCheck(file, config, charger);
  return deepFreeze({ file, config, charger });
}

/** The same from an object (the demo and tests build configs in code). */
export function parseAgentConfig(value: unknown, file = '<inline>'): LoadedAgentConfig {
  const problems: { path: string; message: string }[] = [];
  const config = agentConfigSchema.check(value, '', problems);
  if (problems.length || !config) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  const charger = loadProfile('chargers', config.charger, chargerProfileSchema);
  crossCheck(file, config, charger);
  return deepFreeze({ file, config, charger });
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
