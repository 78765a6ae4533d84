/**
 * Profiling harness (not a benchmark): one fleet in this thread (no workers) against the
 * central system in another process, so `node --cpu-prof` / `--heap-prof` see the fleet only.
 *   node --import tsx --cpu-prof --cpu-prof-dir /tmp/prof test/bench/fleet-profile.ts 2000 30
 * (the sources through tsx, whose keepNames adds a name to each arrow function: the built fleet
 * in dist/ has none, FLEET_DIST=1 runs it; RAMP, WORKERS, TIME_SCALE in the environment)
 * PROFILE_OUT=file.cpuprofile profiles the second half of the run only (the steady state, not the
 * ramp) through the inspector, without --cpu-prof; SCENARIO in the environment too.
 * ALLOC_OUT=file.heapprofile samples allocations over the same window (HeapProfiler sampling,
 * every 32 KiB allocated on average, the collected objects included; open it in Chrome DevTools' Memory tab).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { FleetRunner as FleetRunnerType } from '../../src/app/fleet/runner.js';

// SQL_STATS=1: count and time every statement execution by its SQL text (printed at the end).
const sqlStats = new Map<string, { n: number; us: number }>();
if (process.env.SQL_STATS) {
  const Database = (await import('better-sqlite3')).default;
  const proto = Object.getPrototypeOf(new Database(':memory:').prepare('select 1')) as Record<string, unknown>;
  for (const m of ['run', 'get', 'all'] as const) {
    const orig = proto[m] as (...a: unknown[]) => unknown;
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      const t = process.hrtime.bigint();
      try { return orig.apply(this, a); } finally {
        const k = `${m} ${this.source.replace(/\s+/g, ' ').slice(0, 140)}`;
        const e = sqlStats.get(k) ?? { n: 0, us: 0 };
        e.n++; e.us += Number(process.hrtime.bigint() - t) / 1000;
        sqlStats.set(k, e);
      }
    };
  }
}
// FLEET_DIST=1: the built fleet (dist/, after npm run build), as a user runs it: no tsx keepNames in heap figures.
const { FleetRunner } = (await import(process.env.FLEET_DIST ? '../../dist/app/fleet/runner.js' : '../../src/app/fleet/runner.js')) as { FleetRunner: typeof FleetRunnerType };
const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const count = Number(process.argv[2] ?? 2000);
const wallS = Number(process.argv[3] ?? 30);
const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--db', ':memory:', '--accept-any', '--heartbeat', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
let url = '';
for await (const line of createInterface({ input: child.stdout! })) {
  const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
  if (m) { url = m[1]!; break; }
}
// The central system logs every connect and boot: its stdout is drained, or a full pipe (64 KiB,
// some 700 chargers) blocks it and no charger after those is ever accepted.
child.stdout!.resume();
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heap0 = process.memoryUsage();
const timeScale = Number(process.env.TIME_SCALE ?? 60);
const runner = new FleetRunner({
  count, scenario: process.env.SCENARIO ?? 'commuter-day', urls: [url], durationMs: wallS * 1000 * timeScale,
  startMs: Date.UTC(2026, 0, 5, 7, 0, 0), rampPerSec: Number(process.env.RAMP ?? 1000), seed: 1, workers: Number(process.env.WORKERS ?? 0),
  timeScale, statusIntervalMs: 1000,
  // The steady window: the second half of the run, up to its last second (not the stop).
  onStatus: (s) => {
    if (s.elapsedMs < (wallS * 1000) / 2 || s.elapsedMs > wallS * 1000 - 1000) return;
    if (!steady) steady = { cpu0: process.cpuUsage(), at0: Date.now(), calls: 0, cpu: process.cpuUsage(), at: Date.now() };
    else {
      steady.calls += s.callsPerS * ((Date.now() - steady.at) / 1000);
      steady.cpu = process.cpuUsage(steady.cpu0);
      steady.at = Date.now();
    }
  },
});
let steady: { cpu0: NodeJS.CpuUsage; at0: number; calls: number; cpu: NodeJS.CpuUsage; at: number } | undefined;
let mid: NodeJS.MemoryUsage | undefined;
let session: import('node:inspector').Session | undefined;
let allocSession: import('node:inspector').Session | undefined;
setTimeout(async () => {
  if (process.env.PROFILE_OUT) {
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
    await new Promise<void>((r) => session!.post('Profiler.enable', () => session!.post('Profiler.start', () => r())));
  }
  if (process.env.ALLOC_OUT) {
    const { Session } = await import('node:inspector');
    allocSession = new Session();
    allocSession.connect();
    await new Promise<void>((r) => allocSession!.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, () => r()));
  }
  gc?.(); mid = process.memoryUsage();
  if (process.env.HEAP_SPACES) console.error(JSON.stringify((await import('node:v8')).getHeapSpaceStatistics().map((x) => [x.space_name, Math.round(x.space_size / 2 ** 20), Math.round(x.space_used_size / 2 ** 20)])));
  if (process.env.HEAP_SNAPSHOT) {
    // The scripts' URLs by V8 script id, to name the closures by the snapshot's locations.
    const { Session } = await import('node:inspector');
    const dbg = new Session();
    dbg.connect();
    const scripts: Record<string, string> = {};
    dbg.on('Debugger.scriptParsed', (m) => { scripts[m.params.scriptId] = m.params.url; });
    await new Promise<void>((r) => dbg.post('Debugger.enable', () => r()));
    dbg.disconnect();
    (await import('node:fs')).writeFileSync(`${process.env.HEAP_SNAPSHOT}.scripts.json`, JSON.stringify(scripts));
    (await import('node:v8')).writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
  }
}, (wallS * 1000) / 2).unref();
// STALLS=1: when (s from start) the event loop stalled over 100 ms, and for how long.
const stalls: string[] = [];
const t00 = Date.now();
let lastTick = Date.now();
const stallTimer = process.env.STALLS ? setInterval(() => {
  const now = Date.now();
  if (now - lastTick > 120) stalls.push(`${((lastTick - t00) / 1000).toFixed(1)}s:${now - lastTick - 20}ms`);
  lastTick = now;
}, 20) : undefined;
const { report } = await runner.run();
clearInterval(stallTimer);
if (stalls.length) console.error('stalls', stalls.join(' '));
if (session) {
  const profile = await new Promise<unknown>((r) => session!.post('Profiler.stop', (_err, res) => r(res.profile)));
  (await import('node:fs')).writeFileSync(process.env.PROFILE_OUT!, JSON.stringify(profile));
}
if (allocSession) {
  const profile = await new Promise<unknown>((r) => allocSession!.post('HeapProfiler.stopSampling', (_err, res) => r(res.profile)));
  (await import('node:fs')).writeFileSync(process.env.ALLOC_OUT!, JSON.stringify(profile));
}
const steadyFig = steady && steady.at > steady.at0 && {
  steadyMsgsPerS: Math.round((2 * steady.calls) / ((steady.at - steady.at0) / 1000)),
  steadyMsgsPerCpuS: Math.round((2 * steady.calls) / ((steady.cpu.user + steady.cpu.system) / 1e6)),
  steadyCpuMsPerCall: +(((steady.cpu.user + steady.cpu.system) / 1e3) / Math.max(1, steady.calls)).toFixed(3),
};
const c = report.stats.counters;
const f = (n: number) => (n / 2 ** 20).toFixed(0);
console.log(JSON.stringify({
  ...steadyFig, count, accepted: c.chargersAccepted, lastAcceptedS: report.stats.lastAcceptedAtMs / 1000,
  msgs: c.messagesOut + c.messagesIn, cpuS: report.cpuMs / 1000, msgsPerCpuS: Math.round((c.messagesOut + c.messagesIn) / (report.cpuMs / 1000)),
  lagP99: report.lag.p99Ms, lagMax: report.lag.maxMs, rss0: f(heap0.rss), heap0: f(heap0.heapUsed),
  rssMid: mid && f(mid.rss), heapMid: mid && f(mid.heapUsed), heapTotalMid: mid && f(mid.heapTotal), extMid: mid && f(mid.external + mid.arrayBuffers),
  perChargerKB: mid && Math.round((mid.rss - heap0.rss) / 1024 / count), heapPerChargerKB: mid && Math.round((mid.heapUsed - heap0.heapUsed) / 1024 / count),
}));
if (process.env.ACTIONS) console.error(JSON.stringify(Object.fromEntries(Object.entries(report.stats.actions).map(([k, a]) => [k, (a as { count: number }).count]))));
if (sqlStats.size) {
  for (const [k, e] of [...sqlStats].sort((a, b) => b[1].us - a[1].us).slice(0, 40)) console.error(`${(e.us / 1e6).toFixed(2)} s ${e.n} x ${(e.us / e.n).toFixed(1)} us  ${k}`);
}
child.kill('SIGTERM');
await once(child, 'exit');
process.exit(0);
