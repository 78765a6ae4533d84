import type { CentralSystem } from '../../csms/central-system.js';
import type { LogLevel } from '../../lib/log.js';
import type { AppStart, FleetSecurity } from './host.js';
import type { CounterName, Gauges } from './metrics.js';
import type { Scenario } from '../../sim/scenario.js';
import type { Shard } from './shard.js';
import type { OcppMix } from './ocpp-mix.js';
import type { ControlEvent } from './control/protocol.js';

/** What a fleet run is asked to do, and what it reports while it runs (runner.ts, processes.ts). */
export interface FleetOptions {
  count: number;
  scenario: string | Scenario;
  /** Charger profile id or path; default: the scenario's. */
  charger?: string;
  prefix?: string;
  digits?: number;
  shard?: Shard;
  seed?: number;
  timeScale?: number;
  /** Simulated ms; without it the run lasts until stop(). */
  durationMs?: number;
  /** Chargers started per second (0: all at once). */
  rampPerSec?: number;
  /** At the end, how long (wall ms) to wait for answers to CALLs in flight (default 5 s). */
  drainMs?: number;
  /**
   * The OCPP versions the chargers speak: one ("2.0.1") or a mix by share of the chargers
   * ("1.6=70,2.0.1=30", see parseOcppMix), each charger's drawn by its id and the seed. Default: 1.6.
   */
  ocpp?: string | OcppMix;
  /** Central systems, round-robin; none: the embedded one, started in this process. */
  urls?: string[];
  /** How the chargers authenticate to the central system (Security Profiles 1 to 3). */
  security?: FleetSecurity;
  /** Simulated signing meters (calibration law): each meter signs begin and end values (OCMF) with its own key. */
  signedMeters?: boolean;
  /** Worker threads; 0 hosts every charger in this thread. Default: about one per core. */
  workers?: number;
  /** Simulated epoch ms of the start (default: now). */
  startMs?: number;
  statusIntervalMs?: number;
  onStatus?: (s: FleetStatus) => void;
  /**
   * Checked on each live status (every statusIntervalMs): true ends the run as the end of its
   * duration does, links closing politely (in every process). Tests wait for a condition, not
   * a duration.
   */
  stopWhen?: (s: FleetStatus) => boolean;
  recordEvents?: boolean;
  logLevel?: LogLevel;
  /**
   * Processes (each with its worker threads and, without urls, its own embedded central
   * system). Default: as many as the open-file limit requires (a socket per charger).
   */
  processes?: number;
  /** Wall epoch ms of the whole run's start (set for the processes of a multi-process fleet). */
  runStartedAt?: number;
  /**
   * How a driver's app start reaches the charger: the central system sends it
   * RemoteStartTransaction. Default: the embedded central system does; against another central
   * system (whose app is its own), the charger starts as if it had received one.
   */
  appStart?: AppStart;
  /** A problem the user must hear about now (e.g. the open-file limit reached). */
  onWarning?: (message: string) => void;
  /**
   * The control API is on: every host answers control requests (FleetRunner.control) and tells
   * what happens to its chargers (onControlEvents); `traceIds`: chargers traced from their start.
   */
  control?: { traceIds?: string[]; traceFrames?: number };
  onControlEvents?: (events: ControlEvent[]) => void;
  /** Told of the embedded central system once it listens (tests count what it receives). */
  onEmbeddedCsms?: (csms: CentralSystem) => void;
}

export interface FleetStatus {
  elapsedMs: number;
  simulatedMs: number;
  gauges: Gauges;
  /** CALLs the chargers sent, per second, over the last interval. */
  callsPerS: number;
  /** OCPP messages (CALLs, answers, errors) received and sent by the chargers, per second. */
  messagesInPerS: number;
  messagesOutPerS: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  lagP99Ms: number;
  /** The longest event-loop stall of the interval (the worst thread's), ms. */
  lagMaxMs: number;
  emfile: number;
  /** The run's counters so far (as in the report). */
  counters: Record<CounterName, number>;
}
