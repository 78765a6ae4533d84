import type { ChargePoint } from '../../core/charge-point.js';
import type { Clock, SessionRecord } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { KeyDefinition } from './configuration.js';
import type { ChargePointCalls } from './messages.js';
import type { FeatureServices } from './features.js';
import type { V16Condition } from './topology.js';
import type { AuthorizationStore, ConfigurationStore } from './store-ports.js';

/**
 * What every incoming handler (incoming.ts and the feature profiles' tables) is given: in its
 * own file so that the tables import it without importing the table that includes them.
 */
/** What the handlers need of the link (kept narrow to avoid a cycle of concrete types). */
export interface LinkForHandlers {
  boot(): Promise<void>;
  sendStatus(s: V16Condition): Promise<void>;
  send<A extends keyof ChargePointCalls>(action: A, request: ChargePointCalls[A][0]): Promise<ChargePointCalls[A][1]>;
  /** A configuration value changed: apply what it governs (heartbeat, pings). */
  configurationChanged(key: string): void;
  /** The 1.6 transactionId of a session, once known (the core knows sessions by local id). */
  transactionIdOf(localId: string): number | undefined;
  /** The session a 1.6 transactionId names. */
  localIdOf(transactionId: number): string | undefined;
  /** A session's record (running or ended), by its local id. */
  sessionRecord?(localId: string): SessionRecord | undefined;
  /** The central system's total cost of a session (California Pricing FinalCost): the session's cost from now on. */
  recordCentralCost?(localId: string, totalCost: number): void;
}

export interface IncomingContext {
  chargePoint: ChargePoint;
  settings: ConfigurationStore;
  definitions: KeyDefinition[];
  authData: AuthorizationStore;
  clock: Clock;
  log: Log;
  link: LinkForHandlers;
  onReset: (type: 'Soft' | 'Hard') => void;
  /** Smart Charging, Reservation, Firmware Management services, when composed. */
  features?: FeatureServices;
}
