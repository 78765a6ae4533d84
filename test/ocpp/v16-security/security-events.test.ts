/**
 * The OCPP 1.6 security whitepaper's security events on a 1.6 charger against the strict
 * ocpp1.6 server: recorded while the central system is unreachable and across a restart of the
 * charger, each is delivered once it is back, in order, under the whitepaper's name (an event
 * recorded in 2.0.1's words goes in 1.6's), and the security log (GetLog SecurityLog) holds every
 * one, the restart included.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SECURITY_EVENTS } from '../../../src/ocpp/v16/security.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { httpServer } from '../../helpers/upload-servers.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('OCPP 1.6 security whitepaper: security events and the security log', () => {
  it('the whitepaper\'s full list of event types, each within the schema\'s 50 characters', () => {
    expect(Object.keys(SECURITY_EVENTS).sort()).toEqual([
      'AttemptedReplayAttacks', 'CentralSystemFailedToAuthenticate', 'FailedToAuthenticateAtCentralSystem', 'FirmwareUpdated', 'InvalidCentralSystemCertificate',
      'InvalidChargePointCertificate', 'InvalidFirmwareSignature', 'InvalidFirmwareSigningCertificate', 'InvalidMessages', 'InvalidTLSCipherSuite', 'InvalidTLSVersion',
      'MemoryExhaustion', 'ReconfigurationOfSecurityParameters', 'ResetOrReboot', 'SecurityLogWasCleared', 'SettingSystemTime', 'StartupOfTheDevice', 'TamperDetectionActivated',
    ]);
    expect(Object.keys(SECURITY_EVENTS).every((t) => t.length <= 50)).toBe(true);
  });

  it('events recorded while the central system is down and across a restart are delivered in order once it is back; the security log keeps them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-secev16-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let csms = new TestCsms();
    const url = await csms.start();
    const port = csms.port;
    let t: TestAgent = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } }, { dir });
    await waitFor(() => csms.callsOf('SecurityEventNotification', CP).some((c) => c.params.type === 'StartupOfTheDevice'), 10_000, 'StartupOfTheDevice');

    await csms.stop();
    await waitFor(() => t.agent.link!.state !== 'accepted', 10_000, 'the link down');
    t.agent.security.record('TamperDetectionActivated', 'enclosure opened');
    // Recorded in 2.0.1's words (by the 2.0.1 binding): delivered in 1.6's.
    t.agent.security.record('InvalidChargingStationCertificate', 'a chain for another key');
    await t.cleanup();
    t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } }, { dir });
    cleanups.push(() => t.cleanup());
    t.agent.security.record('MemoryExhaustion', 'disk full');

    csms = new TestCsms();
    cleanups.push(() => csms.stop());
    await csms.start(port);
    const types = () => csms.callsOf('SecurityEventNotification', CP).map((c) => c.params.type as string);
    await waitFor(() => types().includes('MemoryExhaustion'), 20_000, 'the events delivered');
    const delivered = types();
    const order = ['TamperDetectionActivated', 'InvalidChargePointCertificate', 'StartupOfTheDevice', 'MemoryExhaustion'];
    // Each once, in the order recorded (the restart's StartupOfTheDevice after the two queued before it).
    expect(delivered.filter((x) => order.includes(x))).toEqual(order);
    expect(delivered).not.toContain('InvalidChargingStationCertificate');
    expect(csms.callsOf('SecurityEventNotification', CP).find((c) => c.params.type === 'TamperDetectionActivated')!.params.techInfo).toBe('enclosure opened');

    // GetLog SecurityLog: both starts and every event since, though the central system has them all.
    const http = await httpServer((_req, _body, res) => res.writeHead(201).end(), cleanups);
    expect((await csms.call(CP, 'GetLog', { logType: 'SecurityLog', requestId: 61, log: { remoteLocation: `${http.base}/` } })).status).toBe('Accepted');
    await waitFor(() => http.seen.length === 1, 10_000, 'the security log uploaded');
    const logged = http.seen[0]!.body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l).type as string);
    expect(logged.filter((x) => x === 'StartupOfTheDevice')).toHaveLength(2);
    expect(logged).toEqual(expect.arrayContaining(['TamperDetectionActivated', 'InvalidChargingStationCertificate', 'MemoryExhaustion']));
    expect(csms.validationFailures).toEqual([]);
  }, 60_000);
});
