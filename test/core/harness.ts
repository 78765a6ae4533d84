/**
 * The ChargePoint core built directly, with in-memory ports and a manual clock: no sockets, no
 * SQLite, no wall-clock waits. Every construction of the core and every in-memory port lives
 * here, so that when the core's constructor or ports change only this file changes; the tests
 * speak the small API of `Harness` (plug, present, advance, statuses, ledger contents).
 *
 * Determinism: the in-memory ports answer with promises that are already settled, and the core
 * reaches time only through the Clock port, so "settled" is simply "the microtask queue is
 * empty", which one turn of the event loop (setImmediate) guarantees. Time moves only in
 * `advance()`.
 */
import { ChargePoint, type ChargePointTiming } from '../../src/core/charge-point.js';
import type {
  AuthMethod, AuthorizationData, AuthorizationInfo, Clock, ConnectorErrorCode, EvseHardware, FaultReport, FaultSource,
  IdReader, Meter, MeterReading, NewSession, PowerPath, PresentedToken, RemoteAuthorizer, Sample, SessionLedger,
  SessionRecord, SessionStop, StopReason, Timer, VehicleState,
} from '../../src/core/ports.js';
import type { Settings } from '../../src/ocpp/v16/store-ports.js';
import { ANY_EVSE, MemoryReservationStore, Reservations, type ReserveStatus } from '../../src/core/reservations.js';
import { MemoryChargingProfileStore, SmartCharging, type Electrical } from '../../src/core/smart-charging/index.js';
import { EvseError } from '../../src/lib/errors.js';
import { silentLog } from '../../src/lib/log.js';
import {
  fromV16IdTagInfo, toV16Status, V16StatusChanges, v16StatusOf, type ChargePointErrorCode, type ChargePointStatus, type IdTagInfo, type V16Status,
} from '../../src/ocpp/v16/mapping.js';
import { policyFromSettings } from '../../src/ocpp/v16/policy.js';
import { fromV16Profile, targetOfConnector, type ChargingProfile } from '../../src/ocpp/v16/charging-profiles.js';
import { changeV16Availability, fromV16ConnectorId, v16ConditionOf, type V16Condition } from '../../src/ocpp/v16/topology.js';

/**
 * The tests speak OCPP 1.6's values where the central system or the configuration does (key
 * names, IdTagInfo with parentIdTag): the harness turns them into the core's vocabulary with the
 * 1.6 binding's own functions (policyFromSettings, fromV16IdTagInfo), as the runtime does. The
 * statuses observed are 1.6's, derived from the core's conditions as the link derives them
 * (v16StatusOf, and a status event counts when its 1.6 status or errorCode changed).
 */
export type { IdTagInfo };

/** 2026-06-01T12:00:00.000Z: a whole hour, so clock-aligned boundaries are easy to name. */
export const T0 = Date.UTC(2026, 5, 1, 12);

/** One turn of the event loop: every promise chain of the in-memory ports has run. No time passes. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ------------------------------------------------------------------------------ clock

/** The Clock port with a queue of timers that run only when the test advances time. */
export class ManualClock implements Clock {
  static readonly MAX_TIMERS_PER_INSTANT = 1_000;
  private timers: { at: number; fn: () => void; seq: number }[] = [];
  private seq = 0;
  constructor(private t = T0, private isTrusted = true) {}
  now(): number {
    return this.t;
  }
  trusted(): boolean {
    return this.isTrusted;
  }
  setTrusted(v: boolean): void {
    this.isTrusted = v;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const seq = ++this.seq;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, seq });
    return { cancel: () => { this.timers = this.timers.filter((x) => x.seq !== seq); } };
  }
  /**
   * The clock set (from the central system's currentTime), as SystemClock.set does: now() jumps,
   * timers keep the delay they had left (they run on the machine's monotonic time).
   */
  set(epochMs: number): void {
    const delta = epochMs - this.t;
    this.t = epochMs;
    for (const x of this.timers) x.at += delta;
    this.isTrusted = true;
  }
  /** Timers waiting. */
  get pending(): number {
    return this.timers.length;
  }
  /**
   * Move time forward by `ms`, running each timer due on the way at its own instant, in order
   * (by due time, then by creation), with every promise chain it starts settled before the next.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    let sameInstant = 0;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      sameInstant = next.at === this.t ? sameInstant + 1 : 0;
      // Code that keeps setting 0 ms timers would spin here forever (and busy-loop on a real clock).
      if (sameInstant > ManualClock.MAX_TIMERS_PER_INSTANT) {
        throw new Error(`timer loop: more than ${ManualClock.MAX_TIMERS_PER_INSTANT} timers ran at ${new Date(this.t).toISOString()} without time passing`);
      }
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
  /** Advance to an absolute instant. */
  advanceTo(at: number): Promise<void> {
    return this.advance(Math.max(0, at - this.t));
  }
}

// ------------------------------------------------------------------------------ settings

/** OCPP 1.6 defaults of the keys the core reads (src/ocpp/v16/configuration.ts), as wire strings. */
export const DEFAULT_SETTINGS: Readonly<Record<string, string>> = {
  AllowOfflineTxForUnknownId: 'false',
  AuthorizationCacheEnabled: 'true',
  AuthorizeRemoteTxRequests: 'false',
  ClockAlignedDataInterval: '0',
  ConnectionTimeOut: '60',
  LocalAuthListEnabled: 'true',
  LocalAuthorizeOffline: 'true',
  LocalPreAuthorize: 'false',
  MaxEnergyOnInvalidId: '0',
  MeterValuesAlignedData: 'Energy.Active.Import.Register',
  MeterValuesSampledData: 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage',
  MeterValueSampleInterval: '60',
  StopTransactionOnEVSideDisconnect: 'true',
  StopTransactionOnInvalidId: 'true',
  StopTxnAlignedData: '',
  StopTxnSampledData: 'Energy.Active.Import.Register',
  UnlockConnectorOnEVSideDisconnect: 'true',
  ReserveConnectorZeroSupported: 'true',
};

export type SettingValue = string | number | boolean;

/** Settings as a Map of key → wire value, read live (a change applies at the next read). */
export class MemorySettings implements Settings {
  readonly values = new Map<string, string>();
  constructor(overrides: Record<string, SettingValue> = {}) {
    for (const [k, v] of Object.entries(DEFAULT_SETTINGS)) this.values.set(k, v);
    for (const [k, v] of Object.entries(overrides)) this.set(k, v);
  }
  set(key: string, value: SettingValue): void {
    this.values.set(key, String(value));
  }
  private get(key: string): string {
    const v = this.values.get(key);
    if (v === undefined) throw new Error(`the core read a key the harness does not define: ${key}`);
    return v;
  }
  int(key: string): number {
    return Number.parseInt(this.get(key), 10);
  }
  bool(key: string): boolean {
    return this.get(key).toLowerCase() === 'true';
  }
  list(key: string): string[] {
    return this.get(key).split(',').map((x) => x.trim()).filter(Boolean);
  }
}

// ------------------------------------------------------------------------------ ledger

export interface QueuedMessage {
  kind: 'start' | 'meter' | 'stop';
  localId: string;
  at: number;
  /** start: NewSession; meter: Sample; stop: SessionStop. */
  body: NewSession | Sample | SessionStop;
}

/** A session as the store keeps it: the core's record and the central system's transactionId (SqliteLedger's LedgerRecord). */
export type LedgerRecord = SessionRecord & { transactionId: number | null };

interface StoredSession {
  record: LedgerRecord;
  samples: Sample[];
}

/**
 * The SessionLedger in memory, with SqliteLedger's rules: a checkpoint only moves forward, a
 * closed session cannot be closed again, each change queues its transaction message.
 * `failWrites` makes every write throw (a full or failing disk).
 */
export class MemoryLedger implements SessionLedger {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly registers = new Map<number, number>();
  readonly outbox: QueuedMessage[] = [];
  failWrites = false;
  private nextId = 1;

  constructor(private readonly pseudonym: (idTag: string) => string = refOf) {}

  private writable(): void {
    if (this.failWrites) throw new EvseError('ERR_STORE_WRITE', 'disk I/O error (injected)');
  }

  open(input: NewSession): SessionRecord {
    this.writable();
    const localId = `s${this.nextId++}`;
    const record: LedgerRecord = {
      localId, evseId: input.evseId, transactionId: null, idTag: input.idTag, customerRef: this.pseudonym(input.idTag),
      authMethod: input.authMethod, startedAt: input.startedAt, startClockTrusted: input.clockTrusted, meterStartWh: input.meterStartWh,
      lastEnergyWh: input.meterStartWh, lastCheckpointAt: input.startedAt, stoppedAt: null, meterStopWh: null, stopReason: null,
      reservationId: input.reservationId ?? null,
    };
    this.sessions.set(localId, { record, samples: [input.begin] });
    this.outbox.push({ kind: 'start', localId, at: input.startedAt, body: input });
    return { ...record };
  }

  sample(localId: string, sample: Sample, queue: boolean): void {
    this.writable();
    const s = this.must(localId);
    s.samples.push(sample);
    if (queue) this.outbox.push({ kind: 'meter', localId, at: sample.takenAt, body: sample });
  }

  checkpoint(localId: string, energyWh: number, at: number): void {
    this.writable();
    const s = this.sessions.get(localId);
    if (!s || s.record.stoppedAt !== null || s.record.lastEnergyWh > energyWh) return;
    s.record.lastEnergyWh = energyWh;
    s.record.lastCheckpointAt = at;
  }

  close(localId: string, stop: SessionStop): void {
    this.writable();
    const s = this.must(localId);
    if (s.record.stoppedAt !== null) throw new EvseError('ERR_SESSION_CLOSED', `session ${localId} is not open`);
    Object.assign(s.record, {
      stoppedAt: stop.stoppedAt, meterStopWh: stop.meterStopWh, stopReason: stop.reason,
      lastEnergyWh: Math.max(s.record.lastEnergyWh, stop.meterStopWh), lastCheckpointAt: Math.max(s.record.lastCheckpointAt, stop.stoppedAt),
    });
    s.samples.push(stop.end);
    this.outbox.push({ kind: 'stop', localId, at: stop.stoppedAt, body: stop });
    const reg = Math.max(stop.meterStopWh, stop.end.reading.energyWh);
    this.registers.set(s.record.evseId, Math.max(this.registers.get(s.record.evseId) ?? 0, reg));
  }

  active(): SessionRecord[] {
    return [...this.sessions.values()].filter((s) => s.record.stoppedAt === null).map((s) => ({ ...s.record }))
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  highestReading(localId: string): MeterReading | undefined {
    const s = this.sessions.get(localId);
    if (!s) return undefined;
    const checkpoint: MeterReading = { takenAt: s.record.lastCheckpointAt, energyWh: s.record.lastEnergyWh };
    let top: Sample | undefined;
    for (const x of s.samples) if (!top || x.reading.energyWh > top.reading.energyWh || (x.reading.energyWh === top.reading.energyWh && x.takenAt > top.takenAt)) top = x;
    if (!top) return checkpoint;
    const sample: MeterReading = { ...top.reading, takenAt: top.takenAt };
    if (sample.energyWh > checkpoint.energyWh) return sample;
    return sample.energyWh === checkpoint.energyWh ? { ...sample, takenAt: Math.max(sample.takenAt, checkpoint.takenAt) } : checkpoint;
  }

  highestRegisterWh(evseId: number): number {
    let max = this.registers.get(evseId) ?? 0;
    for (const s of this.sessions.values()) {
      if (s.record.evseId !== evseId) continue;
      max = Math.max(max, s.record.lastEnergyWh, s.record.meterStopWh ?? 0, ...s.samples.map((x) => x.reading.energyWh));
    }
    return max;
  }

  byTransactionId(transactionId: number): LedgerRecord | undefined {
    const all = [...this.sessions.values()].filter((s) => s.record.transactionId === transactionId).sort((a, b) => b.record.startedAt - a.record.startedAt);
    return all[0] && { ...all[0].record };
  }

  get(localId: string): LedgerRecord | undefined {
    const s = this.sessions.get(localId);
    return s && { ...s.record };
  }

  // ---- for tests

  /** The central system's transactionId for a session (StartTransaction.conf). */
  confirmStart(localId: string, transactionId: number): void {
    this.must(localId).record.transactionId = transactionId;
  }

  /** Every session, oldest first. */
  records(): LedgerRecord[] {
    return [...this.sessions.values()].map((s) => ({ ...s.record }));
  }

  /** Every recorded sample of a session, in the order recorded. */
  samples(localId: string): Sample[] {
    return [...this.must(localId).samples];
  }

  /** The queued messages of one kind (or all), in the order queued. */
  queued(kind?: QueuedMessage['kind']): QueuedMessage[] {
    return this.outbox.filter((m) => kind === undefined || m.kind === kind);
  }

  private must(localId: string): StoredSession {
    const s = this.sessions.get(localId);
    if (!s) throw new EvseError('ERR_NO_SESSION', `no session ${localId}`);
    return s;
  }
}

// ------------------------------------------------------------------------------ authorisation

export class MemoryAuthorizationData implements AuthorizationData {
  readonly list = new Map<string, AuthorizationInfo>();
  readonly cache = new Map<string, AuthorizationInfo>();
  localListEntry(idTag: string): AuthorizationInfo | undefined {
    return this.list.get(idTag);
  }
  cacheEntry(idTag: string): AuthorizationInfo | undefined {
    return this.cache.get(idTag);
  }
  cachePut(idTag: string, info: AuthorizationInfo): void {
    this.cache.set(idTag, info);
  }
}

/**
 * The central system as the core sees it: online or not, with scripted answers per tag (absent:
 * Invalid; `null`: it could not be asked, as on a timeout). `hold()` keeps answers until
 * `release()`, for a decision still on its way.
 */
export class ScriptedRemote implements RemoteAuthorizer {
  isOnline = true;
  readonly answers = new Map<string, IdTagInfo | null>();
  readonly asked: string[] = [];
  private held: (() => void)[] | undefined;
  online(): boolean {
    return this.isOnline;
  }
  async authorize(idTag: string): Promise<AuthorizationInfo | undefined> {
    this.asked.push(idTag);
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    const a = this.answers.get(idTag);
    if (a === null) return undefined;
    return fromV16IdTagInfo(a ?? { status: 'Invalid' });
  }
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const h = this.held ?? [];
    this.held = undefined;
    for (const r of h) r();
  }
}

// ------------------------------------------------------------------------------ hardware

/**
 * An energy meter: a register the test sets, or that grows with `powerW` as the clock moves;
 * failures injected per read. Takes the clock to integrate power.
 */
export class MemoryMeter implements Meter {
  energyWh: number;
  powerW = 0;
  /** Reads that will fail next; Infinity: until cleared. */
  failing = 0;
  reads = 0;
  /** A stale meter: it reports `powerW` but its register no longer moves. */
  frozen = false;
  private lastAt: number;
  /** With `volatile`, a `resume(registerWh)` method like a meter without non-volatile memory. */
  resume?: (registerWh: number) => void;
  resumedWith: number[] = [];

  constructor(private readonly clock: Clock, initialWh: number, volatile = false) {
    this.energyWh = initialWh;
    this.lastAt = clock.now();
    if (volatile) {
      this.resume = (registerWh) => {
        this.resumedWith.push(registerWh);
        if (registerWh > this.energyWh) this.energyWh = registerWh;
      };
    }
  }

  /** Power drawn from now on, W: the register grows with it as time passes. */
  draw(powerW: number): void {
    this.integrate();
    this.powerW = powerW;
  }

  /** Set the register (a jump, a meter swapped, a register that went backwards). */
  set(energyWh: number): void {
    this.integrate();
    this.energyWh = energyWh;
  }

  private integrate(): void {
    const now = this.clock.now();
    if (!this.frozen) this.energyWh += (this.powerW * Math.max(0, now - this.lastAt)) / 3_600_000;
    this.lastAt = now;
  }

  private held: (() => void)[] | undefined;
  /** Reads wait until `release()`: a reading still on its way (a slow bus). */
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const h = this.held ?? [];
    this.held = undefined;
    for (const r of h) r();
  }

  async read(): Promise<MeterReading> {
    this.reads++;
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (this.failing > 0) {
      this.failing--;
      throw new EvseError('ERR_METER_TIMEOUT', 'meter did not answer (injected)');
    }
    this.integrate();
    return { takenAt: this.clock.now(), energyWh: Math.round(this.energyWh * 1000) / 1000, powerW: this.powerW };
  }
}

export interface Offer {
  currentA: number;
  suspend: boolean;
  at: number;
}

/**
 * The EVSE board and the vehicle: the test drives the vehicle's state (IEC 61851 A/B/C/E);
 * offers, invitations and unlocks are recorded. A vehicle that `wantsEnergy` starts drawing
 * (state C) once current is offered and stops (state B) when it is withdrawn, as a car does;
 * the board reports the change a moment later (a microtask), as a real board's poll does.
 */
export class MemoryPowerPath implements PowerPath {
  state: VehicleState;
  wantsEnergy = true;
  lock = true;
  unlockAnswer: 'Unlocked' | 'UnlockFailed' = 'Unlocked';
  /** The next offers fail (a contactor that does not answer). */
  failOffers = false;
  readonly offers: Offer[] = [];
  invites = 0;
  unlocks = 0;
  private offeredA = 0;
  private readonly listeners = new Set<(s: VehicleState) => void>();

  constructor(private readonly clock: Clock, initial: VehicleState = 'disconnected') {
    this.state = initial;
  }

  vehicle(): VehicleState {
    return this.state;
  }
  onVehicleChange(listener: (state: VehicleState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async offer(maxCurrentA: number, opts?: { suspend?: boolean }): Promise<void> {
    if (this.failOffers) throw new EvseError('ERR_BOARD_TIMEOUT', 'EVSE board did not answer (injected)');
    this.offers.push({ currentA: maxCurrentA, suspend: opts?.suspend ?? false, at: this.clock.now() });
    this.offeredA = maxCurrentA;
    queueMicrotask(() => this.follow());
  }
  invite(): void {
    this.invites++;
  }
  hasLock(): boolean {
    return this.lock;
  }
  async unlock(): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'> {
    this.unlocks++;
    return this.unlockAnswer;
  }

  /** The current offered now, A (0: open). */
  get offered(): number {
    return this.offeredA;
  }

  /** The vehicle's state changes (a plug-in, a car that pauses, a pulled cable, a pilot fault). */
  set(state: VehicleState): void {
    if (state === this.state) return;
    this.state = state;
    for (const l of [...this.listeners]) l(state);
  }

  /** The vehicle follows the offer: draws when offered current and it wants energy. */
  private follow(): void {
    if (this.state === 'connected' && this.offeredA > 0 && this.wantsEnergy) this.set('charging');
    else if (this.state === 'charging' && this.offeredA <= 0) this.set('connected');
  }
}

export class MemoryIdReader implements IdReader {
  private readonly listeners = new Set<(t: PresentedToken) => void>();
  onToken(listener: (t: PresentedToken) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  present(token: PresentedToken): void {
    for (const l of [...this.listeners]) l(token);
  }
}

export class MemoryFaultSource implements FaultSource {
  private readonly listeners = new Set<(f: FaultReport) => void>();
  onFault(listener: (f: FaultReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  report(f: FaultReport): void {
    for (const l of [...this.listeners]) l(f);
  }
}

// ------------------------------------------------------------------------------ the harness

/** A token as the drivers present it: a card is ISO14443, a code typed on the screen KeyCode. */
function tokenOf(idTag: string, method: 'rfid' | 'touchscreen'): PresentedToken['token'] {
  return { id: idTag, type: method === 'touchscreen' ? 'KeyCode' : 'ISO14443' };
}

/** A keyed pseudonym stand-in: recognisable in assertions, never the tag itself. */
export function refOf(idTag: string): string {
  return `ref:${idTag.length}:${[...idTag].reverse().join('')}`;
}

export interface ConnectorSpec {
  maxCurrentA: number;
  phases: 1 | 3;
  nominalVoltageV: number;
  maxPowerW: number;
  /** Register at start, Wh. */
  registerWh: number;
  vehicle: VehicleState;
  /** A meter without non-volatile memory (it has `resume`). */
  volatileMeter: boolean;
}

const DEFAULT_CONNECTOR: ConnectorSpec = {
  maxCurrentA: 32, phases: 3, nominalVoltageV: 230, maxPowerW: 22_080, registerWh: 10_000, vehicle: 'disconnected', volatileMeter: false,
};

export interface HarnessOptions {
  /** How many connectors (default 1), or each one's spec. */
  connectors?: number | Partial<ConnectorSpec>[];
  settings?: Record<string, SettingValue>;
  /** Whether the central system can be asked (default true). */
  online?: boolean;
  /** The central system's answer per tag (absent: Invalid; null: no answer). */
  csms?: Record<string, IdTagInfo | null>;
  localList?: Record<string, IdTagInfo>;
  cache?: Record<string, IdTagInfo>;
  /** A ledger from an earlier run (recovery after restart). */
  ledger?: MemoryLedger;
  now?: number;
  clockTrusted?: boolean;
  resumePolicy?: 'resume-or-stop' | 'stop';
  freeVendIdTag?: string;
  stopOnSecondPresentation?: boolean;
  /** Smart Charging (default on, as the runtime composes it). */
  smartCharging?: boolean;
  /** Reservations (default on, as the runtime composes it). */
  reservations?: boolean;
  timing?: Partial<ChargePointTiming>;
  /** Call start() (default true). */
  start?: boolean;
}

export interface HarnessConnector {
  id: number;
  meter: MemoryMeter;
  powerPath: MemoryPowerPath;
  hw: EvseHardware;
}

/** Where one test's charge point lives, with the few verbs the tests use. */
export class Harness {
  readonly clock: ManualClock;
  readonly settings: MemorySettings;
  readonly ledger: MemoryLedger;
  readonly authData = new MemoryAuthorizationData();
  readonly remote = new ScriptedRemote();
  readonly reader = new MemoryIdReader();
  readonly faults = new MemoryFaultSource();
  readonly connectors: HarnessConnector[];
  readonly smartCharging?: SmartCharging;
  readonly reservations?: Reservations;
  cp!: ChargePoint;
  /** Every 1.6 status the charge point's events gave (as StatusNotification would report them), in order. */
  readonly statusLog: V16Status[] = [];
  readonly started: { evseId: number; localId: string; authMethod: AuthMethod; meterStartWh: number }[] = [];
  readonly stopped: { evseId: number; localId: string; reason: StopReason; energyWh: number }[] = [];
  readonly refused: { evseId?: number; customerRef: string; status: string; source: string }[] = [];

  constructor(private readonly o: HarnessOptions = {}) {
    this.clock = new ManualClock(o.now ?? T0, o.clockTrusted ?? true);
    this.settings = new MemorySettings(o.settings);
    this.ledger = o.ledger ?? new MemoryLedger();
    this.remote.isOnline = o.online ?? true;
    for (const [k, v] of Object.entries(o.csms ?? {})) this.remote.answers.set(k, v);
    for (const [k, v] of Object.entries(o.localList ?? {})) this.authData.list.set(k, fromV16IdTagInfo(v));
    for (const [k, v] of Object.entries(o.cache ?? {})) this.authData.cache.set(k, fromV16IdTagInfo(v));
    const specs = typeof o.connectors === 'object' ? o.connectors : Array.from({ length: o.connectors ?? 1 }, () => ({}));
    this.connectors = specs.map((partial, i) => {
      const spec = { ...DEFAULT_CONNECTOR, ...partial };
      const meter = new MemoryMeter(this.clock, spec.registerWh, spec.volatileMeter);
      const powerPath = new MemoryPowerPath(this.clock, spec.vehicle);
      const hw: EvseHardware = {
        evseId: i + 1, meter, powerPath, maxCurrentA: spec.maxCurrentA, phases: spec.phases, nominalVoltageV: spec.nominalVoltageV, maxPowerW: spec.maxPowerW,
      };
      return { id: i + 1, meter, powerPath, hw };
    });
    if (o.smartCharging ?? true) {
      const evses = new Map<number, Electrical>();
      for (const c of this.connectors) evses.set(c.id, { nominalVoltageV: c.hw.nominalVoltageV, phases: c.hw.phases, maxCurrentA: c.hw.maxCurrentA, phaseSwitching: false });
      const station: Electrical = {
        nominalVoltageV: 230, phases: 3, maxCurrentA: this.connectors.reduce((s, c) => s + c.hw.maxCurrentA, 0), phaseSwitching: false,
      };
      this.smartCharging = new SmartCharging({ store: new MemoryChargingProfileStore(), clock: this.clock, electrical: { station, evses }, log: silentLog });
    }
    if (o.reservations ?? true) {
      this.reservations = new Reservations({
        store: new MemoryReservationStore(), clock: this.clock, pseudonym: refOf, evseIds: this.connectors.map((c) => c.id),
        anyEvseSupported: () => this.settings.bool('ReserveConnectorZeroSupported'), log: silentLog,
      });
    }
    this.build();
  }

  /** The ChargePoint, composed as src/app/charger composes it (the policy from the 1.6 keys). */
  private build(): void {
    const o = this.o;
    this.cp = new ChargePoint({
      chargePointId: 'CP-UNIT', evses: this.connectors.map((c) => c.hw), idReaders: [this.reader], faultSources: [this.faults],
      ledger: this.ledger, authData: this.authData, remote: this.remote, policy: policyFromSettings(this.settings), clock: this.clock, log: silentLog,
      pseudonym: refOf, timing: o.timing, resumePolicy: o.resumePolicy, freeVendIdTag: o.freeVendIdTag,
      stopOnSecondPresentation: o.stopOnSecondPresentation, chargingLimits: this.smartCharging, reservations: this.reservations,
    });
    const changes = new V16StatusChanges();
    // As 1.6 reports them: the station's (connector 0) and each EVSE's, in the order the core emits them.
    const onCondition = (s: V16Condition) => changes.changed(s) && this.statusLog.push(v16StatusOf(s));
    this.cp.on('status', onCondition);
    this.cp.on('station-status', onCondition);
    this.cp.on('session-started', (e) => this.started.push({ evseId: e.evseId, localId: e.localId, authMethod: e.authMethod, meterStartWh: e.meterStartWh }));
    this.cp.on('session-stopped', (e) => this.stopped.push(e));
    this.cp.on('auth-refused', (e) => this.refused.push(e));
  }

  async start(): Promise<this> {
    this.reservations?.start();
    await this.cp.start();
    await settle();
    return this;
  }

  /** A restart of the controller: the core is stopped and built again over the same store and hardware. */
  async restart(): Promise<void> {
    this.cp.stop();
    this.reservations?.stop();
    this.build();
    await this.start();
  }

  connector(id = 1): HarnessConnector {
    const c = this.connectors[id - 1];
    if (!c) throw new Error(`no connector ${id}`);
    return c;
  }

  // ---- the vehicle and the driver

  /** A vehicle is plugged in (state B). */
  async plug(connectorId = 1): Promise<void> {
    const pp = this.connector(connectorId).powerPath;
    pp.wantsEnergy = true;
    pp.set('connected');
    await settle();
  }

  async unplug(connectorId = 1): Promise<void> {
    this.connector(connectorId).powerPath.set('disconnected');
    await settle();
  }

  /** The vehicle's own state (a car that pauses: 'connected'; resumes: 'charging'; pilot error: 'error'). */
  async vehicle(state: VehicleState, connectorId = 1): Promise<void> {
    const pp = this.connector(connectorId).powerPath;
    // A car that pauses does not draw again on the next offer until it resumes by itself.
    if (state === 'connected') pp.wantsEnergy = false;
    if (state === 'charging') pp.wantsEnergy = true;
    pp.set(state);
    await settle();
  }

  /** A card at the reader (through the IdReader port, as a driver delivers it). */
  async present(idTag: string, o: { connectorId?: number; method?: 'rfid' | 'touchscreen' } = {}): Promise<void> {
    const method = o.method ?? 'rfid';
    this.reader.present({ token: tokenOf(idTag, method), method, ...(o.connectorId !== undefined ? { evseId: o.connectorId } : {}) });
    await settle();
  }

  /** A card at the reader, with the core's answer. */
  async presentFor(idTag: string, connectorId?: number): Promise<Awaited<ReturnType<ChargePoint['presentToken']>>> {
    const answer = await this.cp.presentToken({ token: tokenOf(idTag, 'rfid'), method: 'rfid', ...(connectorId !== undefined ? { evseId: connectorId } : {}) });
    await settle();
    return answer;
  }

  /** The central system's answer to Authorize for a tag (null: it could not be asked). */
  answer(idTag: string, info: IdTagInfo | null): void {
    this.remote.answers.set(idTag, info);
  }

  online(v: boolean): void {
    this.remote.isOnline = v;
  }

  async fault(source: string, errorCode: ConnectorErrorCode, active: boolean, info?: string): Promise<void> {
    this.faults.report({ source, errorCode, active, ...(info ? { info } : {}) });
    await settle();
  }

  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  // ---- the central system's side, through the core's commands

  async remoteStart(idTag: string, connectorId?: number): Promise<boolean> {
    const ok = await this.cp.remoteStart(idTag, connectorId);
    await settle();
    return ok;
  }

  /**
   * RemoteStop by the transactionId the central system gave the session: resolved to the local id
   * from the ledger, as the 1.6 link does (an unknown transactionId is refused).
   */
  async remoteStop(transactionId: number): Promise<boolean> {
    const localId = this.ledger.byTransactionId(transactionId)?.localId;
    if (localId === undefined) return false;
    const ok = await this.cp.remoteStop(localId);
    await settle();
    return ok;
  }

  /** StartTransaction.conf: the transactionId, and the central system's word on the tag. */
  async confirmStart(localId: string, transactionId: number, info: IdTagInfo = { status: 'Accepted' }): Promise<void> {
    this.ledger.confirmStart(localId, transactionId);
    await this.cp.transactionConfirmed(localId, fromV16IdTagInfo(info), this.ledger.get(localId)?.idTag ?? null);
    await settle();
  }

  /** ChangeAvailability of a 1.6 connector (0: the station), as the 1.6 binding maps it. */
  async changeAvailability(connectorId: number, type: 'Operative' | 'Inoperative'): Promise<'Accepted' | 'Rejected' | 'Scheduled'> {
    const answer = changeV16Availability(this.cp, connectorId, type);
    await settle();
    return answer;
  }

  /** ReserveNow of a 1.6 connector (0: any EVSE), as the 1.6 binding maps it. */
  async reserve(r: { reservationId: number; connectorId: number; idTag: string; parentIdTag?: string; expiresInMs: number }): Promise<ReserveStatus> {
    const place = fromV16ConnectorId(r.connectorId);
    const answer = this.reservations!.reserve(
      {
        reservationId: r.reservationId, target: place === 'station' ? ANY_EVSE : { kind: 'evse', evseId: place.evseId }, idTag: r.idTag,
        expiryDate: this.clock.now() + r.expiresInMs, ...(r.parentIdTag ? { groupId: r.parentIdTag } : {}),
      },
      { station: () => this.cp.stationCondition(), evse: (id) => this.cp.evseCondition(id) },
    );
    await settle();
    return answer;
  }

  async cancelReservation(reservationId: number): Promise<boolean> {
    const ok = this.reservations!.cancel(reservationId);
    await settle();
    return ok;
  }

  /**
   * SetChargingProfile: the 1.6 profile converted as the 1.6 binding converts it, a TxProfile's
   * transactionId naming the session running on the connector (known by that id, or not confirmed
   * yet); one naming another transaction is Rejected there and not installed.
   */
  async installProfile(connectorId: number, profile: ChargingProfile): Promise<'Accepted' | 'Rejected'> {
    const sessionOf = (transactionId: number) => {
      const s = this.cp.session(connectorId);
      const known = s && this.ledger.get(s.localId)?.transactionId;
      return s && (known === null || known === transactionId) ? s.localId : undefined;
    };
    let status: 'Accepted' | 'Rejected' = 'Accepted';
    try {
      this.smartCharging!.install(targetOfConnector(connectorId), fromV16Profile(profile, sessionOf));
    } catch (err) {
      if ((err as EvseError).code !== 'ERR_UNKNOWN_TRANSACTION') throw err;
      status = 'Rejected';
    }
    await settle();
    return status;
  }

  async clearProfiles(): Promise<void> {
    this.smartCharging!.clear({});
    await settle();
  }

  async unlock(connectorId = 1): Promise<'Unlocked' | 'UnlockFailed' | 'NotSupported'> {
    const answer = await this.cp.unlock({ evseId: connectorId, connectorId: 1 });
    await settle();
    return answer;
  }

  async stopAll(reason: StopReason): Promise<void> {
    await this.cp.stopAll(reason);
    await settle();
  }

  /** A fresh sample now (TriggerMessage MeterValues). */
  async triggerSample(connectorId = 1): Promise<Sample | undefined> {
    const sample = await this.cp.triggerSample(connectorId);
    await settle();
    return sample;
  }

  /** A fault raised or cleared by the application (the store writable again). */
  async reportFault(f: FaultReport): Promise<void> {
    this.cp.reportFault(f);
    await settle();
  }

  // ---- what was observed

  /** A connector's status now with its error code and info (0: the charge point). */
  condition(connectorId = 1): { status: ChargePointStatus; errorCode: ChargePointErrorCode; info?: string } {
    const s = v16StatusOf(v16ConditionOf(this.cp, connectorId));
    return { status: s.status, errorCode: s.errorCode, ...(s.info !== undefined ? { info: s.info } : {}) };
  }

  /** The session running on a connector as the core holds it (energy so far, since its start). */
  liveSession(connectorId = 1): { localId: string; energyWh: number; startedAt: number } | undefined {
    const s = this.cp.session(connectorId);
    return s && { localId: s.localId, energyWh: s.energyWh, startedAt: s.startedAt };
  }

  /** The connector's last accepted meter reading. */
  lastReading(connectorId = 1): MeterReading | undefined {
    return this.cp.lastReading(connectorId);
  }

  /** Meter reads that failed during sessions on a connector. */
  meterErrors(connectorId = 1): number {
    return this.cp.hardwareHealth().find((x) => x.evseId === connectorId)?.meterErrors ?? 0;
  }

  /** The statuses a connector (0: the charge point) went through, in order. */
  statuses(connectorId = 1): ChargePointStatus[] {
    return this.statusLog.filter((s) => s.connectorId === connectorId).map((s) => s.status);
  }

  /** Statuses with their error code, as `Status/ErrorCode`. */
  statusesWithErrors(connectorId = 1): string[] {
    return this.statusLog.filter((s) => s.connectorId === connectorId).map((s) => `${s.status}/${s.errorCode}`);
  }

  /** The status now (derived, not the last emitted). */
  status(connectorId = 1): ChargePointStatus {
    return toV16Status(v16ConditionOf(this.cp, connectorId));
  }

  /** Forget what was observed so far (statuses, events), to assert only what follows. */
  mark(): void {
    this.statusLog.length = 0;
    this.started.length = 0;
    this.stopped.length = 0;
    this.refused.length = 0;
  }

  /** The only session of the ledger, or the one on a connector. */
  session(connectorId?: number): LedgerRecord {
    const all = this.ledger.records().filter((r) => connectorId === undefined || r.evseId === connectorId);
    if (all.length !== 1) throw new Error(`expected one session${connectorId ? ` on connector ${connectorId}` : ''}, found ${all.length}`);
    return all[0]!;
  }

  /** Offers made to a connector's vehicle, as [currentA, suspend] pairs. */
  offers(connectorId = 1): [number, boolean][] {
    return this.connector(connectorId).powerPath.offers.map((o) => [o.currentA, o.suspend]);
  }

  /** Stop timers and listeners. */
  stop(): void {
    this.cp.stop();
    this.reservations?.stop();
  }
}

/** A started harness. */
export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const h = new Harness(o);
  if (o.start ?? true) await h.start();
  return h;
}

/** A charging session running on connector 1: plugged, tag A presented and accepted online, vehicle drawing. */
export async function charging(o: HarnessOptions & { idTag?: string; info?: IdTagInfo } = {}): Promise<Harness> {
  const idTag = o.idTag ?? 'TAG-A';
  const h = await harness({ ...o, csms: { [idTag]: o.info ?? { status: 'Accepted' }, ...o.csms } });
  await h.plug();
  await h.present(idTag);
  return h;
}

/**
 * A ledger as an earlier run left it: one session open on a connector, with a checkpoint and
 * optional samples recorded after it (recovery tests).
 */
export function ledgerWithOpenSession(o: {
  connectorId?: number; startedAt: number; meterStartWh: number; checkpoint?: { energyWh: number; at: number };
  samples?: { energyWh: number; at: number; context?: Sample['context'] }[]; idTag?: string; transactionId?: number;
}): { ledger: MemoryLedger; localId: string } {
  const ledger = new MemoryLedger();
  const begin: Sample = { takenAt: o.startedAt, clockTrusted: true, context: 'Transaction.Begin', reading: { takenAt: o.startedAt, energyWh: o.meterStartWh }, measurands: ['Energy.Active.Import.Register'] };
  const rec = ledger.open({
    evseId: o.connectorId ?? 1, idTag: o.idTag ?? 'TAG-A', authMethod: 'rfid', startedAt: o.startedAt, clockTrusted: true, meterStartWh: o.meterStartWh, begin,
  });
  if (o.checkpoint) ledger.checkpoint(rec.localId, o.checkpoint.energyWh, o.checkpoint.at);
  for (const s of o.samples ?? []) {
    ledger.sample(rec.localId, { takenAt: s.at, clockTrusted: true, context: s.context ?? 'Sample.Periodic', reading: { takenAt: s.at, energyWh: s.energyWh }, measurands: ['Energy.Active.Import.Register'] }, true);
  }
  if (o.transactionId !== undefined) ledger.confirmStart(rec.localId, o.transactionId);
  return { ledger, localId: rec.localId };
}

/** A charging profile of one period (or several), as the OCPP side installs it. */
export function profile(o: {
  id: number; purpose?: ChargingProfile['chargingProfilePurpose']; stackLevel?: number; periods: [startS: number, limitA: number][];
  kind?: ChargingProfile['chargingProfileKind']; startSchedule?: number; transactionId?: number;
}): ChargingProfile {
  return {
    chargingProfileId: o.id, stackLevel: o.stackLevel ?? 0, chargingProfilePurpose: o.purpose ?? 'TxDefaultProfile',
    chargingProfileKind: o.kind ?? (o.startSchedule !== undefined ? 'Absolute' : 'Relative'),
    ...(o.transactionId !== undefined ? { transactionId: o.transactionId } : {}),
    chargingSchedule: {
      chargingRateUnit: 'A', chargingSchedulePeriod: o.periods.map(([startPeriod, limit]) => ({ startPeriod, limit })),
      ...(o.startSchedule !== undefined ? { startSchedule: new Date(o.startSchedule).toISOString() } : {}),
    },
  };
}
