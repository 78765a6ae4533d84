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

/** Faults a step can inject: the connector error codes a simulated charger can report. */
export const STEP_FAULTS = [
  'PowerMeterFailure', 'ReaderFailure', 'GroundFailure', 'EVCommunicationError', 'HighTemperature', 'OverCurrentFailure',
  'OverVoltage', 'UnderVoltage', 'PowerSwitchFailure', 'ConnectorLockFailure', 'InternalError', 'OtherError',
] as const;

/** Answer statuses an expectation may wait for (OCPP 1.6 and 2.0.1 authorisation, registration, DataTransfer). */
export const ANSWER_STATUSES = [
  'Accepted', 'Blocked', 'Expired', 'Invalid', 'ConcurrentTx', 'NoCredit', 'NotAllowedTypeEVSE', 'NotAtThisLocation', 'NotAtThisTime',
  'Unknown', 'Pending', 'Rejected', 'UnknownMessageId', 'UnknownVendorId',
] as const;

const stepBase = {
  id: s.optional(s.string({ pattern: /^[a-z0-9][a-z0-9-]*$/, patternHint: 'a kebab-case id (a-z, 0-9, -)' }).describe('named by expectations (afterStep)')),
  atSeconds: s.number({ min: 0 }).describe('simulated seconds after the charger\'s first Accepted boot'),
  chargers: s.optional(s.array(s.int({ min: 1 }), { minItems: 1 }).describe('charger numbers (1 is SIM-00001); default: every charger')),
};
const connector = () => s.withDefault(s.int({ min: 1 }), 1).describe('connector (EVSE) id');

/** What a step does to its chargers: what a person, the network or the hardware does to a real one. */
export const stepSchema = s.union('do', {
  'plug-in': s.object({ do: s.literal('plug-in'), ...stepBase, connector: connector(), vehicle: s.optional(s.string({ minLength: 1 }).describe('a name in vehicles (default: the first)')) }),
  unplug: s.object({ do: s.literal('unplug'), ...stepBase, connector: connector() }),
  'present-token': s.object({
    do: s.literal('present-token'), ...stepBase, connector: connector(),
    idTag: s.optional(s.string({ minLength: 1, maxLength: 20 }).describe('default: the pool\'s tag of the charger\'s number')),
    method: s.withDefault(s.enum(['rfid', 'touchscreen'] as const), 'rfid'),
  }),
  'app-start': s.object({ do: s.literal('app-start'), ...stepBase, connector: connector(), idTag: s.optional(s.string({ minLength: 1, maxLength: 20 })) }),
  'cut-network': s.object({ do: s.literal('cut-network'), ...stepBase }),
  'restore-network': s.object({ do: s.literal('restore-network'), ...stepBase }),
  'drop-link': s.object({ do: s.literal('drop-link'), ...stepBase }),
  fault: s.object({
    do: s.literal('fault'), ...stepBase, connector: s.optional(s.int({ min: 0 }).describe('0 or absent: the charger (a reader fault)')),
    errorCode: s.enum(STEP_FAULTS), forSeconds: s.optional(s.number({ min: 0 }).describe('cleared after this long (default: by a clear-fault step)')),
  }),
  'clear-fault': s.object({ do: s.literal('clear-fault'), ...stepBase, connector: s.optional(s.int({ min: 0 })), errorCode: s.enum(STEP_FAULTS) }),
});
export type ScenarioStep = Infer<typeof stepSchema>;

const action = () => s.string({ pattern: /^[A-Za-z0-9]+$/, patternHint: 'an OCPP action name, e.g. Authorize' });
const expectationBase = { name: s.optional(s.string({ minLength: 1 }).describe('the verdict\'s name (default: made from the expectation)')) };
const window = {
  afterStep: s.optional(s.string({ minLength: 1 }).describe('id of the step whose chargers are watched')),
  withinSeconds: s.optional(s.number({ min: 0 }).describe('simulated seconds after the step ran on a charger')),
};

/** What the run must show: checked at the end, one verdict each. */
export const expectationSchema = s.union('expect', {
  answer: s.object({
    expect: s.literal('answer'), ...expectationBase, ...window, action: action(), status: s.enum(ANSWER_STATUSES),
  }).describe('every charger the step ran on gets this answer to this action within the window'),
  'no-callerror': s.object({ expect: s.literal('no-callerror'), ...expectationBase, ...window, action: s.optional(action()) })
    .describe('no CALLERROR (to this action, or any), over the run or within the window after a step'),
  latency: s.object({
    expect: s.literal('latency'), ...expectationBase, action: s.optional(action()),
    percentile: s.enum(['p50', 'p95', 'p99', 'max'] as const), belowMs: s.number({ min: 0 }),
  }).describe('the latency of an action (or of every CALL) below a bound, over the run'),
  count: s.object({
    expect: s.literal('count'), ...expectationBase, action: action(), status: s.optional(s.enum(ANSWER_STATUSES)), atLeast: s.int({ min: 1 }),
  }).describe('at least this many CALLs of an action over the run (answered with this status, if given)'),
});
export type ScenarioExpectation = Infer<typeof expectationSchema>;

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
  securityEvents: s.withDefault(s.boolean(), true)
    .describe('the chargers raise the security events a real one does (StartupOfTheDevice, ResetOrReboot, FirmwareUpdated, certificate events) and send them as SecurityEventNotification'),
  steps: s.withDefault(s.array(stepSchema).describe('scripted steps: at a time, do something to some chargers'), []),
  expectations: s.withDefault(s.array(expectationSchema).describe('what the run must show; a verdict each, exit 3 when one fails'), []),
});
export type Scenario = Infer<typeof scenarioSchema>;

/** Load profiles/scenarios/<id>.json (or a path), validated and frozen. */
export function loadScenario(ref: string, baseDir?: string): Scenario {
  const sc = loadProfile('scenarios', ref, scenarioSchema, baseDir);
  const file = scenarioFile(ref, baseDir);
  const problems = scenarioProblems(sc);
  if (problems.length) throw new ConfigError(problems.map((p) => ({ file, ...p })));
  return sc;
}

/** The file a scenario reference names (an id in profiles/scenarios, or a path). */
export function scenarioFile(ref: string, baseDir?: string): string {
  const looksLikePath = ref.includes('/') || ref.endsWith('.json');
  return looksLikePath ? resolve(baseDir ?? process.cwd(), ref) : join(PROFILES_DIR, 'scenarios', `${ref}.json`);
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
  const stepIds = new Map<string, number>();
  sc.steps.forEach((st, i) => {
    if (st.id !== undefined) {
      if (stepIds.has(st.id)) out.push({ path: `steps[${i}].id`, message: `"${st.id}" is already the id of steps[${stepIds.get(st.id)}]` });
      else stepIds.set(st.id, i);
    }
    if (st.do === 'plug-in' && st.vehicle !== undefined && !sc.vehicles.some((v) => v.name === st.vehicle)) {
      out.push({ path: `steps[${i}].vehicle`, message: `no vehicle "${st.vehicle}" (known: ${sc.vehicles.map((v) => v.name).join(', ')})` });
    }
  });
  sc.expectations.forEach((e, i) => {
    if (e.expect !== 'answer' && e.expect !== 'no-callerror') return;
    if (e.afterStep === undefined) {
      if (e.expect === 'answer') out.push({ path: `expectations[${i}].afterStep`, message: 'is required: an answer is awaited after a step (over the run, use "expect": "count" with a status)' });
      else if (e.withinSeconds !== undefined) out.push({ path: `expectations[${i}].withinSeconds`, message: 'needs afterStep (the window starts when that step runs)' });
      return;
    }
    if (!stepIds.has(e.afterStep)) {
      out.push({ path: `expectations[${i}].afterStep`, message: `no step has the id "${e.afterStep}"${stepIds.size ? ` (known: ${[...stepIds.keys()].join(', ')})` : ' (give the step an "id")'}` });
    }
    if (e.withinSeconds === undefined) out.push({ path: `expectations[${i}].withinSeconds`, message: 'is required with afterStep' });
  });
  return out;
}

/** Every valid idTag of the scenario's pool, for provisioning a central system. */
export function idTagPool(sc: Scenario): string[] {
  const { prefix, size } = sc.auth.idTagPool;
  const digits = Math.max(4, String(size).length);
  return Array.from({ length: size }, (_, i) => `${prefix}${String(i + 1).padStart(digits, '0')}`);
}
