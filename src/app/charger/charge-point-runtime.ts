import { ChargePoint, type ChargePointTiming } from '../../core/charge-point.js';
import type { EvseHardware, EvseId, FaultSource, IdReader, IdTokenType } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import { OcppConnection, type AnyConnection, type CallOutcome } from '../../ocpp/connection.js';
import { OCPP_SUBPROTOCOLS, type ChargePointIdentity, type LinkState, type LinkTiming, type OcppSubprotocol, type SettableClock, type VersionLink } from '../../ocpp/version.js';
import type { FeatureServices, KeyDefinition } from '../../ocpp/v16/index.js';
import { loadOcppVersions, loadedOcppVersion, loadOcppVersion, strictValidatorOf, type VersionBinding } from '../../ocpp/versions.js';
import { NegotiatedLink, switchingPolicy } from '../../ocpp/negotiated-link.js';
import type { ChargingPolicy } from '../../core/policy.js';
import type { DiagnosticsService, FirmwareNotify, FirmwareService } from '../../ocpp/v16/features.js';
import { SqliteAuthorizationData, SqliteLedger, SqliteOutbox, SqliteSettings, type SqliteDatabase } from '../../store/index.js';
import { buildCoreFeatures, type CoreFeatures } from './core-features.js';
import { AVAILABILITY_STATION_KEY, availabilityKey } from '../../ocpp/availability-keys.js';
import type { Tariff } from '../../core/tariff.js';
import type { MessageFormat } from '../../core/display-messages.js';
import type { StationSecurity } from '../../ocpp/certificates.js';

export type { FirmwareNotify } from '../../ocpp/v16/features.js';

/** The OCPP 1.6 feature profiles a charge point composed here implements (the agent's and a simulated one's). */
export const FEATURE_PROFILES = ['Core', 'FirmwareManagement', 'LocalAuthListManagement', 'Reservation', 'SmartCharging', 'RemoteTrigger'];

export interface ChargePointRuntimeDeps {
  chargePointId: string;
  db: SqliteDatabase;
  clock: SettableClock;
  log: Log;
  pseudonym: Pseudonymiser;
  hardware: { evses: EvseHardware[]; readers: IdReader[]; faultSources?: FaultSource[] };
  /** Each EVSE's connector type as the charger's profile names it (2.0.1 Connector.ConnectorType, ReserveNow connectorType). */
  connectorTypes?: ReadonlyMap<number, string>;
  identity: ChargePointIdentity;
  csms: {
    url: string;
    callTimeoutMs: number;
    reconnectInitialDelayMs: number;
    reconnectMaxDelayMs: number;
    password?: string;
  };
  /**
   * Transport security read from the stored settings (security profile, AuthorizationKey, TLS):
   * called once the settings exist, before the connection is made.
   */
  connectionSecurity?: (settings: SqliteSettings) => { password?: string | Buffer | null; wsOpts?: Record<string, unknown>; endpoint?: string };
  /** Told of every configuration value written (the agent's security watches its keys). */
  onSettingChanged?: (key: string) => void;
  /** The tariff in force when a session closes; its cost is stored with the session. */
  tariff?: (settings: SqliteSettings) => Tariff | undefined;
  /** The stored settings' definitions, the configuration keys (shareable across charge points with the same connectors). */
  definitions: KeyDefinition[];
  /**
   * The OCPP versions to offer, in preference order (default ['ocpp1.6']): the charger runs the
   * one the central system selects. The first one's binding must be loaded (loadOcppVersion,
   * src/ocpp/versions.ts); another one is loaded if the central system selects it.
   */
  ocppVersions?: readonly OcppSubprotocol[];
  /** Default value of each key (definition defaults overridden by configuration). */
  defaults: ReadonlyMap<string, string>;
  session?: { resumePolicy?: 'resume-or-stop' | 'stop'; freeVendIdTag?: string; stopOnSecondPresentation?: boolean };
  timing?: Partial<ChargePointTiming>;
  linkTiming?: LinkTiming;
  onReset?: (type: 'Soft' | 'Hard') => void;
  /** Told of every CALL the charge point made, once it has ended. Keep it cheap. */
  onCall?: (outcome: CallOutcome) => void;
  /** Told of every CALL from the central system the charge point answered: the CALLRESULT's payload, or undefined for a CALLERROR; and the request. */
  onIncomingCall?: (action: string, result: unknown, request: unknown) => void;
  /** The display-message formats the charger's screen renders (default ASCII and UTF8). */
  displayFormats?: readonly MessageFormat[];
  /** Certificates and security events (Advanced Security): the agent's; a simulated charger keeps none. */
  security?: StationSecurity;
  /** Firmware Management: the agent's (downloads, installs, uploads), or a simulated charger's (statuses with realistic timings, no bytes). */
  firmware?: FirmwareFactory;
}

/** The status notifications of firmware updates and log uploads (held while offline, the latest of each). */
type NotifiedStatus = 'FirmwareStatusNotification' | 'DiagnosticsStatusNotification' | 'LogStatusNotification';

/** Builds the Firmware Management services of one charge point, once its core exists. */
export type FirmwareFactory = (cp: {
  chargePoint: ChargePoint; clock: SettableClock; settings: SqliteSettings; outbox: SqliteOutbox;
  /** Sends a status notification now if the link is up; else the latest of each kind once Accepted again. */
  notify: FirmwareNotify;
}) => {
  firmware: FirmwareService;
  diagnostics: DiagnosticsService;
  /** Once the link has started (e.g. report the outcome of an install that restarted the charger). */
  start?(): void;
  stop(): void;
};

/**
 * One charge point composed from injected dependencies: its store views (keyed by its id in a
 * shared database), the ChargePoint core, the OCPP connection and the link of the OCPP version
 * it speaks, built through the version seam (src/ocpp/version.ts). The agent
 * composes one around real or simulated hardware; the fleet composes thousands, sharing the
 * database, the clock's scheduler and the key definitions. start() acquires; stop() releases
 * in reverse.
 */
export class ChargePointRuntime {
  readonly settings: SqliteSettings;
  readonly authData: SqliteAuthorizationData;
  readonly ledger: SqliteLedger;
  readonly outbox: SqliteOutbox;
  readonly connection: AnyConnection;
  readonly chargePoint: ChargePoint;
  readonly link: VersionLink;
  /** The versions offered, in preference order. */
  readonly offered: readonly OcppSubprotocol[];
  /** The binding of the preferred version (the first offered), in force until the central system selects one. */
  private readonly preferred: VersionBinding;
  private negotiated?: VersionBinding;
  /** Smart Charging and Reservation (simulated chargers honour them like real ones). */
  readonly features: CoreFeatures;
  /** Every feature profile service the link answers with (Smart Charging, Reservation, Firmware Management). */
  readonly services: FeatureServices;
  // Smart charging still numbers connectors as 1.6 does (connector n is EVSE n).
  // A transaction's display messages end with it.
  private readonly onSessionStopped = (e: { evseId: EvseId; localId: string }) => {
    this.features.smartCharging.transactionEnded(e.evseId);
    this.features.displayMessages.sessionEnded(e.localId);
  };
  private started = false;

  constructor(private readonly d: ChargePointRuntimeDeps) {
    const cpId = d.chargePointId;
    // Events queued from now on may be re-timed once the central system sets the clock (a link created later included).
    const runStartedAt = d.clock.now();
    const settings = new SqliteSettings(d.db, cpId, d.defaults, d.onSettingChanged);
    this.settings = settings;
    this.authData = new SqliteAuthorizationData(d.db, cpId, () => d.clock.now());
    const offered = d.ocppVersions?.length ? d.ocppVersions : (['ocpp1.6'] as const);
    for (const p of offered) if (!OCPP_SUBPROTOCOLS.includes(p)) throw new Error(`OCPP version ${p} is not implemented`);
    const preferred = loadedOcppVersion(offered[0]!);
    if (!preferred) throw new Error(`the OCPP ${offered[0]} binding is not loaded: await loadOcppVersion('${offered[0]}') before composing a charger`);
    this.offered = offered;
    this.preferred = preferred;
    if (offered.length === 1) this.negotiated = preferred;
    let link: VersionLink | undefined;
    // Each event in the ledger records whether the central system was reachable (2.0.1's `offline`).
    this.ledger = new SqliteLedger(d.db, cpId, d.pseudonym, d.tariff ? () => d.tariff!(settings) : undefined, () => link?.online() ?? false);
    this.outbox = new SqliteOutbox(d.db, cpId);
    const security = d.connectionSecurity?.(settings);
    const validators = offered.flatMap((p) => {
      const validator = strictValidatorOf(p);
      return validator ? [validator] : [];
    });
    this.connection = new OcppConnection(
      {
        endpoint: security?.endpoint ?? d.csms.url, identity: cpId, protocols: [...offered], callTimeoutMs: d.csms.callTimeoutMs,
        ...(validators.length ? { strictModeValidators: validators } : {}),
        password: security?.password !== undefined ? security.password : d.csms.password,
        pingIntervalMs: this.settings.int('WebSocketPingInterval') * 1000,
        backoff: { initialDelayMs: d.csms.reconnectInitialDelayMs, maxDelayMs: d.csms.reconnectMaxDelayMs },
        ...(security?.wsOpts ? { wsOpts: security.wsOpts } : {}),
      },
      d.log.child({ component: 'ocpp' }),
    );
    // Counted by the connection (no wrapper per charger or per CALL).
    if (d.onCall) this.connection.onCallEnded = d.onCall;
    if (d.onIncomingCall) this.connection.onAnswered = d.onIncomingCall;
    const remote = { online: () => link?.online() ?? false, authorize: (idTag: string, type?: IdTokenType) => link!.authorize(idTag, type) };
    this.features = buildCoreFeatures({
      db: d.db, chargePointId: cpId, evses: d.hardware.evses, settings: this.settings, clock: d.clock, pseudonym: d.pseudonym, log: d.log,
      ...(d.displayFormats ? { displayFormats: d.displayFormats } : {}),
    });
    this.chargePoint = new ChargePoint({
      chargingLimits: this.features.smartCharging, reservations: this.features.reservations,
      chargePointId: cpId, evses: d.hardware.evses, idReaders: d.hardware.readers, faultSources: d.hardware.faultSources,
      ledger: this.ledger, authData: this.authData, remote, policy: offered.length === 1 ? preferred.policy(settings) : this.policyOfVersionInForce(), clock: d.clock,
      log: d.log.child({ component: 'core' }), pseudonym: d.pseudonym,
      resumePolicy: d.session?.resumePolicy, freeVendIdTag: d.session?.freeVendIdTag,
      stopOnSecondPresentation: d.session?.stopOnSecondPresentation, timing: d.timing,
    });
    this.firmware = d.firmware?.({
      chargePoint: this.chargePoint, clock: d.clock, settings: this.settings, outbox: this.outbox,
      notify: (action: NotifiedStatus, request: unknown) => this.notifyStatus(action, request),
    });
    this.services = {
      smartCharging: this.features.smartCharging, reservations: this.features.reservations, displayMessages: this.features.displayMessages,
      ...(this.firmware ? { firmware: this.firmware.firmware, diagnostics: this.firmware.diagnostics } : {}),
      ...(d.security ? { security: d.security } : {}),
    };
    const linkOf = (version: VersionBinding) => version.createLink({
      connection: this.connection, chargePoint: this.chargePoint, ledger: this.ledger, outbox: this.outbox, settings: this.settings,
      authData: this.authData, definitions: d.definitions, runStartedAt,
      connectors: d.hardware.evses.map((c) => ({ id: c.evseId, phases: c.phases, maxPowerW: c.maxPowerW, ...(d.connectorTypes?.has(c.evseId) ? { type: d.connectorTypes.get(c.evseId)! } : {}) })), clock: d.clock, log: d.log.child({ component: 'ocpp' }),
      identity: d.identity, onReset: d.onReset ?? (() => {}), timing: d.linkTiming,
      features: this.services,
    });
    const negotiatedLink = (version: VersionBinding) => {
      this.negotiated = version;
      return linkOf(version);
    };
    link = offered.length === 1
      ? linkOf(preferred)
      : new NegotiatedLink(this.connection, (protocol) => {
        const selected = offered.find((p) => p === protocol);
        if (!selected) return undefined;
        // A version other than the preferred one is loaded once the central system selects it.
        const version = loadedOcppVersion(selected);
        return version ? negotiatedLink(version) : loadOcppVersion(selected).then(negotiatedLink);
      }, d.log.child({ component: 'ocpp' }));
    this.link = link;
  }

  private readonly firmware?: ReturnType<FirmwareFactory>;

  /** The version the charger speaks: the only one offered, or the one the central system selected (undefined until then). */
  get version(): VersionBinding | undefined {
    return this.negotiated;
  }

  /** Several versions offered: the core decides by the policy of the version in force (the preferred one until negotiated). */
  private policyOfVersionInForce(): ChargingPolicy {
    const policies = new Map<VersionBinding, ChargingPolicy>();
    return switchingPolicy(() => {
      const version = this.negotiated ?? this.preferred;
      let policy = policies.get(version);
      if (!policy) policies.set(version, (policy = version.policy(this.settings)));
      return policy;
    });
  }

  /**
   * Firmware and diagnostics statuses are not transaction messages: sent while the link is up;
   * while it is not, the latest of each kind waits and goes once Accepted again.
   */
  private async notifyStatus(action: NotifiedStatus, request: unknown): Promise<void> {
    const link = this.link;
    if (link?.online()) {
      await link.send(action, request).then(() => undefined, (err) => this.d.log.warn('status notification not delivered', { action, err }));
      return;
    }
    (this.heldStatuses ??= new Map()).set(action, request);
    // Listened for only once a status has waited (a fleet holds thousands of links).
    if (link && !this.sendHeldStatuses) {
      this.sendHeldStatuses = (state: LinkState) => {
        if (state !== 'accepted' || !this.heldStatuses?.size) return;
        for (const [a, req] of this.heldStatuses) void link.send(a, req).catch(() => undefined);
        this.heldStatuses.clear();
      };
      link.on('state', this.sendHeldStatuses);
    }
  }

  private heldStatuses?: Map<NotifiedStatus, unknown>;
  private sendHeldStatuses?: (state: LinkState) => void;

  get id(): string {
    return this.d.chargePointId;
  }

  /** CALLs sent and not yet answered. */
  get inFlight(): number {
    return this.connection.inFlight;
  }

  async start(): Promise<void> {
    // What the central system set survives a restart (1.6 §4.1.2, 2.0.1 G03): the station's, then each EVSE's.
    if (this.settings.get(AVAILABILITY_STATION_KEY) === 'Inoperative') this.chargePoint.changeStationAvailability('Inoperative');
    for (const id of this.chargePoint.evseIds) {
      if (this.settings.get(availabilityKey(id)) === 'Inoperative') this.chargePoint.changeAvailability(id, 'Inoperative');
    }
    this.features.reservations.start();
    this.features.displayMessages.start();
    this.chargePoint.on('session-stopped', this.onSessionStopped);
    await this.chargePoint.start();
    // Several versions offered: every one is loaded before connecting. The central system may
    // call in the first milliseconds of the version it selects (before any BootNotification), and
    // a binding still loading then would leave ocpp-rpc to answer NotImplemented.
    if (this.offered.length > 1) await loadOcppVersions(this.offered);
    this.link.start();
    this.firmware?.start?.();
    this.started = true;
  }

  /** Start no CALL from now on (synchronous): a fleet halts every charger, then closes them in batches. */
  halt(): void {
    if (this.started) this.link.halt();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.link.stop();
    this.chargePoint.stop();
    this.firmware?.stop();
    this.chargePoint.off('session-stopped', this.onSessionStopped);
    this.features.reservations.stop();
    this.features.displayMessages.stop();
  }
}
