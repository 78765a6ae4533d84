import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { parsePrometheus, sample } from '../app/fleet/control-helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('evse-edge agent with metrics: {listen}', () => {
  it('serves /metrics once started, with the link Accepted, and stops with the agent', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-metrics-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({
      chargePointId: 'CP-METRICS', csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 },
      store: { path: join(dir, 'agent.db') }, log: { level: 'info' }, metrics: { listen: '127.0.0.1:0' },
    }));
    const agent = new CliProcess(['agent', '-c', config]);
    cleanups.push(() => agent.stop('SIGKILL'));
    const logged = /"url":"(http:[^"]+)","msg":"Prometheus metrics served"/;
    const endpoint = await agent.waitFor((out) => logged.exec(out)?.[1], 60_000, 'the metrics URL logged');
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await waitFor(async () => {
      const s = parsePrometheus(await (await fetch(endpoint)).text());
      return sample(s, 'evse_agent_link_state', { state: 'accepted' }) === 1;
    }, 60_000, 'accepted in /metrics');
    const exit = await agent.stop('SIGTERM', 20_000);
    expect(exit.code, agent.err.slice(-2000)).toBe(0);
    await expect(fetch(endpoint)).rejects.toThrow();
  }, 120_000);
});
