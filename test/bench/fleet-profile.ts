/**
 * Profiling harness (not a benchmark): one fleet in this thread (no workers) against the
 * central system in another process, so `node --cpu-prof` / `--heap-prof` see the fleet only.
 *   node --import tsx --cpu-prof --cpu-prof-dir /tmp/prof test/bench/fleet-profile.ts 2000 30
 * (the sources through tsx, whose keepNames adds a name to each arrow function: the built fleet
 * in dist/ has none; RAMP, WORKERS, TIME_SCALE in the environment)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FleetRunner } from '../../src/sim/fleet/runner.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const count = Number(process.argv[2] ?? 2000);
const wallS = Number(process.argv[3] ?? 30);
const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--db', ':memory:', '--accept-any', '--heartbeat', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
let url = '';
for await (const line of createInterface({ input: child.stdout! })) {
  const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
  if (m) { url = m[1]!; break; }
}
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heap0 = process.memoryUsage();
const runner = new FleetRunner({
  count, scenario: 'commuter-day', urls: [url], durationMs: wallS * 60_000,
  startMs: Date.UTC(2026, 0, 5, 7, 0, 0), rampPerSec: Number(process.env.RAMP ?? 1000), seed: 1, workers: Number(process.env.WORKERS ?? 0),
  timeScale: Number(process.env.TIME_SCALE ?? 60), statusIntervalMs: 1000,
  onStatus: (s) => {
    if (s.elapsedMs < (wallS * 1000) / 2) return;
    if (!steady) steady = { cpu: process.cpuUsage(), calls: 0, at: Date.now() };
    else steady.calls += s.callsPerS * 1;
  },
});
let steady: { cpu: NodeJS.CpuUsage; calls: number; at: number } | undefined;
let mid: NodeJS.MemoryUsage | undefined;
setTimeout(async () => {
  gc?.(); mid = process.memoryUsage();
  if (process.env.HEAP_SPACES) console.error(JSON.stringify((await import('node:v8')).getHeapSpaceStatistics().map((x) => [x.space_name, Math.round(x.space_size / 2 ** 20), Math.round(x.space_used_size / 2 ** 20)])));
  if (process.env.HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
}, (wallS * 1000) / 2).unref();
const { report } = await runner.run();
const steadyCpu = steady && process.cpuUsage(steady.cpu);
const steadyFig = steady && steadyCpu && { steadyMsgsPerS: Math.round((2 * steady.calls) / ((Date.now() - steady.at) / 1000)), steadyMsgsPerCpuS: Math.round((2 * steady.calls) / ((steadyCpu.user + steadyCpu.system) / 1e6)) };
const c = report.stats.counters;
const f = (n: number) => (n / 2 ** 20).toFixed(0);
console.log(JSON.stringify({
  ...steadyFig, count, accepted: c.chargersAccepted, lastAcceptedS: report.stats.lastAcceptedAtMs / 1000,
  msgs: c.messagesOut + c.messagesIn, cpuS: report.cpuMs / 1000, msgsPerCpuS: Math.round((c.messagesOut + c.messagesIn) / (report.cpuMs / 1000)),
  lagP99: report.lag.p99Ms, rss0: f(heap0.rss), heap0: f(heap0.heapUsed),
  rssMid: mid && f(mid.rss), heapMid: mid && f(mid.heapUsed), heapTotalMid: mid && f(mid.heapTotal), extMid: mid && f(mid.external + mid.arrayBuffers),
  perChargerKB: mid && Math.round((mid.rss - heap0.rss) / 1024 / count), heapPerChargerKB: mid && Math.round((mid.heapUsed - heap0.heapUsed) / 1024 / count),
}));
child.kill('SIGTERM');
await once(child, 'exit');
process.exit(0);
