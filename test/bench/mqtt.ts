import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { diagRequest, noDelay } from '../../src/app/tools/diag-client.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100 Hz)
}

/**
 * MQTT diagnostics at default settings: messages the agent publishes per second while two
 * connectors charge, the agent's CPU with and without diagnostics, and request → answer time
 * through mosquitto on loopback.
 */
export async function benchMqtt(opts: { windowS?: number; requests?: number } = {}): Promise<Record<string, number | string>> {
  const windowS = opts.windowS ?? 30;
  const broker = await startMosquitto([
    { name: 'agent', password: 'agent-pw', acl: ['topic readwrite evse/#'] },
    { name: 'tech', password: 'tech-pw', acl: ['topic read evse/#', 'topic write evse/+/request/#'] },
  ]);
  const csms = new TestCsms();
  const url = await csms.start();
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-bench-mqtt-'));
  const out: Record<string, number | string> = {};
  try {
    for (const withMqtt of [false, true]) {
      const id = withMqtt ? 'CP-MQTT-ON' : 'CP-MQTT-OFF';
      const config = join(dir, `${id}.json`);
      writeFileSync(config, JSON.stringify({
        chargePointId: id, csms: { url }, store: { path: join(dir, `${id}.db`) }, log: { level: 'warn' },
        simulation: { arrivalDelayMs: 100, departureDelayMs: 0 },
        ...(withMqtt ? { mqtt: { url: broker.url, username: 'agent', password: 'agent-pw', roles: { tech: 'technician' }, rateLimit: { requests: 100_000, perSeconds: 1 } } } : {}),
      }));
      const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: 'ignore' });
      const spy = await mqtt.connectAsync(broker.url, { username: 'tech', password: 'tech-pw', protocolVersion: 5 });
      noDelay(spy);
      let published = 0;
      spy.on('message', (topic) => {
        if (topic.startsWith(`evse/${id}/`) && !topic.includes('/response/')) published++;
      });
      await spy.subscribeAsync(`evse/${id}/#`, { qos: 0 });
      try {
        await waitFor(() => csms.clients.has(id), 20_000, `${id} connected`);
        await csms.call(id, 'RemoteStartTransaction', { connectorId: 1, idTag: 'BENCH1' });
        await csms.call(id, 'RemoteStartTransaction', { connectorId: 2, idTag: 'BENCH2' });
        await sleep(2_000);
        published = 0;
        const t0 = cpuTicks(child.pid!);
        await sleep(windowS * 1000);
        const cpuPct = ((cpuTicks(child.pid!) - t0) / (windowS * 100)) * 100;
        out[`agent CPU while charging two connectors, diagnostics ${withMqtt ? 'on' : 'off'} (% of a core)`] = Number(cpuPct.toFixed(2));
        if (withMqtt) {
          out['mqtt: messages published per second (default settings, two sessions)'] = Number((published / windowS).toFixed(2));
          const n = opts.requests ?? 500;
          const lat: number[] = [];
          for (let i = 0; i < n; i++) {
            const s = performance.now();
            const a = await diagRequest(spy, { root: 'evse', chargePointId: id, command: 'status/get', body: {}, user: 'tech', timeoutMs: 5_000 });
            if (a.status !== 'ok') throw new Error(`status/get failed: ${JSON.stringify(a.error)}`);
            lat.push(performance.now() - s);
          }
          lat.sort((a, b) => a - b);
          out['mqtt: status/get request → answer through mosquitto, median (ms)'] = Number(lat[Math.floor(n / 2)]!.toFixed(2));
          out['mqtt: status/get request → answer through mosquitto, p99 (ms)'] = Number(lat[Math.floor(n * 0.99)]!.toFixed(2));
        }
      } finally {
        await spy.endAsync();
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  } finally {
    await csms.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
