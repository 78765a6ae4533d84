import { EventEmitter } from 'node:events';
import type { Log } from '../lib/log.js';
import { Admission } from './admission.js';
import type { AuthorizationDecision } from './authorization.js';
import {
  EvseState, defaultTiming, PILOT_FAULT, RefusedError, StationState,
  type ChargePointEvents, type ChargePointTiming, type CoreBase, type StatusChange,
} from './core-state.js';
import { Faults } from './faults.js';
import { Limits } from './limits.js';
import { Metering } from './metering.js';
import type { ChargingPolicy } from './policy.js';
import type {
  AuthMethod, AuthorizationData, Availability, Clock, ConnectorRef, EvseCondition, EvseHardware, EvseId, FaultReport, FaultSource,
  IdReader, IdTokenType, AuthorizationInfo, MeterReading, PresentedToken, RemoteAuthorizer, Sample, SessionLedger, StationCondition, StopReason,
  VehicleState,
} from './ports.js';
import { ONLY_CONNECTOR_ID } from './ports.js';
import type { ReservationPolicy } from './reservations.js';
import { Sessions } from './sessions.js';
import type { ChargingLimits } from './smart-charging/index.js';
import { StatusBoard } from './status.js';

export { RefusedError };
export type { ChargePointEvents, ChargePointTiming, StatusChange };

export interface ChargePointOptions {
  chargePointId: string;
  /** The station's EVSEs (one connector each). */
  evses: EvseHardware[];
  idReaders: IdReader[];
  faultSources?: FaultSource[];
  ledger: SessionLedger;
  authData: AuthorizationData;
  remote: RemoteAuthorizer;
  /** What the core decides by, read live (the version binding builds it from its keys). */
  policy: ChargingPolicy;
  clock: Clock;
  log: Log;
  /** Keyed pseudonym of an idTag, for logs and events. */
  pseudonym: (idTag: string) => string;
  timing?: Partial<ChargePointTiming>;
  /** What to do with a session found open at boot. */
  resumePolicy?: 'resume-or-stop' | 'stop';
  /** Start a session on plug-in without authorisation, as this idTag (free vend). */
  freeVendIdTag?: string;
  /** A second presentation of the tag that started a session, or of a tag of its group (same groupId), stops it. */
  stopOnSecondPresentation?: boolean;
  /** Smart charging: the current limit in force per EVSE. */
  chargingLimits?: ChargingLimits;
  /** Reservations: who may start where. */
  reservations?: ReservationPolicy;
}

/**
 * One charge point: the station and its EVSEs, their sessions and the authorisation decisions. It knows
 * the ports only: no OCPP, no Modbus, no MQTT, and nothing of simulation. This class composes
 * the parts (status, faults, limits, metering, sessions, admission), routes the hardware's events
 * to them and is the core's one public face.
 */
export class ChargePoint extends EventEmitter<ChargePointEvents> {
  readonly id: string;
  private readonly evses = new Map<EvseId, EvseState>();
  private readonly log: Log;
  private readonly board: StatusBoard;
  private readonly faults: Faults;
  private readonly limits: Limits;
  private readonly metering: Metering;
  private readonly sessions: Sessions;
  private readonly admission: Admission;
  private readonly station = new StationState();
  private unsubscribers: (() => void)[] = [];
  private running = false;

  constructor(private readonly opts: ChargePointOptions) {
    super();
    this.id = opts.chargePointId;
    this.log = opts.log;
    for (const hw of opts.evses) this.evses.set(hw.evseId, new EvseState(hw));
    const base: CoreBase = {
      evses: this.evses, station: this.station, clock: opts.clock, log: opts.log,
      timing: { ...defaultTiming, ...opts.timing },
      emit: (event, ...args) => void (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
      running: () => this.running,
    };
    this.board = new StatusBoard(base, opts.reservations);
    this.faults = new Faults(base, this.board, {
      storeWritable: () => this.sessions.recordPendingStops(),
      cleared: (c) => void this.sessions.maybeStart(c),
    });
    this.limits = new Limits(base, {
      chargingLimits: opts.chargingLimits, statuses: this.board, faults: this.faults,
    });
    this.metering = new Metering(base, {
      ledger: opts.ledger, policy: opts.policy.metering, statuses: this.board, faults: this.faults, limits: this.limits,
      meterBack: (c) => void this.sessions.maybeStart(c),
    });
    this.limits.onLimitChanged = (c, fromA, toA) => this.metering.recordLimitChange(c, fromA, toA);
    this.sessions = new Sessions(base, {
      ledger: opts.ledger, metering: opts.policy.metering, meter: this.metering, limits: this.limits, faults: this.faults,
      statuses: this.board, reservations: opts.reservations, pseudonym: opts.pseudonym, resumePolicy: opts.resumePolicy ?? 'resume-or-stop',
    });
    this.admission = new Admission(base, {
      policy: opts.policy, authData: opts.authData, remote: opts.remote, statuses: this.board, sessions: this.sessions,
      meter: this.metering, reservations: opts.reservations, pseudonym: opts.pseudonym,
      stopOnSecondPresentation: opts.stopOnSecondPresentation ?? true,
    });
  }

  /** The EVSEs' ids (1..n). */
  get evseIds(): EvseId[] {
    return [...this.evses.keys()];
  }

  /** Whether the station has this connector (today: connector 1 of each EVSE). */
  hasConnector(ref: ConnectorRef): boolean {
    return this.evses.has(ref.evseId) && ref.connectorId === ONLY_CONNECTOR_ID;
  }

  /** Subscribe to the hardware, and resume or close the sessions left open by the last run. */
  async start(): Promise<void> {
    this.running = true;
    for (const c of this.evses.values()) {
      c.vehicle = c.hw.powerPath.vehicle();
      if (c.vehicle !== 'disconnected' && c.vehicle !== 'error') c.vehicleSince = this.opts.clock.now();
      if (c.vehicle === 'error') this.faults.set(c, PILOT_FAULT.source, PILOT_FAULT.errorCode, PILOT_FAULT.info);
      this.unsubscribers.push(c.hw.powerPath.onVehicleChange((v) => this.onVehicle(c, v)));
    }
    for (const reader of this.opts.idReaders) {
      this.unsubscribers.push(reader.onToken((t) => void this.presentToken(t).catch((err) => this.log.error('token handling failed', { err }))));
    }
    for (const source of this.opts.faultSources ?? []) {
      this.unsubscribers.push(source.onFault((f) => this.faults.report(f)));
    }
    if (this.opts.chargingLimits) this.unsubscribers.push(this.opts.chargingLimits.onChange(() => this.limits.applyAll()));
    if (this.opts.reservations) this.unsubscribers.push(this.opts.reservations.onChange(() => this.board.refreshStation()));
    await this.sessions.recover();
    await this.learnMeterKeys();
    for (const c of this.evses.values()) {
      this.board.refresh(c);
      if (!c.session) this.metering.schedule(c);
    }
    this.board.refreshStation();
  }

  /** Stop timers and listeners; open sessions stay open in the ledger (resumed at next start). */
  stop(): void {
    this.running = false;
    for (const u of this.unsubscribers.splice(0)) u();
    for (const c of this.evses.values()) {
      c.poll?.cancel();
      c.probe?.cancel();
      c.pending?.expires.cancel();
      c.limitTimer?.cancel();
    }
  }

  // ---------------------------------------------------------------- queries

  /** An EVSE's condition now (its one connector's); an unknown EVSE is refused (ERR_NO_SUCH_EVSE). */
  evseCondition(evseId: EvseId): EvseCondition {
    return this.board.evseCondition(this.evse(evseId));
  }

  /**
   * A signing meter's public key (hex DER SubjectPublicKeyInfo), as it last gave it: asked at
   * start, and taken from every signed reading. Undefined for a meter that does not sign (or has
   * not answered yet).
   */
  meterPublicKey(evseId: EvseId): string | undefined {
    return this.evse(evseId).meterPublicKey;
  }

  /** Ask each signing meter for its public key (the display shows it, the central system may read it). */
  private async learnMeterKeys(): Promise<void> {
    for (const c of this.evses.values()) {
      const signer = c.hw.meter.signer;
      if (!signer || c.meterPublicKey) continue;
      try {
        c.meterPublicKey = await signer.publicKey();
      } catch (err) {
        this.log.warn('signing meter did not give its public key', { evseId: c.id, err });
      }
    }
  }

  /** Every EVSE's condition now. */
  evseConditions(): EvseCondition[] {
    return [...this.evses.values()].map((c) => this.board.evseCondition(c));
  }

  /** The station's own condition now (its availability and faults). */
  stationCondition(): StationCondition {
    return this.board.stationCondition();
  }

  /**
   * The conditions last announced by status events (an EVSE's also while the core was not
   * running), for a listener that subscribes after start: what it would have seen last.
   */
  announcedConditions(): { station?: StationCondition; evses: EvseCondition[] } {
    return this.board.announced();
  }

  session(evseId: EvseId): { localId: string; energyWh: number; powerW?: number; startedAt: number; authMethod: AuthMethod } | undefined {
    const s = this.evses.get(evseId)?.session;
    if (!s) return undefined;
    return {
      localId: s.record.localId,
      energyWh: s.lastReading.energyWh - s.record.meterStartWh,
      powerW: s.lastReading.powerW,
      startedAt: s.record.startedAt,
      authMethod: s.record.authMethod,
    };
  }

  /**
   * The authorisation an EVSE waits on for its session (a card or a remote start before the
   * vehicle, or while the session is being opened), and whether a vehicle is there; undefined when none.
   */
  pendingAuthorization(evseId: EvseId): { idTag: string; idTokenType?: IdTokenType; remoteStartId?: number; vehicleConnected: boolean } | undefined {
    const c = this.evses.get(evseId);
    if (!c?.pending) return undefined;
    const p = c.pending;
    return {
      idTag: p.idTag, ...(p.idTokenType ? { idTokenType: p.idTokenType } : {}), ...(p.remoteStartId !== undefined ? { remoteStartId: p.remoteStartId } : {}),
      vehicleConnected: c.vehicle !== 'disconnected' && c.vehicle !== 'error',
    };
  }

  /** When the vehicle on an EVSE connected (this run's start, if it was there already); undefined while none is. */
  vehicleConnectedAt(evseId: EvseId): number | undefined {
    return this.evses.get(evseId)?.vehicleSince;
  }

  lastReading(evseId: EvseId): MeterReading | undefined {
    return this.evses.get(evseId)?.lastReading;
  }

  /** Faults and error counters per EVSE, for diagnostics. */
  hardwareHealth(): { evseId: EvseId; faults: FaultReport[]; meterErrors: number; lastReadingAt: number | null }[] {
    return [...this.evses.values()].map((c) => ({
      evseId: c.id, faults: [...c.faults.values()], meterErrors: c.meterErrors, lastReadingAt: c.lastReading?.takenAt ?? null,
    }));
  }

  /** The faults of the station as a whole (a reader, the store). */
  stationFaults(): FaultReport[] {
    return this.faults.stationFaults();
  }

  hasActiveSession(): boolean {
    return [...this.evses.values()].some((c) => c.session);
  }

  /** Whether a fault from `source` is active (on the station or any EVSE). */
  hasFault(source: string): boolean {
    return this.faults.has(source);
  }

  // ---------------------------------------------------------------- commands

  /** An RFID card or a touchscreen code was presented. */
  presentToken(token: PresentedToken): Promise<AuthorizationDecision | 'stopped' | 'ignored'> {
    return this.admission.presentToken(token);
  }

  /**
   * A remote start on an EVSE, or on any (1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction
   * with its remoteStartId, which the session's opening event records; `type`, the token's kind
   * when the protocol says it, goes with its authorisation; `groupId`, the group the central
   * system starts it for (2.0.1 groupIdToken), when its Authorize gives none). Returns whether it was accepted.
   */
  remoteStart(idTag: string, evseId?: EvseId, remoteStartId?: number, type?: IdTokenType, groupId?: string): Promise<boolean> {
    return this.admission.remoteStart(idTag, evseId, remoteStartId, type, groupId);
  }

  /**
   * A remote stop of the session with this local id (the version binding resolves the protocol's
   * transaction id to it). Whether that session is running here.
   */
  async remoteStop(localId: string): Promise<boolean> {
    const c = [...this.evses.values()].find((x) => x.session?.record.localId === localId);
    if (!c?.session) return false;
    void this.sessions.stop(c, 'Remote').catch((err) => this.log.error('remote stop failed', { err }));
    return true;
  }

  /** Stop every session (reset, shutdown). */
  async stopAll(reason: StopReason): Promise<void> {
    await Promise.all([...this.evses.values()].filter((c) => c.session).map((c) => this.sessions.stop(c, reason)));
  }

  /** Stop the session on an EVSE (local stop button, technician, a reset of the EVSE). */
  async stopEvse(evseId: EvseId, reason: StopReason): Promise<boolean> {
    const c = this.evses.get(evseId);
    if (!c?.session) return false;
    await this.sessions.stop(c, reason);
    return true;
  }

  /**
   * Withdraw the authorisation an EVSE waits on, before its session opens (a protocol's
   * transaction begun by that authorisation was stopped remotely). Whether there was one.
   */
  withdrawAuthorization(evseId: EvseId): boolean {
    const c = this.evses.get(evseId);
    if (!c?.pending || c.session) return false;
    c.dropPending();
    this.board.refresh(c);
    return true;
  }

  /** An EVSE's availability (an unknown EVSE: Rejected; Scheduled while its session runs). */
  changeAvailability(evseId: EvseId, type: Availability): 'Accepted' | 'Rejected' | 'Scheduled' {
    const c = this.evses.get(evseId);
    if (!c) return 'Rejected';
    return this.setAvailability([c], type);
  }

  /** The station's availability, and every EVSE's with it (Scheduled where a session runs). */
  changeStationAvailability(type: Availability): 'Accepted' | 'Scheduled' {
    this.station.availability = type;
    return this.setAvailability([...this.evses.values()], type) === 'Scheduled' ? 'Scheduled' : 'Accepted';
  }

  private setAvailability(targets: EvseState[], type: Availability): 'Accepted' | 'Scheduled' {
    let scheduled = false;
    for (const c of targets) {
      if (c.session && type === 'Inoperative') {
        c.scheduledAvailability = type;
        scheduled = true;
      } else {
        c.availability = type;
        c.scheduledAvailability = undefined;
        if (type === 'Inoperative' && c.pending) c.dropPending();
        this.board.refresh(c);
      }
    }
    this.board.refreshStation();
    return scheduled ? 'Scheduled' : 'Accepted';
  }

  /**
   * UnlockConnector: stops the session on its EVSE first (reason UnlockCommand). A connector
   * without a lock, or unknown, has nothing to unlock: NotSupported, and its session goes on
   * (OCPP 1.6 §5.18).
   */
  async unlock(ref: ConnectorRef): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'> {
    const c = this.hasConnector(ref) ? this.evses.get(ref.evseId) : undefined;
    if (!c || !c.hw.powerPath.hasLock()) return 'NotSupported';
    if (c.session) await this.sessions.stop(c, 'UnlockCommand');
    return c.hw.powerPath.unlock();
  }

  /** The central system's late verdict on a tag that started a session (1.6 StartTransaction.conf). */
  transactionConfirmed(localId: string, info: AuthorizationInfo, idTag: string | null): Promise<void> {
    return this.admission.transactionConfirmed(localId, info, idTag);
  }

  /**
   * The central system's word on a tag in a transaction answer (StartTransaction.conf,
   * StopTransaction.conf): into the authorisation cache, when it is enabled.
   */
  tagVerdict(idTag: string, info: AuthorizationInfo): void {
    this.admission.tagVerdict(idTag, info);
  }

  /** A fresh sample now (TriggerMessage MeterValues). */
  async triggerSample(evseId: EvseId): Promise<Sample | undefined> {
    const c = this.evses.get(evseId);
    return c ? this.metering.trigger(c) : undefined;
  }

  /** The metering settings changed (clock-aligned interval): every EVSE's metering deadlines are drawn again. */
  meteringChanged(): void {
    for (const c of this.evses.values()) this.metering.policyChanged(c);
  }

  /**
   * A fresh sample of the EVSE's running session, queued among the session's events (2.0.1
   * TriggerMessage TransactionEvent); undefined without a session (or when it could not be recorded).
   */
  async triggerSessionSample(evseId: EvseId): Promise<Sample | undefined> {
    const c = this.evses.get(evseId);
    return c ? this.metering.trigger(c, true) : undefined;
  }

  /** A fault raised or cleared by the application (e.g. the store is writable again). */
  reportFault(f: FaultReport): void {
    this.faults.report(f);
  }

  // ---------------------------------------------------------------- hardware events

  private evse(id: EvseId): EvseState {
    const c = this.evses.get(id);
    if (!c) throw new RefusedError('ERR_NO_SUCH_EVSE', `no EVSE ${id}`);
    return c;
  }

  private onVehicle(c: EvseState, v: VehicleState): void {
    const before = c.vehicle;
    c.vehicle = v;
    if (v === 'disconnected') c.vehicleSince = undefined;
    else if (v !== 'error' && (before === 'disconnected' || c.vehicleSince === undefined)) c.vehicleSince = this.opts.clock.now();
    this.log.debug('vehicle state', { evseId: c.id, from: before, to: v });
    if (v === 'error') {
      this.onPilotError(c);
      return;
    }
    if (before === 'error') {
      this.log.info('EVSE board out of its error state', { evseId: c.id, vehicle: v });
      if (c.clearFault(PILOT_FAULT.source)) this.emit('fault', { evseId: c.id, fault: { ...PILOT_FAULT, active: false } });
    }
    if (v === 'disconnected') {
      c.finishing = false;
      if (c.session && !c.session.stopping) {
        if (this.opts.policy.transaction.stopOnEvSideDisconnect) {
          void this.sessions.stop(c, 'EVDisconnected');
        } else {
          void c.hw.powerPath.offer(0);
        }
      }
      if (this.opts.policy.transaction.unlockOnEvSideDisconnect) void c.hw.powerPath.unlock();
    } else if ((before === 'disconnected' || (before === 'error' && !c.finishing)) && !c.session) {
      // A plug-in, or a board well again with a vehicle that had no session: as a plug-in.
      if (!c.pending && this.opts.freeVendIdTag && this.board.usable(c)) {
        this.admission.freeVend(c, this.opts.freeVendIdTag);
        return;
      }
      void this.sessions.maybeStart(c, 'EVConnected');
    } else if (before === 'disconnected' && c.session && !c.session.stopping) {
      // Plugged back into a session kept when the cable was pulled at the car
      // (policy.transaction.stopOnEvSideDisconnect false): the power path was opened then, offer again.
      c.session.offeredA = undefined;
      void this.limits.energize(c);
    }
    this.board.refresh(c);
  }

  /**
   * The EVSE board reports an error (IEC 61851 state E/F: pilot short, diode check failed, the
   * board's own failure): no energy can flow. The connector is Faulted until the board leaves the
   * state; an authorisation waiting for a vehicle is dropped, a running session is stopped
   * (reason Other: 1.6 has no fault reason) rather than left open on a connector that cannot
   * charge, and a session may start again once the board is well.
   */
  private onPilotError(c: EvseState): void {
    this.log.warn('EVSE board reports an error: connector faulted', { evseId: c.id });
    this.faults.set(c, PILOT_FAULT.source, PILOT_FAULT.errorCode, PILOT_FAULT.info);
    this.emit('fault', { evseId: c.id, fault: { ...PILOT_FAULT, active: true } });
    if (c.pending) {
      c.dropPending();
      this.board.refresh(c);
    }
    if (c.session && !c.session.stopping) void this.sessions.stop(c, 'Other').catch((err) => this.log.error('stop after a board error failed', { evseId: c.id, err }));
  }
}
