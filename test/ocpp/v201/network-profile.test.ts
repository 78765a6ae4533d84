import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/ocpp-server.js';
import { TestPki } from '../../helpers/pki.js';
import { securedV201 } from '../../helpers/secured-v201.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

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

describe('OCPP 2.0.1 security profile upgrade by SetNetworkProfile against strict 2.0.1 servers', () => {
  it('profile 2 to 3: the certificate signed over profile 2, SetNetworkProfile to a mutual-TLS central system, NetworkConfigurationPriority, Reset: the station comes back on profile 3 with it; lower profiles and unusable ones Rejected (A05, B09)', async () => {
    const ca = pki.ca('Operator CA');
    const { csms: a, t, call } = await securedV201(pki, cleanups, {}, {}, { ca });
    const b = new TlsTestCsms({ ...pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' }), clientCa: ca.cert, protocol: 'ocpp2.0.1' });
    const bPasswords: (string | undefined)[] = [];
    b.server.auth((accept, _reject, hs) => {
      bPasswords.push(hs.password?.toString());
      accept();
    });
    const urlB = await b.startTls();
    cleanups.push(() => b.stop());

    // Profile 3 needs a client certificate: none yet.
    const early = await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 3) });
    expect(early).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidProfile' } });
    // The station's certificate, signed by the operator's CA over profile 2 (A02).
    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => a.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate')).params.csr as string;
    writeFileSync(join(pki.dir, 'np.csr'), csr);
    execFileSync('openssl', ['x509', '-req', '-in', 'np.csr', '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '0x3a05', '-days', '30', '-sha256', '-out', 'np.crt'], { cwd: pki.dir, stdio: 'ignore' });
    expect(await call('CertificateSigned', { certificateChain: readFileSync(join(pki.dir, 'np.crt'), 'utf8') })).toEqual({ status: 'Accepted' });

    expect(await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 1) })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'NoSecurityDowngrade' } });
    expect(await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB.replace('wss:', 'ws:'), 2) })).toMatchObject({ status: 'Rejected' });
    expect(await call('SetNetworkProfile', { configurationSlot: 5, connectionData: profile(urlB, 3) })).toMatchObject({ status: 'Rejected' });
    expect(await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 3) })).toEqual({ status: 'Accepted' });
    // Kept, not used until the slot leads the priority and the station restarts.
    await new Promise((r) => setTimeout(r, 300));
    expect(b.calls).toEqual([]);
    const priority = await call('SetVariables', { setVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'NetworkConfigurationPriority' }, attributeValue: '1,0' }] });
    expect(priority.setVariableResult[0].attributeStatus).toBe('RebootRequired');
    expect(await call('Reset', { type: 'Immediate' })).toEqual({ status: 'Accepted' });

    await waitFor(() => b.callsOf('BootNotification', CP).length > 0 && t.agent.link?.state === 'accepted', 20_000, 'the station on the profile 3 central system');
    expect(b.clientSerials[0]).toBe('3A05');
    expect(bPasswords[0]).toBeUndefined(); // mutual TLS, no Basic auth
    const get = async (component: string, variable: string) =>
      (await b.call(CP, 'GetVariables', { getVariableData: [{ component: { name: component }, variable: { name: variable } }] })).getVariableResult[0].attributeValue;
    expect(await get('SecurityCtrlr', 'SecurityProfile')).toBe('3');
    expect(await get('OCPPCommCtrlr', 'ActiveNetworkProfile')).toBe('1');
    // No way back down over OCPP.
    const urlA = `wss://127.0.0.1:${(a.https!.address() as AddressInfo).port}/ocpp`;
    expect(await b.call(CP, 'SetNetworkProfile', { configurationSlot: 0, connectionData: profile(urlA, 2) })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'NoSecurityDowngrade' } });
    expect(a.validationFailures).toEqual([]);
    expect(b.validationFailures).toEqual([]);
  }, 40_000);

  it('a CSMS root installed by InstallCertificate is trusted for the central system\'s TLS certificate: the station moves to a central system certified by it (M05, A05)', async () => {
    const ca = pki.ca('Operator CA');
    const otherCa = pki.ca('New operator CA');
    const { csms: a, t, call } = await securedV201(pki, cleanups, {}, {}, { ca });
    const b = new TlsTestCsms({ ...pki.leaf(otherCa, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' }), protocol: 'ocpp2.0.1' });
    b.server.auth((accept) => accept());
    const urlB = await b.startTls();
    cleanups.push(() => b.stop());
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(otherCa.cert, 'utf8') })).toEqual({ status: 'Accepted' });
    expect(await call('SetNetworkProfile', { configurationSlot: 1, connectionData: profile(urlB, 2) })).toEqual({ status: 'Accepted' });
    expect((await call('SetVariables', { setVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'NetworkConfigurationPriority' }, attributeValue: '1,0' }] })).setVariableResult[0].attributeStatus).toBe('RebootRequired');
    expect(await call('Reset', { type: 'OnIdle' })).toEqual({ status: 'Accepted' });
    await waitFor(() => b.callsOf('BootNotification', CP).length > 0 && t.agent.link?.state === 'accepted', 20_000, 'the station on the central system certified by the installed root');
    expect(b.tlsErrors).toEqual([]);
    expect(a.validationFailures).toEqual([]);
    expect(b.validationFailures).toEqual([]);
  }, 40_000);
});
