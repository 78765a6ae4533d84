/**
 * The fleet against a central system that wants what production ones want: TLS with a
 * certificate from the operator's private CA, and an HTTP Basic password per charger (OCPP
 * Security Profile 2), or a client certificate per charger (3). A real ocpp-rpc server in
 * strict mode behind an https server.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import type { FleetStatus } from '../../../src/app/fleet/options.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestPki } from '../../helpers/pki.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const smoke = loadScenario('smoke');
const COUNT = 30;
const BIN = resolve(import.meta.dirname, '../../../bin/evse-edge.js');

describe('fleet against a secured central system: TLS, Basic auth, client certificates (Security Profiles 1-3)', () => {
  const pki = new TestPki();
  let csms: TlsTestCsms;
  let url: string;
  let caPem: string;
  /** Every handshake: who, with which password. */
  const handshakes: { identity: string; password?: string }[] = [];

  beforeAll(async () => {
    const ca = pki.ca('Operator CA');
    const server = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    caPem = readFileSync(ca.cert, 'utf8');
    csms = new TlsTestCsms(server);
    // Each charger has its own password: load-<its id>.
    csms.server.auth((accept, reject, hs) => {
      const password = hs.password?.toString('latin1');
      handshakes.push({ identity: hs.identity, password });
      if (password === `load-${hs.identity}`) accept();
      else reject(401);
    });
    url = await csms.startTls();
  });

  afterAll(async () => {
    await csms?.stop();
    pki.cleanup();
  });

  /**
   * Runs until `until` holds on the live status (45 s at most, within the test's timeout), not
   * for a fixed time: the chargers are built in slices, and on a slow machine the last ones
   * connect late.
   */
  const run = (security: { password?: string; ca?: string }, workers: number, until: (st: FleetStatus) => boolean, processes?: number) => {
    const warnings: string[] = [];
    const deadline = Date.now() + 45_000;
    return new FleetRunner({
      count: COUNT, scenario: smoke, workers, processes, urls: [url], security, timeScale: 600, startMs: START, seed: 3,
      statusIntervalMs: 200, onWarning: (w) => warnings.push(w),
      stopWhen: (st) => until(st) || Date.now() > deadline,
    }).run().then(({ report }) => ({ report, warnings }));
  };
  const everyAccepted = (st: FleetStatus) => st.counters.chargersAccepted === COUNT;
  /** As many failed attempts as there are chargers (each charger's first, or retries). */
  const refusedAsOften = (st: FleetStatus) => st.counters.connectFailures >= COUNT;

  it('connects every charger with its own password over TLS, from worker threads', async () => {
    handshakes.length = 0;
    const { report, warnings } = await run({ password: 'load-{id}', ca: caPem }, 2, everyAccepted);
    expect(report.stats.counters.chargersAccepted).toBe(COUNT);
    expect(report.stats.counters.connectFailures).toBe(0);
    expect(warnings).toEqual([]);
    expect(handshakes).toHaveLength(COUNT);
    for (const h of handshakes) expect(h.password).toBe(`load-${h.identity}`);
    expect(csms.validationFailures).toEqual([]);
    expect(csms.tlsErrors).toEqual([]);
    // The password is a credential: not in the report.
    expect(JSON.stringify(report)).not.toMatch(/load-SIM/);
  });

  it('connects with the same credentials from several processes', async () => {
    handshakes.length = 0;
    const { report } = await run({ password: 'load-{id}', ca: caPem }, 0, everyAccepted, 2);
    expect(report.stats.counters.chargersAccepted).toBe(COUNT);
    expect(report.stats.counters.connectFailures).toBe(0);
    expect(handshakes).toHaveLength(COUNT);
    for (const h of handshakes) expect(h.password).toBe(`load-${h.identity}`);
    expect(csms.tlsErrors).toEqual([]);
  }, 90_000);

  it('from the command line: --ca and the password from SIM_CSMS_PASSWORD; --cert without --key is a usage error', async () => {
    const caFile = join(pki.dir, 'operator-ca.pem');
    writeFileSync(caFile, caPem);
    handshakes.length = 0;
    // Not spawnSync: the central system runs in this process and must answer meanwhile.
    // `interruptWhen`: Ctrl-C (SIGINT) once it holds, polled; the report is still written.
    const run = (args: string[], interruptWhen?: () => boolean) => new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(process.execPath, [BIN, 'sim', ...args], { env: { ...process.env, SIM_CSMS_PASSWORD: 'load-{id}' }, timeout: 60_000 },
        (err, stdout, stderr) => {
          clearInterval(poll);
          done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
        });
      const poll = setInterval(() => {
        if (interruptWhen?.()) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 50);
    });
    // Until every charger is Accepted (its first StatusNotification follows its Accepted boot),
    // not for a fixed duration: a loaded machine starts the process and its worker slowly.
    const callsBefore = csms.calls.length;
    const threeAccepted = () => new Set(csms.calls.slice(callsBefore).filter((c) => c.action === 'StatusNotification').map((c) => c.chargePointId)).size === 3;
    const ok = await run(['--url', url, '--ca', caFile, '--count', '3', '--time-scale', '600', '--json'], threeAccepted);
    // Ctrl-C ends a run without --duration: exit 130, the report written and marked so.
    expect(ok.status, ok.stderr).toBe(130);
    expect(JSON.parse(ok.stdout).interrupted).toMatchObject({ signal: 'SIGINT' });
    expect(JSON.parse(ok.stdout).stats.counters).toMatchObject({ chargersAccepted: 3, connectFailures: 0 });
    expect(handshakes.map((h) => h.password).sort()).toEqual(['load-SIM-00001', 'load-SIM-00002', 'load-SIM-00003']);
    const usage = await run(['--url', url, '--cert', 'certs/{id}.crt', '--count', '1']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--cert and --key go together/);
  });

  it('counts refused connections and says why: a wrong password is HTTP 401', async () => {
    handshakes.length = 0;
    const { report, warnings } = await run({ password: 'wrong', ca: caPem }, 0, refusedAsOften);
    expect(report.stats.counters.chargersAccepted).toBe(0);
    expect(report.stats.counters.connectFailures).toBeGreaterThanOrEqual(COUNT);
    expect(handshakes.length).toBeGreaterThanOrEqual(COUNT);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^connection attempts to the central system fail, e\.g\. SIM-\d{5}: HTTP 401 Unauthorized \(check --password\); the chargers keep retrying/);
  });

  it('refuses a central system whose certificate its CA does not vouch for', async () => {
    handshakes.length = 0;
    const { report, warnings } = await run({ password: 'load-{id}' }, 0, refusedAsOften);
    expect(report.stats.counters.chargersAccepted).toBe(0);
    expect(report.stats.counters.connectFailures).toBeGreaterThanOrEqual(COUNT);
    // No password went to a server it could not verify. (The server may still be reading a
    // handshake of the previous test's fleet, whose password was 'wrong': not this fleet's.)
    expect(handshakes.filter((h) => h.password !== 'wrong')).toEqual([]);
    expect(warnings[0]).toMatch(/SIM-\d{5}: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT\w*): .* \(check --ca\)/);
  });

  it('Security Profile 3: each charger presents its own client certificate, read from the file its id names', async () => {
    const clientCa = pki.ca('Charger CA');
    const serverCa = pki.ca('Operator CA 3');
    const serverPem = pki.leaf(serverCa, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    const mtls = new TlsTestCsms({ ...serverPem, clientCa: clientCa.cert });
    const mtlsUrl = await mtls.startTls();
    try {
      // certs/SIM-00001.crt … as an operator would lay them out; SIM-00004 has none.
      const dir = join(pki.dir, 'certs');
      mkdirSync(dir);
      for (const id of ['SIM-00001', 'SIM-00002', 'SIM-00003']) {
        const leaf = pki.leaf(clientCa, { cn: id, usage: 'clientAuth' });
        copyFileSync(leaf.cert, join(dir, `${id}.crt`));
        copyFileSync(leaf.key, join(dir, `${id}.key`));
      }
      const warnings: string[] = [];
      // Until three are Accepted and the fourth was refused, not for a fixed time.
      const deadline = Date.now() + 45_000;
      const { report } = await new FleetRunner({
        count: 4, scenario: smoke, workers: 0, urls: [mtlsUrl], timeScale: 600, startMs: START, seed: 3,
        security: { ca: readFileSync(serverCa.cert, 'utf8'), clientCert: { cert: join(dir, '{id}.crt'), key: join(dir, '{id}.key') } },
        statusIntervalMs: 200, onWarning: (w) => warnings.push(w),
        stopWhen: (st) => (st.counters.chargersAccepted === 3 && st.counters.connectFailures > 0) || Date.now() > deadline,
      }).run();
      expect(report.stats.counters.chargersAccepted).toBe(3);
      expect([...new Set(mtls.clientCns)].sort()).toEqual(['SIM-00001', 'SIM-00002', 'SIM-00003']);
      // The one without a certificate is refused by the server, counted and named.
      expect(report.stats.counters.connectFailures).toBeGreaterThan(0);
      expect(mtls.clients.has('SIM-00004')).toBe(false);
      // The warning names the first failure its status saw: the missing files (noted as the
      // charger connects without them) or the server's refusal that follows, by the machine's speed.
      expect(warnings.join('\n')).toMatch(/SIM-00004: .*(certificate required|cannot read its client certificate).*\(check --cert and --key\)/i);
      expect(mtls.validationFailures).toEqual([]);
    } finally {
      await mtls.stop();
    }
  });
});
