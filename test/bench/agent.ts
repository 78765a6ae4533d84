import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CentralSystem } from '../../src/csms/central-system.js';
import { silentLog } from '../../src/lib/log.js';
import { OcppConnection } from '../../src/ocpp/connection.js';
import type { CentralSystemCalls, ChargePointCalls } from '../../src/ocpp/v16/messages.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * One agent against the embedded central system: time from process start to
 * BootNotification accepted, RSS after `chargeS` seconds of charging, and OCPP round trips
 * per second on loopback.
 */
export async function benchAgent(opts: { chargeS?: number; roundTripS?: number } = {}): Promise<Record<string, number | string>> {
  const chargeS = opts.chargeS ?? 60;
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-bench-'));
  const csms = new CentralSystem({ port: 0, log: silentLog, heartbeatIntervalS: 300 });
  const port = await csms.listen();
  const url = `ws://127.0.0.1:${port}/ocpp`;
  const config = join(dir, 'agent.json');
  writeFileSync(config, JSON.stringify({
    chargePointId: 'CP-BENCH-1', csms: { url }, store: { path: join(dir, 'agent.db') }, log: { level: 'warn' },
    ocpp: { MeterValueSampleInterval: 10 }, simulation: { arrivalDelayMs: 100, departureDelayMs: 0 },
  }));
  const started = process.hrtime.bigint();
  let acceptedAt: bigint | undefined;
  csms.on('call', (c) => {
    if (c.action === 'BootNotification' && !acceptedAt) acceptedAt = process.hrtime.bigint();
  });
  const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const out: Record<string, number | string> = {};
  try {
    while (!acceptedAt || !csms.connectedIds().includes('CP-BENCH-1')) await sleep(5);
    out['agent: process start → BootNotification accepted (ms)'] = Number((acceptedAt - started) / 1_000_000n);
    await sleep(500);
    await csms.call('CP-BENCH-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'DEMO0001' });
    await csms.call('CP-BENCH-1', 'RemoteStartTransaction', { connectorId: 2, idTag: 'DEMO0002' });
    await sleep(chargeS * 1000);
    out[`agent: RSS after ${chargeS} s charging two connectors (MiB)`] = Math.round(rssKiB(child.pid!) / 102.4) / 10;
    out['agent: MeterValues received by the central system in that time'] = csms.store.transactions()
      .reduce((a, t) => a + t.meterValueCount, 0);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
