import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { TestPki } from '../../helpers/pki.js';
import { securedV201, SP2_KEY } from '../../helpers/secured-v201.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

/**
 * Network profile fallback (B10, A05) against real strict 2.0.1 servers that refuse or accept:
 * a new network profile whose connection fails NetworkProfileConnectionAttempts times in a row
 * gives way to the next candidate (the next slot of NetworkConfigurationPriority, the previous
 * working one, the config's central system), its security profile in force only once it
 * connects; and never to one below the security profile in use.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let pki: TestPki;
beforeAll(() => {
  pki = new TestPki();
});
afterAll(() => pki.cleanup());

const profile = (url: string, securityProfile: number) => ({
  ocppVersion: 'OCPP20', ocppTransport: 'JSON', ocppCsmsUrl: url, messageTimeout: 30, securityProfile, ocppInterface: 'Wired0',
});
const set = async (csms: TestCsms, vars: [string, string, string][]): Promise<string[]> =>
  (await csms.call(CP, 'SetVariables', { setVariableData: vars.map(([c, v, attributeValue]) => ({ component: { name: c }, variable: { name: v }, attributeValue })) }))
    .setVariableResult.map((r: { attributeStatus: string }) => r.attributeStatus);
const get = async (csms: TestCsms, component: string, variable: string): Promise<string> =>
  (await csms.call(CP, 'GetVariables', { getVariableData: [{ component: { name: component }, variable: { name: variable } }] })).getVariableResult[0].attributeValue;

describe('OCPP 2.0.1 network profile fallback (B10, A05)', () => {
  it('a new profile that refuses the station NetworkProfileConnectionAttempts times falls back to the one that worked; once it accepts, the station uses it after a reset', async () => {
    const a = new TestCsms({ protocol: 'ocpp2.0.1' });
    a.server.auth((accept) => accept());
    const urlA = await a.start();
    cleanups.push(() => a.stop());
    const b = new TestCsms({ protocol: 'ocpp2.0.1' });
    let bRefuses = true;
    let bRefused = 0;
    b.server.auth((accept, reject) => {
      if (!bRefuses) return accept();
      bRefused++;
      reject(401, 'not this station');
    });
    const urlB = await b.start();
    cleanups.push(() => b.stop());
    const t = await startAgent(urlA, { csms: { url: urlA, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300, ocppVersions: ['ocpp2.0.1'], securityProfile: 1, authorizationKey: SP2_KEY } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 15_000, 'boot on A');

    expect(await a.call(CP, 'SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 1) })).toEqual({ status: 'Accepted' });
    expect(await set(a, [['OCPPCommCtrlr', 'NetworkProfileConnectionAttempts', '2'], ['OCPPCommCtrlr', 'NetworkConfigurationPriority', '1,0']])).toEqual(['Accepted', 'RebootRequired']);
    expect(await get(a, 'OCPPCommCtrlr', 'NetworkProfileConnectionAttempts')).toBe('2');
    const bootsOnA = a.callsOf('BootNotification', CP).length;
    expect(await a.call(CP, 'Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });

    // B refuses twice, then the station is back on A (slot 0 has no profile: the config's central system, the one that worked).
    await waitFor(() => a.callsOf('BootNotification', CP).length > bootsOnA && t.agent.link?.state === 'accepted', 20_000, 'back on A');
    expect(bRefused).toBe(2);
    expect(b.callsOf('BootNotification', CP)).toEqual([]);
    expect(await get(a, 'OCPPCommCtrlr', 'ActiveNetworkProfile')).toBe('0');
    expect(await get(a, 'SecurityCtrlr', 'SecurityProfile')).toBe('1');

    // B accepts now: after a reset the priority is tried from its first slot again, and B keeps the station.
    bRefuses = false;
    expect(await a.call(CP, 'Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });
    await waitFor(() => b.callsOf('BootNotification', CP).length > 0 && t.agent.link?.state === 'accepted', 20_000, 'on B');
    expect(await get(b, 'OCPPCommCtrlr', 'ActiveNetworkProfile')).toBe('1');
    expect(a.validationFailures).toEqual([]);
    expect(b.validationFailures).toEqual([]);
  }, 60_000);

  it('never falls back below the security profile in use: on profile 3, the station keeps retrying its profile 3 central system while it refuses, never its profile 2 one', async () => {
    const ca = pki.ca('Operator CA');
    const { csms: a, t, call } = await securedV201(pki, cleanups, { reconnectMaxDelayMs: 300 }, {}, { ca });
    const b = new TlsTestCsms({ ...pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' }), clientCa: ca.cert, protocol: 'ocpp2.0.1' });
    let bRefuses = false;
    let bRefused = 0;
    b.server.auth((accept, reject) => {
      if (!bRefuses) return accept();
      bRefused++;
      reject(401, 'refused');
    });
    const urlB = await b.startTls();
    cleanups.push(() => b.stop());
    // The station's certificate, signed over profile 2 (A02), then profile 3 on B (A05).
    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => a.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate')).params.csr as string;
    writeFileSync(join(pki.dir, 'fb.csr'), csr);
    execFileSync('openssl', ['x509', '-req', '-in', 'fb.csr', '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '0x3b10', '-days', '30', '-sha256', '-out', 'fb.crt'], { cwd: pki.dir, stdio: 'ignore' });
    expect(await call('CertificateSigned', { certificateChain: readFileSync(join(pki.dir, 'fb.crt'), 'utf8') })).toEqual({ status: 'Accepted' });
    expect(await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 3) })).toEqual({ status: 'Accepted' });
    expect(await set(a, [['OCPPCommCtrlr', 'NetworkProfileConnectionAttempts', '1'], ['OCPPCommCtrlr', 'NetworkConfigurationPriority', '1,0']])).toEqual(['Accepted', 'RebootRequired']);
    expect(await call('Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });
    await waitFor(() => b.callsOf('BootNotification', CP).length > 0 && t.agent.link?.state === 'accepted', 20_000, 'on B, profile 3');
    expect(await get(b, 'SecurityCtrlr', 'SecurityProfile')).toBe('3');

    // B refuses and drops the station: with one attempt per profile, every failure is a fallback decision.
    const connectionsToA = a.calls.length;
    let failures = 0;
    t.agent.runtime!.connection.on('connect-failed', () => failures++);
    bRefuses = true;
    await b.client(CP).close({ force: true });
    await waitFor(() => failures >= 4 && bRefused >= 4, 20_000, 'four refused attempts');
    // Every attempt went to B: the profile 2 central system (the config's) is below the profile in use.
    expect(a.calls.length).toBe(connectionsToA);
    expect(a.clients.has(CP)).toBe(false);
    bRefuses = false;
    await waitFor(() => b.clients.has(CP) && t.agent.link?.state === 'accepted', 20_000, 'back on B');
    expect(await get(b, 'SecurityCtrlr', 'SecurityProfile')).toBe('3');
    expect(await get(b, 'OCPPCommCtrlr', 'ActiveNetworkProfile')).toBe('1');
    expect(a.validationFailures).toEqual([]);
    expect(b.validationFailures).toEqual([]);
  }, 60_000);
});
