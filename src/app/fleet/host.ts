import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import type { CallOutcome } from '../../ocpp/connection.js';
import { v16StatusOf, type ChargePointStatus } from '../../ocpp/v16/mapping.js';
import { ChargePointRuntime, FEATURE_PROFILES, type FirmwareFactory } from '../charger/charge-point-runtime.js';
import { SimFirmware } from './sim-firmware.js';
import { connectorPhases, type ChargerProfile } from '../../config/profiles.js';
import { createLog, LEVELS, type Log, type LogFields, type LogLevel, type LogSink } from '../../lib/log.js';
import { pseudonymiser } from '../../lib/pseudonym.js';
import { generateOcmfKey } from '../../lib/ocmf.js';
import { SIGN_READINGS_SETTING } from '../../ocpp/v201/sign-readings-key.js';
import { keyDefinitions, normalise, OFFERED_MEASURANDS } from '../../ocpp/v16/configuration.js';
import { COST_MESSAGE_IDS, COST_VENDOR_ID } from '../../ocpp/v16/cost-messages.js';
import { openDatabase, SessionRecords, type SqliteDatabase } from '../../store/index.js';
import { Prng, seedOf } from '../../sim/prng.js';
import { SIM_MEASURANDS, SimConnector } from '../../sim/sim-connector.js';
import { SimIdReader } from '../../sim/sim-id-reader.js';
import { SimDriver, type DrivenChargePoint, type DriverEventKind } from './driver.js';
import { FleetScript, type ScriptedCharger } from './script.js';
import { SimFaultSource } from '../../sim/sim-fault-source.js';
import { FleetMetrics, type Gauges, type StatsJson } from './metrics.js';
import type { Scenario } from '../../sim/scenario.js';
import { Scheduler } from './scheduler.js';
import { versionOf, type OcppMix } from './ocpp-mix.js';
import type { OcppSubprotocol } from '../../ocpp/version.js';
import { loadedOcppVersion, loadOcppVersions } from '../../ocpp/versions.js';
import { prepareStandardValidator } from '../../ocpp/rpc.js';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { KeyDefinition } from '../../ocpp/v16/index.js';
import type { Hosted } from './control/hosted.js';
import { HostControl } from './control/host-control.js';
import { FleetCertificateDirs, LazyCertificates, simulatedStationSecurity, type CertificateCounts } from './certificates.js';
import type { ControlEvent } from './control/protocol.js';
import { SqliteSecurityLog } from '../../store/security-events.js';
import { SecurityEventRecorder } from '../services/security-events.js';
import { securityEventOfConnectError } from '../../ocpp/v16/security.js';

/**
 * Old-generation growth allowed between full GCs (V8's default is adaptive, up to 300 %).
 * Measured at 20,000 chargers: 20 % gave 1,287 MB and a full GC every ~8 s per process (lag p99
 * 85 ms); 40 % gave 1,320 MB, one every ~20 s (65 ms). Set from the start: set at the end of the
 * ramp it needed a forced full GC to take effect, a single pause of 500 ms at 8,000 chargers in
 * one thread (--trace-gc); set from the start, the ramp's full GCs are incremental, their pauses
 * under 35 ms, and the heap ends the same size. Measured again after the scheduler's stall fix
 * (npm run bench:fleet, 150 s): 20 % gave no lower peak RSS (1,404 against 1,401-1,424 MB) and
 * a lag max of 6.2 s. EVSE_EDGE_FLEET_HEAP_GROWING_PERCENT overrides it, for such experiments.
 */
const HEAP_GROWING_PERCENT = Number(process.env.EVSE_EDGE_FLEET_HEAP_GROWING_PERCENT ?? 40);
/**
 * Building chargers waits while the event loop is busier than this (its utilisation over the
 * last ELU_WINDOW_MS): a charger's start costs some 2.5 ms of CPU in the turns after it is built
 * (its connection, boot and first statuses), so a ramp faster than the thread absorbs queues
 * that work into turns of hundreds of ms (at 400 a second into one thread: stalls of 100-750 ms
 * through the whole ramp). The ramp then goes as fast as the thread absorbs, never faster than asked.
 */
const RAMP_MAX_UTILISATION = 0.7;
const ELU_WINDOW_MS = 50;
/** How often (wall ms) a host drops what the central system has acknowledged from its store. */
const HOUSEKEEPING_MS = 10_000;
/**
 * Sessions a sweep handles per turn of the event loop: a sweep of everything delivered in 10 s in
 * one turn held a thread of 10,000 chargers 30-57 ms (10,000 MeterValues rows), and under a
 * full machine's load such a turn was one of the run's longest stalls.
 */
const SWEEP_BATCH = 250;
/** Outbox rows a sweep reads per turn, per session of SWEEP_BATCH (a slice of 2,000 rows). */
const SWEEP_ROWS_PER_SESSION = 8;
/** Links closed at a time when a host stops. */
const STOP_BATCH = 250;
/** Longest stretch (wall ms) a host builds chargers before it lets the event loop run. */
const BUILD_SLICE_MS = 20;
/** The longest a slice of charger building may take, whatever the rest of the turn takes. */
const MAX_BUILD_SLICE_MS = 50;
/** How long (wall ms) a charger reset by the central system lets its outbox deliver before it restarts (the agent's figure). */
const RESET_DRAIN_MS = 3_000;
/** How long an interrupted run waits for answers in flight before it drops its links, ms. */
const FAST_DRAIN_MS = 1_000;


/** How simulated chargers authenticate to a central system under test. */
export interface FleetSecurity {
  /** HTTP Basic password of every charger (Security Profiles 1 and 2); `{id}` becomes the charger's id. */
  password?: string;
  /** PEM certificate(s) of the CA that signed a wss:// central system's certificate (a private CA). */
  ca?: string;
  /**
   * Client certificate and key files (PEM) for Security Profile 3; `{id}` in a path becomes the
   * charger's id (one certificate per charger, its CN the id, as the profile wants).
   */
  clientCert?: { cert: string; key: string };
}

export interface HostOptions {
  /** The charger ids this thread hosts, with their index in the whole fleet (for ramp and URL). */
  chargers: { id: string; index: number; number?: number }[];
  scenario: Scenario;
  charger: ChargerProfile;
  seed: number;
  urls: string[];
  /** The OCPP versions the chargers speak, by share (default: every one 1.6). */
  ocpp?: OcppMix;
  /** Each simulated meter signs its transactions' begin and end values (OCMF) with its own key. */
  signedMeters?: boolean;
  security?: FleetSecurity;
  timeScale: number;
  /** Simulated epoch ms at which the run starts. */
  startMs: number;
  /** Simulated duration, ms: drivers' events after startMs + durationMs never happen. */
  durationMs?: number;
  /** Chargers started per wall second across the fleet (0: all at once). */
  rampPerSec: number;
  /** Epoch ms (wall) at which the whole run started, for time-to-Accepted. */
  runStartedAt: number;
  /** Level of the chargers' own logs, written to stderr (default: none). */
  logLevel?: LogLevel;
  /** Keep the drivers' event sequence (tests). */
  recordEvents?: boolean;
  /** At the end, how long (wall ms) to wait for answers to the CALLs in flight (default 5 s). */
  drainMs?: number;
  /** How often (wall ms) the store drops what the central system has acknowledged (default 10 s). */
  housekeepingMs?: number;
  /** Sessions a housekeeping sweep handles per turn (default SWEEP_BATCH; tests). */
  sweepBatch?: number;
  /** The control API is on (events are sent up, commands answered); traceIds: chargers traced from their start (--trace). */
  control?: { traceIds?: string[]; traceFrames?: number };
}

/**
 * An app start: the central system sends RemoteStartTransaction to the charger (as a driver's
 * app makes it do). Resolves whether the charger accepted.
 */
export type AppStart = (chargePointId: string, idTag: string, connectorId: number) => Promise<boolean>;

export interface HostSnapshot {
  stats: StatsJson;
  gauges: Gauges;
  /** Latency (ms) of the last interval: p50, p95, p99, and calls and errors in it. */
  interval: { calls: number; errors: number; p50Ms: number; p95Ms: number; p99Ms: number; lagP99Ms: number; lagMaxMs: number };
  lag: { p99Ms: number; maxMs: number };
  simNowMs: number;
  inFlight: number;
  /** The latest failed connection attempt: which charger, and why. */
  lastConnectFailure?: string;
}

/** A charger's client certificate and key, read from the files its id names; or why not. */
function clientCertOf(files: { cert: string; key: string }, id: string): { cert: string; key: string } | { error: string } {
  const cert = files.cert.replaceAll('{id}', id);
  const key = files.key.replaceAll('{id}', id);
  try {
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } catch (err) {
    return { error: `cannot read its client certificate or key (${cert}, ${key}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

/** Why a connection attempt failed, in a few words: an HTTP status, a TLS or network error code. */
function connectFailureText(err: Error & { code?: string | number }): string {
  const status = /^\d{3}$/.test(String(err.code)) ? String(err.code) : /Unexpected server response: (\d+)/.exec(err.message)?.[1];
  if (status) return `HTTP ${status} ${err.message}`.trim();
  const message = err.message.split('\n')[0]!;
  return err.code !== undefined ? `${err.code}: ${message}` : message;
}

/**
 * Many charge points in one thread: one in-memory SQLite database, one Scheduler (the Clock
 * of every core), one set of OCPP key definitions; each charger is the same ChargePointRuntime
 * the agent runs, driven by a SimDriver. start() ramps chargers up; stop() freezes simulated
 * time, lets answers in flight arrive, and closes everything.
 */
export class FleetHost {
  readonly metrics = new FleetMetrics();
  readonly scheduler: Scheduler;
  readonly events: string[] = [];
  private db?: SqliteDatabase;
  private securityLog?: SqliteSecurityLog;
  private readonly hosted = new Map<string, Hosted>();
  private readonly log: Log;
  private rampTimer?: NodeJS.Timeout;
  private rampImmediate?: NodeJS.Immediate;
  private housekeeping?: NodeJS.Timeout;
  private sweeping = false;
  /** Where the next sweep of delivered MeterValues rows starts (an outbox seq). */
  private sweptTo = 0;
  private readonly lag: IntervalHistogram;
  /** The same, since the last snapshot (the live status shows the last interval). */
  private readonly intervalLag: IntervalHistogram;
  private stopping = false;
  /** The scenario's scripted steps and the expectations watching them, if it has any. */
  private readonly script?: FleetScript;
  /** The scripted handle of each charger the script drives (told when the charger is first Accepted). */
  private readonly scripted = new WeakMap<Hosted, ScriptedCharger>();

  /** `appStart`: how the central system is asked to start; without it, the charger's own remote start. */
  constructor(private readonly o: HostOptions, private readonly appStart?: AppStart) {
    if (o.security?.ca) this.tlsOptions = { ca: o.security.ca };
    this.scheduler = new Scheduler({
      startMs: o.startMs, timeScale: o.timeScale, untilMs: o.durationMs === undefined ? undefined : o.startMs + o.durationMs,
      onError: (err) => this.log.error('scheduled event failed', { err }) });
    const level = o.logLevel ?? 'silent';
    const sink: LogSink = {
      level: level === 'silent' ? 'warn' : level,
      write: (line, n, fields) => this.onLog(line, n, fields, level),
    };
    this.log = createLog(sink);
    this.lag = monitorEventLoopDelay({ resolution: 10 });
    this.intervalLag = monitorEventLoopDelay({ resolution: 10 });
    if (o.scenario.steps?.length) this.script = new FleetScript(o.scenario, this.scheduler, this.metrics);
    this.definitions = keyDefinitions({ numberOfConnectors: o.charger.connectors.length, featureProfiles: FEATURE_PROFILES, measurands: [...SIM_MEASURANDS, ...OFFERED_MEASURANDS] });
  }

  /**
   * Warnings are counted (and EMFILE detected) even when logs are off, from the level and the
   * call's fields pino hands over (no line is parsed); lines go to stderr at the chosen level.
   */
  private onLog(line: string, n: number, fields: LogFields | undefined, level: LogLevel): void {
    if (n >= LEVELS.warn) this.metrics.add('warnings');
    const err = fields?.err as { code?: string; message?: string } | undefined;
    if (err?.code === 'EMFILE' || (typeof err === 'object' && /EMFILE/.test(String(err.message)))) this.metrics.add('emfile');
    if (n >= LEVELS[level]) process.stderr.write(line);
  }

  private rampDone = false;
  /** How long (wall ms) the ramp waited for a busy event loop. */
  private rampHeldMs = 0;
  private lastConnectFailure?: string;
  /** Where the chargers' certificate stores go, made when the first charger is asked for a CSR. */
  private readonly certificateDirs = new FleetCertificateDirs();
  private readonly certificateCounts: CertificateCounts = {
    csrMade: () => this.metrics.add('csrsSent'),
    chainAccepted: () => this.metrics.add('certificatesAccepted'),
    chainRejected: () => this.metrics.add('certificatesRejected'),
  };
  /** The private CA of a wss:// central system: the CSMS root a signed certificate must chain to. */
  private csmsRoots?: Buffer;
  /** TLS options shared by every charger's connection (a private CA), if any. */
  private readonly tlsOptions?: { ca: string };

  get chargerCount(): number {
    return this.hosted.size;
  }

  start(): void {
    // Each version's schemas compiled before the first charger and before the lag is measured:
    // built lazily, the first chargers' turns compiled them, a turn of some 190 ms per thread.
    // The bindings of the fleet's OCPP versions (none given: 1.6, which is always loaded).
    const versions = (this.o.ocpp ?? []).map((s) => s.version);
    for (const v of new Set(versions.length ? versions : ['ocpp1.6'])) prepareStandardValidator(v);
    this.lag.enable();
    this.intervalLag.enable();
    // V8 pretenures an allocation site (allocates its objects straight in the old generation)
    // when many of them once survived a scavenge, as messages do while the ramp keeps the
    // central system busy; a fleet's messages then die in the old generation and every one of
    // them costs a full GC's work. Off: measured at 20,000 chargers, lag p99 65 → 54 ms,
    // latency p99 434 → 209 ms, RSS 1,320 → 1,257 MB. Process-wide.
    setFlagsFromString('--no-allocation-site-pretenuring');
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    this.db = openDatabase(':memory:', { log: this.log, synchronous: 'NORMAL', secureDelete: false });
    // Every charger's security events, through one set of statements.
    if (this.o.scenario.securityEvents) this.securityLog = new SqliteSecurityLog(this.db);
    const records = new SessionRecords(this.db);
    // Soak runs: what the central system has acknowledged is of no further use to a simulated
    // charger; without this the in-memory store grows with every session and sample.
    this.housekeeping = setInterval(() => this.sweep(records), this.o.housekeepingMs ?? HOUSEKEEPING_MS);
    this.housekeeping.unref();
    this.scheduler.start();
    const list = [...this.o.chargers].sort((a, b) => a.index - b.index);
    const perMs = this.o.rampPerSec > 0 ? this.o.rampPerSec / 1000 : Number.POSITIVE_INFINITY;
    let next = 0;
    let t0 = Date.now();
    let lastSliceEnd = t0;
    let elu: EventLoopUtilization = performance.eventLoopUtilization();
    let eluAt = t0;
    let busy = 0;
    const tick = () => {
      this.rampTimer = undefined;
      this.rampImmediate = undefined;
      if (this.stopping) return;
      const sliceStart = Date.now();
      // The loop's utilisation over the last window: above the limit, building waits, and the
      // ramp's schedule moves back by the wait (a charger is never built ahead of its time).
      if (sliceStart - eluAt >= ELU_WINDOW_MS) {
        const now = performance.eventLoopUtilization();
        busy = performance.eventLoopUtilization(now, elu).utilization;
        elu = now;
        eluAt = sliceStart;
      }
      if (busy > RAMP_MAX_UTILISATION && next > 0) {
        this.rampHeldMs += 10;
        t0 += 10;
        busy = 0; // measured again after the wait
        eluAt = sliceStart - ELU_WINDOW_MS; // …at the next tick
        this.rampTimer = setTimeout(tick, 10);
        return;
      }
      const elapsed = sliceStart - t0;
      // Charger k (in fleet order) starts at k / ramp seconds; without a ramp, as fast as the
      // thread builds them. Either way a slice of at most BUILD_SLICE_MS, then the event loop
      // runs (answers, timers) before the next: building 10,000 chargers in one go stalled it
      // for about 10 s, and no charger connected until every one was built.
      // A slice may last as long as the rest of the loop's turn did (a fast time scale keeps
      // the scheduler busy): building then gets at least half the thread. Never longer than
      // MAX_BUILD_SLICE_MS: the chargers a slice builds make the next turns longer (their
      // connections open, their boots are answered), and a budget that followed the turn's
      // length grew with it, slice after slice, into stalls of seconds on a loaded machine.
      const budgetMs = Math.min(MAX_BUILD_SLICE_MS, Math.max(BUILD_SLICE_MS, sliceStart - lastSliceEnd));
      let built = 0;
      while (next < list.length && (perMs === Number.POSITIVE_INFINITY || list[next]!.index <= elapsed * perMs)) {
        this.add(list[next]!.id, list[next]!.index, undefined, list[next]!.number);
        next++;
        if (++built % 8 === 0 && Date.now() - sliceStart >= budgetMs) break;
      }
      lastSliceEnd = Date.now();
      if (next >= list.length) this.onRamped();
      else if (perMs === Number.POSITIVE_INFINITY || list[next]!.index <= (Date.now() - t0) * perMs) {
        // Behind (or no ramp): the next slice once pending I/O has been handled.
        this.rampImmediate = setImmediate(tick);
      } else {
        // Small steps: a few chargers at a time keep the event loop responsive while they connect.
        const dueIn = Math.max(2, list[next]!.index / perMs - elapsed);
        this.rampTimer = setTimeout(tick, Math.min(dueIn, 10));
      }
    };
    // 1.6 is always loaded; 2.0.1 is imported once per thread.
    if (versions.every((v) => loadedOcppVersion(v))) tick();
    else {
      loadOcppVersions(versions).then(
        () => {
          if (!this.stopping) tick();
        },
        (err: unknown) => this.log.error('an OCPP version binding could not be loaded: no charger started', { err }),
      );
    }
  }

  private onRamped(): void {
    if (this.rampDone) return;
    this.rampDone = true;
    if (this.rampHeldMs > 0) this.log.info('ramp held while the event loop was busy', { heldMs: this.rampHeldMs });
  }

  private readonly definitions;
  private defaults?: Map<string, string>;
  private readonly pseudonym = pseudonymiser(randomBytes(32));

  private sharedDefaults(): Map<string, string> {
    if (this.defaults) return this.defaults;
    const configured = new Map<string, string>();
    for (const [k, v] of Object.entries(this.o.scenario.ocpp)) {
      const def = this.definitions.find((d) => d.key === k);
      if (def) configured.set(k, normalise(def, String(v)));
    }
    this.defaults = new Map(this.definitions.map((d) => [d.key, configured.get(d.key) ?? d.default]));
    // sim --signed: a 2.0.1 charger sends its meter's signed values (SampledDataCtrlr.SignReadings true).
    if (this.o.signedMeters) this.defaults.set(SIGN_READINGS_SETTING, 'true');
    this.withSecurityProfile(this.defaults);
    return this.defaults;
  }

  /** Shared by every charger of the thread (no closure per charger). */
  private readonly onCall = (o: CallOutcome): void => this.metrics.onCall(o);
  /** The same per OCPP version (one function per version, the report splits its figures by version). */
  private readonly onCallByVersion = new Map<OcppSubprotocol, (o: CallOutcome) => void>();
  private onCallOf(version: OcppSubprotocol): (o: CallOutcome) => void {
    let f = this.onCallByVersion.get(version);
    if (!f) this.onCallByVersion.set(version, (f = this.metrics.onCallOf(version)));
    return f;
  }
  private readonly onIncomingCall = (action: string, result: unknown, request: unknown): void => {
    const c = this.metrics.counters;
    c.callsFromCentral++;
    c.messagesIn++;
    c.messagesOut++;
    // Per action and answer: a campaign (display messages, profiles, reservations, 1.6 cost messages) is counted received and accepted.
    this.metrics.onIncoming(action === 'DataTransfer' ? costMessageLabel(request) ?? action : action, result);
  };

  /** The key definitions and their defaults of a charger profile (shared by every charger of the same number of connectors). */
  private definitionsOf(charger: ChargerProfile): { definitions: KeyDefinition[]; defaults: Map<string, string> } {
    if (charger.connectors.length === this.o.charger.connectors.length) return { definitions: this.definitions, defaults: this.sharedDefaults() };
    let d = this.otherDefinitions.get(charger.connectors.length);
    if (!d) {
      const definitions = keyDefinitions({ numberOfConnectors: charger.connectors.length, featureProfiles: FEATURE_PROFILES, measurands: [...SIM_MEASURANDS, ...OFFERED_MEASURANDS] });
      const configured = new Map<string, string>();
      for (const [k, v] of Object.entries(this.o.scenario.ocpp)) {
        const def = definitions.find((x) => x.key === k);
        if (def) configured.set(k, normalise(def, String(v)));
      }
      d = { definitions, defaults: this.withSecurityProfile(new Map(definitions.map((x) => [x.key, configured.get(x.key) ?? x.default]))) };
      this.otherDefinitions.set(charger.connectors.length, d);
    }
    return d;
  }

  /**
   * The security profile the chargers connect with, as their SecurityProfile setting says (the
   * certificate handlers accept certificates over TLS only): 2 over wss://, 3 with client
   * certificates, 1 with a password; otherwise none is set (0).
   */
  private withSecurityProfile(defaults: Map<string, string>): Map<string, string> {
    const tls = this.o.urls.length > 0 && this.o.urls.every((u) => u.startsWith('wss://'));
    const profile = tls ? (this.o.security?.clientCert ? 3 : 2) : this.o.security?.password !== undefined ? 1 : undefined;
    if (profile !== undefined) defaults.set('SecurityProfile', String(profile));
    return defaults;
  }

  private readonly otherDefinitions = new Map<number, { definitions: KeyDefinition[]; defaults: Map<string, string> }>();

  /**
   * Build charger `id` (its simulated hardware, then its runtime) and start it. `added`: added
   * at run time through the control API, with its own profile and version, if given.
   */
  private add(id: string, index: number, added?: { charger?: ChargerProfile; version?: OcppSubprotocol; url?: string }, number = index + 1): Hosted {
    const { scenario: sc, seed } = this.o;
    const charger = added?.charger ?? this.o.charger;
    const clock = this.scheduler.clock();
    const prng = new Prng(seedOf(id, seed));
    const sims = new Map<number, SimConnector>();
    for (const c of charger.connectors) {
      sims.set(c.id, new SimConnector({
        clock, phases: connectorPhases(c), dc: c.phases === 'DC', nominalVoltageV: c.nominalVoltageV, maxCurrentA: c.maxCurrentA,
        initialEnergyWh: prng.int(100_000, 5_000_000), seed: seedOf(`${id}/meter/${c.id}`, seed),
        arrivalDelayMs: 0, departureDelayMs: 0,
        vehicle: () => ({ batteryWh: 60_000, maxPowerW: 11_000, socPct: 50, targetSocPct: 90 }),
        // A key per meter, for this run (a central system under test learns it from the values or MeterPublicKey).
        ...(this.o.signedMeters ? { signing: { privateKey: generateOcmfKey().privateKey, serial: `${id}-M${c.id}`, chargerId: id } } : {}),
      }));
    }
    const reader = new SimIdReader();
    const faults = new SimFaultSource();
    const m = this.metrics;
    // Each charger speaks one version, composed through the version seam (drawn from the mix by its id and the seed).
    const version = added?.version ?? versionOf(this.o.ocpp, id, seed);
    const h: Hosted = {
      id, index, charger, version, url: added?.url ?? this.o.urls[index % this.o.urls.length]!, runtime: undefined as unknown as ChargePointRuntime,
      driver: undefined as unknown as SimDriver, sims, reader, faults, statuses: new Map(), connected: false, accepted: false, offline: false,
      bootRefusals: 0, everAccepted: false, network: 'up', life: { alive: true }, countedByVersion: Boolean(this.o.ocpp || added?.version),
    };
    this.hosted.set(id, h);
    m.add('chargersStarted');
    if (h.countedByVersion) m.addCharger(version, 'chargersStarted');
    m.gauges.chargers++;
    this.compose(h);
    if (this.control?.tracedFromStart(id)) this.control.startTrace(h);
    const record = this.o.recordEvents
      ? (cpId: string, connectorId: number, kind: DriverEventKind, atMs: number, detail?: string) =>
        this.events.push(`${atMs - this.o.startMs} ${cpId} ${connectorId} ${kind}${detail ? ` ${detail}` : ''}`)
      : undefined;
    const driven: DrivenChargePoint = {
      id, connectors: sims, reader, faults,
      remoteStart: (idTag, connectorId) => this.remoteStart(h, idTag, connectorId),
      goOffline: () => {
        if (h.offline) return;
        h.offline = true;
        m.add('flaps');
        void h.runtime.link.stop();
      },
      goOnline: () => {
        if (!h.offline || this.stopping) return;
        h.offline = false;
        h.runtime.link.start();
      },
      dropLink: () => {
        m.add('storms');
        void h.runtime.connection.reconnect();
      },
    };
    if (this.script) {
      // Its connection is the runtime's of the moment (a reboot composes a new one).
      const scripted: ScriptedCharger = { ...driven, number, get connection() { return h.runtime.connection; } };
      this.scripted.set(h, scripted);
      this.script.plan(scripted);
    }
    h.driver = new SimDriver(driven, sc, this.scheduler, seed, (cpId, connectorId, kind, atMs, detail) => {
      if (kind === 'arrive') m.add('arrivals');
      else if (kind === 'balk') m.add('balked');
      else if (kind === 'present') m.add('tokens');
      else if (kind === 'fault') m.add('faults');
      record?.(cpId, connectorId, kind, atMs, detail);
    });
    // A charger added at run time: its drivers start from now (an initial one's from the run's start, as the seed plans).
    const driversFrom = added ? this.scheduler.now() : this.o.startMs;
    this.startRuntime(h, () => h.driver.start(driversFrom));
    return h;
  }

  private startRuntime(h: Hosted, then?: () => void, startup = true): void {
    const runtime = h.runtime;
    const securityEvents = h.securityEvents;
    runtime.start().then(
      () => {
        if (this.stopping || !h.life.alive) return;
        // As the agent at its start: the device started (a power-up, a hard reset); queued, sent once Accepted.
        if (startup) securityEvents?.record('StartupOfTheDevice', `simulated charger ${h.version}`);
        // The meter register is non-volatile: a rebooted charger's resumes where it was.
        then?.();
      },
      (err) => this.log.error('charge point failed to start', { cp: h.id, err }),
    );
  }

  /** A driver's app start: the central system is asked to send RemoteStartTransaction (or the charger starts as if asked). */
  async remoteStart(h: Hosted, idTag: string, connectorId: number): Promise<boolean> {
    const m = this.metrics;
    m.add('remoteStarts');
    let ok: boolean;
    try {
      ok = this.appStart ? await this.appStart(h.id, idTag, connectorId) : await h.runtime.chargePoint.remoteStart(idTag, connectorId);
    } catch {
      ok = false;
    }
    if (!ok) m.add('remoteStartsRefused');
    return ok;
  }

  /** With the control API on: a charger's CALLERRORs are events too (a closure per charger, only then). */
  private withCallErrorEvents(h: Hosted, count: (o: CallOutcome) => void): (o: CallOutcome) => void {
    return (o) => {
      count(o);
      if (o.result === 'callerror') this.control?.error(h, 'callerror', `${o.action}: ${o.errorCode ?? 'GenericError'}`);
    };
  }

  /** Compose charger h's runtime around its hardware (at its start, and again after a reboot) and count what it does. */
  private compose(h: Hosted): void {
    const { scenario: sc, security } = this.o;
    const { id, charger, version } = h;
    const clock = this.scheduler.clock();
    const evses = charger.connectors.map((c) => {
      const sim = h.sims.get(c.id)!;
      return { evseId: c.id, meter: sim.meter, powerPath: sim.powerPath, maxCurrentA: c.maxCurrentA, phases: connectorPhases(c), nominalVoltageV: c.nominalVoltageV, maxPowerW: c.maxPowerW };
    });
    const m = this.metrics;
    const wsOpts = this.tlsFor(id);
    const { definitions, defaults } = this.definitionsOf(charger);
    const life = { alive: true };
    h.life = life;
    // Its certificates: nothing on disk until the central system asks for a CSR.
    const certificates = (h.certificates ??= new LazyCertificates({
      id, dirs: this.certificateDirs, clock, log: () => this.log.child({ cp: id, component: 'certificates' }), counts: this.certificateCounts,
      ...(security?.ca ? { csmsRoots: (this.csmsRoots ??= Buffer.from(security.ca)) } : {}),
    }));
    const log = this.log.child({ cp: id });
    // Its security events, as the agent records them (the same recorder, store and version bindings).
    const securityEvents = this.securityLog
      ? new SecurityEventRecorder({ store: this.securityLog.forChargePoint(id), clock, log, logLevel: () => 'debug' })
      : undefined;
    h.securityEvents = securityEvents;
    const runtime = new ChargePointRuntime({
      chargePointId: id, db: this.db!, clock, log, pseudonym: this.pseudonym,
      hardware: { evses, readers: [h.reader], faultSources: [h.faults] },
      identity: { vendor: charger.vendor, model: charger.model, firmwareVersion: charger.firmwareVersion ?? 'evse-edge-sim', serialNumber: id },
      csms: {
        url: h.url, ...sc.csms,
        ...(security?.password !== undefined ? { password: security.password.replaceAll('{id}', id) } : {}),
      },
      ...(wsOpts ? { connectionSecurity: () => ({ wsOpts }) } : {}),
      definitions, defaults, ocppVersions: [version],
      security: simulatedStationSecurity(certificates, securityEvents ?? log),
      onReset: (type) => void this.resetByCentralSystem(h, type),
      timing: { meterPollIntervalMs: sc.timing.meterPollIntervalMs, checkpointIntervalMs: sc.timing.checkpointIntervalMs },
      onCall: this.control ? this.withCallErrorEvents(h, h.countedByVersion ? this.onCallOf(version) : this.onCall) : h.countedByVersion ? this.onCallOf(version) : this.onCall,
      onIncomingCall: this.onIncomingCall,
      // Its own stream, so firmware timings do not shift the scenario's events. The simulated
      // firmware speaks 1.6's Firmware Management, or 2.0.1's UpdateFirmware and GetLog.
      firmware: (({ chargePoint, clock: cpClock, notify }) => {
        const sim = new SimFirmware({
          clock: cpClock, chargePoint, prng: new Prng(seedOf(`${id}/firmware`, this.o.seed)),
          notifyFirmware: (status) => notify('FirmwareStatusNotification', { status }),
          notifyDiagnostics: (status) => notify('DiagnosticsStatusNotification', { status }),
          notifyFirmware201: (status, requestId) => notify('FirmwareStatusNotification', { status, requestId }),
          notifyLog201: (status, requestId) => notify('LogStatusNotification', { status, requestId }),
          ...(securityEvents ? { securityEvent: (type: string, techInfo?: string) => securityEvents.record(type, techInfo) } : {}),
        });
        // The signed update and GetLog: 2.0.1's UpdateFirmware and GetLog, the 1.6 whitepaper's SignedUpdateFirmware and GetLog (src/ocpp/*/firmware.ts).
        return { firmware: { ...sim.firmware, ...sim.firmware201 }, diagnostics: { ...sim.diagnostics, ...sim.logs201 }, stop: () => sim.stop() };
      }) satisfies FirmwareFactory,
    });
    h.runtime = runtime;
    if (securityEvents) securityEvents.onQueued = () => runtime.link.kick();
    const changed = () => this.control?.changed(h);
    runtime.connection.on('open', () => {
      if (!life.alive) return;
      m.add('connectionsOpened');
      h.connected = true;
      m.gauges.connected++;
      changed();
    });
    runtime.connection.on('close', () => {
      if (!life.alive) return;
      m.add('connectionsClosed');
      if (h.connected) m.gauges.connected--;
      h.connected = false;
      changed();
    });
    runtime.connection.on('bad-message', ({ error }) => {
      m.add('badMessages');
      securityEvents?.record('InvalidMessages', 'a malformed message from the central system');
      this.control?.error(h, 'bad-message', error);
    });
    if (securityEvents) runtime.connection.on('invalid-message', ({ action }) => securityEvents.record('InvalidMessages', `a schema-invalid ${action} from the central system`));
    runtime.connection.on('connect-failed', ({ error }) => {
      if (!life.alive) return;
      m.add('connectFailures');
      // A central system's certificate that does not verify, a TLS version refused, a refused password: as the agent records them.
      const event = securityEvents && securityEventOfConnectError(error);
      if (event) securityEvents!.record(event.type, event.techInfo);
      this.lastConnectFailure = `${id}: ${connectFailureText(error)}`;
      this.control?.error(h, 'connect-failed', connectFailureText(error));
    });
    runtime.link.on('state', (s) => {
      if (!life.alive) return;
      const acc = s === 'accepted';
      if (acc && !h.accepted) {
        m.gauges.accepted++;
        if (!h.everAccepted) {
          h.everAccepted = true;
          const scripted = this.scripted.get(h);
          if (scripted) this.script!.accepted(scripted);
          m.add('chargersAccepted');
          if (h.countedByVersion) m.addCharger(version, 'chargersAccepted');
          m.lastAcceptedAtMs = Math.max(m.lastAcceptedAtMs, Date.now() - this.o.runStartedAt);
        } else m.add('reconnects');
      } else if (!acc && h.accepted) m.gauges.accepted--;
      const refusal = s === 'pending' ? 1 : s === 'rejected' ? 2 : 0;
      if (refusal && !(h.bootRefusals & refusal)) {
        h.bootRefusals |= refusal;
        m.add(refusal === 1 ? 'bootsPending' : 'bootsRejected');
      }
      const was = h.accepted;
      h.accepted = acc;
      if (was !== acc || s === 'booting') changed();
    });
    runtime.link.on('dead-letter', () => m.add('deadLetters'));
    runtime.link.on('delivered', (e) => {
      if (e.signedValues) m.add('signedValuesSent', e.signedValues);
      if (e.securityEvent) m.securityEventSent(e.securityEvent);
    });
    const cp = runtime.chargePoint;
    cp.on('status', (condition) => {
      if (!life.alive) return;
      const st = v16StatusOf(condition);
      const before = h.statuses.get(st.connectorId);
      if (before === 'Charging') m.gauges.charging--;
      if (before === 'Faulted') m.gauges.faulted--;
      if (st.status === 'Charging') m.gauges.charging++;
      if (st.status === 'Faulted') m.gauges.faulted++;
      h.statuses.set(st.connectorId, st.status);
      changed();
    });
    cp.on('session-started', (e) => {
      m.add('sessionsStarted');
      this.control?.session(h, { type: 'session-started', evseId: e.evseId, localId: e.localId });
    });
    cp.on('session-stopped', (e) => {
      m.add('sessionsStopped');
      m.add('energyWh', e.energyWh);
      this.control?.session(h, { type: 'session-stopped', evseId: e.evseId, localId: e.localId, energyWh: e.energyWh, reason: e.reason });
    });
    // What the central system said, apart from what a charger decided without its answer.
    cp.on('auth-refused', (e) => m.add(e.source === 'csms' ? 'authRefused' : 'authRefusedLocally'));
    if (h.trace) this.control?.attachTrace(h);
  }

  /**
   * Take charger h's runtime away as a power loss does: no further CALL, the socket dropped
   * without a closing handshake, nothing flushed; the store keeps what it had written (open
   * sessions, the outbox), which the next runtime recovers at its boot. The gauges forget it.
   */
  private async powerOff(h: Hosted): Promise<void> {
    const m = this.metrics;
    h.life.alive = false;
    if (h.connected) m.gauges.connected--;
    if (h.accepted) m.gauges.accepted--;
    for (const st of h.statuses.values()) {
      if (st === 'Charging') m.gauges.charging--;
      if (st === 'Faulted') m.gauges.faulted--;
    }
    h.connected = false;
    h.accepted = false;
    h.statuses.clear();
    h.runtime.connection.releaseSocket();
    h.runtime.halt();
    await h.runtime.connection.stop({ force: true }).catch(() => {});
    await h.runtime.stop().catch(() => {});
  }

  /** Hard reboot: power off, then a new runtime on the same store and hardware boots and recovers (StartupOfTheDevice, unless `startup` is false). */
  async reboot(h: Hosted, startup = true): Promise<void> {
    await this.powerOff(h);
    if (this.stopping || !this.hosted.has(h.id)) return;
    this.compose(h);
    this.applyNetwork(h);
    this.control?.changed(h);
    this.startRuntime(h, undefined, startup);
  }

  /**
   * Reset from the central system (answered first), as the agent does it: ResetOrReboot, the
   * sessions stopped (SoftReset, HardReset), then the charger restarts and boots again; a hard
   * reset is a start of the device (StartupOfTheDevice), a soft one restarts the application only.
   */
  private async resetByCentralSystem(h: Hosted, type: 'Soft' | 'Hard'): Promise<void> {
    const runtime = h.runtime;
    if (this.stopping || !h.life.alive || this.resetting.has(runtime)) return;
    this.resetting.add(runtime);
    h.securityEvents?.record('ResetOrReboot', `${type} reset by the central system`);
    try {
      await runtime.chargePoint.stopAll(type === 'Hard' ? 'HardReset' : 'SoftReset');
    } catch (err) {
      this.log.warn('reset: stopping the sessions failed', { cp: h.id, err });
    }
    // As the agent: a moment for the outbox to deliver the stops and the event before the link drops
    // (what is left stays in the store, and the new runtime delivers it after its boot).
    const until = Date.now() + RESET_DRAIN_MS;
    while (Date.now() < until && h.runtime === runtime && runtime.link.online() && runtime.outbox.summary().depth > 0) await new Promise((r) => setTimeout(r, 50));
    if (h.runtime === runtime && !this.stopping) await this.reboot(h, type === 'Hard');
  }

  private readonly resetting = new WeakSet<ChargePointRuntime>();

  /** Remove charger h from the fleet: its drivers stop, its link closes politely. */
  async remove(h: Hosted): Promise<void> {
    this.hosted.delete(h.id);
    h.driver.stop();
    const m = this.metrics;
    m.gauges.chargers--;
    h.life.alive = false;
    if (h.connected) m.gauges.connected--;
    if (h.accepted) m.gauges.accepted--;
    for (const st of h.statuses.values()) {
      if (st === 'Charging') m.gauges.charging--;
      if (st === 'Faulted') m.gauges.faulted--;
    }
    h.runtime.connection.releaseSocket();
    await h.runtime.stop().catch(() => {});
  }

  /** Add chargers at run time (control API): built and started at once, the version's binding loaded first. */
  async addAtRunTime(chargers: { id: string; index: number }[], charger?: ChargerProfile, version?: OcppSubprotocol, url?: string): Promise<string[]> {
    if (this.stopping || !this.db) return [];
    if (version && !loadedOcppVersion(version)) await loadOcppVersions([version]);
    const added: string[] = [];
    for (const c of chargers) {
      if (this.hosted.has(c.id)) continue;
      this.add(c.id, c.index, { charger, version, url });
      added.push(c.id);
    }
    return added;
  }

  /** Where charger h's connection goes now: the central system, or nowhere while its network is cut. */
  applyNetwork(h: Hosted): void {
    const conn = h.runtime.connection;
    if (h.network === 'up') {
      conn.releaseSocket();
      if (conn.endpoint !== h.url) conn.reconfigure({ endpoint: h.url });
      return;
    }
    const lab = this.networkLab();
    conn.reconfigure({ endpoint: h.network === 'black-hole' ? lab.blackHoleUrl : lab.refusedUrl });
  }

  /** Endpoints of a cut network: a port that refuses connections, and one that accepts and never answers. */
  private networkLab(): { refusedUrl: string; blackHoleUrl: string } {
    if (!this.lab) throw new Error('the network lab is not ready');
    return this.lab;
  }

  /** Prepare the network lab (once, before a cut). */
  async openNetworkLab(): Promise<void> {
    if (this.lab) return;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const refusedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const held = new Set<Socket>();
    const hole = createServer((s) => {
      held.add(s);
      s.on('error', () => {});
      s.on('close', () => held.delete(s));
    });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    hole.unref();
    this.blackHole = { server: hole, held };
    this.lab = { refusedUrl: `ws://127.0.0.1:${refusedPort}/ocpp`, blackHoleUrl: `ws://127.0.0.1:${(hole.address() as AddressInfo).port}/ocpp` };
  }

  private lab?: { refusedUrl: string; blackHoleUrl: string };
  private blackHole?: { server: Server; held: Set<Socket> };

  /** The chargers this thread holds. */
  get chargers(): ReadonlyMap<string, Hosted> {
    return this.hosted;
  }

  /** The control API's side of this host (events, traces, commands), once attached. */
  control?: HostControl;

  /** Turn the control API's side on (before start()): events go to `onEvents` in batches. */
  attachControl(onEvents: (events: ControlEvent[]) => void): HostControl {
    this.control ??= new HostControl(this, onEvents, this.o.control ?? {});
    return this.control;
  }

  /** Event-loop lag p99 of this thread since it started, ms. */
  lagP99Ms(): number {
    return this.lag.percentile(99) / 1e6;
  }
  /**
   * TLS options of one charger's connection: the private CA, and its own client certificate
   * (read from the files its id names; files without {id} are read once, for every charger).
   */
  private tlsFor(id: string): Record<string, unknown> | undefined {
    const files = this.o.security?.clientCert;
    if (!files) return this.tlsOptions;
    const shared = !files.cert.includes('{id}') && !files.key.includes('{id}');
    const own = shared ? (this.sharedClientCert ??= clientCertOf(files, id)) : clientCertOf(files, id);
    if ('error' in own) {
      // It connects without one: the central system refuses it, and that is counted.
      this.lastConnectFailure = `${id}: ${own.error}`;
      return this.tlsOptions;
    }
    return { ...this.tlsOptions, ...own };
  }

  private sharedClientCert?: ReturnType<typeof clientCertOf>;

  /**
   * What the thread's store holds now (rows), to see that housekeeping keeps it bounded; delivered
   * MeterValues rows but each session's highest-numbered one, which stays (it holds the next event number).
   */
  storeRows(): { sessions: number; acknowledgedStops: number; deliveredMeterRows: number } {
    const db = this.db;
    if (!db) return { sessions: 0, acknowledgedStops: 0, deliveredMeterRows: 0 };
    return db.prepare(`SELECT (SELECT COUNT(*) FROM sessions) AS sessions,
      (SELECT COUNT(*) FROM sessions WHERE stop_acked_at IS NOT NULL) AS acknowledgedStops,
      (SELECT COUNT(*) FROM outbox WHERE state = 'acked' AND kind = 'meter'
        AND tx_seq < (SELECT MAX(o.tx_seq) FROM outbox o WHERE o.local_id = outbox.local_id)) AS deliveredMeterRows`).get() as ReturnType<FleetHost['storeRows']>;
  }

  snapshot(resetInterval = true): HostSnapshot {
    const iv = this.metrics.interval;
    const interval = {
      calls: iv.count, errors: this.metrics.intervalErrors, p50Ms: iv.percentileMs(50), p95Ms: iv.percentileMs(95), p99Ms: iv.percentileMs(99),
      lagP99Ms: this.intervalLag.percentile(99) / 1e6,
      lagMaxMs: this.intervalLag.max / 1e6,
    };
    if (resetInterval) {
      iv.reset();
      this.intervalLag.reset();
      this.metrics.intervalErrors = 0;
    }
    let inFlight = 0;
    for (const h of this.hosted.values()) inFlight += h.runtime.inFlight;
    return {
      stats: this.metrics.toJSON(), gauges: { ...this.metrics.gauges }, interval,
      lag: { p99Ms: this.lag.percentile(99) / 1e6, maxMs: this.lag.max / 1e6 },
      simNowMs: this.scheduler.now(), inFlight,
      ...(this.lastConnectFailure ? { lastConnectFailure: this.lastConnectFailure } : {}),
    };
  }

  /**
   * Soak runs: what the central system has acknowledged is of no further use to a simulated
   * charger; without this the in-memory store grows with every session and sample. Two scans
   * find what to delete, then SWEEP_BATCH sessions per turn (an immediate after the loop's I/O),
   * so that no turn of the sweep holds the chargers' sockets long.
   */
  private sweep(records: SessionRecords): void {
    if (this.sweeping || this.stopping) return;
    let expired: string[];
    let span: { from: number; to: number; lowestQueued?: number };
    try {
      expired = records.expiredSessions(this.scheduler.now());
      span = records.outboxSpan(this.sweptTo);
    } catch (err) {
      this.log.warn('fleet store housekeeping failed', { err });
      return;
    }
    const batch = this.o.sweepBatch ?? SWEEP_BATCH;
    let i = 0;
    let at = span.from;
    // The next sweep starts at the lowest row this one left: one still queued, or a session's
    // highest-numbered row (it goes once the session has written another).
    let next = span.lowestQueued ?? span.to;
    const step = (): void => {
      if (this.stopping) {
        this.sweeping = false;
        return;
      }
      try {
        if (i < expired.length) records.purgeSessions(expired.slice(i, (i += batch)));
        else {
          const { lowestKept } = records.dropDeliveredMeterRowsBetween(at, (at = Math.min(span.to, at + batch * SWEEP_ROWS_PER_SESSION)));
          if (lowestKept !== undefined && lowestKept < next) next = lowestKept;
        }
      } catch (err) {
        this.log.warn('fleet store housekeeping failed', { err });
        this.sweeping = false;
        return;
      }
      if (i < expired.length || at < span.to) return void setImmediate(step);
      this.sweeping = false;
      this.sweptTo = next;
    };
    this.sweeping = true;
    step();
  }

  /**
   * Freeze simulated time and the drivers, wait (up to `drainMs`) for answers to CALLs in
   * flight so the counts match what the central system received, then close every link.
   * `fast` (an interrupted run: SIGTERM, Ctrl-C): wait at most FAST_DRAIN_MS, skip the
   * catching-up of simulated time, and drop the sockets without closing handshakes, so that
   * thousands of chargers stop within seconds and the report is still written. `catchUp`: the
   * run's duration ended, so simulated time first catches up with every event due by its end
   * (not when a condition or stop() ended the run early: nothing is due then).
   */
  async stop(drainMs = this.o.drainMs ?? 5_000, fast = false, catchUp = true): Promise<HostSnapshot> {
    if (fast) drainMs = Math.min(drainMs, FAST_DRAIN_MS);
    this.stopping = true;
    clearTimeout(this.rampTimer);
    clearImmediate(this.rampImmediate);
    clearInterval(this.housekeeping);
    const until = Date.now() + drainMs;
    // A run of fixed duration: let the scheduler catch up with every event due by its end.
    if (this.o.durationMs !== undefined && !fast && catchUp) while (Date.now() < until && !this.scheduler.finished()) await new Promise((r) => setTimeout(r, 10));
    this.scheduler.stop();
    for (const h of this.hosted.values()) h.driver.stop();
    this.script?.stop();
    const inFlight = () => [...this.hosted.values()].reduce((n, h) => n + h.runtime.inFlight, 0);
    while (Date.now() < until && inFlight() > 0) await new Promise((r) => setTimeout(r, 10));
    // Sessions outlast short runs (a workplace dwell is hours): what they metered counts too.
    for (const h of this.hosted.values()) {
      for (const connector of this.o.charger.connectors) {
        const session = h.runtime.chargePoint.session(connector.id);
        if (!session) continue;
        this.metrics.add('sessionsOpenAtEnd');
        this.metrics.add('energyOpenWh', Math.max(0, Math.round(session.energyWh)));
      }
    }
    const snap = this.snapshot(false);
    // Every link.stop() marks its link stopped synchronously: no CALL starts after this point.
    // Marked all at once, then closed a few hundred at a time: ten thousand closes at once
    // allocate a burst of close frames and promises (the RSS peak of a run) and stall the loop.
    const all = [...this.hosted.values()];
    for (const h of all) h.runtime.halt();
    // A link in a black hole would hold its closing handshake until ws's close timeout (30 s):
    // its frames pass again, and connections stuck in the hole are dropped.
    for (const h of all) if (h.network === 'black-hole') h.runtime.connection.releaseSocket();
    if (this.blackHole) for (const sock of this.blackHole.held) sock.destroy();
    if (fast) {
      // Sockets dropped first (no close frames, nothing to wait for); stop() then finds each
      // link closed and only releases the charger's own resources.
      for (const h of all) void h.runtime.connection.stop({ force: true }).catch(() => {});
    }
    for (let i = 0; i < all.length; i += STOP_BATCH) {
      await Promise.all(all.slice(i, i + STOP_BATCH).map((h) => h.runtime.stop().catch(() => {})));
    }
    this.lag.disable();
    this.intervalLag.disable();
    this.control?.stop();
    if (this.blackHole) {
      for (const s of this.blackHole.held) s.destroy();
      this.blackHole.server.close();
    }
    this.db?.close();
    this.db = undefined;
    this.certificateDirs.remove();
    return snap;
  }
}

/**
 * A 1.6 California Pricing DataTransfer (org.openchargealliance.costmsg) counted by its messageId
 * ("DataTransfer costmsg RunningCost"), so that a cost-message campaign shows in the report; any
 * other DataTransfer stays "DataTransfer" (a central system's vendor ids do not grow the report).
 */
export function costMessageLabel(request: unknown): string | undefined {
  const r = request as { vendorId?: unknown; messageId?: unknown } | undefined;
  if (r?.vendorId !== COST_VENDOR_ID) return undefined;
  return (COST_MESSAGE_IDS as readonly unknown[]).includes(r.messageId) ? `DataTransfer costmsg ${String(r.messageId)}` : 'DataTransfer costmsg';
}
