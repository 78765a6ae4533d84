import { EventEmitter } from 'node:events';
import type { Log } from '../lib/log.js';
import type { Clock, Condition, EvseId, Timer } from './ports.js';

/**
 * Messages the central system asks the station to show (2.0.1 Advanced UI O01-O06, and the cost
 * and price messages of 2.0.1 and of 1.6's California Pricing DataTransfers): what each EVSE's
 * screen shows now, chosen by priority, state, time window and transaction. Persisted through a
 * store port (src/store/display-messages.ts) so they survive a restart. Protocol-neutral: a
 * version binding maps its own messages onto it (src/ocpp/v201/display-messages.ts,
 * src/ocpp/v16/cost-messages.ts).
 */

/** AlwaysFront beats InFront beats NormalCycle; NormalCycle messages take turns. */
export type MessagePriority = 'AlwaysFront' | 'InFront' | 'NormalCycle';
export const MESSAGE_PRIORITIES: readonly MessagePriority[] = ['AlwaysFront', 'InFront', 'NormalCycle'];

/** When a message is shown: the EVSE's state (absent: in any state). */
export type MessageState = 'Charging' | 'Faulted' | 'Idle' | 'Unavailable';
export const MESSAGE_STATES: readonly MessageState[] = ['Charging', 'Faulted', 'Idle', 'Unavailable'];

/** How the content is written: plain ASCII, UTF-8 text, HTML or a URI (only for a screen that renders them). */
export type MessageFormat = 'ASCII' | 'UTF8' | 'HTML' | 'URI';

export interface MessageContent {
  format: MessageFormat;
  /** RFC 5646 language tag, when given. */
  language?: string;
  content: string;
}

export interface DisplayMessage {
  id: number;
  priority: MessagePriority;
  state?: MessageState;
  /** Epoch ms: not shown before. */
  startsAt?: number;
  /** Epoch ms: not shown from then on, and removed. */
  endsAt?: number;
  /** The session (local id) it belongs to: shown only on that session's EVSE, removed when the session ends. */
  sessionId?: string;
  message: MessageContent;
  /** Epoch ms when the central system set it: the newest of equal priority is in front. */
  setAt: number;
}

export interface DisplayMessageStore {
  all(): DisplayMessage[];
  put(m: DisplayMessage): void;
  remove(id: number): void;
}

export class MemoryDisplayMessageStore implements DisplayMessageStore {
  private items?: Map<number, DisplayMessage>;
  all() { return this.items ? [...this.items.values()] : []; }
  put(m: DisplayMessage) { (this.items ??= new Map()).set(m.id, m); }
  remove(id: number) { this.items?.delete(id); }
}

/** What the station can show; a message asking for more is refused with the matching status. */
export interface DisplayCapabilities {
  formats: readonly MessageFormat[];
  priorities: readonly MessagePriority[];
  states: readonly MessageState[];
  /** How many messages the station keeps (2.0.1 DisplayMessageCtrlr.DisplayMessages maxLimit); read on each set. */
  maxMessages: () => number;
}

/** How many display messages a station keeps by default. */
export const MAX_DISPLAY_MESSAGES = 20;

/** The longest personal message a screen shows, characters (2.0.1 DisplayMessageCtrlr.PersonalMessageSize; longer ones are cut). */
export const PERSONAL_MESSAGE_SIZE = 256;

/** Text screens (Nextion, JSON lines): plain text only; HTML and URI need a screen that renders them. */
export const DEFAULT_DISPLAY_CAPABILITIES: DisplayCapabilities = Object.freeze({
  formats: ['ASCII', 'UTF8'] as const,
  priorities: MESSAGE_PRIORITIES,
  states: MESSAGE_STATES,
  maxMessages: () => MAX_DISPLAY_MESSAGES,
});

export type SetMessageStatus =
  | 'Accepted' | 'NotSupportedMessageFormat' | 'NotSupportedPriority' | 'NotSupportedState' | 'UnknownTransaction' | 'Rejected';

export interface SetMessageOutcome {
  status: SetMessageStatus;
  /** Why it was refused (for the log and the answer's statusInfo). */
  reason?: string;
}

export interface MessageFilter {
  ids?: readonly number[];
  priority?: MessagePriority;
  state?: MessageState;
}

/** A message a driver gets for a moment, not set by id (2.0.1 personalMessage, a cost update). */
export interface PersonalMessage {
  evseId?: EvseId;
  message: MessageContent;
  /** A text the screen renders as a QR code beside it (1.6 California Pricing FinalCost's qrCodeText: a receipt's link). */
  qrCode?: string;
  until: number;
  setAt: number;
}

/** What an EVSE's screen shows now. */
export interface ShownMessage {
  /** The central system's id; absent for a personal message. */
  id?: number;
  priority: MessagePriority;
  message: MessageContent;
  /** A personal message's QR code text, when it has one. */
  qrCode?: string;
}

/** The state a message's `state` is compared with, from an EVSE's condition. */
export function messageStateOf(c: Pick<Condition, 'faulted' | 'availability' | 'chargingState'>): MessageState {
  if (c.faulted) return 'Faulted';
  if (c.availability === 'Inoperative') return 'Unavailable';
  return c.chargingState === 'Charging' || c.chargingState === 'SuspendedEV' || c.chargingState === 'SuspendedEVSE' ? 'Charging' : 'Idle';
}

const RANK: Readonly<Record<MessagePriority, number>> = { AlwaysFront: 0, InFront: 1, NormalCycle: 2 };

/** Inside its time window at `now`. */
export const inWindow = (m: Pick<DisplayMessage, 'startsAt' | 'endsAt'>, now: number): boolean =>
  (m.startsAt === undefined || m.startsAt <= now) && (m.endsAt === undefined || now < m.endsAt);

/**
 * The message an EVSE shows at `now` (pure): among the messages inside their window, for its state
 * (or any) and for its session (or none), the highest priority; of AlwaysFront and InFront the
 * newest; NormalCycle ones take turns of `cycleMs` in id order. A personal message counts as
 * InFront.
 */
export function chooseMessage(
  messages: readonly DisplayMessage[], personal: readonly PersonalMessage[],
  evse: { evseId: EvseId; state: MessageState; sessionId?: string }, now: number, cycleMs: number,
): ShownMessage | undefined {
  const candidates: (ShownMessage & { setAt: number })[] = [];
  for (const m of messages) {
    if (!inWindow(m, now)) continue;
    if (m.state !== undefined && m.state !== evse.state) continue;
    if (m.sessionId !== undefined && m.sessionId !== evse.sessionId) continue;
    candidates.push({ id: m.id, priority: m.priority, message: m.message, setAt: m.setAt });
  }
  for (const p of personal) {
    if (p.until <= now || (p.evseId !== undefined && p.evseId !== evse.evseId)) continue;
    candidates.push({ priority: 'InFront', message: p.message, setAt: p.setAt, ...(p.qrCode !== undefined ? { qrCode: p.qrCode } : {}) });
  }
  if (candidates.length === 0) return undefined;
  const best = Math.min(...candidates.map((c) => RANK[c.priority]));
  const top = candidates.filter((c) => RANK[c.priority] === best);
  let chosen: (typeof top)[number];
  if (top[0]!.priority === 'NormalCycle') {
    top.sort((a, b) => a.id! - b.id!);
    chosen = top[Math.floor(now / Math.max(1, cycleMs)) % top.length]!;
  } else {
    chosen = top.reduce((a, b) => (b.setAt >= a.setAt ? b : a));
  }
  return { ...(chosen.id !== undefined ? { id: chosen.id } : {}), priority: chosen.priority, message: chosen.message, ...(chosen.qrCode !== undefined ? { qrCode: chosen.qrCode } : {}) };
}

/** How long a personal message (a driver's greeting, an updated message) stays on the screen, ms. */
export const PERSONAL_MESSAGE_MS = 30_000;

/** The central system's cost of a session, as it last said (in its currency; `final` once the transaction ended). */
export interface CentralCost {
  sessionId: string;
  evseId: EvseId;
  totalCost: number;
  final: boolean;
}

/** Longest single timer; a later boundary is reached in steps. */
const MAX_WAIT_MS = 6 * 3_600_000;

/** How long each NormalCycle message stays before the next one, ms. */
export const DEFAULT_CYCLE_MS = 10_000;

/** No display messages (shared by every DisplayMessages holding none; never written). */
const NO_MESSAGES: ReadonlyMap<number, DisplayMessage> = new Map();

/**
 * The station's display messages: set, replaced by id, listed, cleared, expired at their end and
 * removed with their transaction; plus personal messages for a moment. `change` fires whenever
 * what a screen should show may have changed (a message set or cleared, a window opening or
 * closing); NormalCycle turns are the screen's to follow (`cycleMs`).
 */
export class DisplayMessages {
  private readonly events = new EventEmitter<{ change: [] }>();
  /** The messages held: a shared empty Map until the first (most chargers hold none); written through ownItems(). */
  private items: ReadonlyMap<number, DisplayMessage> = NO_MESSAGES;
  private personal: PersonalMessage[] = [];
  /** What an idle EVSE shows when nothing else is for it (1.6 California Pricing's DefaultPrice text). */
  private fallback?: MessageContent;
  /** The central system's latest cost per EVSE (of its current or last session). */
  private costs?: Map<EvseId, CentralCost>;
  private timer?: Timer;
  private started = false;
  readonly cycleMs: number;

  constructor(private readonly o: {
    store: DisplayMessageStore;
    clock: Pick<Clock, 'now' | 'setTimeout'>;
    capabilities?: DisplayCapabilities;
    cycleMs?: number;
    log: Log;
  }) {
    for (const m of o.store.all()) this.ownItems().set(m.id, m);
    this.cycleMs = o.cycleMs ?? DEFAULT_CYCLE_MS;
  }

  get capabilities(): DisplayCapabilities {
    return this.o.capabilities ?? DEFAULT_DISPLAY_CAPABILITIES;
  }

  /** Expired messages (also those that ended while the station was off) are removed; the boundary timer runs. */
  start(): void {
    this.started = true;
    this.expire();
    this.schedule();
  }

  stop(): void {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /**
   * Set a message, replacing one with the same id. `sessionOpen` says whether a session a message
   * names is running (a message for an unknown or ended transaction is refused).
   */
  set(m: Omit<DisplayMessage, 'setAt'>, sessionOpen: (sessionId: string) => boolean): SetMessageOutcome {
    const caps = this.capabilities;
    const now = this.o.clock.now();
    const refuse = (status: SetMessageStatus, reason: string): SetMessageOutcome => {
      this.o.log.info('display message refused', { messageId: m.id, status, reason });
      return { status, reason };
    };
    if (!caps.formats.includes(m.message.format)) return refuse('NotSupportedMessageFormat', `format ${m.message.format} is not shown here (${caps.formats.join(', ')})`);
    if (!caps.priorities.includes(m.priority)) return refuse('NotSupportedPriority', `priority ${m.priority} is not supported`);
    if (m.state !== undefined && !caps.states.includes(m.state)) return refuse('NotSupportedState', `state ${m.state} is not supported`);
    if (m.sessionId !== undefined && !sessionOpen(m.sessionId)) return refuse('UnknownTransaction', 'no such transaction is running');
    if (m.message.format === 'ASCII' && !/^[\x20-\x7e\r\n\t]*$/.test(m.message.content)) return refuse('Rejected', 'ASCII content holds other characters');
    if (m.startsAt !== undefined && m.endsAt !== undefined && m.endsAt <= m.startsAt) return refuse('Rejected', 'endDateTime is not after startDateTime');
    if (m.endsAt !== undefined && m.endsAt <= now) return refuse('Rejected', 'endDateTime has passed');
    this.expire();
    if (!this.items.has(m.id) && this.items.size >= caps.maxMessages()) return refuse('Rejected', `the station holds its maximum of ${caps.maxMessages()} messages`);
    const stored: DisplayMessage = { ...m, setAt: now };
    this.o.store.put(stored);
    this.ownItems().set(m.id, stored);
    this.o.log.info('display message set', { messageId: m.id, priority: m.priority, state: m.state, transaction: m.sessionId !== undefined });
    this.changed();
    return { status: 'Accepted' };
  }

  /** Remove a message: whether it was held. */
  clear(id: number): boolean {
    this.expire();
    if (!this.items.has(id)) return false;
    this.o.store.remove(id);
    this.ownItems().delete(id);
    this.changed();
    return true;
  }

  /** The messages held (not expired), by filter: every criterion given must match; in id order. */
  list(filter: MessageFilter = {}): DisplayMessage[] {
    this.expire();
    return [...this.items.values()]
      .filter((m) => (filter.ids === undefined || filter.ids.includes(m.id)) && (filter.priority === undefined || m.priority === filter.priority) && (filter.state === undefined || m.state === filter.state))
      .sort((a, b) => a.id - b.id);
  }

  /** A session ended: its messages go. */
  sessionEnded(sessionId: string): void {
    const ids = [...this.items.values()].filter((m) => m.sessionId === sessionId).map((m) => m.id);
    for (const id of ids) {
      this.o.store.remove(id);
      this.ownItems().delete(id);
    }
    if (ids.length) this.changed();
  }

  /** Show a driver's message (with a QR code text, when given) for `durationMs` on one EVSE (or every one). Not stored: it matters for a moment. */
  showPersonal(message: MessageContent, durationMs: number = PERSONAL_MESSAGE_MS, evseId?: EvseId, extra: { qrCode?: string } = {}): void {
    const now = this.o.clock.now();
    this.personal = this.personal.filter((p) => p.until > now && p.evseId !== evseId);
    const content = [...message.content].slice(0, PERSONAL_MESSAGE_SIZE).join('');
    this.personal.push({
      ...(evseId !== undefined ? { evseId } : {}), message: { ...message, content }, until: now + durationMs, setAt: now,
      ...(extra.qrCode !== undefined ? { qrCode: extra.qrCode } : {}),
    });
    this.changed();
  }

  /** The central system told the cost of a session (2.0.1 CostUpdated, a TransactionEvent's totalCost). */
  costUpdated(cost: CentralCost): void {
    const before = this.costs?.get(cost.evseId);
    // A late running cost never replaces the final one of the same session.
    if (before && before.sessionId === cost.sessionId && before.final && !cost.final) return;
    (this.costs ??= new Map()).set(cost.evseId, { ...cost });
    this.o.log.debug('cost from the central system', { evseId: cost.evseId, final: cost.final });
    this.events.emit('change');
  }

  /** The central system's latest cost of the EVSE's current or last session, if it told one. */
  costOf(evseId: EvseId): CentralCost | undefined {
    return this.costs?.get(evseId);
  }

  /**
   * What an idle EVSE shows when no message or personal message is for it (a version binding's
   * default price text: 1.6 California Pricing DefaultPrice); undefined: nothing. Not stored: the
   * binding sets it from its settings at start.
   */
  setFallback(message: MessageContent | undefined): void {
    const same = message === undefined ? this.fallback === undefined
      : this.fallback !== undefined && this.fallback.content === message.content && this.fallback.format === message.format && this.fallback.language === message.language;
    if (same) return;
    this.fallback = message && { ...message };
    this.events.emit('change');
  }

  /** What an EVSE in this state (and session) shows now: the chosen message, else (idle, without a session) the fallback. */
  shown(evse: { evseId: EvseId; state: MessageState; sessionId?: string }): ShownMessage | undefined {
    const chosen = chooseMessage([...this.items.values()], this.personal, evse, this.o.clock.now(), this.cycleMs);
    if (chosen || !this.fallback || evse.state !== 'Idle' || evse.sessionId !== undefined) return chosen;
    return { priority: 'NormalCycle', message: this.fallback };
  }

  /** Whether an EVSE's choice rotates (more than one NormalCycle message could be its turn): the screen refreshes every cycleMs. */
  get cycling(): boolean {
    return [...this.items.values()].filter((m) => m.priority === 'NormalCycle').length > 1;
  }

  /** The messages, to write. */
  private ownItems(): Map<number, DisplayMessage> {
    if (this.items === NO_MESSAGES) this.items = new Map();
    return this.items as Map<number, DisplayMessage>;
  }

  private expire(): void {
    const now = this.o.clock.now();
    let removed = 0;
    for (const m of [...this.items.values()]) {
      if (m.endsAt !== undefined && m.endsAt <= now) {
        this.o.store.remove(m.id);
        this.ownItems().delete(m.id);
        removed++;
      }
    }
    this.personal = this.personal.filter((p) => p.until > now);
    if (removed) this.o.log.debug('display messages expired', { removed });
  }

  private changed(): void {
    this.schedule();
    this.events.emit('change');
  }

  /** A timer for the next window boundary (a start, an end, a personal message's end). */
  private schedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.started) return;
    const now = this.o.clock.now();
    const boundaries = [
      ...[...this.items.values()].flatMap((m) => [m.startsAt, m.endsAt]),
      ...this.personal.map((p) => p.until),
    ].filter((t): t is number => t !== undefined && t > now);
    if (boundaries.length === 0) return;
    const wait = Math.min(MAX_WAIT_MS, Math.min(...boundaries) - now);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.expire();
      this.changed();
    }, wait);
  }
}
