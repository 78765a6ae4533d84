import type { ChargerProfile } from '../../../config/profiles.js';
import type { ChargePointStatus } from '../../../ocpp/v16/mapping.js';
import type { OcppSubprotocol } from '../../../ocpp/version.js';
import type { SimConnector } from '../../../sim/sim-connector.js';
import type { SimFaultSource } from '../../../sim/sim-fault-source.js';
import type { SimIdReader } from '../../../sim/sim-id-reader.js';
import type { ChargePointRuntime } from '../../charger/charge-point-runtime.js';
import type { SimDriver } from '../driver.js';
import type { LazyCertificates } from '../certificates.js';
import type { SecurityEventRecorder } from '../../services/security-events.js';
import type { NetworkCut } from './protocol.js';
import type { FrameTrace } from './trace.js';

/** A charger this thread hosts: its simulated hardware (which outlives a reboot), its runtime, what it shows. */
export interface Hosted {
  id: string;
  /** Its position in the fleet (the central system it uses, round-robin). */
  index: number;
  charger: ChargerProfile;
  version: OcppSubprotocol;
  /** The central system it connects to when its network is up. */
  url: string;
  runtime: ChargePointRuntime;
  driver: SimDriver;
  sims: Map<number, SimConnector>;
  reader: SimIdReader;
  faults: SimFaultSource;
  statuses: Map<number, ChargePointStatus>;
  connected: boolean;
  accepted: boolean;
  offline: boolean;
  /** Its boot was answered Pending (1) and/or Rejected (2) at least once. */
  bootRefusals: number;
  everAccepted: boolean;
  /** Its figures are also counted under its OCPP version (a fleet of several versions, or added with its own). */
  countedByVersion: boolean;
  /** How its network is cut by the control API, if it is. */
  network: NetworkCut | 'up';
  /** Its OCPP trace, while traced. */
  trace?: FrameTrace;
  /** The runtime the listeners belong to is alive (false once it is powered off or removed). */
  life: { alive: boolean };
  /** Its certificates (a store made when the central system first asks for a CSR; kept across a reboot). */
  certificates?: LazyCertificates;
  /** Its security events, recorded into the host's store and sent by its link (absent when the scenario turns them off); one per runtime. */
  securityEvents?: SecurityEventRecorder;
}

