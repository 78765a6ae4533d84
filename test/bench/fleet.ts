import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FleetRunner } from '../../src/sim/fleet/runner.js';
import { totals } from '../../src/sim/fleet/report.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');

/** The embedded central system in its own process, so the fleet's CPU and files are its own. */
async function startCsms(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--db', ':memory:', '--accept-any', '--heartbeat', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const m = /"url":"(ws:\/\/[^"]+)"/.exec(line);
    if (m) return { url: m[1]!, child };
  }
  throw new Error('the central system did not start');
}

/**
 * `npm run bench fleet`: a fleet of `count` chargers (commuter-day, morning peak, time scale
 * 60 ≈ the reference's per-station message rate) against the embedded central system in
 * another process. One process holds at most about 19,000 sockets (open-file limit 20,000):
 * beyond that, run several processes with --shard.
 */
export async function benchFleet(opts: { count?: number; wallS?: number; timeScale?: number; rampPerSec?: number } = {}): Promise<Record<string, number | string>> {
  const count = opts.count ?? Number(process.env.BENCH_FLEET_COUNT ?? 2000);
  const wallS = opts.wallS ?? Number(process.env.BENCH_FLEET_SECONDS ?? 30);
  const timeScale = opts.timeScale ?? 60;
  const { url, child } = await startCsms();
  try {
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
    const runner = new FleetRunner({
      count, scenario: 'commuter-day', urls: [url], timeScale, durationMs: wallS * 1000 * timeScale,
      startMs: Date.UTC(2026, 0, 5, 7, 0, 0), rampPerSec: opts.rampPerSec ?? 1000, seed: 1,
    });
    const { report } = await runner.run();
    clearInterval(sampler);
    const c = report.stats.counters;
    const t = totals(report);
    const cpuS = report.cpuMs / 1000;
    return {
      'chargers (connectors)': `${count} (${count * runner.charger.connectors.length})`,
      'chargers accepted': c.chargersAccepted,
      'time to all Accepted, s': (report.stats.lastAcceptedAtMs / 1000).toFixed(1),
      'RSS before / peak, MB': `${(rss0 / 2 ** 20).toFixed(0)} / ${(peakRss / 2 ** 20).toFixed(0)}`,
      'RSS per charger, KB': ((peakRss - rss0) / 1024 / count).toFixed(1),
      'worker threads': report.threads,
      'OCPP messages (out + answers in)': c.messagesOut + c.messagesIn,
      'messages per second (wall)': ((c.messagesOut + c.messagesIn) / (report.wallMs / 1000)).toFixed(0),
      'messages per CPU-second (fleet process, incl. start-up)': cpuS ? ((c.messagesOut + c.messagesIn) / cpuS).toFixed(0) : 'n/a',
      'latency p50 / p95 / p99, ms': `${t.latency.percentileMs(50).toFixed(1)} / ${t.latency.percentileMs(95).toFixed(1)} / ${t.latency.percentileMs(99).toFixed(1)}`,
      'failed calls (CALLERROR + timeouts)': t.failures,
      'sessions started': c.sessionsStarted,
      'simulator event-loop lag p99 / max, ms': `${report.lag.p99Ms.toFixed(1)} / ${report.lag.maxMs.toFixed(1)}${report.overloaded ? ' (OVERLOADED)' : ''}`,
      'EMFILE seen': c.emfile,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await benchFleet({ count: process.argv[2] ? Number(process.argv[2]) : undefined });
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(60)} ${v}`);
  process.exit(0);
}
