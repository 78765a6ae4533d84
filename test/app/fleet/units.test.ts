import { describe, expect, it } from 'vitest';
import { listProfiles } from '../../../src/config/profiles.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { Histogram, bucketOf, bucketUpperUs } from '../../../src/app/fleet/histogram.js';
import { emptyStats, FleetMetrics, mergeStats } from '../../../src/app/fleet/metrics.js';
import { checkThresholds, emptyReport, mergeReports, parseFailOn, type FleetReport } from '../../../src/app/fleet/report.js';
import { loadScenario, scenarioSchema } from '../../../src/sim/scenario.js';
import { Scheduler } from '../../../src/app/fleet/scheduler.js';
import { chargerId, parseShard, shardPositions } from '../../../src/app/fleet/shard.js';
import { Prng } from '../../../src/sim/prng.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

describe('histogram', () => {
  it('buckets are log-linear with about 3 % precision and percentiles stay within it', () => {
    for (const v of [0, 1, 31, 32, 33, 63, 64, 1000, 123_456, 5_000_000, 2 ** 33]) {
      const b = bucketOf(v);
      expect(bucketUpperUs(b)).toBeGreaterThanOrEqual(v);
      expect(bucketUpperUs(b) - v).toBeLessThanOrEqual(Math.max(0, v / 32));
      if (b > 0) expect(bucketUpperUs(b - 1)).toBeLessThan(v);
    }
    const h = new Histogram();
    for (let i = 1; i <= 10_000; i++) h.recordUs(i * 100);
    expect(h.percentileUs(50) / 500_000).toBeCloseTo(1, 1);
    expect(h.percentileUs(99) / 990_000).toBeCloseTo(1, 1);
    expect(h.percentileUs(100)).toBe(1_000_000);
    expect(h.count).toBe(10_000);
  });

  it('merging histograms equals recording everything in one', () => {
    const p = new Prng(7);
    const whole = new Histogram();
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 0; i < 5000; i++) {
      const v = p.exponential(20_000);
      whole.recordUs(v);
      (i % 3 ? a : b).recordUs(v);
    }
    const merged = Histogram.from(a.toJSON()).merge(b.toJSON());
    expect(merged.toJSON()).toEqual(whole.toJSON());
    for (const q of [50, 95, 99, 99.9]) expect(merged.percentileUs(q)).toBe(whole.percentileUs(q));
  });

  it('stats of two halves merge into the stats of the whole', () => {
    const whole = new FleetMetrics();
    const halves = [new FleetMetrics(), new FleetMetrics()];
    const p = new Prng(3);
    const results = ['ok', 'ok', 'ok', 'callerror', 'timeout', 'disconnected'] as const;
    for (let i = 0; i < 2000; i++) {
      const o = { action: p.pick(['Heartbeat', 'MeterValues', 'StatusNotification']), latencyMs: p.exponential(5), result: p.pick(results), errorCode: 'InternalError' };
      whole.onCall(o);
      halves[i % 2]!.onCall(o);
      whole.add('sessionsStarted');
      halves[i % 2]!.add('sessionsStarted');
    }
    expect(mergeStats(halves[0]!.toJSON(), halves[1]!.toJSON())).toEqual(whole.toJSON());
  });
});

describe('--fail-on', () => {
  const report = (): FleetReport => {
    const m = new FleetMetrics();
    for (let i = 0; i < 1000; i++) m.onCall({ action: 'Heartbeat', latencyMs: i < 980 ? 10 : 900, result: 'ok' });
    m.onCall({ action: 'Authorize', latencyMs: 5, result: 'callerror', errorCode: 'InternalError' });
    return { ...emptyReport(), chargers: 10, stats: { ...m.toJSON(), counters: { ...m.toJSON().counters, chargersAccepted: 10 } } };
  };

  it('reads thresholds and reports the crossed ones', () => {
    const t = parseFailOn('p95<500ms, errors<0.1%, p99<1s, accepted>=100%, lag<50ms, p50(Heartbeat)<20ms');
    expect(t.map((x) => x.metric)).toEqual(['p95', 'errors', 'p99', 'accepted', 'lag', 'p50']);
    expect(t[2]!.value).toBe(1000);
    expect(checkThresholds(report(), t)).toEqual([]);
    const crossed = checkThresholds(report(), parseFailOn('p99<500ms,errors<0.05%,callerrors<1'));
    expect(crossed.map((c) => c.threshold.metric)).toEqual(['p99', 'errors', 'callerrors']);
  });

  it('refuses what it cannot read', () => {
    expect(() => parseFailOn('p95<fast')).toThrow(/cannot read/);
    expect(() => parseFailOn('errors<5ms')).toThrow(/count/);
  });

  it('refuses an action no charger sends instead of passing silently, and fails a per-action threshold that measured nothing', () => {
    expect(() => parseFailOn('p95(Authorise)<500ms')).toThrow(/unknown action "Authorise" \(did you mean Authorize\?\)/);
    expect(() => parseFailOn('errors(RemoteStartTransaction)<1')).toThrow(/unknown action "RemoteStartTransaction": not a CALL a charger sends/);
    expect(() => parseFailOn('lag(Heartbeat)<50ms')).toThrow(/lag is the fleet's, not an action's/);
    // 2.0.1 actions are known too.
    expect(parseFailOn('p95(TransactionEvent)<500ms')[0]!.action).toBe('TransactionEvent');
    const crossed = checkThresholds(report(), parseFailOn('p95(Authorize)<500ms,p95(StartTransaction)<500ms'));
    expect(crossed).toEqual([{ threshold: expect.objectContaining({ action: 'StartTransaction' }), actual: 0, note: 'no StartTransaction CALL in the report' }]);
  });
});

describe('per-action percentiles and answers', () => {
  it('are computed from the histogram and recomputed, never added, when stats merge', () => {
    const a = new FleetMetrics();
    const b = new FleetMetrics();
    for (let i = 1; i <= 100; i++) a.onCall({ action: 'Authorize', latencyMs: i, result: 'ok', response: { idTagInfo: { status: i % 10 ? 'Accepted' : 'Invalid' } } });
    for (let i = 1; i <= 100; i++) b.onCall({ action: 'Authorize', latencyMs: 1000 + i, result: 'ok', response: { idTokenInfo: { status: 'Accepted' } } });
    b.onCall({ action: 'BootNotification', latencyMs: 3, result: 'ok', response: { status: 'Pending', currentTime: '', interval: 1 } });
    b.onCall({ action: 'Heartbeat', latencyMs: 3, result: 'ok', response: { currentTime: '' } });
    const ja = a.toJSON();
    // Within the histogram's precision (about 3 %); the maximum is exact.
    expect(ja.actions.Authorize!.percentiles!.p50Ms / 50).toBeGreaterThanOrEqual(1);
    expect(ja.actions.Authorize!.percentiles!.p50Ms / 50).toBeLessThan(1.04);
    expect(ja.actions.Authorize!.percentiles!.maxMs).toBe(100);
    expect(ja.actions.Authorize!.answers).toEqual({ Accepted: 90, Invalid: 10 });
    const m = mergeStats(ja, b.toJSON());
    const auth = m.actions.Authorize!;
    const h = Histogram.from(auth.latency);
    expect(auth.percentiles).toEqual({ p50Ms: h.percentileMs(50), p95Ms: h.percentileMs(95), p99Ms: h.percentileMs(99), maxMs: 1100 });
    expect(auth.percentiles!.p95Ms).toBeGreaterThan(1000);
    expect(auth.answers).toEqual({ Accepted: 190, Invalid: 10 });
    expect(m.actions.BootNotification!.answers).toEqual({ Pending: 1 });
    expect(m.actions.Heartbeat!.answers).toEqual({});
  });

  it('watched expectations add up across threads', () => {
    const a = new FleetMetrics();
    const b = new FleetMetrics();
    a.watch(0, 'chargers');
    a.watch(0, 'met');
    b.watch(0, 'chargers');
    b.watch(2, 'chargers');
    b.watch(2, 'notRun');
    expect(mergeStats(a.toJSON(), b.toJSON()).watched).toEqual({ 0: { chargers: 2, met: 1, notRun: 0 }, 2: { chargers: 1, met: 0, notRun: 1 } });
    expect(mergeStats(emptyStats(), emptyStats()).watched).toBeUndefined();
  });

  it('security events sent add up by type across threads; absent when none was sent; a scenario may turn them off', () => {
    const a = new FleetMetrics();
    const b = new FleetMetrics();
    a.securityEventSent('StartupOfTheDevice');
    a.securityEventSent('StartupOfTheDevice');
    b.securityEventSent('StartupOfTheDevice');
    b.securityEventSent('InvalidCsmsCertificate');
    expect(a.toJSON().securityEvents).toEqual({ StartupOfTheDevice: 2 });
    expect(mergeStats(a.toJSON(), b.toJSON()).securityEvents).toEqual({ InvalidCsmsCertificate: 1, StartupOfTheDevice: 3 });
    expect(mergeStats(a.toJSON(), emptyStats()).securityEvents).toEqual({ StartupOfTheDevice: 2 });
    expect(emptyStats().securityEvents).toBeUndefined();
    expect(mergeStats(emptyStats(), emptyStats()).securityEvents).toBeUndefined();
    // A scenario that does not say has them on.
    expect(loadScenario('smoke').securityEvents).toBe(true);
  });
});

describe('shards', () => {
  it('slices are disjoint and cover the fleet', () => {
    for (const [count, total] of [[10, 3], [1000, 7], [5, 5], [3, 4]] as const) {
      const all = Array.from({ length: total }, (_, i) => shardPositions(count, { index: i, total }));
      const flat = all.flat();
      expect(new Set(flat).size).toBe(flat.length);
      expect(flat.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(chargerId('SIM-', 0)).toBe('SIM-00001');
    expect(chargerId('SIM-', 123_455, 6)).toBe('SIM-123456');
  });

  it('defaults from a Kubernetes Indexed Job', () => {
    expect(parseShard(undefined, {})).toEqual({ index: 0, total: 1 });
    expect(parseShard('2/4', {})).toEqual({ index: 2, total: 4 });
    expect(parseShard('/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, total: 4 });
    expect(parseShard(undefined, { JOB_COMPLETION_INDEX: '1', SIM_SHARD_TOTAL: '2' })).toEqual({ index: 1, total: 2 });
    expect(() => parseShard(undefined, { JOB_COMPLETION_INDEX: '1' })).toThrow(/shard count/);
    expect(() => parseShard('4/4', {})).toThrow(/0 ≤ I < N/);
  });

  it('merge refuses the same shard twice', () => {
    const a = { ...emptyReport(), shards: [{ index: 0, total: 2 }] };
    expect(() => mergeReports([a, a])).toThrow(/twice/);
  });
});

describe('scenarios', () => {
  it('every shipped scenario loads and validates', () => {
    const ids = listProfiles('scenarios');
    expect(ids).toEqual(expect.arrayContaining(['commuter-day', 'fast-dc', 'reconnect-storm', 'smoke']));
    for (const id of ids) expect(loadScenario(id).id).toBe(id);
    expect(scenarioSchema.jsonSchema()).toMatchObject({ type: 'object' });
  });

  it('reports every problem with its field path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
    const file = join(dir, 'broken.json');
    const good = JSON.parse(JSON.stringify(loadScenario('smoke')));
    writeFileSync(file, JSON.stringify({ ...good, id: 'broken', arrivals: { ratePerHour: [1, 2] }, auth: { ...good.auth, invalidShare: 2 }, extra: 1 }));
    try {
      loadScenario(file);
      expect.unreachable();
    } catch (err) {
      const paths = (err as ConfigError).problems.map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['arrivals.ratePerHour', 'auth.invalidShare', 'extra']));
    }
  });
});

/** The event loop's turns, counted in its check phase (after the poll phase, where sockets are read) by an immediate that re-arms itself. */
function countTurns(): { turns: () => number; stop: () => void } {
  let turns = 0;
  let timer: NodeJS.Immediate;
  const tick = () => {
    turns++;
    timer = setImmediate(tick);
  };
  timer = setImmediate(tick);
  return { turns: () => turns, stop: () => clearImmediate(timer) };
}

/** How many times each value occurs. */
function countPer(values: number[]): Map<number, number> {
  const per = new Map<number, number>();
  for (const v of values) per.set(v, (per.get(v) ?? 0) + 1);
  return per;
}

describe('scheduler', () => {
  it('runs events in time order on one timer, at the time scale, and never past its end', async () => {
    let wall = 0;
    const s = new Scheduler({ startMs: 1_000_000, timeScale: 1000, wallNow: () => wall, untilMs: 1_000_000 + 50_000 });
    s.start();
    const seen: string[] = [];
    s.at(1_000_000 + 30_000, () => seen.push('c'));
    s.at(1_000_000 + 10_000, () => seen.push('a'));
    const t = s.at(1_000_000 + 20_000, () => seen.push('cancelled'));
    s.setTimeout(() => seen.push('b'), 10_000);
    s.at(1_000_000 + 60_000, () => seen.push('after-end'));
    t.cancel();
    wall = 100; // 100 wall ms = 100 simulated s
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(s.finished()).toBe(true);
    s.stop();
  });

  it('runs an event due within 2 wall ms when its timer fires (Node fires timers early by a busy turn), never showing it an earlier time', async () => {
    const wall = 0; // the wall clock stands still: only the tolerance can make an event due
    const s = new Scheduler({ startMs: 5_000, timeScale: 1, wallNow: () => wall });
    s.start();
    const seen: { name: string; now: number }[] = [];
    s.at(5_001, () => seen.push({ name: 'in 1 ms', now: s.now() }));
    s.at(5_002, () => seen.push({ name: 'in 2 ms', now: s.now() }));
    s.at(5_003, () => seen.push({ name: 'in 3 ms', now: s.now() }));
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([{ name: 'in 1 ms', now: 5_001 }, { name: 'in 2 ms', now: 5_002 }]);
    // Time never goes backwards once an event moved it.
    expect(s.now()).toBe(5_002);
    s.stop();
  });

  it('runs a burst of due events in slices, letting the event loop turn in between, in their order', async () => {
    let wall = 0;
    const s = new Scheduler({ startMs: 0, timeScale: 1, wallNow: () => wall, sliceMs: 5 });
    s.start();
    const loop = countTurns();
    const ran: { i: number; turn: number }[] = [];
    // Each event takes 1 wall ms: a slice of 5 ms ends at the next clock read (every 16 events).
    for (let i = 0; i < 100; i++) s.at(0, () => { ran.push({ i, turn: loop.turns() }); wall += 1; });
    while (ran.length < 100) await new Promise((r) => setTimeout(r, 1));
    loop.stop();
    expect(ran.map((r) => r.i)).toEqual([...Array(100).keys()]);
    const perTurn = countPer(ran.map((r) => r.turn));
    expect(perTurn.size).toBeGreaterThanOrEqual(5);
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(16);
    s.stop();
  });

  it('runs at most maxEventsPerSlice events in a turn, so the work they leave to microtasks cannot pile up into one long turn', async () => {
    const wall = 0; // the wall clock stands still: only the count can end a slice
    const s = new Scheduler({ startMs: 0, timeScale: 1, wallNow: () => wall, maxEventsPerSlice: 50 });
    s.start();
    const loop = countTurns();
    // Each event is a poll that returns at once and records its sample in a microtask.
    const recorded: { i: number; turn: number }[] = [];
    for (let i = 0; i < 400; i++) s.at(0, () => void Promise.resolve().then(() => recorded.push({ i, turn: loop.turns() })));
    while (recorded.length < 400) await new Promise((r) => setTimeout(r, 1));
    loop.stop();
    expect(recorded.map((r) => r.i)).toEqual([...Array(400).keys()]);
    const perTurn = countPer(recorded.map((r) => r.turn));
    expect(Math.max(...perTurn.values())).toBe(50);
    expect(perTurn.size).toBeGreaterThanOrEqual(8);
    s.stop();
  });

  it('stays one run per turn when the events of a burst schedule more: no slice leaves a second timer or immediate behind', async () => {
    const wall = 0;
    const s = new Scheduler({ startMs: 0, timeScale: 1, wallNow: () => wall, maxEventsPerSlice: 10 });
    s.start();
    const loop = countTurns();
    const ran: number[] = [];
    // As a charger does at each step: the event plans its next one at once (synchronously).
    for (let i = 0; i < 300; i++) s.at(0, () => { ran.push(loop.turns()); s.at(1_000_000, () => {}); });
    while (ran.length < 300) await new Promise((r) => setTimeout(r, 1));
    loop.stop();
    const perTurn = countPer(ran);
    // Before the fix: 20, 30, ... events in one turn, one more run per turn with each slice.
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(10);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Immediate')).toHaveLength(0);
    s.stop();
  });

  it('runs once per timers phase: microtasks that schedule more events cannot make its timer fire again before the loop reads its sockets', async () => {
    const s = new Scheduler({ startMs: 0, timeScale: 1, maxEventsPerSlice: 1000 });
    const loop = countTurns();
    // The turn of each run its timer started (a run the timer defers to the check phase is not one).
    const runs: number[] = [];
    const inner = s as unknown as { run: () => void; runDueOnTimer: () => void };
    let onTimer = false;
    const run = inner.run;
    inner.run = function (this: Scheduler) {
      if (onTimer) runs.push(loop.turns());
      run.call(this);
    };
    const runDueOnTimer = inner.runDueOnTimer;
    inner.runDueOnTimer = () => {
      onTimer = true;
      try {
        runDueOnTimer();
      } finally {
        onTimer = false;
      }
    };
    s.start();
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    // As a meter poll does: the event returns at once; its microtask takes longer than the gap to
    // the next event and schedules one more (a charger's next step).
    let done = 0;
    for (let i = 0; i < 60; i++) {
      s.at(i * 5, () => void Promise.resolve().then(() => {
        busy(6);
        s.setTimeout(() => done++, 0);
      }));
    }
    while (done < 60) await new Promise((r) => setTimeout(r, 5));
    loop.stop();
    const perTurn = countPer(runs);
    expect(runs.length).toBeGreaterThan(1);
    expect(Math.max(...perTurn.values())).toBe(1);
    s.stop();
  });
});
