/**
 * The protocol-neutral display messages (src/core/display-messages.ts): what a screen shows by
 * priority, state, time window and transaction; set/replace/clear/list; refusals; expiry and
 * transaction end; and persistence in a real SQLite file across a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import {
  chooseMessage, DisplayMessages, MemoryDisplayMessageStore, messageStateOf, type DisplayMessage, type DisplayMessageStore,
} from '../../src/core/display-messages.js';
import { silentLog } from '../../src/lib/log.js';
import { openDatabase, SqliteDisplayMessages } from '../../src/store/index.js';

const T0 = Date.UTC(2026, 0, 1);
const text = (content: string) => ({ format: 'UTF8' as const, content });
const open = (ids: string[]) => (id: string) => ids.includes(id);

function build(store: DisplayMessageStore = new MemoryDisplayMessageStore(), clock = new ManualClock(T0), max = 3) {
  const d = new DisplayMessages({
    store, clock, log: silentLog, cycleMs: 5_000,
    capabilities: { formats: ['ASCII', 'UTF8'], priorities: ['AlwaysFront', 'InFront', 'NormalCycle'], states: ['Charging', 'Faulted', 'Idle', 'Unavailable'], maxMessages: () => max },
  });
  let changes = 0;
  d.onChange(() => changes++);
  d.start();
  return { d, clock, store, changes: () => changes };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('chooseMessage (pure)', () => {
  const m = (id: number, priority: DisplayMessage['priority'], extra: Partial<DisplayMessage> = {}): DisplayMessage => ({ id, priority, message: text(`m${id}`), setAt: T0 + id, ...extra });
  const evse = { evseId: 1, state: 'Idle' as const };

  it('AlwaysFront beats InFront beats NormalCycle; the newest of equal priority wins; nothing when none applies', () => {
    expect(chooseMessage([], [], evse, T0, 5_000)).toBeUndefined();
    expect(chooseMessage([m(1, 'NormalCycle'), m(2, 'InFront'), m(3, 'InFront')], [], evse, T0, 5_000)?.id).toBe(3);
    expect(chooseMessage([m(1, 'NormalCycle'), m(2, 'AlwaysFront'), m(3, 'InFront')], [], evse, T0, 5_000)?.id).toBe(2);
    expect(chooseMessage([m(1, 'NormalCycle')], [], evse, T0, 5_000)).toEqual({ id: 1, priority: 'NormalCycle', message: text('m1') });
  });

  it('NormalCycle messages take turns of cycleMs in id order', () => {
    const all = [m(7, 'NormalCycle'), m(3, 'NormalCycle'), m(5, 'NormalCycle')];
    const at = (k: number) => chooseMessage(all, [], evse, k * 5_000, 5_000)?.id;
    expect([at(0), at(1), at(2), at(3)]).toEqual([3, 5, 7, 3]);
  });

  it('state, window and transaction decide whether a message applies', () => {
    const msgs = [
      m(1, 'InFront', { state: 'Charging' }),
      m(2, 'InFront', { startsAt: T0 + 1_000, endsAt: T0 + 2_000 }),
      m(3, 'InFront', { sessionId: 'S1' }),
    ];
    expect(chooseMessage(msgs, [], evse, T0, 5_000)).toBeUndefined();
    expect(chooseMessage(msgs, [], { evseId: 1, state: 'Charging' }, T0, 5_000)?.id).toBe(1);
    expect(chooseMessage(msgs, [], evse, T0 + 1_000, 5_000)?.id).toBe(2);
    expect(chooseMessage(msgs, [], evse, T0 + 2_000, 5_000)).toBeUndefined();
    expect(chooseMessage(msgs, [], { evseId: 1, state: 'Charging', sessionId: 'S1' }, T0, 5_000)?.id).toBe(3);
    expect(chooseMessage(msgs, [], { evseId: 2, state: 'Idle', sessionId: 'S2' }, T0, 5_000)).toBeUndefined();
  });

  it('a personal message counts as InFront on its EVSE until it ends', () => {
    const personal = [{ evseId: 2, message: text('Hello Ann'), until: T0 + 1_000, setAt: T0 + 100 }];
    expect(chooseMessage([m(1, 'NormalCycle')], personal, { evseId: 2, state: 'Idle' }, T0, 5_000)).toEqual({ priority: 'InFront', message: text('Hello Ann') });
    expect(chooseMessage([m(1, 'NormalCycle')], personal, { evseId: 1, state: 'Idle' }, T0, 5_000)?.id).toBe(1);
    expect(chooseMessage([m(1, 'AlwaysFront')], personal, { evseId: 2, state: 'Idle' }, T0, 5_000)?.id).toBe(1);
    expect(chooseMessage([], personal, { evseId: 2, state: 'Idle' }, T0 + 1_000, 5_000)).toBeUndefined();
  });

  it('an EVSE condition maps to a message state', () => {
    expect(messageStateOf({ faulted: true, availability: 'Operative', chargingState: 'Charging' })).toBe('Faulted');
    expect(messageStateOf({ faulted: false, availability: 'Inoperative', chargingState: 'Idle' })).toBe('Unavailable');
    expect(messageStateOf({ faulted: false, availability: 'Operative', chargingState: 'SuspendedEV' })).toBe('Charging');
    expect(messageStateOf({ faulted: false, availability: 'Operative', chargingState: 'EVConnected' })).toBe('Idle');
  });
});

describe('DisplayMessages', () => {
  it('refuses what the station cannot show, an unknown transaction, a passed end, and a new id when full; replaces an id in place', () => {
    const { d, changes } = build();
    expect(d.set({ id: 1, priority: 'NormalCycle', message: { format: 'HTML', content: '<b>x</b>' } }, open([])).status).toBe('NotSupportedMessageFormat');
    expect(d.set({ id: 1, priority: 'NormalCycle', message: { format: 'URI', content: 'https://x' } }, open([])).status).toBe('NotSupportedMessageFormat');
    expect(d.set({ id: 1, priority: 'InFront', sessionId: 'nope', message: text('x') }, open(['S1'])).status).toBe('UnknownTransaction');
    expect(d.set({ id: 1, priority: 'InFront', endsAt: T0 - 1, message: text('x') }, open([])).status).toBe('Rejected');
    expect(d.set({ id: 1, priority: 'InFront', startsAt: T0 + 10, endsAt: T0 + 10, message: text('x') }, open([])).status).toBe('Rejected');
    expect(d.set({ id: 1, priority: 'InFront', message: { format: 'ASCII', content: 'Grüße' } }, open([])).status).toBe('Rejected');
    expect(changes()).toBe(0);
    for (const id of [1, 2, 3]) expect(d.set({ id, priority: 'NormalCycle', message: text(`m${id}`) }, open([])).status).toBe('Accepted');
    expect(d.set({ id: 4, priority: 'NormalCycle', message: text('m4') }, open([]))).toMatchObject({ status: 'Rejected', reason: expect.stringContaining('maximum of 3') });
    // The same id replaces the message, even when full.
    expect(d.set({ id: 2, priority: 'AlwaysFront', message: text('replaced') }, open([])).status).toBe('Accepted');
    expect(d.list().map((m) => [m.id, m.priority, m.message.content])).toEqual([[1, 'NormalCycle', 'm1'], [2, 'AlwaysFront', 'replaced'], [3, 'NormalCycle', 'm3']]);
    expect(d.shown({ evseId: 1, state: 'Idle' })?.id).toBe(2);
    expect(changes()).toBe(4);
    // Filters: every criterion given must match.
    expect(d.list({ priority: 'NormalCycle' }).map((m) => m.id)).toEqual([1, 3]);
    expect(d.list({ ids: [3, 9] }).map((m) => m.id)).toEqual([3]);
    expect(d.list({ ids: [1], priority: 'AlwaysFront' })).toEqual([]);
    expect(d.clear(2)).toBe(true);
    expect(d.clear(2)).toBe(false);
    expect(d.list().map((m) => m.id)).toEqual([1, 3]);
    d.stop();
  });

  it('a station that shows fewer priorities or states refuses the others (NotSupportedPriority, NotSupportedState)', () => {
    const d = new DisplayMessages({
      store: new MemoryDisplayMessageStore(), clock: new ManualClock(T0), log: silentLog,
      capabilities: { formats: ['UTF8'], priorities: ['NormalCycle'], states: ['Idle'], maxMessages: () => 5 },
    });
    expect(d.set({ id: 1, priority: 'AlwaysFront', message: text('x') }, open([])).status).toBe('NotSupportedPriority');
    expect(d.set({ id: 1, priority: 'NormalCycle', state: 'Charging', message: text('x') }, open([])).status).toBe('NotSupportedState');
    expect(d.set({ id: 1, priority: 'NormalCycle', message: { format: 'ASCII', content: 'x' } }, open([])).status).toBe('NotSupportedMessageFormat');
    expect(d.set({ id: 1, priority: 'NormalCycle', state: 'Idle', message: text('x') }, open([])).status).toBe('Accepted');
    expect(d.list().map((m) => m.id)).toEqual([1]);
  });

  it('a message ends at its endDateTime (removed, and the screen told), and with its transaction', () => {
    const { d, clock, changes } = build();
    d.set({ id: 1, priority: 'InFront', startsAt: T0 + 1_000, endsAt: T0 + 5_000, message: text('window') }, open([]));
    d.set({ id: 2, priority: 'InFront', sessionId: 'S1', message: text('your session') }, open(['S1']));
    expect(d.shown({ evseId: 1, state: 'Idle' })).toBeUndefined();
    const before = changes();
    clock.advance(1_000);
    expect(changes()).toBe(before + 1); // the window opened
    expect(d.shown({ evseId: 1, state: 'Idle' })?.id).toBe(1);
    clock.advance(4_000);
    expect(changes()).toBe(before + 2);
    expect(d.list().map((m) => m.id)).toEqual([2]);
    expect(d.shown({ evseId: 1, state: 'Charging', sessionId: 'S1' })?.id).toBe(2);
    d.sessionEnded('S2');
    expect(d.list().map((m) => m.id)).toEqual([2]);
    d.sessionEnded('S1');
    expect(d.list()).toEqual([]);
    d.showPersonal(text('Hi'), 2_000, 1);
    expect(d.shown({ evseId: 1, state: 'Idle' })?.message.content).toBe('Hi');
    clock.advance(2_000);
    expect(d.shown({ evseId: 1, state: 'Idle' })).toBeUndefined();
    d.stop();
  });

  it('a fallback (a binding\'s default price) shows only on an idle EVSE without a session, behind every message; the screen is told when it changes', () => {
    const { d, changes } = build();
    const idle = { evseId: 1, state: 'Idle' as const };
    expect(d.shown(idle)).toBeUndefined();
    d.setFallback({ format: 'UTF8', language: 'en', content: '0.39 EUR/kWh' });
    expect(changes()).toBe(1);
    d.setFallback({ format: 'UTF8', language: 'en', content: '0.39 EUR/kWh' });
    expect(changes()).toBe(1);
    expect(d.shown(idle)).toEqual({ priority: 'NormalCycle', message: { format: 'UTF8', language: 'en', content: '0.39 EUR/kWh' } });
    expect(d.shown({ ...idle, sessionId: 's1' })).toBeUndefined();
    expect(d.shown({ evseId: 1, state: 'Charging' })).toBeUndefined();
    expect(d.shown({ evseId: 1, state: 'Faulted' })).toBeUndefined();
    expect(d.set({ id: 1, priority: 'NormalCycle', message: text('campaign') }, open([])).status).toBe('Accepted');
    expect(d.shown(idle)?.message.content).toBe('campaign');
    d.clear(1);
    d.showPersonal(text('Hello'), 1_000, 1);
    expect(d.shown(idle)?.message.content).toBe('Hello');
    expect(d.shown({ evseId: 2, state: 'Idle' })?.message.content).toBe('0.39 EUR/kWh');
    const before = changes();
    d.setFallback(undefined);
    expect(changes()).toBe(before + 1);
    expect(d.shown({ evseId: 2, state: 'Idle' })).toBeUndefined();
  });

  it('kept in SQLite: the messages are back after a restart, expired ones removed then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-dm-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'agent.db');
    let db = openDatabase(path, { log: silentLog });
    const clock = new ManualClock(T0);
    const first = build(new SqliteDisplayMessages(db, 'CP-1'), clock).d;
    first.set({ id: 10, priority: 'AlwaysFront', state: 'Charging', startsAt: T0, endsAt: T0 + 60_000, sessionId: 'S1', message: { format: 'UTF8', language: 'de', content: 'Grüße' } }, open(['S1']));
    first.set({ id: 11, priority: 'NormalCycle', endsAt: T0 + 1_000, message: text('short') }, open([]));
    // Another charge point in the same database holds its own.
    build(new SqliteDisplayMessages(db, 'CP-2'), clock).d.set({ id: 10, priority: 'InFront', message: text('other') }, open([]));
    first.stop();
    db.close();
    clock.advance(2_000);
    db = openDatabase(path, { log: silentLog });
    const again = build(new SqliteDisplayMessages(db, 'CP-1'), clock).d;
    expect(again.list()).toEqual([{ id: 10, priority: 'AlwaysFront', state: 'Charging', startsAt: T0, endsAt: T0 + 60_000, sessionId: 'S1', message: { format: 'UTF8', language: 'de', content: 'Grüße' }, setAt: T0 }]);
    expect(new SqliteDisplayMessages(db, 'CP-1').all().map((m) => m.id)).toEqual([10]);
    again.stop();
    db.close();
  });
});
