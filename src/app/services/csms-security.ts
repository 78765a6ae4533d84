import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { SystemClock } from '../../core/clock.js';
import type { Clock } from '../../core/ports.js';
import type { LoadedAgentConfig } from '../../config/index.js';
import { configPasswordBytes, decodeAuthorizationKey, securityProfileProblems } from '../../config/csms-security.js';
import type { Log } from '../../lib/log.js';
import type { OcppConnection } from '../../ocpp/connection.js';
import { keyFileTooOpen, tlsClientOptions } from '../../ocpp/tls.js';
import type { KeyDefinition } from '../../ocpp/v16/configuration.js';
import type { CentralSystemCalls, ChargePointCalls } from '../../ocpp/v16/messages.js';
import { securityEventOfConnectError, securityKeyDefinitions, type SecurityEventType } from '../../ocpp/v16/security.js';
import { SqliteSettings, type SqliteDatabase } from '../../store/index.js';
import { SqliteSecurityEvents } from '../../store/security-events.js';
import { SecurityEventRecorder } from './security-events.js';
import type { CertificateService } from '../../ocpp/certificates.js';
import { ACTIVE_NETWORK_PROFILE_KEY, BASIC_AUTH_PASSWORD_KEY, LAST_WORKING_NETWORK_KEY, NETWORK_PRIORITY_KEY, NETWORK_PROFILE_ATTEMPTS_KEY, networkProfileKey, type NetworkProfile } from '../../ocpp/security-keys.js';

type Connection = OcppConnection<ChargePointCalls, CentralSystemCalls>;

/** The system clock, telling when the central system sets it (a security event). */
export class ObservedClock extends SystemClock {
  onSet?: (correctionMs: number) => void;
  override set(epochMs: number): number {
    const correction = super.set(epochMs);
    this.onSet?.(correction);
    return correction;
  }
}

const CONFIGURED_PROFILE = 'evse-edge.SecurityProfile.configured';
const CONFIGURED_KEY = 'evse-edge.AuthorizationKey.configured';
/** OCPPCommCtrlr.NetworkProfileConnectionAttempts' default. */
const DEFAULT_NETWORK_PROFILE_ATTEMPTS = 3;

/** Where the connection goes: a network profile's slot, or the config file's csms block. */
type NetworkCandidate = { slot: number; profile: NetworkProfile } | { slot: 'config' };

/** A clock correction larger than this is reported as SettingSystemTime. */
const CLOCK_EVENT_THRESHOLD_MS = 2_000;

/**
 * The charger's OCPP security: the profile in force (the config's, raised over OCPP, never
 * lowered over OCPP; editing the config by hand wins), the AuthorizationKey (config or
 * rotated by the central system; never logged), the connection's TLS and Basic auth, and the
 * security events it observes, queued through the outbox.
 */
export class CsmsSecurity {
  readonly definitions: KeyDefinition[];
  private settings?: SqliteSettings;
  private events?: SecurityEventRecorder;
  private connection?: Connection;
  private onQueued?: () => void;
  private readonly detachers: (() => void)[] = [];
  private startupRecorded = false;
  private applying = false;
  /** The profile and key the connection was last configured with. */
  private appliedState = '';
  /** Where the connection is configured to go now (B10: it moves on when that fails). */
  private current?: NetworkCandidate;
  /** This run: the slots whose connection failed NetworkProfileConnectionAttempts times in a row, and the failures in a row now. */
  private readonly failedSlots = new Set<number | 'config'>();
  private failuresInARow = 0;

  /** `certificates`: the station's certificate signed by the central system, used for profile 3 in place of the configured one. */
  constructor(private readonly loaded: LoadedAgentConfig, private readonly log: Log, private readonly certificates?: Pick<CertificateService, 'clientCredentials' | 'rootCertificates'>) {
    this.definitions = securityKeyDefinitions({
      profile: () => this.profile(),
      cannotUse: (p) => this.cannotUse(p),
      ready: () => this.settings !== undefined,
    });
  }

  private get csms() {
    return this.loaded.config.csms;
  }

  /**
   * Once the store is open: a profile or key edited in the config file since the last start
   * replaces what the central system set (a local change is the only way down).
   */
  open(o: { db: SqliteDatabase; chargePointId: string; settings: SqliteSettings; clock: Clock }): void {
    this.settings = o.settings;
    this.events = new SecurityEventRecorder({ store: new SqliteSecurityEvents(o.db, o.chargePointId), clock: o.clock, log: this.log, onQueued: () => this.onQueued?.() });
    this.failedSlots.clear();
    this.failuresInARow = 0;
    this.current = undefined;
    this.applying = true;
    try {
      const profile = String(this.csms.securityProfile);
      if (o.settings.get(CONFIGURED_PROFILE) !== profile) {
        o.settings.set('SecurityProfile', profile);
        o.settings.set(CONFIGURED_PROFILE, profile);
        // A technician reconfigured the connection: the central system's network profiles give way.
        for (const slot of this.storedSlots()) o.settings.set(networkProfileKey(slot), '');
        if (o.settings.get(NETWORK_PRIORITY_KEY)) o.settings.set(NETWORK_PRIORITY_KEY, '');
      }
      const keyMark = fingerprint(this.csms.authorizationKey ?? '');
      if (o.settings.get(CONFIGURED_KEY) !== keyMark) {
        o.settings.set('AuthorizationKey', '');
        if (o.settings.get(BASIC_AUTH_PASSWORD_KEY)) o.settings.set(BASIC_AUTH_PASSWORD_KEY, '');
        o.settings.set(CONFIGURED_KEY, keyMark);
      }
      this.applyNetworkProfile(o.settings);
    } finally {
      this.applying = false;
    }
    if (this.csms.key && keyFileTooOpen(this.csms.key)) this.log.warn('the client key file is readable by others: chmod 0640 or stricter', { path: this.csms.key });
    if (keyFileTooOpen(this.loaded.file) && this.csms.authorizationKey) {
      this.log.warn('the config file holds the AuthorizationKey and is readable by others: chmod 0640 or stricter', { path: this.loaded.file });
    }
  }

  /**
   * The connection goes to the first usable candidate (networkCandidates); its slot is
   * ActiveNetworkProfile. Its security profile becomes the one in force only once a connection
   * with it opens (connected()): a new profile that fails falls back to the previous one (B10).
   */
  private applyNetworkProfile(settings: SqliteSettings): void {
    this.current = this.nextCandidate();
    settings.set(ACTIVE_NETWORK_PROFILE_KEY, String(this.current.slot === 'config' ? 0 : this.current.slot));
  }

  /**
   * Where the connection may go, in order (B10, A05): the slots of NetworkConfigurationPriority
   * that hold a network profile, then the last one that worked, then the config file's csms
   * block; none below the security profile in force (never a downgrade).
   */
  private networkCandidates(): NetworkCandidate[] {
    const inForce = this.profile();
    const out: NetworkCandidate[] = [];
    const add = (slot: number) => {
      const profile = this.networkProfile(slot);
      if (profile && profile.securityProfile >= inForce && !out.some((c) => c.slot === slot)) out.push({ slot, profile });
    };
    const priority = (this.settings?.get(NETWORK_PRIORITY_KEY) || '0').split(',').map((x) => Number(x.trim())).filter(Number.isInteger);
    for (const slot of priority) add(slot);
    const last = this.settings?.get(LAST_WORKING_NETWORK_KEY);
    if (last && last !== 'config' && Number.isInteger(Number(last))) add(Number(last));
    if (this.csms.securityProfile >= inForce) out.push({ slot: 'config' });
    return out;
  }

  /** The first candidate that has not failed in this run (all failed: from the first again). */
  private nextCandidate(): NetworkCandidate {
    const all = this.networkCandidates();
    const untried = all.find((c) => !this.failedSlots.has(c.slot));
    if (untried) return untried;
    this.failedSlots.clear();
    // None at or above the profile in force (the config's is lower, no network profile left): the config's URL with the profile in force.
    return all[0] ?? { slot: 'config' };
  }

  private connectionAttempts(): number {
    const n = Number.parseInt(this.settings?.get(NETWORK_PROFILE_ATTEMPTS_KEY) ?? '', 10);
    return Number.isInteger(n) && n >= 1 ? n : DEFAULT_NETWORK_PROFILE_ATTEMPTS;
  }

  /**
   * A connection attempt failed: after NetworkProfileConnectionAttempts in a row, the next
   * candidate (B10.FR.03/04); the connection is reconfigured for it and goes on retrying there.
   */
  private connectFailed(): void {
    if (!this.settings || !this.current) return;
    this.failuresInARow++;
    if (this.failuresInARow < this.connectionAttempts()) return;
    const from = this.current;
    this.failedSlots.add(from.slot);
    this.failuresInARow = 0;
    const next = this.nextCandidate();
    if (next.slot === from.slot) return;
    this.current = next;
    this.settings.set(ACTIVE_NETWORK_PROFILE_KEY, String(next.slot === 'config' ? 0 : next.slot));
    this.log.warn('network profile failed: falling back', { from: from.slot, to: next.slot, securityProfile: this.connectingProfile(), attempts: this.connectionAttempts() });
    try {
      this.connection?.reconfigure(this.connectionOptions());
    } catch (err) {
      this.log.error('cannot configure the fallback connection', { slot: next.slot, err });
    }
  }

  /**
   * A connection opened: its network profile works. Its security profile is now the one in force
   * (raised, never lowered; network profiles below it are dropped, A05), and it is where a later
   * new profile falls back to.
   */
  private connected(): void {
    const settings = this.settings;
    const active = this.current;
    this.failuresInARow = 0;
    this.failedSlots.clear();
    if (!settings || !active) return;
    settings.set(LAST_WORKING_NETWORK_KEY, String(active.slot));
    if (active.slot === 'config' || active.profile.securityProfile <= this.profile()) return;
    this.applying = true;
    try {
      settings.set('SecurityProfile', String(active.profile.securityProfile));
      this.log.info('security profile raised by the network profile in force', { slot: active.slot, securityProfile: active.profile.securityProfile });
      for (const slot of this.storedSlots()) {
        const p = this.networkProfile(slot);
        if (p && p.securityProfile < this.profile()) {
          settings.set(networkProfileKey(slot), '');
          this.log.info('network profile below the security profile in force dropped', { slot, securityProfile: p.securityProfile });
        }
      }
    } finally {
      this.applying = false;
    }
    this.appliedState = `${this.profile()}/${this.passwordMark()}`;
  }

  /** The security profile the connection is configured with: the candidate's, or the one in force. */
  private connectingProfile(): number {
    const c = this.current ?? this.nextCandidate();
    return c.slot === 'config' ? this.profile() : Math.max(c.profile.securityProfile, this.profile());
  }

  private storedSlots(): number[] {
    return [0, 1, 2, 3, 4, 5, 6, 7].filter((slot) => this.settings?.get(networkProfileKey(slot)));
  }

  private networkProfile(slot: number): NetworkProfile | undefined {
    const raw = this.settings?.get(networkProfileKey(slot));
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as NetworkProfile;
    } catch {
      return undefined;
    }
  }

  /** The central system's URL: the current candidate's network profile's, else the configured one. */
  endpoint(): string {
    const c = this.current ?? this.nextCandidate();
    return c.slot === 'config' ? this.csms.url : c.profile.url;
  }

  /** SetNetworkProfile (A05, B09): why `profile` cannot be kept for `slot`, or undefined once it is stored. */
  setNetworkProfile(slot: number, profile: NetworkProfile): string | undefined {
    if (!this.settings) return 'the charger is not ready';
    const now = this.profile();
    if (profile.securityProfile < now) return `security profile ${profile.securityProfile} is lower than the one in force (${now})`;
    const problem = this.cannotUse(profile.securityProfile, profile.url);
    if (problem) return problem;
    this.settings.set(networkProfileKey(slot), JSON.stringify({ url: profile.url, securityProfile: profile.securityProfile, messageTimeoutS: profile.messageTimeoutS }));
    return undefined;
  }

  /** The profile in force. */
  profile(): number {
    const stored = this.settings ? Number.parseInt(this.settings.get('SecurityProfile') ?? '', 10) : Number.NaN;
    return Number.isInteger(stored) ? Math.max(stored, this.csms.securityProfile) : this.csms.securityProfile;
  }

  private authorizationKey(): string | undefined {
    const rotated = this.settings?.get('AuthorizationKey');
    return rotated ? rotated : this.csms.authorizationKey;
  }

  /**
   * The password bytes of the AuthorizationKey in force: one rotated over 1.6 (ChangeConfiguration)
   * as 1.6 reads it; the config's as the versions offered read it (2.0.1 alone: as it is).
   */
  private passwordBytes(key: string): Buffer | undefined {
    return this.settings?.get('AuthorizationKey') ? decodeAuthorizationKey(key) : configPasswordBytes(key, this.csms.ocppVersions);
  }

  /** The Basic auth password set over OCPP 2.0.1 (SecurityCtrlr.BasicAuthPassword), used as it is. */
  private basicAuthPassword(): string | undefined {
    return this.settings?.get(BASIC_AUTH_PASSWORD_KEY) || undefined;
  }

  /** What the password in force is, for telling a change (a hash prefix, never the value). */
  private passwordMark(): string {
    return fingerprint(`${this.authorizationKey() ?? ''}\u0000${this.basicAuthPassword() ?? ''}`);
  }

  /** Why the charger cannot use `profile` with what it has, or undefined. */
  cannotUse(profile: number, url = this.endpoint()): string | undefined {
    // A certificate signed by the central system (CertificateSigned) stands in for the configured one.
    const signed = profile === 3 && this.signedCredentials() !== undefined;
    const problems = securityProfileProblems({ ...this.csms, url, authorizationKey: this.basicAuthPassword() ?? this.authorizationKey() }, profile)
      .filter((p) => !(signed && (p.path.endsWith('.cert') || p.path.endsWith('.key'))));
    return problems.length ? problems.map((p) => `${p.path}: ${p.message}`).join('; ') : undefined;
  }

  /** Basic auth and TLS options for the OCPP connection under the profile in force. */
  connectionOptions(): { password: Buffer | null; wsOpts: Record<string, unknown>; endpoint: string } {
    const profile = this.connectingProfile();
    const endpoint = this.endpoint();
    const key = this.authorizationKey();
    const basic = this.basicAuthPassword();
    const password = profile !== 1 && profile !== 2 ? null : basic ? Buffer.from(basic, 'utf8') : key ? (this.passwordBytes(key) ?? null) : null;
    const tls = /^wss:\/\//i.test(endpoint);
    const signed = profile === 3 ? this.signedCredentials() : undefined;
    const options = tls ? tlsClientOptions({ ca: this.csms.ca, ...(profile === 3 && !signed ? { cert: this.csms.cert, key: this.csms.key } : {}) }, this.loaded.file) : undefined;
    // The CSMS roots installed over OCPP (InstallCertificate CSMSRootCertificate) are trusted beside the configured CA.
    const installed = tls ? this.installedCsmsRoots() : [];
    // Without a configured CA the system's stay trusted too (Node's `ca` replaces them).
    const ca = installed.length ? [...(options?.ca ? [options.ca] : rootCertificates), ...installed] : options?.ca;
    const wsOpts = options ? { ...options, ...(ca ? { ca } : {}), ...(signed ?? {}) } : {};
    return { password, wsOpts, endpoint };
  }

  private installedCsmsRoots(): string[] {
    try {
      return this.certificates?.rootCertificates('CSMSRoot') ?? [];
    } catch (err) {
      this.log.error('the installed CSMS roots cannot be read', { err });
      return [];
    }
  }

  /** The station's certificate signed by the central system, if any (it replaces the configured one). */
  private signedCredentials(): { cert: Buffer; key: Buffer } | undefined {
    try {
      return this.certificates?.clientCredentials();
    } catch (err) {
      this.log.error('the signed station certificate cannot be read: using the configured one', { err });
      return undefined;
    }
  }

  /** CertificateSigned installed a new station certificate: under profile 3, reconnect with it (A02). */
  stationCertificateChanged(): void {
    if (this.profile() !== 3) return;
    this.reconnectWithNewSettings('station certificate renewed');
  }

  /** Watch a connection for security events; `onQueued` wakes the outbox delivery. */
  attach(connection: Connection, onQueued: () => void): void {
    this.detach();
    this.appliedState = `${this.profile()}/${this.passwordMark()}`;
    this.connection = connection;
    this.onQueued = onQueued;
    const onFailed = ({ error }: { error: Error & { code?: string | number } }) => {
      const event = securityEventOfConnectError(error);
      if (event) this.record(event.type, event.techInfo);
    };
    const onBad = () => this.record('InvalidMessages', 'a malformed message from the central system');
    const onOpen = () => this.connected();
    const onAttemptFailed = () => this.connectFailed();
    const onInvalid = ({ action }: { action: string }) => this.record('InvalidMessages', `a schema-invalid ${action} from the central system`);
    connection.on('connect-failed', onFailed);
    connection.on('connect-failed', onAttemptFailed);
    connection.on('open', onOpen);
    connection.on('bad-message', onBad);
    connection.on('invalid-message', onInvalid);
    this.detachers.push(
      () => connection.off('connect-failed', onFailed), () => connection.off('connect-failed', onAttemptFailed), () => connection.off('open', onOpen),
      () => connection.off('bad-message', onBad), () => connection.off('invalid-message', onInvalid),
    );
  }

  detach(): void {
    for (const off of this.detachers.splice(0)) off();
    this.connection = undefined;
  }

  /** The first start of this process is StartupOfTheDevice; later ones are resets (recorded by reset). */
  started(): void {
    if (this.startupRecorded) return;
    this.startupRecorded = true;
    this.record('StartupOfTheDevice', `evse-edge security profile ${this.profile()}`);
  }

  clockSet(correctionMs: number): void {
    if (Math.abs(correctionMs) > CLOCK_EVENT_THRESHOLD_MS) this.record('SettingSystemTime', `corrected by ${Math.round(correctionMs / 1000)} s`);
  }

  /** Log a security event and queue it for the central system (never fails the caller). */
  record(type: SecurityEventType | (string & {}), techInfo?: string): void {
    if (this.events) {
      this.events.record(type, techInfo);
      return;
    }
    // Before the store is open: logged only. A start is routine (every boot records one); the other events deserve a warning.
    this.log[type === 'StartupOfTheDevice' ? 'info' : 'warn']('security event', { securityEvent: type, ...(techInfo ? { techInfo } : {}) });
  }

  /** A setting changed: a new key or a higher profile means reconnecting with it. */
  changed(key: string): void {
    if (this.applying || (key !== 'AuthorizationKey' && key !== 'SecurityProfile' && key !== BASIC_AUTH_PASSWORD_KEY)) return;
    const state = `${this.profile()}/${this.passwordMark()}`;
    if (state === this.appliedState) return;
    this.appliedState = state;
    const what = key === 'SecurityProfile' ? `security profile ${this.profile()}` : key === BASIC_AUTH_PASSWORD_KEY ? 'BasicAuthPassword changed' : 'AuthorizationKey changed';
    this.record('ReconfigurationOfSecurityParameters', what);
    this.reconnectWithNewSettings('new security settings');
  }

  private reconnectWithNewSettings(why: string): void {
    const connection = this.connection;
    if (!connection) return;
    // After the answer to ChangeConfiguration has gone out: a graceful close sends it first.
    setImmediate(() => {
      try {
        connection.reconfigure(this.connectionOptions());
      } catch (err) {
        this.log.error('cannot apply the new security settings', { err });
        return;
      }
      this.log.info('reconnecting', { why, securityProfile: this.profile() });
      connection.reconnect({ graceful: true }).catch((err) => this.log.warn('reconnect failed', { err }));
    });
  }
}

/** Enough of a hash to tell that the configured key changed, not enough to recover it. */
function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}
