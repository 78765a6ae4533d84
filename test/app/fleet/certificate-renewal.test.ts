/**
 * A certificate-renewal campaign against a fleet (issue 18, "the fleet"): a strict central system
 * behind TLS (Security Profile 2, the operator's openssl CA) asks every simulated charger but one
 * for a new certificate (1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1
 * TriggerMessage SignChargingStationCertificate); each makes a key and sends SignCertificate with
 * a real CSR (openssl verifies it, CN the charger's id), openssl signs it, and CertificateSigned is
 * Accepted; a chain from another CA is Rejected. The charger never asked makes no store, and the
 * report counts CSRs sent and certificates accepted and rejected.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../../src/app/fleet/report.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestPki, type Pem } from '../../helpers/pki.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

const run = promisify(execFile);
const COUNT = 24;

describe('a certificate-renewal campaign to a fleet (1.6 and 2.0.1, over TLS, openssl as the CA)', () => {
  const pki = new TestPki();
  let ca: Pem;
  let rogue: Pem;
  let server: Pem;
  let n = 0;

  beforeAll(() => {
    ca = pki.ca('Operator CA');
    rogue = pki.ca('Rogue CA');
    server = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
  });
  afterAll(() => pki.cleanup());

  /** openssl checks the CSR's own signature and reads its subject; then the CA signs it. */
  const sign = async (csr: string, by: Pem): Promise<{ subject: string; chain: string }> => {
    const name = `csr-${++n}`;
    writeFileSync(join(pki.dir, `${name}.csr`), csr);
    const { stdout: subject } = await run('openssl', ['req', '-in', `${name}.csr`, '-verify', '-noout', '-subject'], { cwd: pki.dir });
    const { stdout: chain } = await run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', by.cert, '-CAkey', by.key, '-set_serial', String(5000 + n), '-days', '30', '-sha256'], { cwd: pki.dir });
    return { subject, chain };
  };

  const certDirs = () => new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('evse-fleet-certs-')));

  for (const version of ['1.6', '2.0.1'] as const) {
    it(`${version}: every charger asked sends a CSR and installs the signed certificate; one from another CA is refused; the one never asked makes no store`, async () => {
      const protocol = version === '1.6' ? 'ocpp1.6' : 'ocpp2.0.1';
      const csms = new TlsTestCsms({ ...server, protocol });
      const url = await csms.startTls();
      const before = certDirs();
      const deadline = Date.now() + 120_000;
      let outcome: { ids: string[]; triggers: Record<string, unknown>; signed: Record<string, unknown>; subjects: Record<string, string>; stores: string[]; rogue: unknown } | undefined;
      let failure: unknown;
      let started = false;
      const campaign = async () => {
        const ids = [...csms.clients.keys()].sort();
        const asked = ids.slice(1); // ids[0] is never asked
        const triggers: Record<string, unknown> = {};
        await Promise.all(asked.map(async (id) => {
          triggers[id] = version === '1.6'
            ? await csms.call(id, 'ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })
            : await csms.call(id, 'TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' });
        }));
        const csrOf = async (id: string, nth: number): Promise<string> => {
          for (;;) {
            // The nth distinct request (2.0.1 repeats a request until its CertificateSigned comes, A02).
            const csr = [...new Set(csms.callsOf('SignCertificate', id).map((c) => (c.params as { csr: string }).csr))][nth];
            if (csr) return csr;
            if (Date.now() > deadline) throw new Error(`no SignCertificate from ${id}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        };
        const signed: Record<string, unknown> = {};
        const subjects: Record<string, string> = {};
        for (const id of asked) {
          const { subject, chain } = await sign(await csrOf(id, 0), ca);
          subjects[id] = subject;
          signed[id] = await csms.call(id, 'CertificateSigned', { certificateChain: chain });
        }
        // The stores on disk, while the fleet runs: one directory per charger asked.
        const stores = [...certDirs()].filter((d) => !before.has(d)).flatMap((d) => readdirSync(join(tmpdir(), d)));
        // Asked again, the last charger gets a chain from another CA: refused.
        const last = asked.at(-1)!;
        await (version === '1.6'
          ? csms.call(last, 'ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })
          : csms.call(last, 'TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' }));
        const bad = await sign(await csrOf(last, 1), rogue);
        const rogueAnswer = await csms.call(last, 'CertificateSigned', { certificateChain: bad.chain });
        // The refused chain is a security event, sent under the version's name.
        const certificateEvent = version === '1.6' ? 'InvalidChargePointCertificate' : 'InvalidChargingStationCertificate';
        while (!csms.callsOf('SecurityEventNotification', last).some((c) => c.params.type === certificateEvent)) {
          if (Date.now() > deadline) throw new Error(`no SecurityEventNotification ${certificateEvent} from ${last}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        return { ids, triggers, signed, subjects, stores, rogue: rogueAnswer };
      };
      const { report } = await new FleetRunner({
        count: COUNT, scenario: loadScenario('smoke'), ocpp: version, workers: 1, urls: [url], security: { ca: readFileSync(ca.cert, 'utf8') },
        // Simulated time starts now: the certificates openssl makes are valid from now on.
        timeScale: 60, startMs: Date.now(), seed: 11, statusIntervalMs: 200, drainMs: 30_000,
        stopWhen: (st) => {
          if (!started && st.counters.chargersAccepted === COUNT && csms.clients.size === COUNT) {
            started = true;
            campaign().then((o) => { outcome = o; }, (err) => { failure = err; });
          }
          return outcome !== undefined || failure !== undefined || Date.now() > deadline;
        },
      }).run();
      try {
        expect(failure).toBeUndefined();
        expect(outcome).toBeDefined();
        const { ids, triggers, signed, subjects, stores } = outcome!;
        expect(ids).toHaveLength(COUNT);
        const asked = ids.slice(1);
        expect(Object.keys(triggers)).toHaveLength(COUNT - 1);
        for (const id of asked) {
          expect(triggers[id], id).toEqual({ status: 'Accepted' });
          expect(subjects[id], id).toMatch(new RegExp(`CN ?= ?${id}\\b`));
          expect(signed[id], id).toEqual({ status: 'Accepted' });
        }
        expect(outcome!.rogue).toMatchObject({ status: 'Rejected' });
        // The charger never asked sent nothing and kept nothing.
        expect(csms.callsOf('SignCertificate', ids[0])).toEqual([]);
        expect(stores.sort()).toEqual([...asked].sort());
        // Removed when the run ended.
        for (const d of certDirs()) if (!before.has(d)) expect(existsSync(join(tmpdir(), d, asked[0]!))).toBe(false);
        // The report: CSRs sent, certificates accepted and refused, and the central system's calls by answer.
        expect(report.stats.counters).toMatchObject({ csrsSent: COUNT, certificatesAccepted: COUNT - 1, certificatesRejected: 1 });
        // Every SignCertificate answered Accepted; 2.0.1 may repeat one while the CA is busy (A02), with the same CSR.
        const signCalls = report.stats.actions.SignCertificate!;
        expect(signCalls.count).toBeGreaterThanOrEqual(COUNT);
        expect(signCalls.answers).toEqual({ Accepted: signCalls.count });
        if (version === '1.6') expect(signCalls.count).toBe(COUNT);
        expect(report.stats.incoming?.CertificateSigned).toEqual({ received: COUNT, answers: { Accepted: COUNT - 1, Rejected: 1 } });
        expect(formatReport(report)).toContain(`certificate renewal: CSRs sent ${COUNT}, certificates accepted ${COUNT - 1}, rejected 1`);
        // Every charger's start, and the one refused chain, as security events (the central system saw the same).
        const certificateEvent = version === '1.6' ? 'InvalidChargePointCertificate' : 'InvalidChargingStationCertificate';
        expect(report.stats.securityEvents).toMatchObject({ StartupOfTheDevice: COUNT, [certificateEvent]: 1 });
        expect(csms.callsOf('SecurityEventNotification').filter((c) => c.params.type === certificateEvent).map((c) => c.chargePointId)).toEqual([ids.at(-1)]);
        expect(csms.validationFailures).toEqual([]);
        expect(csms.tlsErrors).toEqual([]);
      } finally {
        await csms.stop();
      }
    }, 240_000);
  }
});
