import type { ChargerProfile } from '../../../config/profiles.js';
import type { OcppSubprotocol } from '../../../ocpp/version.js';
import { addGauges, emptyGauges, emptyStats, mergeStats, type Gauges, type StatsJson } from '../metrics.js';

/**
 * The fleet's control requests and answers: what the control API asks of the chargers, as it
 * travels from the main thread to every shard (worker threads, child processes) and back. Each
 * shard answers for the chargers it holds; the answers merge (mergeAnswers), so a command never
 * needs to know where a charger lives and a charger that is gone is simply in no shard's answer.
 */

/** What a charger's connectors are doing, in one word (the worst first: faulted, charging, occupied). */
export const CHARGER_STATES = ['available', 'occupied', 'charging', 'faulted', 'unavailable'] as const;
export type ChargerState = (typeof CHARGER_STATES)[number];
/** Its link to the central system. */
export const LINK_STATES = ['disconnected', 'booting', 'accepted'] as const;
export type LinkStateName = (typeof LINK_STATES)[number];
/** How its network is cut, if it is. */
export const NETWORK_CUTS = ['close', 'refuse', 'black-hole'] as const;
export type NetworkCut = (typeof NETWORK_CUTS)[number];
export const FAULT_KINDS = ['meter-timeout', 'reader-failure', 'ground-fault', 'evse-error'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const TOKEN_METHODS = ['rfid', 'pin', 'app'] as const;
export type TokenMethod = (typeof TOKEN_METHODS)[number];

/** Which chargers a command is for: every condition given must hold. */
export interface Selection {
  ids?: string[];
  state?: ChargerState;
  link?: LinkStateName;
  prefix?: string;
}

export type ChargerAction =
  | { do: 'plug'; connectorId?: number }
  | { do: 'unplug'; connectorId?: number }
  | { do: 'present'; token: string; method: TokenMethod; connectorId?: number }
  | { do: 'fault'; fault: FaultKind; connectorId?: number; clear?: boolean }
  | { do: 'network'; cut: NetworkCut }
  | { do: 'restore-network' }
  | { do: 'set-url'; url: string }
  | { do: 'reboot' }
  | { do: 'trace'; on: boolean; size?: number };

export interface ChargerSummary {
  id: string;
  version: string;
  state: ChargerState;
  link: LinkStateName;
  network: NetworkCut | 'up';
}

export interface ConnectorView {
  id: number;
  /** Its status as OCPP 1.6 names it (Available, Preparing, Charging, Faulted, ...). */
  status: string;
  plugged: boolean;
  session?: { localId: string; energyWh: number; powerW?: number; startedAt: string; authMethod: string };
  faults: string[];
}

export interface ChargerDetail extends ChargerSummary {
  url: string;
  connectors: ConnectorView[];
  traced: boolean;
}

/** One OCPP-J frame as a traced charger sent or received it. */
export interface TraceFrame {
  /** Wall clock, ISO 8601. */
  at: string;
  direction: 'in' | 'out';
  frame: unknown;
  /** For a CALLRESULT or CALLERROR: ms since its CALL. */
  latencyMs?: number;
}

export type ControlRequest =
  | { op: 'list'; selection: Selection }
  | { op: 'get'; id: string }
  | { op: 'act'; selection: Selection; action: ChargerAction }
  | { op: 'add'; chargers: { id: string; index: number }[]; profile?: ChargerProfile; version?: OcppSubprotocol; url?: string }
  | { op: 'remove'; selection: Selection }
  | { op: 'trace'; id: string }
  | { op: 'stats' };

export interface ActResult {
  id: string;
  ok: boolean;
  error?: string;
}

export interface ShardFigures {
  stats: StatsJson;
  gauges: Gauges;
  byState: Record<ChargerState, number>;
  byLink: Record<LinkStateName, number>;
  /** Sessions open now. */
  sessionsOpen: number;
  lagP99Ms: number;
  /** Shards that answered. */
  shards: number;
}

/** `unanswered`: shards that did not answer in time (their chargers are missing from the answer). */
export type ControlAnswer = { unanswered?: number } & (
  | { op: 'list'; chargers: ChargerSummary[] }
  | { op: 'get'; charger?: ChargerDetail }
  | { op: 'act'; results: ActResult[] }
  | { op: 'add'; added: string[] }
  | { op: 'remove'; removed: string[] }
  | { op: 'trace'; frames?: TraceFrame[] }
  | { op: 'stats'; figures: ShardFigures });

/** Something that happened to a charger, for the event stream. */
export type ControlEvent =
  | { type: 'charger'; id: string; state: ChargerState; link: LinkStateName; at: string }
  | { type: 'session-started'; id: string; evseId: number; localId: string; at: string }
  | { type: 'session-stopped'; id: string; evseId: number; localId: string; energyWh: number; reason: string; at: string }
  | { type: 'error'; id: string; kind: 'connect-failed' | 'fault' | 'bad-message' | 'callerror'; message: string; at: string }
  | { type: 'added' | 'removed'; id: string; at: string }
  | { type: 'frame'; id: string; frame: TraceFrame };

export const emptyByState = (): Record<ChargerState, number> => Object.fromEntries(CHARGER_STATES.map((s) => [s, 0])) as Record<ChargerState, number>;
export const emptyByLink = (): Record<LinkStateName, number> => Object.fromEntries(LINK_STATES.map((s) => [s, 0])) as Record<LinkStateName, number>;

export function emptyAnswer(req: ControlRequest): ControlAnswer {
  switch (req.op) {
    case 'list': return { op: 'list', chargers: [] };
    case 'get': return { op: 'get' };
    case 'act': return { op: 'act', results: [] };
    case 'add': return { op: 'add', added: [] };
    case 'remove': return { op: 'remove', removed: [] };
    case 'trace': return { op: 'trace' };
    case 'stats': return { op: 'stats', figures: { stats: emptyStats(), gauges: emptyGauges(), byState: emptyByState(), byLink: emptyByLink(), sessionsOpen: 0, lagP99Ms: 0, shards: 0 } };
  }
}

/** The answers of several shards to one request, as one. */
export function mergeAnswers(req: ControlRequest, answers: ControlAnswer[]): ControlAnswer {
  const out = emptyAnswer(req);
  for (const a of answers) {
    if (a.unanswered) out.unanswered = (out.unanswered ?? 0) + a.unanswered;
    if (a.op !== out.op) continue;
    if (out.op === 'list' && a.op === 'list') out.chargers.push(...a.chargers);
    else if (out.op === 'get' && a.op === 'get') out.charger ??= a.charger;
    else if (out.op === 'act' && a.op === 'act') out.results.push(...a.results);
    else if (out.op === 'add' && a.op === 'add') out.added.push(...a.added);
    else if (out.op === 'remove' && a.op === 'remove') out.removed.push(...a.removed);
    else if (out.op === 'trace' && a.op === 'trace') out.frames ??= a.frames;
    else if (out.op === 'stats' && a.op === 'stats') {
      const f = out.figures;
      const g = a.figures;
      f.stats = mergeStats(f.stats, g.stats);
      f.gauges = addGauges(f.gauges, g.gauges);
      for (const s of CHARGER_STATES) f.byState[s] += g.byState[s];
      for (const s of LINK_STATES) f.byLink[s] += g.byLink[s];
      f.sessionsOpen += g.sessionsOpen;
      f.lagP99Ms = Math.max(f.lagP99Ms, g.lagP99Ms);
      f.shards += g.shards;
    }
  }
  if (out.op === 'list') out.chargers.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return out;
}

/** Whether a charger matches a selection. */
export function selects(sel: Selection, c: ChargerSummary): boolean {
  if (sel.ids && !sel.ids.includes(c.id)) return false;
  if (sel.state && c.state !== sel.state) return false;
  if (sel.link && c.link !== sel.link) return false;
  if (sel.prefix && !c.id.startsWith(sel.prefix)) return false;
  return true;
}

/** A shard that answers control requests: a FleetHost, a worker thread, a child process, a whole runner. */
export interface ControlTarget {
  control(req: ControlRequest): Promise<ControlAnswer>;
}

/**
 * Ask every target and merge. A target that fails or does not answer within `timeoutMs` is
 * counted in `unanswered` (a target that is gone answers at once, holding nothing).
 */
export async function fanOut(targets: ControlTarget[], req: ControlRequest, timeoutMs: number): Promise<ControlAnswer> {
  const answers = await Promise.all(targets.map((t) => withTimeout(t.control(req), timeoutMs).catch((): ControlAnswer => ({ ...emptyAnswer(req), unanswered: 1 }))));
  return mergeAnswers(req, answers);
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
    p.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, (err: unknown) => {
      clearTimeout(timer);
      reject(err as Error);
    });
  });
}

/** How long one shard may take to answer a control request, ms (a busy machine, a reboot of many chargers). */
export const SHARD_ANSWER_MS = 20_000;
