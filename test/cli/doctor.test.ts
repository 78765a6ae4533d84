import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCServer } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TestCsms } from '../helpers/ocpp-server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KEY = 'doctor-secret-0001';

function config(url: string, csms: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-doctor-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify({ chargePointId: 'CP-DOC-1', csms: { url, ...csms }, store: { path: join(dir, 'agent.db') } }), { mode: 0o600 });
  return file;
}

interface Check { name: string; status: string; detail: string }
async function doctor(file: string): Promise<{ code: number | null; checks: Check[]; err: string }> {
  const r = await runCli(['doctor', '--config', file, '--json']);
  return { code: r.code, checks: JSON.parse(r.out || '[]') as Check[], err: r.err };
}
const ws = (checks: Check[]) => checks.find((c) => c.name === 'central system (OCPP)');

describe('evse-edge doctor checks the OCPP connection as the agent makes it', () => {
  it('a strict ocpp-rpc server with Basic auth: upgrade, ocpp1.6 selected and the password accepted; a wrong password refused', async () => {
    const csms = new TestCsms();
    const seen: { identity: string; password?: string }[] = [];
    csms.server.auth((accept, reject, hs) => {
      seen.push({ identity: hs.identity, password: hs.password?.toString() });
      if (hs.identity === 'CP-DOC-1' && hs.password?.toString() === KEY) accept({});
      else reject(401);
    });
    const url = await csms.start();
    cleanups.push(() => csms.stop());

    const good = await doctor(config(url, { securityProfile: 1, authorizationKey: KEY }));
    expect(ws(good.checks), good.err).toMatchObject({ status: 'ok' });
    expect(ws(good.checks)!.detail).toMatch(/ocpp1\.6/);
    expect(ws(good.checks)!.detail).toMatch(/Basic auth accepted/);
    expect(seen).toContainEqual({ identity: 'CP-DOC-1', password: KEY });

    const bad = await doctor(config(url, { securityProfile: 1, authorizationKey: 'not-the-key-00001' }));
    expect(bad.code).toBe(1);
    expect(ws(bad.checks)).toMatchObject({ status: 'fail' });
    expect(ws(bad.checks)!.detail).toMatch(/401/);
    expect(ws(bad.checks)!.detail).toMatch(/authorizationKey/);
  });

  it('a server that does not offer ocpp1.6, and one that is no WebSocket server at all: fail, saying which', async () => {
    const v201 = new RPCServer({ protocols: ['ocpp2.0.1'], strictMode: true } as never);
    const http201 = await v201.listen(0, '127.0.0.1');
    cleanups.push(() => v201.close({ force: true }));
    const r201 = await doctor(config(`ws://127.0.0.1:${(http201.address() as AddressInfo).port}/ocpp`));
    expect(ws(r201.checks)).toMatchObject({ status: 'fail' });
    expect(ws(r201.checks)!.detail).toMatch(/ocpp1\.6/);

    // The same 2.0.1 server for an agent configured for 2.0.1 (csms.ocppVersions): ok, saying so.
    const ok201 = await doctor(config(`ws://127.0.0.1:${(http201.address() as AddressInfo).port}/ocpp`, { ocppVersions: ['ocpp1.6', 'ocpp2.0.1'] }));
    expect(ws(ok201.checks), ok201.err).toMatchObject({ status: 'ok' });
    expect(ws(ok201.checks)!.detail).toMatch(/subprotocol ocpp2\.0\.1 selected, no authentication \(security profile 0\); offered ocpp1\.6, ocpp2\.0\.1/);

    const plain = createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => plain.close(r)));
    const rPlain = await doctor(config(`ws://127.0.0.1:${(plain.address() as AddressInfo).port}/ocpp`));
    expect(ws(rPlain.checks)).toMatchObject({ status: 'fail' });
    expect(ws(rPlain.checks)!.detail).toMatch(/HTTP 200|upgrade/i);
  });

  it('without --config it checks /etc/evse-edge/agent.json', async () => {
    const r = await runCli(['doctor', '--json']);
    expect(r.code).not.toBe(2);
    const checks = JSON.parse(r.out) as Check[];
    expect(checks[0]).toMatchObject({ name: 'config' });
    expect(checks[0]!.detail).toContain('/etc/evse-edge/agent.json');
  });
});
