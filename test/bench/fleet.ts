import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { FleetStatus } from '../../src/app/fleet/runner.js';
import type { ControlServer as ControlServerType } from '../../src/app/fleet/control/server.js';

/**
 * The fleet as a user runs it: the built JavaScript in dist/ (`npm run bench:fleet` builds it
 * first), so its processes and threads start without tsx's loader, as `evse-edge sim`'s do.
 * BENCH_FLEET_SOURCES=1 runs src/ through tsx instead (no build; heavier, slower to start).
 */
const FROM = process.env.BENCH_FLEET_SOURCES === '1' ? resolve(import.meta.dirname, '../../src') : resolve(import.meta.dirname, '../../dist');
/**
 * BENCH_FLEET_BUILD=<dist directory of another checkout>: that build's fleet under this harness
 * and this checkout's central system, for a side-by-side comparison (an older build keeps its
 * fleet in sim/fleet/).
 */
const BUILD = process.env.BENCH_FLEET_BUILD ? resolve(process.env.BENCH_FLEET_BUILD) : FROM;
const ext = BUILD.endsWith('src') ? 'ts' : 'js';
const FLEET_DIR = existsSync(`${BUILD}/app/fleet/runner.${ext}`) ? `${BUILD}/app/fleet` : `${BUILD}/sim/fleet`;
const { defaultRampPerSec, FleetRunner } = (await import(`${FLEET_DIR}/runner.${ext}`)) as typeof import('../../src/app/fleet/runner.js');
const { totals } = (await import(`${FLEET_DIR}/report.${ext}`)) as typeof import('../../src/app/fleet/report.js');

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

const PAGE_KB = 4;

/**
 * Every process on the machine: pid → [parent pid, CPU seconds (user + system, its own and that of
 * its children it has reaped: a fleet process that exited before the last sample still counts,
 * once), RSS KB], from /proc.
 */
function processTable(): Map<number, [number, number, number]> {
  const out = new Map<number, [number, number, number]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the command (which may hold spaces): state ppid … utime(12) stime(13) cutime(14) cstime(15) … rss(22).
      const f = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ').pop()!.split(' ');
      out.set(Number(name), [Number(f[1]), (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100, Number(f[21]) * PAGE_KB]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * What an outside observer measures: every process of this command's tree (this process and
 * all its descendants, whatever they run), apart from the central systems' subtrees, which are
 * summed separately. CPU seconds (user + system) and RSS KB.
 */
function treeUsage(exclude: Set<number>, browser = new Set<number>()): { fleet: { cpuS: number; rssKb: number; pids: number }; csms: { cpuS: number; rssKb: number }; browser: { cpuS: number; rssKb: number } } {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, [ppid]] of table) (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(pid);
  const fleet = { cpuS: 0, rssKb: 0, pids: 0 };
  const csms = { cpuS: 0, rssKb: 0 };
  const shown = { cpuS: 0, rssKb: 0 };
  const walk = (pid: number, into: { cpuS: number; rssKb: number; pids?: number }) => {
    const row = table.get(pid);
    if (row) {
      into.cpuS += row[1];
      into.rssKb += row[2];
      if (into.pids !== undefined) into.pids++;
    }
    for (const c of children.get(pid) ?? []) walk(c, exclude.has(c) ? csms : browser.has(c) ? shown : into);
  };
  walk(commandRoot(table), fleet);
  return { fleet, csms, browser: shown };
}

let root: number | undefined;
/**
 * The process the user started: `npm run bench:fleet` is npm, a shell and tsx's launcher above
 * this process, and their memory counts too. Climbs while the parent's command line is the
 * benchmark's (mentions "bench"); BENCH_FLEET_ROOT_PID overrides.
 */
function commandRoot(table: Map<number, [number, number, number]>): number {
  if (root !== undefined) return root;
  root = Number(process.env.BENCH_FLEET_ROOT_PID ?? 0) || process.pid;
  if (!process.env.BENCH_FLEET_ROOT_PID) {
    for (let parent = table.get(root)?.[0]; parent && parent > 1; parent = table.get(parent)?.[0]) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${parent}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        break;
      }
      if (!/bench/.test(cmd)) break;
      root = parent;
    }
  }
  return root;
}

/**
 * `npm run bench:fleet`: a fleet of `count` chargers (BENCH_FLEET_SCENARIO, default commuter-day
 * from 07:00, the morning peak; or e.g. bench-vs-sap's sap-atg.json at time scale 1) against the
 * embedded central system in other processes (one per 10,000 chargers). What an outside
 * observer measures, from /proc every second: CPU and RSS of every process this command starts
 * (its whole tree: the fleet's processes and threads, whatever they run), the central systems'
 * subtrees left out and reported apart. Options are those a user gets by default (the ramp
 * `evse-edge sim` chooses, 200 chargers/s per core, unless BENCH_FLEET_RAMP is set; 0: all at once). Messages are OCPP-J messages both ways as the chargers count
 * them: each CALL a charger sends and its answer, each CALL of the central system and the
 * charger's answer; CALLs alone are printed too.
 */
/** Seconds after the last charger started by which its Accepted is expected (otherwise it retries with back-off). */
const RAMP_GRACE_S = 20;

export async function benchFleet(opts: { count?: number; wallS?: number; timeScale?: number; rampPerSec?: number } = {}): Promise<Record<string, number | string>> {
  const count = opts.count ?? Number(process.env.BENCH_FLEET_COUNT ?? 20_000);
  const wallS = opts.wallS ?? Number(process.env.BENCH_FLEET_SECONDS ?? 150);
  const timeScale = opts.timeScale ?? Number(process.env.BENCH_FLEET_TIME_SCALE ?? 15);
  const scenario = process.env.BENCH_FLEET_SCENARIO ?? 'commuter-day';
  const processes = process.env.BENCH_FLEET_PROCESSES ? Number(process.env.BENCH_FLEET_PROCESSES) : undefined;
  const workers = process.env.BENCH_FLEET_WORKERS ? Number(process.env.BENCH_FLEET_WORKERS) : undefined;
  const ramp = opts.rampPerSec ?? (process.env.BENCH_FLEET_RAMP ? Number(process.env.BENCH_FLEET_RAMP) : defaultRampPerSec());
  /** Seconds after the last charger's Accepted before the steady window opens. */
  const settleS = Number(process.env.BENCH_FLEET_SETTLE_SECONDS ?? 10);
  /** The chargers' OCPP versions, as `evse-edge sim --ocpp` takes them (2.0.1, or a mix such as 1.6=50,2.0.1=50). */
  const ocpp = process.env.BENCH_FLEET_OCPP ?? '1.6';
  /**
   * BENCH_FLEET_CONTROL=1: the control API on (loopback, as `sim --control` starts it: events
   * published, /metrics served); BENCH_FLEET_DASHBOARD=1 also opens its dashboard in headless
   * Chromium (CHROMIUM_PATH, default /usr/bin/chromium) for the whole run. The browser's processes
   * are measured apart, as the user's browser; the fleet's tree pays for the API and the page's polling.
   */
  const dashboard = process.env.BENCH_FLEET_DASHBOARD === '1';
  const controlOn = dashboard || process.env.BENCH_FLEET_CONTROL === '1';
  let control: ControlServerType | undefined;
  const browserPids = new Set<number>();
  let peakBrowserRssKb = 0;
  const csmss = await Promise.all(Array.from({ length: Math.ceil(count / PER_CSMS) }, () => startCsms()));
  const exclude = new Set(csmss.map((c) => c.child.pid!));
  try {
    const u0 = treeUsage(exclude);
    let peakRssKb = u0.fleet.rssKb;
    let peakPids = u0.fleet.pids;
    let peakCsmsRssKb = u0.csms.rssKb;
    const steady: { at0?: number; acceptedAt0?: number; cpu0?: number; csms0?: number; calls0?: number; msgs0?: number; at: number; cpu: number; csms: number; calls: number; msgs: number; lagP99: number; lagMax: number } =
      { at: 0, cpu: 0, csms: 0, calls: 0, msgs: 0, lagP99: 0, lagMax: 0 };
    let accepted = 0;
    let allAcceptedAt: number | undefined;
    let everyStartedAt: number | undefined;
    let calls = 0;
    let msgs = 0;
    let lastAt = 0;
    let last = u0;
    const sample = () => {
      const u = treeUsage(exclude, browserPids);
      peakBrowserRssKb = Math.max(peakBrowserRssKb, u.browser.rssKb);
      peakRssKb = Math.max(peakRssKb, u.fleet.rssKb);
      peakPids = Math.max(peakPids, u.fleet.pids);
      peakCsmsRssKb = Math.max(peakCsmsRssKb, u.csms.rssKb);
      return u;
    };
    const sampler = setInterval(sample, 1_000);
    const runner = new FleetRunner({
      count, scenario, urls: csmss.map((c) => c.url), timeScale, durationMs: wallS * 1000 * timeScale,
      startMs: Date.UTC(2026, 0, 5, 7, 0, 0), ...(ramp !== undefined ? { rampPerSec: ramp } : {}), seed: 1,
      processes, workers, ocpp,
      ...(controlOn ? { control: {}, onControlEvents: (events) => control?.publish(events) } : {}),
      onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
      // A status every 2 s: the steady window opens settleS after every charger is Accepted;
      // with BENCH_FLEET_VERBOSE=1 a line with the RSS and the fleet's and central systems' CPU.
      statusIntervalMs: 2_000,
      onStatus: (s: FleetStatus) => {
        const u = sample();
        const dt = (s.elapsedMs - lastAt) / 1000;
        calls += s.callsPerS * dt;
        msgs += (s.messagesInPerS + s.messagesOutPerS) * dt;
        accepted = s.gauges.accepted;
        if (accepted >= count && allAcceptedAt === undefined) allAcceptedAt = s.elapsedMs;
        if (s.gauges.chargers >= count && everyStartedAt === undefined) everyStartedAt = s.elapsedMs;
        // The window opens settleS after the last charger's Accepted; a run in which a few
        // chargers are still retrying (a connection that timed out during the ramp backs off)
        // opens it settleS after the ramp's grace instead, and says how many were Accepted then.
        const openAt = allAcceptedAt ?? (everyStartedAt === undefined ? undefined : everyStartedAt + RAMP_GRACE_S * 1000);
        if (openAt !== undefined && s.elapsedMs >= openAt + settleS * 1000 && s.elapsedMs < wallS * 1000) {
          if (steady.at0 === undefined) Object.assign(steady, { at0: s.elapsedMs, cpu0: u.fleet.cpuS, csms0: u.csms.cpuS, calls0: calls, msgs0: msgs, acceptedAt0: accepted });
          Object.assign(steady, { at: s.elapsedMs, cpu: u.fleet.cpuS, csms: u.csms.cpuS, calls, msgs, lagP99: Math.max(steady.lagP99, s.lagP99Ms), lagMax: Math.max(steady.lagMax, s.lagMaxMs ?? NaN) });
        }
        if (process.env.BENCH_FLEET_VERBOSE) {
          const pct = (a: number, b: number) => (dt > 0 ? `${(((a - b) / dt) * 100).toFixed(0)}%` : '?');
          process.stderr.write(`${(s.elapsedMs / 1000).toFixed(0)}s accepted=${s.gauges.accepted} calls/s=${s.callsPerS.toFixed(0)} p50=${s.p50Ms.toFixed(0)} p99=${s.p99Ms.toFixed(0)}ms lag=${s.lagP99Ms.toFixed(0)}ms lagmax=${(s.lagMaxMs ?? NaN).toFixed(0)}ms rss=${(u.fleet.rssKb / 1024).toFixed(0)}MB (${u.fleet.pids} processes) cpu fleet=${pct(u.fleet.cpuS, last.fleet.cpuS)} csms=${pct(u.csms.cpuS, last.csms.cpuS)}\n`);
        }
        last = u;
        lastAt = s.elapsedMs;
      },
    });
    const running = runner.run();
    let closeBrowser: (() => Promise<void>) | undefined;
    let browserCpu0 = 0;
    if (controlOn) {
      const { ControlServer } = (await import(`${FLEET_DIR}/control/server.${ext}`)) as typeof import('../../src/app/fleet/control/server.js');
      control = new ControlServer({ listen: '127.0.0.1:0', fleet: runner, count });
      const url = await control.start();
      if (dashboard) {
        const { chromium } = await import('playwright-core');
        const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
        // The browser's own process: this process's child running Chromium (its helpers are its descendants).
        for (const [pid, [ppid]] of processTable()) {
          if (ppid !== process.pid) continue;
          try {
            if (/chrom/i.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) browserPids.add(pid);
          } catch {
            // gone meanwhile
          }
        }
        browserCpu0 = treeUsage(exclude, browserPids).browser.cpuS;
        const page = await browser.newPage();
        await page.goto(`${url}/dashboard/`);
        closeBrowser = () => browser.close();
      }
    }
    const { report } = await running;
    const browserCpuS = treeUsage(exclude, browserPids).browser.cpuS - browserCpu0;
    await closeBrowser?.();
    await control?.close();
    clearInterval(sampler);
    const u1 = treeUsage(exclude);
    const c = report.stats.counters;
    const t = totals(report);
    // The tree's CPU over the whole run; exited children are gone from /proc, so the last sample
    // before the end stands for them when it is larger.
    const cpuS = Math.max(u1.fleet.cpuS, last.fleet.cpuS) - u0.fleet.cpuS;
    const all = c.messagesOut + c.messagesIn;
    const callsOut = Object.values(report.stats.actions).reduce((n, a) => n + a.count, 0);
    const steadyCpu = steady.cpu - (steady.cpu0 ?? 0);
    const steadyS = (steady.at - (steady.at0 ?? 0)) / 1000;
    return {
      'control API (BENCH_FLEET_CONTROL); dashboard open (BENCH_FLEET_DASHBOARD), its browser CPU s / peak RSS MB': `${controlOn ? 'on' : 'off'}; ${dashboard ? `yes, ${browserCpuS.toFixed(1)} / ${(peakBrowserRssKb / 1024).toFixed(0)}` : 'no'}`,
      'scenario; chargers (connectors)': `${scenario}; ${count} (${count * runner.charger.connectors.length})`,
      'chargers accepted': c.chargersAccepted,
      'OCPP (BENCH_FLEET_OCPP): chargers accepted / started; CALLs sent, per version': Object.entries(report.stats.versions ?? {})
        .map(([v, x]) => `${v} ${x.chargersAccepted}/${x.chargersStarted}; ${Object.values(x.calls).reduce((n, k) => n + k, 0)}`).join(', '),
      'ramp (chargers started per second); time to all Accepted, s': `${ramp ?? 'none (default)'}; ${(report.stats.lastAcceptedAtMs / 1000).toFixed(1)}`,
      'RSS before / peak, whole tree (central systems apart), MB': `${(u0.fleet.rssKb / 1024).toFixed(0)} / ${(peakRssKb / 1024).toFixed(0)} (${peakPids} processes)`,
      'RSS per charger (peak / count), KB': (peakRssKb / count).toFixed(1),
      'central systems (processes, nice); their peak RSS, MB': `${csmss.length}, ${CSMS_NICE}; ${(peakCsmsRssKb / 1024).toFixed(0)}`,
      'processes x threads': `${Math.max(1, report.threads)} threads in ${processes ?? 'auto'} processes`,
      'time scale; messages per charger per second': `${timeScale}; ${(all / (report.wallMs / 1000) / count).toFixed(2)}`,
      'OCPP messages both ways (CALLs out, answers in, CALLs in, answers out)': all,
      'CALLs the chargers sent': callsOut,
      'messages per second (wall)': (all / (report.wallMs / 1000)).toFixed(0),
      'whole run (start-up, steady state, shutdown), whole tree: messages per CPU-second': cpuS > 0 ? (all / cpuS).toFixed(0) : 'n/a',
      'steady window, s (from settle after all Accepted)': steadyS > 0
        ? `${steadyS.toFixed(0)} (from ${((steady.at0 ?? 0) / 1000).toFixed(0)} s${steady.acceptedAt0 !== undefined && steady.acceptedAt0 < count ? `; ${steady.acceptedAt0} of ${count} Accepted when it opened` : ''})`
        : 'n/a',
      'steady, whole tree: messages per CPU-second; CALLs per CPU-second': steadyCpu > 0 && steadyS > 0
        ? `${((steady.msgs - (steady.msgs0 ?? 0)) / steadyCpu).toFixed(0)}; ${((steady.calls - (steady.calls0 ?? 0)) / steadyCpu).toFixed(0)}`
        : 'n/a (window empty: run longer, BENCH_FLEET_SECONDS)',
      'steady: fleet CPU %, central systems CPU %; worst 2 s lag p99, lag max, ms': steadyS > 0
        ? `${((steadyCpu / steadyS) * 100).toFixed(0)} %, ${(((steady.csms - (steady.csms0 ?? 0)) / steadyS) * 100).toFixed(0)} %; ${steady.lagP99.toFixed(0)}, ${steady.lagMax.toFixed(0)}`
        : 'n/a',
      'CPU (whole tree), s; wall, s': `${cpuS.toFixed(1)}; ${(report.wallMs / 1000).toFixed(1)}`,
      'latency p50 / p95 / p99, ms': `${t.latency.percentileMs(50).toFixed(1)} / ${t.latency.percentileMs(95).toFixed(1)} / ${t.latency.percentileMs(99).toFixed(1)}`,
      'failed calls (CALLERROR + timeouts)': t.failures,
      'sessions started; auth refused by the central system / without its answer': `${c.sessionsStarted}; ${c.authRefused} / ${c.authRefusedLocally ?? 0}`,
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
