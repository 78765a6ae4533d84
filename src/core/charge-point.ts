import { EventEmitter } from 'node:events';
import type { Log } from '../lib/log.js';
import { authorizeIdTag, cacheTransactionVerdict, localEntry, type AuthorizationDecision, type AuthorizationSource } from './authorization.js';
import { checkReading, frozenRegister } from './meter-guard.js';
import type { ReservationPolicy } from './reservations.js';
import { MAX_TIMER_MS, type ChargingLimits } from './smart-charging/index.js';
import type {
  AuthMethod, AuthorizationData, Clock, ConnectorErrorCode, ConnectorHardware, ConnectorStatus,
  FaultReport, FaultSource, IdReader, IdTagInfo, MeterReading, PresentedToken, RemoteAuthorizer,
  Sample, SessionLedger, SessionRecord, SessionStop, Settings, StopReason, Timer, VehicleState,
} from './ports.js';

export interface ChargePointOptions {
  chargePointId: string;
  connectors: ConnectorHardware[];
  idReaders: IdReader[];
  faultSources?: FaultSource[];
  ledger: SessionLedger;
  authData: AuthorizationData;
  remote: RemoteAuthorizer;
  settings: Settings;
  clock: Clock;
  log: Log;
  /** Keyed pseudonym of an idTag, for logs and events. */
  pseudonym: (idTag: string) => string;
  timing?: Partial<ChargePointTiming>;
  /** What to do with a session found open at boot. */
  resumePolicy?: 'resume-or-stop' | 'stop';
  /** Start a session on plug-in without authorisation, as this idTag (free vend). */
  freeVendIdTag?: string;
  /** A second presentation of the tag that started a session, or of a tag of its group (same parentIdTag), stops it. */
  stopOnSecondPresentation?: boolean;
  /** Smart charging: the current limit in force per connector. */
  chargingLimits?: ChargingLimits;
  /** Reservations: who may start where. */
  reservations?: ReservationPolicy;
}

export interface ChargePointTiming {
  /** How often the meter is read while a session runs (for live values and checks). */
  meterPollIntervalMs: number;
  /** How often the energy register is written to the ledger while charging. */
  checkpointIntervalMs: number;
  /** How long a Finishing connector waits before it is Available again once unplugged. */
  unplugGraceMs: number;
}

const defaultTiming: ChargePointTiming = {
  meterPollIntervalMs: 1_000,
  checkpointIntervalMs: 10_000,
  unplugGraceMs: 0,
};

export interface StatusChange {
  connectorId: number;
  status: ConnectorStatus;
  errorCode: ConnectorErrorCode;
  info?: string;
  at: number;
}

export interface ChargePointEvents {
  status: [StatusChange];
  'session-started': [{ connectorId: number; localId: string; customerRef: string; authMethod: AuthMethod; meterStartWh: number }];
  'session-stopped': [{ connectorId: number; localId: string; reason: StopReason; energyWh: number }];
  reading: [{ connectorId: number; reading: MeterReading; sessionEnergyWh?: number }];
  /** New transaction messages are in the outbox. */
  queued: [];
  /**
   * `source`: who decided. 'csms' is the central system's answer; any other is a local decision
   * (the local list, the cache, or no answer in time: offline rules), or 'reservation'.
   */
  'auth-refused': [{ connectorId?: number; customerRef: string; status: string; source: AuthorizationSource | 'reservation' }];
  fault: [{ connectorId: number; fault: FaultReport }];
  /** A card or code was presented (pseudonymised). */
  token: [{ connectorId?: number; customerRef: string; method: string; at: number }];
}

interface PendingAuthorization {
  idTag: string;
  method: AuthMethod;
  info: IdTagInfo;
  expires: Timer;
  offline: boolean;
  /** The reservation this start uses (it goes in StartTransaction). */
  reservationId?: number;
}

interface ActiveSession {
  record: SessionRecord;
  lastReading: MeterReading;
  nextSampleAt: number;
  nextAlignedAt: number;
  nextCheckpointAt: number;
  /** Cap from MaxEnergyOnInvalidId after a late rejection. */
  maxEnergyWh?: number;
  suspendedByEvse: boolean;
  stopping: boolean;
  parentIdTag?: string;
  /** The current offered now (smart charging); 0 suspends the session (SuspendedEVSE). */
  offeredA?: number;
}

class ConnectorState {
  availability: 'Operative' | 'Inoperative' = 'Operative';
  scheduledAvailability?: 'Operative' | 'Inoperative';
  vehicle: VehicleState = 'disconnected';
  pending?: PendingAuthorization;
  session?: ActiveSession;
  /** A session ended while the cable is still plugged. */
  finishing = false;
  /** A session is being started (its meter read is on its way). */
  starting = false;
  faults = new Map<string, FaultReport>();
  lastStatus?: ConnectorStatus;
  lastErrorCode: ConnectorErrorCode = 'NoError';
  poll?: Timer;
  probe?: Timer;
  lastReading?: MeterReading;
  meterErrors = 0;
  /** When the energy register last moved (or nothing was drawn). */
  energyChangedAt?: number;
  /** Wakes at the next change of the smart-charging limit. */
  limitTimer?: Timer;
  constructor(readonly hw: ConnectorHardware) {}
  get id() { return this.hw.id; }
}

/**
 * A connector whose EVSE board reports the error state. OtherError, not EVCommunicationError: OCPP
 * 1.6 says the latter needs no Faulted state (SuspendedEVSE instead), and state E/F is a failure that
 * stops charging. The info names it for the operator.
 */
const PILOT_FAULT = { source: 'control-pilot', errorCode: 'OtherError', info: 'EVSE board error (control pilot state E/F)' } as const;

export class RefusedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * One charge point: its connectors, their sessions and the authorisation decisions. It knows
 * the ports only: no OCPP, no Modbus, no MQTT, and nothing of simulation.
 */
export class ChargePoint extends EventEmitter<ChargePointEvents> {
  readonly id: string;
  private readonly connectors = new Map<number, ConnectorState>();
  private readonly timing: ChargePointTiming;
  private readonly log: Log;
  private chargePointFaults = new Map<string, FaultReport>();
  private chargePointAvailability: 'Operative' | 'Inoperative' = 'Operative';
  private lastCp0Status?: string;
  private unsubscribers: (() => void)[] = [];
  private running = false;

  constructor(private readonly opts: ChargePointOptions) {
    super();
    this.id = opts.chargePointId;
    this.timing = { ...defaultTiming, ...opts.timing };
    this.log = opts.log;
    for (const hw of opts.connectors) this.connectors.set(hw.id, new ConnectorState(hw));
  }

  get connectorIds(): number[] {
    return [...this.connectors.keys()];
  }

  /** Subscribe to the hardware, and resume or close the sessions left open by the last run. */
  async start(): Promise<void> {
    this.running = true;
    for (const c of this.connectors.values()) {
      c.vehicle = c.hw.powerPath.vehicle();
      if (c.vehicle === 'error') this.setFault(c, PILOT_FAULT.source, PILOT_FAULT.errorCode, PILOT_FAULT.info);
      this.unsubscribers.push(c.hw.powerPath.onVehicleChange((v) => this.onVehicle(c, v)));
    }
    for (const reader of this.opts.idReaders) {
      this.unsubscribers.push(reader.onToken((t) => void this.presentToken(t).catch((err) => this.log.error('token handling failed', { err }))));
    }
    for (const source of this.opts.faultSources ?? []) {
      this.unsubscribers.push(source.onFault((f) => this.onFault(f)));
    }
    if (this.opts.chargingLimits) this.unsubscribers.push(this.opts.chargingLimits.onChange(() => this.applyLimits()));
    if (this.opts.reservations) this.unsubscribers.push(this.opts.reservations.onChange(() => this.refreshChargePoint()));
    await this.recoverOpenSessions();
    for (const c of this.connectors.values()) this.refresh(c);
    this.refreshChargePoint();
  }

  /** Stop timers and listeners; open sessions stay open in the ledger (resumed at next start). */
  stop(): void {
    this.running = false;
    for (const u of this.unsubscribers.splice(0)) u();
    for (const c of this.connectors.values()) {
      c.poll?.cancel();
      c.probe?.cancel();
      c.pending?.expires.cancel();
      c.limitTimer?.cancel();
    }
  }

  // ---------------------------------------------------------------- queries

  status(connectorId: number): StatusChange {
    if (connectorId === 0) {
      const status = this.chargePointStatus();
      const fault = [...this.chargePointFaults.values()][0];
      return { connectorId: 0, status, errorCode: fault?.errorCode ?? 'NoError', info: fault?.info, at: this.opts.clock.now() };
    }
    const c = this.connector(connectorId);
    const fault = [...c.faults.values()][0];
    return { connectorId, status: this.derive(c), errorCode: fault?.errorCode ?? 'NoError', info: fault?.info, at: this.opts.clock.now() };
  }

  statuses(): StatusChange[] {
    return [0, ...this.connectors.keys()].map((id) => this.status(id));
  }

  session(connectorId: number): { localId: string; energyWh: number; powerW?: number; startedAt: number; authMethod: AuthMethod } | undefined {
    const s = this.connectors.get(connectorId)?.session;
    if (!s) return undefined;
    return {
      localId: s.record.localId,
      energyWh: s.lastReading.energyWh - s.record.meterStartWh,
      powerW: s.lastReading.powerW,
      startedAt: s.record.startedAt,
      authMethod: s.record.authMethod,
    };
  }

  lastReading(connectorId: number): MeterReading | undefined {
    return this.connectors.get(connectorId)?.lastReading;
  }

  /** Faults and error counters per connector, for diagnostics. */
  hardwareHealth(): { connectorId: number; faults: FaultReport[]; meterErrors: number; lastReadingAt: number | null }[] {
    return [...this.connectors.values()].map((c) => ({
      connectorId: c.id, faults: [...c.faults.values()], meterErrors: c.meterErrors, lastReadingAt: c.lastReading?.takenAt ?? null,
    }));
  }

  chargePointFaultList(): FaultReport[] {
    return [...this.chargePointFaults.values()];
  }

  transactionIdOf(localId: string): number | undefined {
    return this.opts.ledger.get(localId)?.transactionId ?? undefined;
  }

  hasActiveSession(): boolean {
    return [...this.connectors.values()].some((c) => c.session);
  }

  // ---------------------------------------------------------------- commands

  /** An RFID card or a touchscreen code was presented. */
  async presentToken(token: PresentedToken): Promise<AuthorizationDecision | 'stopped' | 'ignored'> {
    const log = this.log.child({ customerRef: this.opts.pseudonym(token.idTag), method: token.method });
    this.emit('token', { connectorId: token.connectorId, customerRef: this.opts.pseudonym(token.idTag), method: token.method, at: this.opts.clock.now() });
    const stopByTag = this.opts.stopOnSecondPresentation ?? true;
    const owner = this.findSessionOf(token.idTag, token.connectorId);
    if (owner && stopByTag) {
      log.info('tag presented again: stopping its session', { connectorId: owner.id });
      await this.stopSession(owner, 'Local', token.idTag);
      return 'stopped';
    }
    // Another tag may stop a session of its group (the same parentIdTag, OCPP 1.6 §3.5, §4.10),
    // or start one: either way it is authorised first (list, cache or Authorize.req), which is
    // how its parentIdTag becomes known. Not asked when it could do neither.
    const groupSessions = stopByTag ? this.sessionsWithGroup(token.connectorId) : [];
    if (groupSessions.length === 0 && !this.pickConnectorFor(token.connectorId, token.idTag)) {
      log.info('tag presented but no connector can take a session');
      return 'ignored';
    }
    const decision = await authorizeIdTag(token.idTag, {
      settings: this.opts.settings, data: this.opts.authData, remote: this.opts.remote, now: () => this.opts.clock.now(),
    });
    const group = stopByTag ? this.sessionOfGroup(decision.info, token.connectorId) : undefined;
    if (group) {
      log.info('tag of the same group presented: stopping its session', { connectorId: group.id, source: decision.source });
      await this.stopSession(group, 'Local', token.idTag);
      return 'stopped';
    }
    // Chosen again now the tag's parentIdTag is known (a reservation may be its group's).
    const target = this.pickConnectorFor(token.connectorId, token.idTag, decision.info.parentIdTag);
    if (!decision.accepted) {
      log.info('authorisation refused', { status: decision.info.status, source: decision.source });
      this.emit('auth-refused', { connectorId: target?.id ?? token.connectorId, customerRef: this.opts.pseudonym(token.idTag), status: decision.info.status, source: decision.source });
      return decision;
    }
    if (!target) {
      log.info('tag authorised but no connector can take a session', { source: decision.source });
      return 'ignored';
    }
    const admitted = this.admit(target, token.idTag, decision.info.parentIdTag);
    if (!admitted.allowed) {
      log.info('connector reserved for another tag', { connectorId: target.id });
      this.emit('auth-refused', { connectorId: target.id, customerRef: this.opts.pseudonym(token.idTag), status: 'Reserved', source: 'reservation' });
      return { ...decision, accepted: false };
    }
    log.info('authorised', { connectorId: target.id, source: decision.source });
    this.setPending(target, { idTag: token.idTag, method: token.method, info: decision.info, offline: decision.offline, reservationId: admitted.reservationId });
    return decision;
  }

  /** RemoteStartTransaction. Returns whether it was accepted. */
  async remoteStart(idTag: string, connectorId?: number): Promise<boolean> {
    let target = this.pickConnectorFor(connectorId, idTag);
    if (!target || target.session || target.pending) return false;
    let info: IdTagInfo = { status: 'Accepted' };
    let offline = false;
    if (this.opts.settings.bool('AuthorizeRemoteTxRequests')) {
      const decision = await authorizeIdTag(idTag, {
        settings: this.opts.settings, data: this.opts.authData, remote: this.opts.remote, now: () => this.opts.clock.now(),
      });
      if (!decision.accepted) return false;
      info = decision.info;
      offline = decision.offline;
      // Chosen again now the tag's parentIdTag is known (a reservation may be its group's).
      target = this.pickConnectorFor(connectorId, idTag, info.parentIdTag);
      if (!target || target.session || target.pending) return false;
    }
    const admitted = this.admit(target, idTag, info.parentIdTag);
    if (!admitted.allowed) return false;
    this.setPending(target, { idTag, method: 'app', info, offline, reservationId: admitted.reservationId });
    return true;
  }

  /** RemoteStopTransaction. */
  async remoteStop(transactionId: number): Promise<boolean> {
    const record = this.opts.ledger.byTransactionId(transactionId);
    const c = record ? this.connectors.get(record.connectorId) : undefined;
    if (!c?.session || c.session.record.localId !== record!.localId) return false;
    void this.stopSession(c, 'Remote').catch((err) => this.log.error('remote stop failed', { err }));
    return true;
  }

  /** Stop every session (reset, shutdown). */
  async stopAll(reason: StopReason): Promise<void> {
    await Promise.all([...this.connectors.values()].filter((c) => c.session).map((c) => this.stopSession(c, reason)));
  }

  /** ChangeAvailability. Connector 0 means the whole charge point. */
  changeAvailability(connectorId: number, type: 'Operative' | 'Inoperative'): 'Accepted' | 'Rejected' | 'Scheduled' {
    const targets = connectorId === 0 ? [...this.connectors.values()] : [this.connectors.get(connectorId)];
    if (targets.some((c) => !c)) return 'Rejected';
    if (connectorId === 0) this.chargePointAvailability = type;
    let scheduled = false;
    for (const c of targets as ConnectorState[]) {
      if (c.session && type === 'Inoperative') {
        c.scheduledAvailability = type;
        scheduled = true;
      } else {
        c.availability = type;
        c.scheduledAvailability = undefined;
        if (type === 'Inoperative' && c.pending) this.clearPending(c);
        this.refresh(c);
      }
    }
    this.refreshChargePoint();
    return scheduled ? 'Scheduled' : 'Accepted';
  }

  /**
   * UnlockConnector: stops the session on it first (reason UnlockCommand). A connector without a
   * lock has nothing to unlock: NotSupported, and its session goes on (OCPP 1.6 §5.18).
   */
  async unlock(connectorId: number): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'> {
    const c = this.connectors.get(connectorId);
    if (!c || !c.hw.powerPath.hasLock()) return 'NotSupported';
    if (c.session) await this.stopSession(c, 'UnlockCommand');
    return c.hw.powerPath.unlock();
  }

  /** The central system's late verdict on a tag that started a session (StartTransaction.conf). */
  async transactionConfirmed(localId: string, info: IdTagInfo, idTag: string | null): Promise<void> {
    if (idTag) this.tagVerdict(idTag, info);
    const c = [...this.connectors.values()].find((x) => x.session?.record.localId === localId);
    if (!c?.session) return;
    // An answer without parentIdTag does not say the tag has none: keep the one Authorize gave.
    if (info.parentIdTag) c.session.parentIdTag = info.parentIdTag;
    if (info.status === 'Accepted') return;
    this.log.warn('central system refused the tag of a running session', { connectorId: c.id, localId, status: info.status });
    if (this.opts.settings.bool('StopTransactionOnInvalidId')) {
      await this.stopSession(c, 'DeAuthorized');
    } else {
      const capWh = this.opts.settings.int('MaxEnergyOnInvalidId');
      if (capWh >= 0) {
        c.session.maxEnergyWh = capWh;
        this.enforceEnergyCap(c);
      }
    }
  }

  /**
   * The central system's word on a tag in a transaction answer (StartTransaction.conf,
   * StopTransaction.conf): into the authorisation cache, when it is enabled.
   */
  tagVerdict(idTag: string, info: IdTagInfo): void {
    if (this.opts.settings.bool('AuthorizationCacheEnabled')) cacheTransactionVerdict(this.opts.authData, idTag, info);
  }

  /** A fresh sample now (TriggerMessage MeterValues). */
  async triggerSample(connectorId: number): Promise<Sample | undefined> {
    const c = this.connectors.get(connectorId);
    if (!c) return undefined;
    const fresh = await this.readMeter(c);
    // A refused reading (backwards, implausible jump, stale) is never sent: the last good one is,
    // with its own time.
    const reading = this.acceptReading(c, fresh) ? fresh : c.lastReading;
    if (!reading) return undefined;
    const sample = this.makeSample(reading, 'Trigger', this.opts.settings.list('MeterValuesSampledData'), c);
    // In a session, recorded before it is sent: a session closed after a power cut never ends
    // below a value the central system already has.
    const s = c.session;
    if (s && !s.stopping) {
      try {
        this.opts.ledger.sample(s.record.localId, sample, false);
      } catch (err) {
        this.log.error('triggered meter sample could not be recorded: not sent', { connectorId, err });
        return undefined;
      }
    }
    return sample;
  }

  // ---------------------------------------------------------------- internals

  /** A reading stamped with the charge point's clock (the one the central system set). */
  private async readMeter(c: ConnectorState): Promise<MeterReading> {
    const reading = await c.hw.meter.read();
    return { ...reading, takenAt: this.opts.clock.now() };
  }

  private connector(id: number): ConnectorState {
    const c = this.connectors.get(id);
    if (!c) throw new RefusedError('ERR_NO_SUCH_CONNECTOR', `no connector ${id}`);
    return c;
  }

  private findSessionOf(idTag: string, connectorId?: number): ConnectorState | undefined {
    for (const c of this.connectors.values()) {
      if (!c.session || c.session.stopping) continue;
      if (connectorId !== undefined && c.id !== connectorId) continue;
      if (c.session.record.idTag === idTag) return c;
    }
    return undefined;
  }

  /** Running sessions (on `connectorId`, if given) whose tag belongs to a group. */
  private sessionsWithGroup(connectorId?: number): ConnectorState[] {
    return [...this.connectors.values()].filter((c) => c.session && !c.session.stopping
      && (connectorId === undefined || c.id === connectorId) && this.groupOf(c.session) !== undefined);
  }

  /** The running session a tag with this authorisation may stop as a member of its group. */
  private sessionOfGroup(info: IdTagInfo, connectorId?: number): ConnectorState | undefined {
    // A valid tag of the group: Accepted, or ConcurrentTx (valid, its group is in a transaction).
    if (!info.parentIdTag || (info.status !== 'Accepted' && info.status !== 'ConcurrentTx')) return undefined;
    return this.sessionsWithGroup(connectorId).find((c) => this.groupOf(c.session!) === info.parentIdTag);
  }

  /**
   * The parentIdTag of a session's tag: as its authorisation gave it, or else (a remote start, a
   * session resumed after a restart) from the local list or the cache.
   */
  private groupOf(s: ActiveSession): string | undefined {
    if (s.parentIdTag) return s.parentIdTag;
    if (!s.record.idTag) return undefined;
    return localEntry(s.record.idTag, { settings: this.opts.settings, data: this.opts.authData })?.info.parentIdTag;
  }

  private usable(c: ConnectorState): boolean {
    return !c.session && !c.starting && c.availability === 'Operative' && c.faults.size === 0 && !this.blockingChargePointFault() && !c.finishing;
  }

  private pickConnectorFor(connectorId?: number, idTag?: string, parentIdTag?: string): ConnectorState | undefined {
    if (connectorId !== undefined && connectorId > 0) {
      const c = this.connectors.get(connectorId);
      return c && this.usable(c) ? c : undefined;
    }
    let candidates = [...this.connectors.values()].filter((c) => this.usable(c));
    const res = this.opts.reservations;
    if (res && idTag !== undefined) {
      // The tag's own reservation first, then connectors free for anyone; one reserved for
      // someone else only as a last resort (the tag may still match by its parentIdTag).
      const free = this.freeConnectorIds();
      const rank = (c: ConnectorState) => {
        const a = res.admission(c.id, free, idTag, parentIdTag);
        return a.reservationId !== undefined ? 0 : a.allowed ? 1 : 2;
      };
      const best = Math.min(...candidates.map(rank));
      candidates = candidates.filter((c) => rank(c) === best);
    }
    // A plugged connector waiting for authorisation first, then a free one.
    return candidates.find((c) => c.vehicle !== 'disconnected' && !c.pending) ?? candidates.find((c) => !c.pending);
  }

  /** Connectors anyone may use now (for reservations of connector 0). */
  private freeConnectorIds(): number[] {
    return [...this.connectors.values()].filter((c) => this.usable(c) && !c.pending).map((c) => c.id);
  }

  private admit(c: ConnectorState, idTag: string, parentIdTag?: string): { allowed: boolean; reservationId?: number } {
    return this.opts.reservations?.admission(c.id, this.freeConnectorIds(), idTag, parentIdTag) ?? { allowed: true };
  }

  private setPending(c: ConnectorState, p: Omit<PendingAuthorization, 'expires'>): void {
    this.clearPending(c);
    const timeoutS = this.opts.settings.int('ConnectionTimeOut');
    const expires = this.opts.clock.setTimeout(() => {
      if (c.pending?.idTag === p.idTag && !c.session) {
        this.log.info('no vehicle connected in time: authorisation dropped', { connectorId: c.id });
        c.pending = undefined;
        this.refresh(c);
      }
    }, timeoutS * 1000);
    c.pending = { ...p, expires };
    this.refresh(c);
    if (c.vehicle === 'disconnected') c.hw.powerPath.invite();
    void this.maybeStart(c);
  }

  private clearPending(c: ConnectorState): void {
    c.pending?.expires.cancel();
    c.pending = undefined;
  }

  private onVehicle(c: ConnectorState, v: VehicleState): void {
    const before = c.vehicle;
    c.vehicle = v;
    this.log.debug('vehicle state', { connectorId: c.id, from: before, to: v });
    if (v === 'error') {
      this.onPilotError(c);
      return;
    }
    if (before === 'error') {
      this.log.info('EVSE board out of its error state', { connectorId: c.id, vehicle: v });
      if (c.faults.delete(PILOT_FAULT.source)) this.emit('fault', { connectorId: c.id, fault: { ...PILOT_FAULT, active: false } });
    }
    if (v === 'disconnected') {
      c.finishing = false;
      if (c.session && !c.session.stopping) {
        if (this.opts.settings.bool('StopTransactionOnEVSideDisconnect')) {
          void this.stopSession(c, 'EVDisconnected');
        } else {
          void c.hw.powerPath.offer(0);
        }
      }
      if (this.opts.settings.bool('UnlockConnectorOnEVSideDisconnect')) void c.hw.powerPath.unlock();
    } else if ((before === 'disconnected' || (before === 'error' && !c.finishing)) && !c.session) {
      // A plug-in, or a board well again with a vehicle that had no session: as a plug-in.
      if (!c.pending && this.opts.freeVendIdTag && this.usable(c)) {
        this.setPending(c, { idTag: this.opts.freeVendIdTag, method: 'free', info: { status: 'Accepted' }, offline: false });
        return;
      }
      void this.maybeStart(c);
    } else if (before === 'disconnected' && c.session && !c.session.stopping) {
      // Plugged back into a session kept when the cable was pulled at the car
      // (StopTransactionOnEVSideDisconnect false): the power path was opened then, offer again.
      c.session.offeredA = undefined;
      void this.energize(c);
    }
    this.refresh(c);
  }

  /**
   * The EVSE board reports an error (IEC 61851 state E/F: pilot short, diode check failed, the
   * board's own failure): no energy can flow. The connector is Faulted until the board leaves the
   * state; an authorisation waiting for a vehicle is dropped, a running session is stopped
   * (reason Other: 1.6 has no fault reason) rather than left open on a connector that cannot
   * charge, and a session may start again once the board is well.
   */
  private onPilotError(c: ConnectorState): void {
    this.log.warn('EVSE board reports an error: connector faulted', { connectorId: c.id });
    this.setFault(c, PILOT_FAULT.source, PILOT_FAULT.errorCode, PILOT_FAULT.info);
    this.emit('fault', { connectorId: c.id, fault: { ...PILOT_FAULT, active: true } });
    if (c.pending) {
      this.clearPending(c);
      this.refresh(c);
    }
    if (c.session && !c.session.stopping) void this.stopSession(c, 'Other').catch((err) => this.log.error('stop after a board error failed', { connectorId: c.id, err }));
  }

  /** Whether a fault from `source` is active (on the charge point or any connector). */
  hasFault(source: string): boolean {
    return this.chargePointFaults.has(source) || [...this.connectors.values()].some((c) => c.faults.has(source));
  }

  /** A fault raised or cleared by the application (e.g. the store is writable again). */
  reportFault(f: FaultReport): void {
    this.onFault(f);
  }

  /** Stops that could not be written (store faulted), recorded when the store is back. */
  private readonly unrecordedStops = new Map<string, SessionStop>();

  private recordPendingStops(): void {
    for (const [localId, stop] of this.unrecordedStops) {
      try {
        this.opts.ledger.close(localId, stop);
        this.unrecordedStops.delete(localId);
        this.log.info('session stop recorded after the store came back', { localId });
        this.emit('queued');
      } catch (err) {
        this.log.error('session stop still not recordable', { localId, err });
        queueMicrotask(() => this.onFault({ source: 'store', errorCode: 'InternalError', info: 'session ledger not writable', active: true }));
        return;
      }
    }
  }

  private onFault(f: FaultReport): void {
    if (f.source === 'store' && !f.active) this.recordPendingStops();
    // A fault names its connector in its source ("meter:1"), or the charge point ("reader").
    const m = /:(\d+)$/.exec(f.source);
    const c = m ? this.connectors.get(Number(m[1])) : undefined;
    const faults = c ? c.faults : this.chargePointFaults;
    if (f.active) faults.set(f.source, f);
    else faults.delete(f.source);
    if (c) {
      this.emit('fault', { connectorId: c.id, fault: f });
      this.refresh(c);
      if (!f.active) void this.maybeStart(c);
    } else {
      this.emit('fault', { connectorId: 0, fault: f });
      this.refreshChargePoint();
    }
  }

  private async maybeStart(c: ConnectorState): Promise<void> {
    const p = c.pending;
    if (!p || c.session || c.vehicle === 'disconnected' || !this.usable(c) || !this.running) return;
    this.clearPending(c);
    // From here to the session's creation the only wait is the meter read: while it lasts the
    // connector takes no other authorisation (a card read twice, a RemoteStart), or two sessions open.
    c.starting = true;
    let reading: MeterReading;
    try {
      reading = await this.readMeter(c);
      const problem = checkReading(c.lastReading, reading, c.hw.maxPowerW, false);
      if (problem) throw new RefusedError('ERR_METER_IMPLAUSIBLE', problem);
    } catch (err) {
      this.log.error('cannot start: meter unreadable', { connectorId: c.id, err });
      this.setFault(c, 'meter-start', 'PowerMeterFailure', (err as Error).message);
      this.probeMeterUntilBack(c);
      return;
    } finally {
      c.starting = false;
    }
    c.lastReading = reading;
    const now = this.opts.clock.now();
    const begin: Sample = { ...this.makeSample(reading, 'Transaction.Begin', this.opts.settings.list('MeterValuesSampledData')), offered: this.offered(c, true) };
    let record: SessionRecord;
    try {
      record = this.opts.ledger.open({
        connectorId: c.id, idTag: p.idTag, authMethod: p.method, startedAt: now, clockTrusted: this.opts.clock.trusted(),
        meterStartWh: Math.round(reading.energyWh), begin, ...(p.reservationId !== undefined ? { reservationId: p.reservationId } : {}),
      });
    } catch (err) {
      // Disk full or failing: a session we cannot record is a session we do not start. The
      // charge point is Faulted until the application reports the store writable again.
      this.log.error('cannot start: the session could not be recorded', { connectorId: c.id, err });
      this.onFault({ source: 'store', errorCode: 'InternalError', info: 'session ledger not writable', active: true });
      return;
    }
    if (p.reservationId !== undefined) this.opts.reservations?.consumed(p.reservationId);
    c.finishing = false;
    c.session = {
      record, lastReading: reading, suspendedByEvse: false, stopping: false, parentIdTag: p.info.parentIdTag,
      nextSampleAt: now + this.sampleIntervalMs(), nextAlignedAt: this.nextAligned(now),
      nextCheckpointAt: now + this.timing.checkpointIntervalMs,
    };
    this.emit('queued');
    this.emit('session-started', { connectorId: c.id, localId: record.localId, customerRef: this.opts.pseudonym(p.idTag), authMethod: p.method, meterStartWh: record.meterStartWh });
    this.log.info('session started', { connectorId: c.id, localId: record.localId, authMethod: p.method, meterStartWh: record.meterStartWh });
    await this.energize(c);
    this.applyLimits();
    this.refresh(c);
    this.schedulePoll(c);
  }

  /** After a failed read at start: read again every few seconds and clear the fault once it answers. */
  private probeMeterUntilBack(c: ConnectorState, delayMs = 5_000): void {
    c.probe?.cancel();
    c.probe = this.opts.clock.setTimeout(async () => {
      if (!this.running || !c.faults.has('meter-start')) return;
      try {
        const reading = await this.readMeter(c);
        c.lastReading = reading;
        this.log.info('meter answers again', { connectorId: c.id });
        this.clearFault(c, 'meter-start');
        void this.maybeStart(c);
      } catch {
        this.probeMeterUntilBack(c, Math.min(delayMs * 2, 60_000));
      }
    }, delayMs);
  }

  /**
   * Offer the connector's current: its maximum, capped by the smart-charging limit in force, and
   * wake again when that limit next changes (no polling). A limit of 0 suspends (SuspendedEVSE).
   */
  private async energize(c: ConnectorState): Promise<void> {
    const s = c.session;
    c.limitTimer?.cancel();
    if (!s || s.stopping) return;
    let limitA = c.hw.maxCurrentA;
    if (this.opts.chargingLimits) {
      try {
        const lim = this.limitNow(c, { transactionId: this.transactionIdOf(s.record.localId), startedAt: s.record.startedAt });
        limitA = lim.limitA;
        if (this.running) c.limitTimer = this.opts.clock.setTimeout(() => void this.energize(c), Math.min(MAX_TIMER_MS, Math.max(0, lim.nextChangeAt - lim.at)));
      } catch (err) {
        this.log.error('charging limit could not be computed: offering the connector maximum', { connectorId: c.id, err });
      }
    }
    if (s.suspendedByEvse || s.offeredA === limitA) return;
    if (s.offeredA !== undefined) this.log.info('charging limit applied', { connectorId: c.id, fromA: s.offeredA, toA: limitA });
    s.offeredA = limitA;
    try {
      await c.hw.powerPath.offer(limitA, limitA <= 0 ? { suspend: true } : undefined);
      this.clearFault(c, 'power-switch');
    } catch (err) {
      this.log.error('power path refused to energise', { connectorId: c.id, err });
      this.setFault(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
    }
    this.refresh(c);
  }

  /** Smart-charging profiles or the sessions sharing the charge point changed: offer again. */
  private applyLimits(): void {
    if (!this.opts.chargingLimits) return;
    for (const c of this.connectors.values()) if (c.session) void this.energize(c);
  }

  private setFault(c: ConnectorState, source: string, errorCode: ConnectorErrorCode, info?: string): void {
    c.faults.set(source, { source, errorCode, info, active: true });
    this.refresh(c);
  }

  private clearFault(c: ConnectorState, source: string): void {
    if (c.faults.delete(source)) this.refresh(c);
  }

  private sampleIntervalMs(): number {
    const s = this.opts.settings.int('MeterValueSampleInterval');
    return s > 0 ? s * 1000 : Number.POSITIVE_INFINITY;
  }

  private nextAligned(now: number): number {
    const s = this.opts.settings.int('ClockAlignedDataInterval');
    if (s <= 0) return Number.POSITIVE_INFINITY;
    const ms = s * 1000;
    return Math.floor(now / ms) * ms + ms;
  }

  private schedulePoll(c: ConnectorState): void {
    c.poll?.cancel();
    const s = c.session;
    if (!s || !this.running) return;
    const now = this.opts.clock.now();
    const due = Math.min(now + this.timing.meterPollIntervalMs, s.nextSampleAt, s.nextAlignedAt, s.nextCheckpointAt);
    // Due already: the reading for a sample or checkpoint failed or was refused. Read again at the
    // poll interval, not at once (that would read the meter back to back until it answers well).
    const delayMs = due > now ? due - now : this.timing.meterPollIntervalMs;
    c.poll = this.opts.clock.setTimeout(() => void this.poll(c), delayMs);
  }

  private async poll(c: ConnectorState): Promise<void> {
    const s = c.session;
    if (!s || s.stopping) return;
    try {
      const previousAt = s.lastReading.takenAt;
      const reading = await this.readMeter(c);
      if (c.session !== s || s.stopping) return;
      if (this.acceptReading(c, reading)) {
        const now = this.opts.clock.now();
        // The clock was set back (by the central system) since the last reading: the schedule
        // moves back with it, or samples and checkpoints would pause for as long as the correction.
        const setBackMs = previousAt - reading.takenAt;
        if (setBackMs > 0) {
          s.nextSampleAt -= setBackMs;
          s.nextCheckpointAt -= setBackMs;
          s.nextAlignedAt = this.nextAligned(now);
        }
        if (now >= s.nextCheckpointAt) {
          this.opts.ledger.checkpoint(s.record.localId, reading.energyWh, reading.takenAt);
          s.nextCheckpointAt = now + this.timing.checkpointIntervalMs;
        }
        if (now >= s.nextSampleAt) {
          this.recordSample(s, this.makeSample(reading, 'Sample.Periodic', this.opts.settings.list('MeterValuesSampledData'), c));
          s.nextSampleAt = now + this.sampleIntervalMs();
        }
        if (now >= s.nextAlignedAt) {
          this.recordSample(s, this.makeSample(reading, 'Sample.Clock', this.opts.settings.list('MeterValuesAlignedData'), c));
          s.nextAlignedAt = this.nextAligned(now);
        }
        this.enforceEnergyCap(c);
      }
    } catch (err) {
      c.meterErrors++;
      this.log.warn('meter read failed', { connectorId: c.id, err });
    } finally {
      if (c.session === s) this.schedulePoll(c);
    }
  }

  private recordSample(s: ActiveSession, sample: Sample): void {
    try {
      this.opts.ledger.sample(s.record.localId, sample, sample.measurands.length > 0);
      this.emit('queued');
    } catch (err) {
      this.log.error('meter sample could not be recorded', { localId: s.record.localId, err });
    }
  }

  /** Check a reading; a plausible one becomes the connector's last reading. */
  private acceptReading(c: ConnectorState, reading: MeterReading): boolean {
    const problem = checkReading(c.lastReading, reading, c.hw.maxPowerW, Boolean(c.session && !c.session.suspendedByEvse));
    if (problem) {
      this.log.warn('implausible meter reading refused', { connectorId: c.id, problem });
      this.setFault(c, 'meter-plausibility', 'PowerMeterFailure', problem);
      return false;
    }
    this.clearFault(c, 'meter-plausibility');
    // A register that stops moving while power flows is a stale meter: never bill it, never
    // republish its value with a fresh timestamp.
    const prev = c.lastReading;
    if (c.energyChangedAt === undefined || !prev || reading.energyWh !== prev.energyWh || !(reading.powerW && reading.powerW > 0)) c.energyChangedAt = reading.takenAt;
    if (c.session && !c.session.suspendedByEvse && !c.session.stopping) {
      const frozen = frozenRegister(c.energyChangedAt ?? reading.takenAt, reading);
      if (frozen) {
        this.log.warn('stale meter reading refused', { connectorId: c.id, problem: frozen });
        this.setFault(c, 'meter-stale', 'PowerMeterFailure', frozen);
        return false;
      }
    }
    this.clearFault(c, 'meter-stale');
    c.lastReading = reading;
    if (c.session) c.session.lastReading = reading;
    this.emit('reading', { connectorId: c.id, reading, sessionEnergyWh: c.session ? reading.energyWh - c.session.record.meterStartWh : undefined });
    this.refresh(c);
    return true;
  }

  private enforceEnergyCap(c: ConnectorState): void {
    const s = c.session;
    if (!s || s.maxEnergyWh === undefined || s.stopping) return;
    if (s.lastReading.energyWh - s.record.meterStartWh >= s.maxEnergyWh) {
      // StopTransactionOnInvalidId false (OCPP 1.6, Start Transaction): only energy delivery stops; the
      // transaction goes on (SuspendedEVSE) until the driver ends it.
      this.log.info('energy cap after late rejection reached: energy delivery stopped', { connectorId: c.id, capWh: s.maxEnergyWh });
      s.maxEnergyWh = undefined;
      s.suspendedByEvse = true;
      c.hw.powerPath.offer(0).catch((err) => {
        this.log.error('power path refused to open', { connectorId: c.id, err });
        this.setFault(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
      });
      this.refresh(c);
    }
  }

  private makeSample(reading: MeterReading, context: Sample['context'], measurands: string[], c?: ConnectorState): Sample {
    const sample: Sample = { takenAt: reading.takenAt, clockTrusted: this.opts.clock.trusted(), context, reading, measurands };
    if (c) sample.offered = this.offered(c);
    return sample;
  }

  /**
   * What the connector offers the vehicle now (Current.Offered, Power.Offered): the limit in
   * force in a session (0 while suspended by the charger), at a session's start (`startingNow`)
   * the limit that will apply, and outside a session nothing (0).
   */
  private offered(c: ConnectorState, startingNow = false): { currentA: number; powerW: number } {
    const s = c.session;
    let currentA = 0;
    if (s && !s.stopping) currentA = s.suspendedByEvse ? 0 : s.offeredA ?? this.limitBeforeFirstOffer(c);
    else if (startingNow) currentA = this.limitBeforeFirstOffer(c);
    const powerW = Math.min(c.hw.maxPowerW, currentA * c.hw.nominalVoltageV * c.hw.phases);
    return { currentA: Math.round(currentA * 10) / 10, powerW: Math.round(powerW) };
  }

  /** The connector's maximum, capped by the smart-charging limit a new session would get now. */
  private limitBeforeFirstOffer(c: ConnectorState): number {
    if (!this.opts.chargingLimits) return c.hw.maxCurrentA;
    try {
      return this.limitNow(c, { transactionId: undefined, startedAt: this.opts.clock.now() }).limitA;
    } catch {
      // energize() logs it when it applies the limit.
      return c.hw.maxCurrentA;
    }
  }

  /**
   * The connector's maximum capped by the smart-charging limit in force for it now, shared with
   * the other running sessions, and when that limit next changes. Throws when it cannot be computed.
   */
  private limitNow(c: ConnectorState, transaction: { transactionId: number | undefined; startedAt: number }): { limitA: number; at: number; nextChangeAt: number } {
    const at = this.opts.clock.now();
    const sharedBy = [...this.connectors.values()].filter((x) => x !== c && x.session && !x.session.stopping).length + 1;
    const lim = this.opts.chargingLimits!.limitAt({ connectorId: c.id, at, sharedBy, transaction });
    return { limitA: Math.min(c.hw.maxCurrentA, lim.limitA), at, nextChangeAt: lim.nextChangeAt };
  }

  /** Stop the session on a connector (local stop button, technician). */
  async stopConnector(connectorId: number, reason: StopReason): Promise<boolean> {
    const c = this.connectors.get(connectorId);
    if (!c?.session) return false;
    await this.stopSession(c, reason);
    return true;
  }

  private async stopSession(c: ConnectorState, reason: StopReason, idTag?: string): Promise<void> {
    const s = c.session;
    if (!s || s.stopping) return;
    s.stopping = true;
    c.poll?.cancel();
    c.limitTimer?.cancel();
    try {
      await c.hw.powerPath.offer(0);
    } catch (err) {
      this.log.error('power path refused to open', { connectorId: c.id, err });
      this.setFault(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
    }
    let reading = s.lastReading;
    try {
      const fresh = await this.readMeter(c);
      if (!checkReading(s.lastReading, fresh, c.hw.maxPowerW, false)) reading = fresh;
    } catch (err) {
      this.log.warn('final meter read failed: stopping with the last reading', { connectorId: c.id, err });
    }
    const now = this.opts.clock.now();
    // The End sample: the power path is open by now, nothing is offered any more.
    const end: Sample = {
      ...this.makeSample({ ...reading, takenAt: Math.max(reading.takenAt, s.lastReading.takenAt) }, 'Transaction.End', this.opts.settings.list('MeterValuesSampledData')),
      offered: { currentA: 0, powerW: 0 },
    };
    const stop: SessionStop = {
      stoppedAt: now, clockTrusted: this.opts.clock.trusted(), meterStopWh: Math.max(Math.round(reading.energyWh), s.record.meterStartWh),
      reason, idTag, end, transactionDataMeasurands: this.opts.settings.list('StopTxnSampledData'),
      transactionDataAlignedMeasurands: this.opts.settings.list('StopTxnAlignedData'),
    };
    try {
      this.opts.ledger.close(s.record.localId, stop);
    } catch (err) {
      // Disk full or failing: the stop is kept in memory and recorded as soon as the store takes
      // writes again (or, after a restart, the session is closed from its last checkpoint).
      this.log.error('session stop could not be recorded: will retry', { connectorId: c.id, localId: s.record.localId, err });
      this.unrecordedStops.set(s.record.localId, stop);
      this.onFault({ source: 'store', errorCode: 'InternalError', info: 'session ledger not writable', active: true });
    }
    c.session = undefined;
    c.lastReading = reading;
    c.finishing = c.vehicle !== 'disconnected';
    const energyWh = Math.max(0, Math.round(reading.energyWh) - s.record.meterStartWh);
    this.log.info('session stopped', { connectorId: c.id, localId: s.record.localId, reason, energyWh });
    this.emit('queued');
    this.emit('session-stopped', { connectorId: c.id, localId: s.record.localId, reason, energyWh });
    this.applyLimits();
    if (c.scheduledAvailability) {
      c.availability = c.scheduledAvailability;
      c.scheduledAvailability = undefined;
    }
    this.refresh(c);
  }

  private async recoverOpenSessions(): Promise<void> {
    // A meter without non-volatile memory resumes at the highest register the store knows, so a
    // connector's energy register never goes backwards across restarts.
    for (const c of this.connectors.values()) {
      if (!c.hw.meter.resume) continue;
      try {
        c.hw.meter.resume(this.opts.ledger.highestRegisterWh(c.id));
      } catch (err) {
        this.log.error('meter register could not be resumed from the store', { connectorId: c.id, err });
      }
    }
    for (const record of this.opts.ledger.active()) {
      const c = this.connectors.get(record.connectorId);
      let reading: MeterReading | undefined;
      if (c) {
        try {
          reading = await this.readMeter(c);
        } catch (err) {
          this.log.warn('meter unreadable while recovering a session', { connectorId: record.connectorId, err });
        }
      }
      // The highest durable reading: the last checkpoint or any sample recorded since (sent, or
      // queued to be sent), whichever is higher. No reading of the session may exceed its meterStop.
      const durable = this.opts.ledger.highestReading(record.localId) ?? { takenAt: record.lastCheckpointAt, energyWh: record.lastEnergyWh };
      // The same meter, still counting: its register now is at or above every durable reading, and
      // no further than the connector's power allows since then. It is then the true meterStop (the
      // energy drawn while the controller was down was delivered); otherwise the durable reading is.
      const continuous = reading !== undefined && reading.energyWh >= durable.energyWh
        && (c === undefined || !checkReading(durable, reading, c.hw.maxPowerW, false));
      if (reading !== undefined && !continuous) {
        this.log.warn('meter reading at restart does not continue the session: closing at its highest durable reading', {
          connectorId: record.connectorId, localId: record.localId, readingWh: reading.energyWh, durableWh: durable.energyWh,
        });
      }
      const vehicle = c?.hw.powerPath.vehicle();
      const plugged = vehicle !== undefined && vehicle !== 'disconnected';
      if (c && continuous && plugged && vehicle !== 'error' && (this.opts.resumePolicy ?? 'resume-or-stop') === 'resume-or-stop') {
        const now = this.opts.clock.now();
        c.lastReading = reading;
        c.session = {
          record, lastReading: reading!, suspendedByEvse: false, stopping: false,
          nextSampleAt: now + this.sampleIntervalMs(), nextAlignedAt: this.nextAligned(now), nextCheckpointAt: now + this.timing.checkpointIntervalMs,
        };
        this.log.info('session resumed after restart', { connectorId: c.id, localId: record.localId });
        await this.energize(c);
        this.schedulePoll(c);
        continue;
      }
      // Power loss: close with the last trustworthy energy reading.
      // Whole Wh, as every meterStop: the checkpoint keeps the meter's fractions, OCPP takes an integer.
      const lastKnown: MeterReading = continuous ? reading! : durable;
      const stopWh = Math.round(lastKnown.energyWh);
      const stoppedAt = continuous ? Math.max(durable.takenAt, Math.min(reading!.takenAt, this.opts.clock.now())) : durable.takenAt;
      try {
        this.opts.ledger.close(record.localId, {
          stoppedAt, clockTrusted: this.opts.clock.trusted(), meterStopWh: Math.max(stopWh, record.meterStartWh), reason: 'PowerLoss',
          end: { ...this.makeSample(lastKnown, 'Transaction.End', this.opts.settings.list('MeterValuesSampledData')), takenAt: stoppedAt, offered: { currentA: 0, powerW: 0 } },
          transactionDataMeasurands: this.opts.settings.list('StopTxnSampledData'),
          transactionDataAlignedMeasurands: this.opts.settings.list('StopTxnAlignedData'),
        });
        this.log.warn('session left open by the last run closed (PowerLoss)', { connectorId: record.connectorId, localId: record.localId, meterStopWh: stopWh });
        this.emit('queued');
        this.emit('session-stopped', { connectorId: record.connectorId, localId: record.localId, reason: 'PowerLoss', energyWh: Math.max(0, stopWh - record.meterStartWh) });
      } catch (err) {
        this.log.error('could not close a session left open', { localId: record.localId, err });
      }
      if (c && plugged) c.finishing = true;
    }
  }

  private derive(c: ConnectorState): ConnectorStatus {
    if (c.faults.size > 0 || this.blockingChargePointFault()) return 'Faulted';
    const s = c.session;
    if (s) {
      // While a session is being stopped its status holds until Finishing/Available.
      if (s.stopping && c.lastStatus) return c.lastStatus;
      if (s.suspendedByEvse || s.offeredA === 0) return 'SuspendedEVSE';
      if (c.vehicle === 'charging') return 'Charging';
      return 'SuspendedEV';
    }
    if (c.availability === 'Inoperative') return 'Unavailable';
    if (!c.pending && !c.finishing && this.opts.reservations?.holding(c.id, this.freeConnectorIds())) return 'Reserved';
    if (c.vehicle !== 'disconnected') return c.finishing ? 'Finishing' : 'Preparing';
    if (c.pending) return 'Preparing';
    return 'Available';
  }

  private refresh(c: ConnectorState): void {
    const status = this.derive(c);
    const fault = [...c.faults.values()][0] ?? this.blockingChargePointFault();
    const errorCode = fault?.errorCode ?? 'NoError';
    if (status === c.lastStatus && errorCode === c.lastErrorCode) return;
    c.lastStatus = status;
    c.lastErrorCode = errorCode;
    if (this.running) this.emit('status', { connectorId: c.id, status, errorCode, info: fault?.info, at: this.opts.clock.now() });
    // A connector-0 reservation holds whichever connectors are left free: the others may change too.
    if (this.opts.reservations) for (const o of this.connectors.values()) if (o !== c) this.refresh(o);
  }

  /**
   * A charge-point fault that stops charging (the store). A dead reader or screen does not:
   * remote starts still work; it shows as connector 0's errorCode (ReaderFailure) while Available.
   */
  private blockingChargePointFault(): FaultReport | undefined {
    for (const f of this.chargePointFaults.values()) if (f.errorCode !== 'ReaderFailure') return f;
    return undefined;
  }

  private chargePointStatus(): ConnectorStatus {
    if (this.blockingChargePointFault()) return 'Faulted';
    return this.chargePointAvailability === 'Inoperative' ? 'Unavailable' : 'Available';
  }

  private refreshChargePoint(): void {
    const now = this.status(0);
    const key = `${now.status}/${now.errorCode}`;
    if (key !== this.lastCp0Status && this.running) {
      this.lastCp0Status = key;
      this.emit('status', now);
    }
    for (const c of this.connectors.values()) this.refresh(c);
  }
}
