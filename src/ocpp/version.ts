/**
 * The version seam: what one OCPP version provides to a charger, so that the composition
 * (src/app/charger) builds a charger through this interface and knows no version's messages,
 * keys or ids. Each version folder (v16/, v201/) exports one `OcppVersion`; the composition
 * chooses which (the subprotocol the central system selected) and nothing else.
 */
import type { ChargePoint } from '../core/charge-point.js';
import type { ChargingPolicy } from '../core/policy.js';
import type { AuthorizationInfo, Clock, EvseCondition, EvseId, RemoteAuthorizer, StationCondition, StopReason } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import type { Validator } from './rpc.js';
import type { OcppConnection } from './connection.js';
import type { AuthorizationStore, ConfigurationStore, EventQueue, TransactionRefs } from './store-ports.js';

/** The OCPP-J subprotocols a charger can speak, as offered in the WebSocket handshake. */
export const OCPP_SUBPROTOCOLS = ['ocpp1.6', 'ocpp2.0.1'] as const;
export type OcppSubprotocol = (typeof OCPP_SUBPROTOCOLS)[number];

export interface SettableClock extends Clock {
  /** Set from the central system's currentTime; returns the correction, ms. */
  set(epochMs: number): number;
}

export interface ChargePointIdentity {
  vendor: string;
  model: string;
  serialNumber?: string;
  firmwareVersion: string;
  meterType?: string;
}

/** Where the OCPP session stands (every version boots, may be told Pending or Rejected, then runs). */
export type LinkState = 'offline' | 'booting' | 'pending' | 'rejected' | 'accepted';

export interface SessionUnsynced {
  localId: string;
  evseId: EvseId;
  meterStartWh: number;
  meterStopWh: number | null;
  energyWh: number | null;
  /** Whether the session never got its protocol transaction id (then no valid closing message can exist). */
  noTransactionId: boolean;
  error: string;
}

/** What a version's link tells the application. */
export interface LinkEvents {
  state: [LinkState];
  /** A queued event moved to the dead-letter table. */
  'dead-letter': [{ seq: number; kind: string; localId: string; error: string }];
  /**
   * `signedValues`: the meter's signed records the message carried (calibration law; absent when none);
   * `securityEvent`: a SecurityEventNotification's type, as this version names it.
   */
  delivered: [{ seq: number; kind: string; localId: string; transactionId?: number | string; signedValues?: number; securityEvent?: string }];
  /** A session's closing event went to the dead-letter table: the energy it delivered is not billed. */
  'session-unsynced': [SessionUnsynced];
}

/**
 * A version's link: the OCPP session (boot, clock, heartbeat, statuses, authorisation) and the
 * delivery of the store's event queue, over one connection. The core authorises through it.
 */
export interface VersionLink extends RemoteAuthorizer {
  readonly state: LinkState;
  /** When the link entered its current state (epoch ms). */
  readonly stateSince: number;
  readonly lastAcknowledgedAt: number | null;
  /** Listen to the connection and start it. */
  start(): void;
  /** Start no CALL from now on and cancel every timer (synchronous). */
  halt(): void;
  /** Halt and close the connection. */
  stop(): Promise<void>;
  /** Drop the connection and reconnect (not a reboot). */
  reconnect(): Promise<void>;
  /** Wake the delivery of queued events. */
  kick(): void;
  /** A stored setting changed: apply what it governs (heartbeat, pings). */
  configurationChanged(key: string): void;
  /** The protocol's id of a session, once known (1.6: the central system's integer; 2.0.1: the station's string). */
  transactionIdOf(localId: string): number | string | undefined;
  /**
   * A notice that is not a transaction message (firmware and diagnostics statuses), by the
   * version's action name; rejects when it could not be sent.
   */
  send(action: string, request: unknown): Promise<unknown>;
  on<K extends keyof LinkEvents>(event: K, listener: (...args: LinkEvents[K]) => void): this;
  off<K extends keyof LinkEvents>(event: K, listener: (...args: LinkEvents[K]) => void): this;
}

/** Timing that tests shorten; defaults suit a real charger. */
export interface LinkTiming {
  bootRetryMs?: number;
  authorizeTimeoutMs?: number;
  meterValuesPerMessage?: number;
}

/** Everything a version's link is built from: the charger's core, its store views, its connection. */
export interface LinkDeps<Definitions = unknown, Features = unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  connection: OcppConnection<any, any>;
  chargePoint: ChargePoint;
  /** The session ledger: the protocol's transaction ids, acknowledgements. */
  ledger: TransactionRefs;
  /** The queue of events to deliver (the store's outbox). */
  outbox: EventQueue;
  settings: ConfigurationStore;
  authData: AuthorizationStore;
  /** The stored settings' definitions (the charger's configuration keys). */
  definitions: Definitions;
  /** The charger's connectors (1.6 connector n is 2.0.1's EVSE n, connector 1). */
  connectors: readonly { id: number; phases: number; maxPowerW: number; dc?: boolean; /** The profile's connector type (Type2, CCS2, …), when known. */ type?: string }[];
  clock: SettableClock;
  /**
   * This run's start on the (possibly untrusted) local clock: events queued since then are
   * re-timed when the central system sets the clock. Absent: the link's creation (with several
   * versions offered the link is created only at the first connection, after events may have queued).
   */
  runStartedAt?: number;
  identity: ChargePointIdentity;
  log: Log;
  /** Reset: the application restarts the charge point (Soft) or the process (Hard). */
  onReset: (type: 'Soft' | 'Hard') => void;
  timing?: LinkTiming;
  /** Optional feature services (smart charging, reservations, firmware) the version's handlers answer with. */
  features?: Features;
}

/** An incoming call's handler in a version's table, given the charger's context. */
export type IncomingHandler<C = unknown> = (request: unknown, context: C) => unknown;

/** The core's vocabulary to and from the version's (one function per concept). */
export interface VersionMapping {
  /** A connector's condition as the version's StatusNotification says it. */
  status(condition: StationCondition | EvseCondition): string;
  /** A stop reason as the version's closing message says it. */
  stopReason(reason: StopReason): string;
  /** The central system's verdict on a token (1.6 IdTagInfo, 2.0.1 IdTokenInfo) as the core's. */
  authorization(info: never): AuthorizationInfo;
}

/** What one OCPP version provides. */
export interface OcppVersion<Definitions = unknown, Features = unknown> {
  /** The WebSocket subprotocol (OCPP-J). */
  readonly subprotocol: OcppSubprotocol;
  /** A strict-mode validator replacing ocpp-rpc's own for this subprotocol, if the version needs one. */
  readonly strictValidator?: Validator;
  /** The core's policy over this version's settings (1.6 keys; 2.0.1 device-model variables). */
  policy(settings: ConfigurationStore): ChargingPolicy;
  /** The session and transaction delivery of this version over a connection (registers its incoming handlers). */
  createLink(deps: LinkDeps<Definitions, Features>): VersionLink;
  /** The actions of the central system this version answers (its incoming handler table's keys). */
  readonly incomingActions: readonly string[];
  readonly mapping: VersionMapping;
}
