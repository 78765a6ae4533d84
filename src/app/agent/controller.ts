import { dirname, join, resolve } from 'node:path';
import type { ChargePoint } from '../../core/charge-point.js';
import type { EvseId } from '../../core/ports.js';
import { sessionCost } from '../../core/tariff.js';
import { messageStateOf, type DisplayMessages } from '../../core/display-messages.js';
import { SystemClock } from '../../core/clock.js';
import type { LoadedAgentConfig } from '../../config/index.js';
import { ConfigError } from '../../lib/errors.js';
import type { Log } from '../../lib/log.js';
import { loadOrCreateSecret, pseudonymiser, type Pseudonymiser } from '../../lib/pseudonym.js';
import type { OcppConnection } from '../../ocpp/connection.js';
import { invalidValue, keyDefinitions, normalise, tariffInForce, type KeyDefinition } from '../../ocpp/v16/configuration.js';
import { V16StatusChanges, v16StatusOf } from '../../ocpp/v16/mapping.js';
import type { VersionLink } from '../../ocpp/version.js';
import { loadOcppVersion } from '../../ocpp/versions.js';
import type { CentralSystemCalls, ChargePointCalls } from '../../ocpp/v16/messages.js';
import { SimConnector, SimIdReader } from '../../sim/index.js';
import {
  openDatabase, probeWritable, SessionRecords, SqliteLedger, SqliteOutbox, SqliteSettings, type SqliteDatabase,
} from '../../store/index.js';
import { CsmsSecurity, ObservedClock } from '../services/csms-security.js';
import { CertificateStore } from '../services/certificate-store.js';
import type { StationSecurity } from '../../ocpp/certificates.js';
import { tlsClientOptions } from '../../ocpp/tls.js';
import { startDiagnostics, type LogControl } from './diagnostics.js';
import { loadOrCreateMeterKey, meterPages, signedReadingsOf } from './meter-keys.js';
import { buildHardware, producibleMeasurands, resolveHardware, type Hardware, type ResolvedHardware } from './hardware.js';
import { VERSION } from '../version.js';
import { ChargePointRuntime, FEATURE_PROFILES } from '../charger/charge-point-runtime.js';
import type { FeatureServices } from '../../ocpp/v16/features.js';
import { agentFirmware } from './features.js';


export interface AgentOptions {
  loaded: LoadedAgentConfig;
  log: Log;
  /** Exit the process on a Hard reset (under systemd, which restarts it); otherwise restart in-process. */
  exitOnHardReset?: boolean;
  /** log/tail and log/level for diagnostics. */
  logControl?: LogControl;
  /** Timing overrides for tests. */
  linkTiming?: { bootRetryMs?: number; authorizeTimeoutMs?: number; meterValuesPerMessage?: number };
}

/** The OCPP configuration values the config file sets, checked against the key definitions. */
export function configuredOcppValues(loaded: LoadedAgentConfig, defs: KeyDefinition[]): Map<string, string> {
  const out = new Map<string, string>();
  const problems = [];
  for (const [key, raw] of Object.entries(loaded.config.ocpp ?? {})) {
    const def = defs.find((d) => d.key === key);
    const value = String(raw);
    if (!def) problems.push({ file: loaded.file, path: `ocpp.${key}`, message: 'not a supported OCPP configuration key' });
    else if (def.readonly) problems.push({ file: loaded.file, path: `ocpp.${key}`, message: 'is read-only' });
    else {
      const bad = invalidValue(def, value);
      if (bad) problems.push({ file: loaded.file, path: `ocpp.${key}`, message: bad });
      else out.set(key, normalise(def, value));
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/**
 * One charger: the store, the hardware (simulated for now), the ChargePoint core and its
 * OCPP link, composed from a validated config. start() acquires; stop() releases in reverse.
 */
export class Agent {
  readonly log: Log;
  readonly clock = new ObservedClock();
  private readonly physicsClock = new SystemClock();
  db?: SqliteDatabase;
  /** Security profile, AuthorizationKey, security events. */
  readonly security: CsmsSecurity;
  /** The roots the central system installed and the station's own certificate (its key made here, never leaving). */
  readonly certificates: CertificateStore;
  private readonly stationSecurity: StationSecurity;
  /** The simulated hardware, when the charger is simulated. */
  readonly sim: { connectors: Map<number, SimConnector>; reader: SimIdReader } = { connectors: new Map(), reader: new SimIdReader() };
  pseudonym?: Pseudonymiser;
  private definitions: KeyDefinition[];
  private configured: Map<string, string>;
  private readonly resolved: ResolvedHardware;
  hardware?: Hardware;
  private restarting?: Promise<void>;
  /** The charge point (store views, core, OCPP link, features): the running one, or the last one until a reset starts the next. */
  runtime?: ChargePointRuntime;
  private storeProbe?: NodeJS.Timeout;
  private retentionTimer?: NodeJS.Timeout;
  private diagnostics?: Awaited<ReturnType<typeof startDiagnostics>>;
  private readonly startedAt = Date.now();

  constructor(private readonly opts: AgentOptions) {
    const { config, charger } = opts.loaded;
    this.log = opts.log.child({ cp: config.chargePointId });
    this.certificates = new CertificateStore({
      dir: join(dirname(this.storePath), 'certificates'), clock: this.clock, log: this.log.child({ component: 'certificates' }),
      configuredCsmsRoots: () => (config.csms.ca ? tlsClientOptions({ ca: config.csms.ca }, opts.loaded.file).ca : undefined),
    });
    this.security = new CsmsSecurity(opts.loaded, this.log.child({ component: 'security' }), this.certificates);
    this.stationSecurity = {
      certificates: this.certificates,
      securityEvent: (type, techInfo) => this.security.record(type, techInfo),
      stationCertificateChanged: () => this.security.stationCertificateChanged(),
      setNetworkProfile: (slot, profile) => this.security.setNetworkProfile(slot, profile),
    };
    this.resolved = resolveHardware(opts.loaded);
    this.definitions = [
      ...keyDefinitions({ numberOfConnectors: charger.connectors.length, featureProfiles: FEATURE_PROFILES, measurands: producibleMeasurands(opts.loaded, this.resolved) }),
      ...this.security.definitions,
    ];
    this.configured = configuredOcppValues(opts.loaded, this.definitions);
  }

  get storePath(): string {
    return resolve(this.opts.loaded.config.store.path);
  }

  async start(): Promise<void> {
    const { config, charger } = this.opts.loaded;
    const cpId = config.chargePointId;
    this.db ??= openDatabase(this.storePath, { log: this.log });
    const db = this.db;
    const secret = loadOrCreateSecret(join(dirname(this.storePath), 'pseudonym.key'));
    this.pseudonym = pseudonymiser(secret);
    const defaults = new Map(this.definitions.map((d) => [d.key, this.configured.get(d.key) ?? d.default]));
    this.clock.onSet = (correctionMs) => this.security.clockSet(correctionMs);

    const hardware = await buildHardware(this.opts.loaded, this.resolved, {
      clock: this.clock, physicsClock: this.physicsClock, log: this.log, pseudonym: this.pseudonym, sim: this.sim,
      meterKey: (connectorId) => loadOrCreateMeterKey(this.storePath, connectorId),
      meterPages: meterPages(this.storePath),
    });
    this.hardware = hardware;
    await hardware.start();
    const firmwareVersion = charger.firmwareVersion ?? `evse-edge ${VERSION}`;
    // The preferred version's binding (1.6 is always loaded; 2.0.1 is imported only when wanted).
    await loadOcppVersion(config.csms.ocppVersions[0]!);
    // The same composition as every simulated charger of a fleet, with the agent's security,
    // tariff and Firmware Management.
    const runtime = new ChargePointRuntime({
      chargePointId: cpId, db, clock: this.clock, log: this.log, pseudonym: this.pseudonym,
      hardware: { evses: hardware.evses, readers: hardware.readers, faultSources: hardware.faultSources },
      connectorTypes: new Map(charger.connectors.map((c) => [c.id, c.type])),
      identity: { vendor: charger.vendor, model: charger.model, firmwareVersion },
      csms: {
        url: config.csms.url, callTimeoutMs: config.csms.callTimeoutMs,
        reconnectInitialDelayMs: config.csms.reconnectInitialDelayMs, reconnectMaxDelayMs: config.csms.reconnectMaxDelayMs,
      },
      connectionSecurity: (settings) => {
        this.security.open({ db, chargePointId: cpId, settings, clock: this.clock });
        return this.security.connectionOptions();
      },
      onSettingChanged: (key) => this.security.changed(key),
      tariff: (settings) => tariffInForce(settings.get('Tariff'), config.tariff),
      definitions: this.definitions, defaults, ocppVersions: config.csms.ocppVersions,
      session: { resumePolicy: config.session.resumePolicy, freeVendIdTag: config.session.freeVendIdTag, stopOnSecondPresentation: config.session.stopOnSecondPresentation },
      timing: { meterPollIntervalMs: config.session.meterPollIntervalMs, checkpointIntervalMs: config.session.checkpointIntervalMs },
      linkTiming: { meterValuesPerMessage: config.csms.meterValuesPerMessage, ...this.opts.linkTiming },
      onReset: (type) => void this.reset(type),
      security: this.stationSecurity,
      // Display messages in a format the screen cannot render are refused (NotSupportedMessageFormat).
      ...(hardware.hmi ? { displayFormats: hardware.hmi.messageFormats } : {}),
      firmware: agentFirmware({
        loaded: this.opts.loaded, storePath: this.storePath, db, definitions: this.definitions, pseudonym: this.pseudonym, log: this.log,
        logs: this.opts.logControl ? () => this.opts.logControl!.tail(1_000) : undefined, version: VERSION, firmwareVersion,
        securityEvent: (type, techInfo) => this.security.record(type, techInfo),
      }),
    });
    this.runtime = runtime;
    this.security.attach(runtime.connection, () => runtime.link.kick());
    if (hardware.hmi) this.showOnScreen(hardware.hmi, runtime.chargePoint, runtime.features.displayMessages);
    await runtime.start();
    this.security.started();
    this.watchStore();
    this.scheduleRetention();
    if (config.mqtt) {
      this.diagnostics = await startDiagnostics({
        loaded: this.opts.loaded, db, chargePoint: runtime.chargePoint, link: runtime.link, outbox: runtime.outbox, ledger: runtime.ledger,
        settings: runtime.settings, definitions: this.definitions, clock: this.clock, pseudonym: this.pseudonym, featureProfiles: FEATURE_PROFILES,
        log: this.log.child({ component: 'diag' }), logControl: this.opts.logControl, startedAt: this.startedAt, modbus: hardware.modbus,
        restart: () => this.reset('Soft'), reset: (type) => this.reset(type),
      });
    }
    this.log.info('agent started', { version: VERSION, charger: charger.id, csms: config.csms.url, store: this.storePath });
  }

  /** Smart Charging, Reservation and Firmware Management of the running charge point. */
  get features(): FeatureServices | undefined {
    return this.runtime?.services;
  }

  get chargePoint(): ChargePoint | undefined {
    return this.runtime?.chargePoint;
  }

  get link(): VersionLink | undefined {
    return this.runtime?.link;
  }

  get connection(): OcppConnection<ChargePointCalls, CentralSystemCalls> | undefined {
    return this.runtime?.connection;
  }

  get settings(): SqliteSettings | undefined {
    return this.runtime?.settings;
  }

  get ledger(): SqliteLedger | undefined {
    return this.runtime?.ledger;
  }

  get outbox(): SqliteOutbox | undefined {
    return this.runtime?.outbox;
  }

  /**
   * Keep the touchscreen showing each EVSE's state, energy, power and cost, and its message area
   * the display message, personal message or nothing the display messages choose (NormalCycle
   * ones in turn). The cost is the central system's when it told one (CostUpdated, a
   * TransactionEvent's totalCost: of the session running, or the final one of the session just
   * ended while the vehicle is still plugged), else the local tariff's.
   */
  private showOnScreen(hmi: NonNullable<Hardware['hmi']>, cp: ChargePoint, messages: DisplayMessages): void {
    const records = this.db ? new SessionRecords(this.db) : undefined;
    const show = (evseId: EvseId) => {
      const st = v16StatusOf(cp.evseCondition(evseId));
      const s = cp.session(evseId);
      const central = messages.costOf(evseId);
      const centralCost = central && (s ? central.sessionId === s.localId : central.final && st.status === 'Finishing') ? central.totalCost : undefined;
      const tariff = tariffInForce(this.settings?.get('Tariff'), this.opts.loaded.config.tariff);
      const cost = centralCost === undefined && s && tariff ? sessionCost(tariff, { energyWh: s.energyWh, durationMs: this.clock.now() - s.startedAt, idleMs: 0 }) : undefined;
      // Calibration law: the meter's public key, and the signed readings of the session so far.
      const meterPublicKey = cp.meterPublicKey(evseId);
      const signedValues = s && meterPublicKey && records ? signedReadingsOf(records.signedValues(s.localId)) : [];
      hmi.show({
        ...(meterPublicKey ? { meterPublicKey } : {}),
        ...(signedValues.length ? { signedValues } : {}),
        // The screen numbers its connectors as the station's EVSEs.
        connectorId: evseId, status: st.status, energyWh: s ? s.energyWh : 0, powerW: s?.powerW ?? 0,
        // Display only: exact minor units scaled to the currency for the screen.
        ...(centralCost !== undefined ? { cost: centralCost } : cost && tariff ? { cost: cost.totalMinor / 10 ** tariff.minorUnitDigits } : {}),
      });
    };
    const showMessage = (evseId: EvseId) => {
      const s = cp.session(evseId);
      const shown = messages.shown({ evseId, state: messageStateOf(cp.evseCondition(evseId)), ...(s ? { sessionId: s.localId } : {}) });
      hmi.showMessage({
        connectorId: evseId,
        ...(shown ? { text: shown.message.content, priority: shown.priority, format: shown.message.format, ...(shown.message.language ? { language: shown.message.language } : {}), ...(shown.qrCode !== undefined ? { qrCode: shown.qrCode } : {}) } : {}),
      });
    };
    // Shown again when its 1.6 status or errorCode changes, as the screen's words are 1.6's.
    const changes = new V16StatusChanges();
    for (const s of cp.announcedConditions().evses) changes.changed(s);
    cp.on('status', (e) => {
      if (changes.changed(e)) show(e.evseId);
      showMessage(e.evseId);
    });
    let last = 0;
    cp.on('reading', (e) => {
      if (Date.now() - last < 1_000) return;
      last = Date.now();
      show(e.evseId);
    });
    const all = () => {
      for (const id of cp.evseIds) {
        show(id);
        showMessage(id);
      }
    };
    messages.onChange(all);
    // NormalCycle messages take turns; the screen is told only when its message changes.
    clearInterval(this.messageCycle);
    this.messageCycle = setInterval(() => {
      if (messages.cycling) for (const id of cp.evseIds) showMessage(id);
    }, messages.cycleMs);
    this.messageCycle.unref();
    for (const id of cp.evseIds) showMessage(id);
  }

  private messageCycle?: NodeJS.Timeout;

  /** Reset from the central system: stop sessions, then start again (BootNotification first). */
  async reset(type: 'Soft' | 'Hard'): Promise<void> {
    if (this.restarting) return this.restarting;
    this.restarting = (async () => {
      this.log.warn('resetting', { type });
      this.security.record('ResetOrReboot', `${type} reset`);
      await this.chargePoint?.stopAll(type === 'Hard' ? 'HardReset' : 'SoftReset');
      // Give the outbox a moment to deliver the StopTransaction before the link drops.
      await this.drainOutbox(3_000);
      if (type === 'Hard' && this.opts.exitOnHardReset) {
        await this.stop();
        process.exit(75);
      }
      await this.stopRuntime();
      await this.start();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private async drainOutbox(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (Date.now() < until && this.link?.online() && (this.outbox?.summary().depth ?? 0) > 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** While the store is faulted (disk full, I/O errors), probe it and clear the fault when it takes writes again. */
  private watchStore(): void {
    clearInterval(this.storeProbe);
    this.storeProbe = setInterval(() => {
      const cp = this.chargePoint;
      if (!cp || !this.db || !cp.hasFault('store')) return;
      const probe = probeWritable(this.db, Date.now());
      if (probe.ok) {
        this.log.info('store writable again');
        cp.reportFault({ source: 'store', errorCode: 'InternalError', active: false });
      }
    }, 2_000);
    this.storeProbe.unref();
  }

  /** The daily retention job (and once at start). */
  private scheduleRetention(): void {
    clearInterval(this.retentionTimer);
    const run = () => {
      // A clock not yet set could delete the wrong sessions: wait until it is trusted.
      if (!this.db || !this.clock.trusted()) return;
      try {
        const days = this.opts.loaded.config.retention.days;
        const r = new SessionRecords(this.db).purge(this.clock.now() - days * 86_400_000);
        if (r.sessions || r.audit) this.log.info('retention applied', { days, ...r });
      } catch (err) {
        this.log.error('retention failed', { err });
      }
    };
    this.retentionTimer = setInterval(run, 86_400_000);
    setTimeout(run, 60_000).unref();
    this.retentionTimer.unref();
  }

  private async stopRuntime(): Promise<void> {
    clearInterval(this.storeProbe);
    clearInterval(this.retentionTimer);
    clearInterval(this.messageCycle);
    await this.diagnostics?.stop();
    this.diagnostics = undefined;
    this.security.detach();
    // Kept (stopped) until start() composes the next: its store views still read the database.
    await this.runtime?.stop();
    await this.hardware?.stop();
    this.hardware = undefined;
  }

  async stop(): Promise<void> {
    await this.stopRuntime();
    this.db?.close();
    this.db = undefined;
    this.log.info('agent stopped');
  }
}
