import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/config/index.js';
import { decodeAuthorizationKey } from '../../src/config/csms-security.js';
import { installWarnings } from '../../src/app/tools/install.js';
import { TestPki } from '../helpers/pki.js';
import { TlsTestCsms } from '../helpers/tls-csms.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/evse-edge.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT }).then(
  (r) => ({ code: 0, stdout: r.stdout }),
  (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
);

describe('evse-edge install --root DIR', () => {
  const root = mkdtempSync(join(tmpdir(), 'evse-edge-root-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('copies the unit, writes a starter config with a fresh key, prints next steps; never overwrites the config', async () => {
    const first = await run(['install', '--root', root, '--charge-point-id', 'CP-0042']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('user: skipped under --root (would run: useradd --system --user-group --groups dialout');
    expect(first.stdout).toContain('next steps:');
    expect(first.stdout).toContain('systemctl daemon-reload && systemctl enable --now evse-edge');

    const unit = readFileSync(join(root, 'etc/systemd/system/evse-edge.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${BIN} agent --config /etc/evse-edge/agent.json`);
    expect(unit).toContain('Type=notify');

    const configPath = join(root, 'etc/evse-edge/agent.json');
    expect(statSync(configPath).mode & 0o777).toBe(0o640);
    expect(statSync(join(root, 'etc/evse-edge')).mode & 0o777).toBe(0o750);
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    expect(config.chargePointId).toBe('CP-0042');
    expect(config.csms.securityProfile).toBe(2);
    expect(decodeAuthorizationKey(config.csms.authorizationKey)).toHaveLength(20);
    expect(() => parseAgentConfig(config, configPath)).not.toThrow();

    writeFileSync(configPath, '{"edited": true}\n');
    const again = await run(['install', '--root', root]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('exists: left as it is');
    expect(again.stdout).toContain('unchanged');
    expect(readFileSync(configPath, 'utf8')).toBe('{"edited": true}\n');
  });

  it('the installed unit passes the exposure gate too', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', join(root, 'etc/systemd/system/evse-edge.service')], { encoding: 'utf8' });
    if (r.error) return void console.warn(`exposure gate SKIPPED: systemd-analyze cannot run (${r.error.message})`);
    expect(r.status).toBe(0);
  });
});

describe('evse-edge doctor', () => {
  const pki = new TestPki();
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-doctor-'));
  afterAll(() => {
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('checks the config, serial ports, the central system over verified TLS, the database and the clock', async () => {
    const ca = pki.ca('Operator CA');
    const other = pki.ca('Other CA');
    const csms = new TlsTestCsms(pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' }));
    const url = await csms.startTls();
    try {
      const write = (name: string, caFile: string, extra: object = {}) => {
        const file = join(dir, name);
        writeFileSync(file, JSON.stringify({
          chargePointId: 'CP-DOC', csms: { url, securityProfile: 2, authorizationKey: 'evse-edge-key-0001', ca: caFile },
          store: { path: join(dir, 'agent.db') }, ...extra,
        }));
        return file;
      };
      const good = await run(['doctor', '--json', '--config', write('good.json', ca.cert)]);
      const results = JSON.parse(good.stdout) as { name: string; status: string; detail: string }[];
      expect(results.map((r) => r.name)).toEqual(['config', 'serial', 'central system', 'central system (OCPP)', 'database', 'clock']);
      expect(results.find((r) => r.name === 'central system')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/certificate verified/) });
      // Over the same verified TLS: the upgrade, ocpp1.6 and the Basic auth of profile 2.
      expect(results.find((r) => r.name === 'central system (OCPP)')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/ocpp1\.6 selected, Basic auth accepted \(security profile 2\)/) });
      expect(results.find((r) => r.name === 'database')!.status).toBe('warn');
      expect(good.code).toBe(0);

      const bad = await run(['doctor', '--json', '--config', write('bad.json', other.cert, {
        readers: [{ driver: 'serial', port: join(dir, 'ttyNOPE'), protocol: 'line' }],
      })]);
      const badResults = JSON.parse(bad.stdout) as { name: string; status: string; detail: string }[];
      expect(badResults.find((r) => r.name === 'central system')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/unable to verify|UNABLE_TO_VERIFY/i) });
      expect(badResults.find((r) => r.name.startsWith('serial'))).toMatchObject({ status: 'fail', detail: 'not present' });
      expect(bad.code).toBe(1);

      const invalid = await run(['doctor', '--json', '--config', write('invalid.json', ca.cert, { csms: { url: 'ws://x/ocpp', securityProfile: 2 } })]);
      expect(JSON.parse(invalid.stdout)[0]).toMatchObject({ name: 'config', status: 'fail' });
      expect(invalid.code).toBe(1);
    } finally {
      await csms.stop();
    }
  });
});

describe('installWarnings: where the unit must not run evse-edge from', () => {
  it('warns for /tmp and home directories, which the unit hides from the service, and for a source checkout', () => {
    expect(installWarnings('/usr/local/lib/node_modules/evse-edge', '/root')).toEqual([]);
    expect(installWarnings('/tmp/x/package', '/root')[0]).toContain('PrivateTmp=yes');
    expect(installWarnings('/home/ops/evse-edge', '/root')[0]).toContain('ProtectHome=yes');
    expect(installWarnings('/srv/ops/evse-edge', '/srv/ops')[0]).toContain('ProtectHome=yes');
    expect(installWarnings(ROOT, '/nonexistent').some((w) => w.includes('source checkout'))).toBe(true);
  });
});
