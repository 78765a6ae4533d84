import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CliProcess, logLines, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mosquitto.js';
import { TestCsms } from '../helpers/ocpp-server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('evse-edge diag against the agent\'s embedded broker (aedes, MQTT 3.1.1)', () => {
  it('an agent with mqtt.url "embedded" on mqtt.embeddedPort; `evse-edge diag` as a child process gets the status', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-diag-embedded-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({
      chargePointId: 'CP-EMB-1', csms: { url }, store: { path: join(dir, 'agent.db') },
      mqtt: { url: 'embedded', embeddedPort: port, roles: { tech: 'technician' } },
    }));
    const agent = new CliProcess(['agent', '--config', file]);
    cleanups.push(() => agent.stop('SIGKILL'));
    // The broker's address is printed at start.
    const started = await agent.waitFor((out) => logLines(out).find((l) => l.msg === 'embedded MQTT broker started'), 30_000, 'the embedded broker');
    expect(started.url).toBe(`mqtt://127.0.0.1:${port}`);
    await agent.waitFor((out) => logLines(out).find((l) => l.msg === 'diagnostics broker connected'), 30_000, 'diagnostics connected');

    const r = await runCli(['diag', 'CP-EMB-1', 'status/get', '--broker', `mqtt://127.0.0.1:${port}`, '--username', 'tech', '--timeout', '10000']);
    expect(r.code, r.err).toBe(0);
    const answer = JSON.parse(r.out) as { status: string; data: Record<string, unknown>; correlation: string };
    expect(answer.status).toBe('ok');
    expect(answer.correlation).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.data).toMatchObject({ connectors: expect.arrayContaining([expect.objectContaining({ connectorId: 1 })]) });

    // A login without a role is answered (refused), not left waiting: exit 1 with the envelope.
    const refused = await runCli(['diag', 'CP-EMB-1', 'status/get', '--broker', `mqtt://127.0.0.1:${port}`, '--username', 'nobody', '--timeout', '10000']);
    expect(refused.code, refused.err).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ status: 'error', error: { code: 'ERR_FORBIDDEN' } });
  });

  it('the embedded broker\'s port taken by another program: the agent says so, naming mqtt.embeddedPort', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-diag-embedded-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => squatter.close(r)));
    const port = (squatter.address() as { port: number }).port;
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({
      chargePointId: 'CP-EMB-2', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: join(dir, 'agent.db') },
      mqtt: { url: 'embedded', embeddedPort: port },
    }));
    const r = await runCli(['agent', '--config', file], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`127.0.0.1:${port}: the port is in use`);
    expect(r.err).toContain('mqtt.embeddedPort');
  });
});
