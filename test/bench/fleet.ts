import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FleetRunner, type FleetStatus } from '../../src/sim/fleet/runner.js';
import { totals } from '../../src/sim/fleet/report.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
/** Chargers one central-system process serves (a socket each; 20,000 open files per process here). */
const PER_CSMS = Number(process.env.BENCH_FLEET_PER_CSMS ?? 10_000);

/** Niceness of the central-system processes (see startCsms). */
const CSMS_NICE = Number(process.env.BENCH_FLEET_CSMS_NICE ?? 0);

/** The embedded central system in its own process, so the fleet's CPU and files are its own. */
async function startCsms(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--db', ':memory:', '--accept-any', '--heartbeat', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // By default the central systems share the CPU evenly with the fleet, as a loopback peer
  // does. BENCH_FLEET_CSMS_NICE=10 runs them at a lower priority, as if the backend were
  // remote: the fleet's lag is then its own alone (lag p99 19 ms at 10, 33 ms at 0).
  if (CSMS_NICE !== 0) setPriority(child.pid!, CSMS_NICE);
  // It logs every connect and boot at info: its stdout is read to the end, or a full pipe
  // would block it (stdout to a pipe is synchronous in Node on Linux).
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
      if (m) resolve(m[1]!);
    });
    lines.once('close', () => reject(new Error('the central system did not start')));
  });
  return { url, child };
}

/** RSS (bytes) of this process and its children, leaving out the given pids (the central systems). */
function treeRss(exclude: Set<number>): number {
  let kb = 0;
  try {
    for (const [, rss] of fleetProcesses(exclude)) kb += rss;
  } catch {
    return process.memoryUsage().rss;
  }
  return kb * 1024;
}

/** [pid, RSS KB] of this process and its children, leaving out the given pids. */
function fleetProcesses(exclude: Set<number>): [number, number][] {
  const out = execFileSync('ps', ['-o', 'pid=,ppid=,rss=,comm=', '-A'], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([pid, ppid, rss, comm]) => [Number(pid), Number(ppid), Number(rss), comm] as const);
  // Node processes only: not the ps that lists them, nor the loader's esbuild service.
  return rows.filter(([pid, ppid, , comm]) => pid === process.pid || (ppid === process.pid && !exclude.has(pid) && comm === 'node')).map(([pid, , rss]) => [pid, rss]);
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * `npm run bench:fleet`: a fleet of `count` chargers (commuter-day, from 07:00, the morning
 * peak) against the embedded central system in other processes (one per 9,000 chargers). The
 * time scale (BENCH_FLEET_TIME_SCALE, default 15) gives each charger about 0.2 OCPP messages a
 * second, the reference simulator's rate; the figures print the rate measured. The fleet runs in
 * as many processes as the open-file limit requires, each with its worker threads; RSS is the
 * sum over the fleet's processes, CPU the fleet's (not the central systems').
 */
export async function benchFleet(opts: { count?: number; wallS?: number; timeScale?: number; rampPerSec?: number } = {}): Promise<Record<string, number | string>> {
  const count = opts.count ?? Number(process.env.BENCH_FLEET_COUNT ?? 20_000);
  const wallS = opts.wallS ?? Number(process.env.BENCH_FLEET_SECONDS ?? 90);
  const timeScale = opts.timeScale ?? Number(process.env.BENCH_FLEET_TIME_SCALE ?? 15);
  const processes = process.env.BENCH_FLEET_PROCESSES ? Number(process.env.BENCH_FLEET_PROCESSES) : undefined;
  const workers = process.env.BENCH_FLEET_WORKERS ? Number(process.env.BENCH_FLEET_WORKERS) : undefined;
  const ramp = opts.rampPerSec ?? Number(process.env.BENCH_FLEET_RAMP ?? 400);
  const csmss = await Promise.all(Array.from({ length: Math.ceil(count / PER_CSMS) }, () => startCsms()));
  const exclude = new Set(csmss.map((c) => c.child.pid!));
  try {
    const rss0 = treeRss(exclude);
    let peakRss = rss0;
    // Steady state: from 5 s after the last charger started to the end.
    const steadyFromS = (ramp > 0 ? count / ramp : 0) + 5;
    const steady: { cpu0?: number; cpu: number; calls: number; lagP99: number } = { cpu: 0, calls: 0, lagP99: 0 };
    let lastCsmsCpu = 0;
    let lastFleetCpu = 0;
    let lastAt = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, treeRss(exclude))), 1_000);
    const runner = new FleetRunner({
      count, scenario: 'commuter-day', urls: csmss.map((c) => c.url), timeScale, durationMs: wallS * 1000 * timeScale,
      startMs: Date.UTC(2026, 0, 5, 7, 0, 0), rampPerSec: ramp, seed: 1,
      processes, workers,
      onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
      // A status every 2 s: the steady-state figures (after the ramp), and with
      // BENCH_FLEET_VERBOSE=1 a line with the RSS and the fleet's and central systems' CPU.
      statusIntervalMs: 2_000,
      onStatus: (s: FleetStatus) => {
        const csmsCpu = csmss.reduce((n, c) => n + cpuSeconds(c.child.pid!), 0);
        // The fleet's processes; a fleet small enough for one process runs in this one (threads).
        const fleetPids = fleetProcesses(exclude).map(([pid]) => pid).filter((pid) => pid !== process.pid);
        const fleetCpu = fleetPids.length ? fleetPids.reduce((n, pid) => n + cpuSeconds(pid), 0) : cpuSeconds(process.pid);
        const dt = (s.elapsedMs - lastAt) / 1000;
        if (s.elapsedMs / 1000 >= steadyFromS) {
          if (steady.cpu0 === undefined) steady.cpu0 = fleetCpu;
          else steady.calls += s.callsPerS * dt;
          steady.cpu = fleetCpu;
          steady.lagP99 = Math.max(steady.lagP99, s.lagP99Ms);
        }
        if (process.env.BENCH_FLEET_VERBOSE) {
          const pct = (a: number, b: number) => (dt > 0 ? `${(((a - b) / dt) * 100).toFixed(0)}%` : '?');
          process.stderr.write(`${(s.elapsedMs / 1000).toFixed(0)}s accepted=${s.gauges.accepted} calls/s=${s.callsPerS.toFixed(0)} p50=${s.p50Ms.toFixed(0)} p99=${s.p99Ms.toFixed(0)}ms lag=${s.lagP99Ms.toFixed(0)}ms rss=${(treeRss(exclude) / 2 ** 20).toFixed(0)}MB cpu fleet=${pct(fleetCpu, lastFleetCpu)} csms=${pct(csmsCpu, lastCsmsCpu)}\n`);
        }
        lastCsmsCpu = csmsCpu;
        lastFleetCpu = fleetCpu;
        lastAt = s.elapsedMs;
      },
    });
    const { report } = await runner.run();
    clearInterval(sampler);
    const c = report.stats.counters;
    const t = totals(report);
    const cpuS = report.cpuMs / 1000;
    const msgs = c.messagesOut + c.messagesIn;
    return {
      'chargers (connectors)': `${count} (${count * runner.charger.connectors.length})`,
      'chargers accepted': c.chargersAccepted,
      'ramp (chargers started per second); time to all Accepted, s': `${ramp}; ${(report.stats.lastAcceptedAtMs / 1000).toFixed(1)}`,
      'RSS before / peak (fleet processes), MB': `${(rss0 / 2 ** 20).toFixed(0)} / ${(peakRss / 2 ** 20).toFixed(0)}`,
      'RSS per charger (peak / count), KB': (peakRss / 1024 / count).toFixed(1),
      'central systems (processes, nice)': `${csmss.length}, ${CSMS_NICE}`,
      'processes x threads': `${Math.max(1, report.threads)} threads in ${processes ?? 'auto'} processes`,
      'time scale; messages per charger per second': `${timeScale}; ${(msgs / (report.wallMs / 1000) / count).toFixed(2)}`,
      'OCPP messages (out + in)': msgs,
      'messages per second (wall)': (msgs / (report.wallMs / 1000)).toFixed(0),
      'messages per CPU-second, whole run (start-up, steady state, shutdown)': cpuS ? (msgs / cpuS).toFixed(0) : 'n/a',
      'steady state (after the ramp): messages per CPU-second (2 x calls); worst 2 s lag p99, ms': steady.cpu0 !== undefined && steady.cpu > steady.cpu0
        ? `${((2 * steady.calls) / (steady.cpu - steady.cpu0)).toFixed(0)}; ${steady.lagP99.toFixed(0)}`
        : 'n/a (run shorter than the ramp)',
      'CPU (fleet), s; wall, s': `${cpuS.toFixed(1)}; ${(report.wallMs / 1000).toFixed(1)}`,
      'latency p50 / p95 / p99, ms': `${t.latency.percentileMs(50).toFixed(1)} / ${t.latency.percentileMs(95).toFixed(1)} / ${t.latency.percentileMs(99).toFixed(1)}`,
      'failed calls (CALLERROR + timeouts)': t.failures,
      'sessions started': c.sessionsStarted,
      'simulator event-loop lag p99 / max, ms': `${report.lag.p99Ms.toFixed(1)} / ${report.lag.maxMs.toFixed(1)}${report.overloaded ? ' (OVERLOADED)' : ''}`,
      'EMFILE seen': c.emfile,
    };
  } finally {
    for (const { child } of csmss) child.kill('SIGTERM');
    await Promise.all(csmss.map(({ child }) => once(child, 'exit').catch(() => {})));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await benchFleet({ count: process.argv[2] ? Number(process.argv[2]) : undefined });
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(60)} ${v}`);
  process.exit(0);
}
