/**
 * Simulated chargers raise the security events a real charger raises, through the agent's
 * recorder, store and version bindings (issue 18, "the fleet"), against strict central systems
 * behind TLS (Security Profile 2: the 1.6 whitepaper manages certificates over TLS only):
 * StartupOfTheDevice at every boot, ResetOrReboot on a Reset, FirmwareUpdated once a signed update
 * is installed, InvalidFirmwareSignature, InvalidFirmwareSigningCertificate, and the station's own
 * certificate refused (InvalidChargePointCertificate, 2.0.1 InvalidChargingStationCertificate);
 * each delivered as SecurityEventNotification under its version's name, and the report counts them
 * by type. A scenario with securityEvents off sends none.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetPrometheus } from '../../../src/app/fleet/control/prometheus.js';
import { CHARGER_STATES, LINK_STATES, type ShardFigures } from '../../../src/app/fleet/control/protocol.js';
import { emptyGauges } from '../../../src/app/fleet/metrics.js';
import { formatReport } from '../../../src/app/fleet/report.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario, type Scenario } from '../../../src/sim/scenario.js';
import { TestPki, type Pem } from '../../helpers/pki.js';
import { TestCsms } from '../../helpers/ocpp-server.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

const COUNT = 5;
/** No vehicle arrives: a firmware install never waits for a session to end. */
const quiet = (): Scenario => ({ ...loadScenario('smoke'), arrivals: { ratePerHour: new Array<number>(24).fill(0) } });

describe('simulated chargers send SecurityEventNotification (1.6 security whitepaper and 2.0.1)', () => {
  const pki = new TestPki();
  let ca: Pem;
  let server: Pem;
  let manufacturer: Pem;
  let signer: Pem;
  let rogueSigner: Pem;

  beforeAll(() => {
    ca = pki.ca('Operator CA');
    server = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    manufacturer = pki.ca('Manufacturer Root');
    signer = pki.leaf(manufacturer, { cn: 'Firmware Signer', usage: 'codeSigning' });
    rogueSigner = pki.leaf(pki.ca('Rogue Root'), { cn: 'Rogue Signer', usage: 'codeSigning' });
  });
  afterAll(() => pki.cleanup());

  for (const version of ['1.6', '2.0.1'] as const) {
    it(`${version}: StartupOfTheDevice at boot, the firmware and certificate events, ResetOrReboot; the report counts each type`, async () => {
      const v16 = version === '1.6';
      const csms = new TlsTestCsms({ ...server, protocol: v16 ? 'ocpp1.6' : 'ocpp2.0.1' });
      const url = await csms.startTls();
      const deadline = Date.now() + 120_000;
      const typesOf = (id?: string) => csms.callsOf('SecurityEventNotification', id).map((c) => c.params.type as string);
      const until = async (what: string, ok: () => boolean) => {
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const update = (id: string, requestId: number, signingCertificate: string, signature: string) => {
        const firmware = { location: 'https://firmware.example/sim-2.bin', retrieveDateTime: new Date(0).toISOString(), signingCertificate, signature };
        return csms.call(id, v16 ? 'SignedUpdateFirmware' : 'UpdateFirmware', { requestId, firmware });
      };
      const statusesOf = (id: string, requestId: number) =>
        csms.callsOf(v16 ? 'SignedFirmwareStatusNotification' : 'FirmwareStatusNotification', id).filter((c) => c.params.requestId === requestId).map((c) => c.params.status as string);
      let outcome: Record<string, unknown> | undefined;
      let failure: unknown;
      let started = false;
      const steps = async () => {
        const ids = [...csms.clients.keys()].sort();
        await until('StartupOfTheDevice from every charger', () => ids.every((id) => typesOf(id).includes('StartupOfTheDevice')));
        const [good, badSignature, badSigner, badChain, reset] = ids as [string, string, string, string, string];
        const answers: Record<string, unknown> = {};
        for (const id of [good, badSignature, badSigner]) {
          answers[`root ${id}`] = await csms.call(id, 'InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: readFileSync(manufacturer.cert, 'utf8') });
        }
        const signerPem = readFileSync(signer.cert, 'utf8');
        answers.good = await update(good, 11, signerPem, Buffer.from('a signature').toString('base64'));
        answers.badSignature = await update(badSignature, 12, signerPem, 'not base64!');
        answers.badSigner = await update(badSigner, 13, readFileSync(rogueSigner.cert, 'utf8'), Buffer.from('a signature').toString('base64'));
        // No signing request is pending: the chain is refused.
        answers.badChain = await csms.call(badChain, 'CertificateSigned', { certificateChain: readFileSync(server.cert, 'utf8') });
        const bootsBefore = csms.callsOf('BootNotification', reset).length;
        answers.reset = await csms.call(reset, 'Reset', { type: v16 ? 'Hard' : 'Immediate' });
        await until('the firmware installed', () => statusesOf(good, 11).includes('Installed') && typesOf(good).includes('FirmwareUpdated'));
        await until('the invalid signature', () => typesOf(badSignature).includes('InvalidFirmwareSignature'));
        await until('the reset charger booted again', () => csms.callsOf('BootNotification', reset).length > bootsBefore && typesOf(reset).includes('ResetOrReboot'));
        // 1.6 Hard reset: the device starts again; 2.0.1's reset restarts the application (no second start).
        if (v16) await until('a second StartupOfTheDevice', () => typesOf(reset).filter((t) => t === 'StartupOfTheDevice').length === 2);
        await until('the certificate events', () => typesOf(badSigner).includes('InvalidFirmwareSigningCertificate') && typesOf(badChain).length >= 2);
        return { ids, answers };
      };
      const { report } = await new FleetRunner({
        count: COUNT, scenario: quiet(), ocpp: version, workers: 0, urls: [url], security: { ca: readFileSync(ca.cert, 'utf8') },
        // Simulated time starts now: the certificates openssl made are valid now.
        timeScale: 600, startMs: Date.now(), seed: 5, statusIntervalMs: 200, drainMs: 10_000,
        stopWhen: (st) => {
          if (!started && st.counters.chargersAccepted >= COUNT && csms.clients.size === COUNT) {
            started = true;
            steps().then((o) => { outcome = o; }, (err) => { failure = err; });
          }
          return outcome !== undefined || failure !== undefined || Date.now() > deadline;
        },
      }).run();
      try {
        expect(failure).toBeUndefined();
        const { ids, answers } = outcome as { ids: string[]; answers: Record<string, unknown> };
        const [good, badSignature, badSigner, badChain, reset] = ids as [string, string, string, string, string];
        for (const id of [good, badSignature, badSigner]) expect(answers[`root ${id}`]).toEqual({ status: 'Accepted' });
        expect(answers.good).toEqual({ status: 'Accepted' });
        expect(answers.badSignature).toEqual({ status: 'Accepted' });
        expect(answers.badSigner).toMatchObject({ status: 'InvalidCertificate' });
        expect(answers.badChain).toMatchObject({ status: 'Rejected' });
        expect(answers.reset).toEqual({ status: 'Accepted' });
        expect(statusesOf(good, 11)).toEqual(['Downloading', 'Downloaded', 'SignatureVerified', 'Installing', 'Installed']);
        expect(statusesOf(badSignature, 12)).toEqual(['Downloading', 'Downloaded', 'InvalidSignature']);
        expect(statusesOf(badSigner, 13)).toEqual([]);
        // What each charger sent, by type (each once; the reset charger started twice on 1.6).
        const certificateEvent = v16 ? 'InvalidChargePointCertificate' : 'InvalidChargingStationCertificate';
        expect(typesOf(good).sort()).toEqual(['FirmwareUpdated', 'StartupOfTheDevice']);
        expect(typesOf(badSignature).sort()).toEqual(['InvalidFirmwareSignature', 'StartupOfTheDevice']);
        expect(typesOf(badSigner).sort()).toEqual(['InvalidFirmwareSigningCertificate', 'StartupOfTheDevice']);
        expect(typesOf(badChain).sort()).toEqual([certificateEvent, 'StartupOfTheDevice']);
        expect(typesOf(reset).sort()).toEqual(v16 ? ['ResetOrReboot', 'StartupOfTheDevice', 'StartupOfTheDevice'] : ['ResetOrReboot', 'StartupOfTheDevice']);
        // FirmwareUpdated after Installed; the techInfo and a timestamp on every one.
        const goodCalls = csms.calls.filter((c) => c.chargePointId === good);
        const installedAt = goodCalls.findIndex((c) => c.params?.status === 'Installed');
        expect(goodCalls.findIndex((c) => c.action === 'SecurityEventNotification' && c.params.type === 'FirmwareUpdated')).toBeGreaterThan(installedAt);
        for (const c of csms.callsOf('SecurityEventNotification')) expect(Number.isFinite(Date.parse(c.params.timestamp as string))).toBe(true);
        // The report: what the central system received, by type.
        const expected = {
          StartupOfTheDevice: COUNT + (v16 ? 1 : 0), FirmwareUpdated: 1, InvalidFirmwareSignature: 1, InvalidFirmwareSigningCertificate: 1,
          [certificateEvent]: 1, ResetOrReboot: 1,
        };
        expect(report.stats.securityEvents).toEqual(Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))));
        expect(report.stats.actions.SecurityEventNotification?.ok).toBe(csms.callsOf('SecurityEventNotification').length);
        expect(formatReport(report)).toContain(`security events sent: ${Object.entries(report.stats.securityEvents!).map(([t, n]) => `${t} ${n}`).join(', ')}`);
        // The control API's /metrics shows them by type.
        const figures: ShardFigures = {
          stats: report.stats, gauges: emptyGauges(), sessionsOpen: 0, lagP99Ms: 0, shards: 1,
          byState: Object.fromEntries(CHARGER_STATES.map((s) => [s, 0])) as ShardFigures['byState'],
          byLink: Object.fromEntries(LINK_STATES.map((s) => [s, 0])) as ShardFigures['byLink'],
        };
        const metrics = await new FleetPrometheus(async () => figures).scrape();
        for (const [type, n] of Object.entries(expected)) expect(metrics).toContain(`evse_sim_security_events_total{type="${type}"} ${n}`);
        expect(csms.validationFailures).toEqual([]);
        expect(csms.tlsErrors).toEqual([]);
      } finally {
        await csms.stop();
      }
    }, 180_000);
  }

  it('a scenario with securityEvents off: no SecurityEventNotification', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    const { report } = await new FleetRunner({
      count: 3, scenario: { ...quiet(), securityEvents: false }, ocpp: '2.0.1', workers: 0, urls: [url],
      timeScale: 600, startMs: Date.now(), seed: 5, statusIntervalMs: 100,
      // A Heartbeat goes once the link has had nothing to send for HeartbeatInterval: a queued event would have gone first.
      stopWhen: (st) => st.counters.chargersAccepted >= 3 && ['SIM-00001', 'SIM-00002', 'SIM-00003'].every((id) => csms.callsOf('Heartbeat', id).length > 0),
    }).run();
    try {
      expect(report.stats.counters.chargersAccepted).toBe(3);
      expect(csms.callsOf('SecurityEventNotification')).toEqual([]);
      expect(report.stats.securityEvents).toBeUndefined();
      expect(csms.validationFailures).toEqual([]);
    } finally {
      await csms.stop();
    }
  }, 60_000);
});
