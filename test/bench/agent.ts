import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CentralSystem } from '../../src/csms/central-system.js';
import { silentLog } from '../../src/lib/log.js';
import { OcppConnection } from '../../src/ocpp/connection.js';
import type { CentralSystemCalls, ChargePointCalls } from '../../src/ocpp/v16/messages.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

/** The process and its descendants (as an outside observer sees the agent: any helper process it starts counts). */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

const mib = (kib: number) => Math.round(kib / 102.4) / 10;
const treeMiB = (pid: number, field: 'VmRSS' | 'VmHWM') => mib(tree(pid).reduce((n, p) => n + statusKiB(p, field), 0));

/**
 * One agent (the built CLI, as a controller runs it) against the embedded central system: time
 * from process start to BootNotification accepted, RSS of the whole process tree after `idleS`
 * seconds idle and after `chargeS` seconds charging two connectors, its peak, and OCPP round
 * trips per second on loopback.
 */
export async function benchAgent(opts: { idleS?: number; chargeS?: number; roundTripS?: number; ocpp?: '1.6' | '2.0.1' } = {}): Promise<Record<string, number | string>> {
  const v201 = opts.ocpp === '2.0.1';
  // The 1.6 figures keep their names; the 2.0.1 ones say their version.
  const agent = v201 ? 'agent on 2.0.1' : 'agent';
  const idleS = opts.idleS ?? 60;
  const chargeS = opts.chargeS ?? 60;
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-bench-'));
  const csms = new CentralSystem({ port: 0, log: silentLog, heartbeatIntervalS: 300 });
  const port = await csms.listen();
  const url = `ws://127.0.0.1:${port}/ocpp`;
  const config = join(dir, 'agent.json');
  writeFileSync(config, JSON.stringify({
    chargePointId: 'CP-BENCH-1', csms: { url, ocppVersions: [v201 ? 'ocpp2.0.1' : 'ocpp1.6'] }, store: { path: join(dir, 'agent.db') }, log: { level: 'warn' },
    ocpp: { MeterValueSampleInterval: 10 }, simulation: { arrivalDelayMs: 100, departureDelayMs: 0 },
  }));
  const started = process.hrtime.bigint();
  let acceptedAt: bigint | undefined;
  csms.on('call', (c) => {
    if (c.action === 'BootNotification' && !acceptedAt) acceptedAt = process.hrtime.bigint();
  });
  const { EVSE_EDGE_SOURCES: _, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const out: Record<string, number | string> = {};
  try {
    while (!acceptedAt || !csms.connectedIds().includes('CP-BENCH-1')) await sleep(5);
    out[`${agent}: process start → BootNotification accepted (ms)`] = Number((acceptedAt - started) / 1_000_000n);
    await sleep(idleS * 1000);
    out[`${agent}: RSS after ${idleS} s idle, process tree (MiB)`] = treeMiB(child.pid!, 'VmRSS');
    for (const evse of [1, 2]) {
      const token = `DEMO000${evse}`;
      if (v201) await csms.callV201('CP-BENCH-1', 'RequestStartTransaction', { evseId: evse, remoteStartId: evse, idToken: { idToken: token, type: 'Central' } });
      else await csms.call('CP-BENCH-1', 'RemoteStartTransaction', { connectorId: evse, idTag: token });
    }
    await sleep(chargeS * 1000);
    out[`${agent}: RSS after ${chargeS} s charging two ${v201 ? 'EVSEs' : 'connectors'}, process tree (MiB)`] = treeMiB(child.pid!, 'VmRSS');
    out[`${agent}: peak RSS so far, process tree (MiB)`] = treeMiB(child.pid!, 'VmHWM');
    out[`${agent}: processes in its tree`] = tree(child.pid!).length;
    out[`${agent}: meter values received by the central system in that time`] = v201
      ? csms.store.transactionsV201().reduce((a, t) => a + t.meterValueCount, 0)
      : csms.store.transactions().reduce((a, t) => a + t.meterValueCount, 0);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }

  if (v201) {
    await csms.close();
    rmSync(dir, { recursive: true, force: true });
    return out;
  }
  // Round trips: sequential Heartbeats over one loopback connection, strict mode both ends.
  const conn = new OcppConnection<ChargePointCalls, CentralSystemCalls>(
    { endpoint: url, identity: 'CP-BENCH-RTT', protocol: 'ocpp1.6', callTimeoutMs: 10_000, pingIntervalMs: 0, backoff: { initialDelayMs: 100, maxDelayMs: 1000 } },
    silentLog,
  );
  conn.start();
  while (!conn.open) await sleep(5);
  const until = Date.now() + (opts.roundTripS ?? 5) * 1000;
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (Date.now() < until) {
    await conn.call('Heartbeat', {});
    n++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  out['ocpp: sequential round trips per second (loopback, strict)'] = Math.round(n / s);
  await conn.stop();
  await csms.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/** The same agent on OCPP 2.0.1 (`npm run bench -- agent201`; part of `npm run bench`). */
export const benchAgentV201 = () => benchAgent({ ocpp: '2.0.1' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
