import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { TestPki, type Pem } from '../../helpers/pki.js';
import { securedV201 } from '../../helpers/secured-v201.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

let pki: TestPki;
beforeAll(() => {
  pki = new TestPki();
});
afterAll(() => pki.cleanup());

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { cwd: pki.dir, encoding: 'utf8', ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });

/**
 * RFC 6960's CertID of a certificate, computed apart from the station's code: the issuer's
 * name as openssl encodes `-subj /CN=x` (one UTF8String CN), the issuer's P-256 point (the last
 * 65 bytes of its SubjectPublicKeyInfo), the serial from `openssl x509 -serial`.
 */
function expectedHash(cert: string, issuer: { cn: string; cert: string }) {
  const tlv = (tag: number, v: Buffer) => Buffer.concat([Buffer.from([tag, v.length]), v]);
  const nameDer = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]), tlv(0x0c, Buffer.from(issuer.cn))]))));
  const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: openssl(['x509', '-in', issuer.cert, '-noout', '-pubkey']) });
  const serial = openssl(['x509', '-in', cert, '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase().replace(/^0+(?=.)/, '');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return { hashAlgorithm: 'SHA256', issuerNameHash: sha(nameDer), issuerKeyHash: sha(spki.subarray(spki.length - 65)), serialNumber: serial };
}

/** Sign a CSR with `ca` (openssl x509 -req), returning the certificate PEM. */
function signCsr(csr: string, ca: Pem, serial: number, days = 30): string {
  const n = `${serial}-${Date.now()}`;
  writeFileSync(join(pki.dir, `${n}.csr`), csr);
  openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial), '-days', String(days), '-sha256', '-out', `${n}.crt`]);
  return readFileSync(join(pki.dir, `${n}.crt`), 'utf8');
}

/** Security profile 2 (TLS + Basic auth): certificates are managed only over TLS. */
const ready = () => securedV201(pki, cleanups);

const stationDir = (t: TestAgent) => join(t.dir, 'certificates', 'station');
const noKeyInLogs = (t: TestAgent) => expect(JSON.stringify(t.logs.records)).not.toMatch(/PRIVATE KEY|BEGIN EC/);

describe('OCPP 2.0.1 certificates against a strict 2.0.1 central system', () => {
  it('InstallCertificate, GetInstalledCertificateIds, DeleteCertificate: roots installed by use, listed with their CertID, deleted once; leaves and garbage Rejected (M03–M05)', async () => {
    const { csms, call } = await ready();
    const csmsRoot = pki.ca('Test CSMS Root');
    const mfRoot = pki.ca('Test Manufacturer Root');
    const leaf = pki.leaf(csmsRoot, { cn: 'not-a-root', usage: 'serverAuth' });

    expect(await call('GetInstalledCertificateIds', {})).toEqual({ status: 'NotFound' });
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(csmsRoot.cert, 'utf8') })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: readFileSync(mfRoot.cert, 'utf8') })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(leaf.cert, 'utf8') })).toEqual({ status: 'Rejected' });
    expect(await call('InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: 'not a certificate' })).toEqual({ status: 'Rejected' });

    const csmsHash = expectedHash(csmsRoot.cert, { cn: 'Test CSMS Root', cert: csmsRoot.cert });
    const mfHash = expectedHash(mfRoot.cert, { cn: 'Test Manufacturer Root', cert: mfRoot.cert });
    const all = await call('GetInstalledCertificateIds', {});
    expect(all.status).toBe('Accepted');
    expect(all.certificateHashDataChain).toHaveLength(2);
    expect(all.certificateHashDataChain).toEqual(expect.arrayContaining([
      { certificateType: 'CSMSRootCertificate', certificateHashData: csmsHash },
      { certificateType: 'ManufacturerRootCertificate', certificateHashData: mfHash },
    ]));
    expect(await call('GetInstalledCertificateIds', { certificateType: ['CSMSRootCertificate'] }))
      .toEqual({ status: 'Accepted', certificateHashDataChain: [{ certificateType: 'CSMSRootCertificate', certificateHashData: csmsHash }] });
    expect(await call('GetInstalledCertificateIds', { certificateType: ['V2GRootCertificate'] })).toEqual({ status: 'NotFound' });

    const entries = async () => (await call('GetVariables', { getVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: 'CertificateEntries' } }] })).getVariableResult[0].attributeValue;
    expect(await entries()).toBe('2');
    expect(await call('DeleteCertificate', { certificateHashData: mfHash })).toEqual({ status: 'Accepted' });
    expect(await entries()).toBe('1');
    expect(await call('DeleteCertificate', { certificateHashData: mfHash })).toEqual({ status: 'NotFound' });
    expect(await call('GetInstalledCertificateIds', { certificateType: ['ManufacturerRootCertificate'] })).toEqual({ status: 'NotFound' });
    expect((await call('GetInstalledCertificateIds', {})).certificateHashDataChain).toEqual([{ certificateType: 'CSMSRootCertificate', certificateHashData: csmsHash }]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TriggerMessage SignChargingStationCertificate: a CSR of a key made on the charger (never logged, 0600), the signed chain Accepted and installed, the station\'s own certificate never deleted (A02, M04)', async () => {
    const { csms, t, call } = await ready();
    const ca = pki.ca('Operator CSMS Root');
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(ca.cert, 'utf8') })).toEqual({ status: 'Accepted' });
    expect((await call('SetVariables', { setVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: 'OrganizationName' }, attributeValue: 'evse-edge test' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');

    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    const sign = await waitFor(() => csms.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate');
    expect(sign.params.certificateType).toBe('ChargingStationCertificate');
    const csr = sign.params.csr as string;
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    // The request verifies (signed by the key it carries) and names the station and the organisation.
    const checked = execFileSync('openssl', ['req', '-verify', '-noout', '-subject'], { input: csr, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(checked).toMatch(/O\s*=\s*evse-edge test/);
    expect(checked).toMatch(/CN\s*=\s*CP-TEST-1/);
    const pending = join(stationDir(t), 'pending-key.pem');
    expect(statSync(pending).mode & 0o077).toBe(0);

    const leaf = signCsr(csr, ca, 0x7a11);
    expect(await call('CertificateSigned', { certificateChain: leaf + readFileSync(ca.cert, 'utf8'), certificateType: 'ChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    expect(existsSync(pending)).toBe(false);
    expect(statSync(join(stationDir(t), 'key.pem')).mode & 0o077).toBe(0);
    expect(readFileSync(join(stationDir(t), 'cert.pem'), 'utf8')).toContain(leaf.trim().split('\n')[1]);
    // The installed key is the one of the request: the certificate's public key matches it.
    const keyPub = openssl(['pkey', '-in', join(stationDir(t), 'key.pem'), '-pubout']);
    expect(openssl(['x509', '-in', join(stationDir(t), 'cert.pem'), '-noout', '-pubkey'])).toBe(keyPub);

    // M04: the station's own certificate is not deleted; the root is not listed as the station's.
    writeFileSync(join(pki.dir, 'station-leaf.crt'), leaf);
    const own = expectedHash(join(pki.dir, 'station-leaf.crt'), { cn: 'Operator CSMS Root', cert: ca.cert });
    expect(own.serialNumber).toBe('7a11');
    expect(await call('DeleteCertificate', { certificateHashData: own })).toEqual({ status: 'Failed' });
    expect(existsSync(join(stationDir(t), 'cert.pem'))).toBe(true);
    expect((await call('GetInstalledCertificateIds', {})).certificateHashDataChain).toHaveLength(1);
    // No signing request pending now: a chain is refused.
    expect((await call('CertificateSigned', { certificateChain: leaf })).status).toBe('Rejected');
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });

  it('CertificateSigned with an untrusted chain, a certificate for another key or a V2G certificate: Rejected, InvalidChargingStationCertificate reported, the certificate in use kept (A02)', async () => {
    const { csms, t, call } = await ready();
    const ca = pki.ca('Trusted CSMS Root');
    const rogue = pki.ca('Rogue CA');
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(ca.cert, 'utf8') })).toEqual({ status: 'Accepted' });

    const request = async (n: number) => {
      expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
      return (await waitFor(() => csms.callsOf('SignCertificate', CP)[n], 10_000, `SignCertificate ${n}`)).params.csr as string;
    };
    const good = signCsr(await request(0), ca, 101);
    expect((await call('CertificateSigned', { certificateChain: good })).status).toBe('Accepted');
    const inUse = readFileSync(join(stationDir(t), 'cert.pem'), 'utf8');

    const csr = await request(1);
    // Signed by a CA the station does not trust.
    const untrusted = await call('CertificateSigned', { certificateChain: signCsr(csr, rogue, 102) + readFileSync(rogue.cert, 'utf8') });
    expect(untrusted).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'InvalidCertificate' } });
    // A certificate from the trusted CA, but for a key made elsewhere.
    const otherCsr = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${CP}`, '-keyout', 'other.key']);
    expect((await call('CertificateSigned', { certificateChain: signCsr(otherCsr, ca, 103) })).status).toBe('Rejected');
    expect((await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 104), certificateType: 'V2GCertificate' })).status).toBe('Rejected');
    const events = await waitFor(() => {
      const e = csms.callsOf('SecurityEventNotification', CP).filter((c) => c.params.type === 'InvalidChargingStationCertificate');
      return e.length >= 2 ? e : undefined;
    }, 10_000, 'two InvalidChargingStationCertificate events');
    expect(events.map((e) => e.params.techInfo)).toEqual([
      expect.stringContaining('CSMS root'), expect.stringContaining('not for the key'),
    ]);
    expect(readFileSync(join(stationDir(t), 'cert.pem'), 'utf8')).toBe(inUse);
    // The request's key is still pending: the right chain is still accepted.
    expect((await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 105) })).status).toBe('Accepted');
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });

  it('security profile 3: after CertificateSigned the station reconnects with the renewed certificate (A02, TC_A_11-style renewal)', async () => {
    const ca = pki.ca('SP3 CSMS Root');
    const initial = pki.leaf(ca, { cn: CP, usage: 'clientAuth' });
    const { csms, t, call } = await securedV201(pki, cleanups, { securityProfile: 3, authorizationKey: undefined, cert: initial.cert, key: initial.key }, {}, { ca, clientCa: ca.cert });
    const initialSerial = openssl(['x509', '-in', initial.cert, '-noout', '-serial']).trim().replace(/^serial=/, '');
    expect(csms.clientSerials).toEqual([initialSerial]);

    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => csms.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate')).params.csr as string;
    // The CSMS root is the configured one (csms.ca): nothing installed over OCPP.
    expect(await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0xbeef) })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.clientSerials.length >= 2 && t.agent.link!.state === 'accepted' && csms.clients.has(CP), 15_000, 'reconnected');
    expect(csms.clientSerials.slice(1).every((s) => s === 'BEEF')).toBe(true);
    expect(csms.clientCns.every((cn) => cn === CP)).toBe(true);
    // A plain reconnect, not a reboot: one BootNotification.
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });

  it('over an unsecured connection (security profile 1): no certificate installed, deleted or signed (libocpp #857)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    csms.server.auth((accept) => accept());
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'], securityProfile: 1, authorizationKey: 'initial-key-0123' } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const root = pki.ca('Planted Root');
    expect(await call('InstallCertificate', { certificateType: 'CSMSRootCertificate', certificate: readFileSync(root.cert, 'utf8') }))
      .toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'UnsecureConnection' } });
    expect(await call('GetInstalledCertificateIds', {})).toEqual({ status: 'NotFound' });
    expect((await call('DeleteCertificate', { certificateHashData: expectedHash(root.cert, { cn: 'Planted Root', cert: root.cert }) })).status).toBe('Failed');
    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Rejected' });
    expect((await call('CertificateSigned', { certificateChain: readFileSync(root.cert, 'utf8') })).status).toBe('Rejected');
    await new Promise((r) => setTimeout(r, 300));
    expect(csms.callsOf('SignCertificate', CP)).toEqual([]);
    expect(existsSync(join(t.dir, 'certificates', 'roots'))).toBe(false);
    expect(csms.validationFailures).toEqual([]);
  });

  it('no CertificateSigned: the same request again after CertSigningWaitMinimum, the wait doubling, CertSigningRepeatTimes times; a CertificateSigned ends the repeats (A02)', async () => {
    const { csms, call, ca } = await ready();
    const set = async (variable: string, value: string) =>
      expect((await call('SetVariables', { setVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: variable }, attributeValue: value }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    await set('CertSigningWaitMinimum', '1');
    await set('CertSigningRepeatTimes', '2');
    const signs = () => csms.callsOf('SignCertificate', CP);
    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    await waitFor(() => signs().length >= 3, 20_000, 'two repeats');
    const [first, second, third] = signs();
    // Lower bounds only: a loaded machine may be late, never early.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000 - 50);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(2_000 - 50);
    expect(new Set(signs().map((c) => c.params.csr)).size).toBe(1);
    // No third repeat (it would come 4 s after the second).
    await new Promise((r) => setTimeout(r, 5_000));
    expect(signs()).toHaveLength(3);

    // A new request answered by a CertificateSigned: no repeat follows.
    expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => signs()[3], 10_000, 'the new request')).params.csr as string;
    expect(csr).not.toBe(first!.params.csr);
    expect((await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0x51) })).status).toBe('Accepted');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(signs()).toHaveLength(4);
    expect(csms.validationFailures).toEqual([]);
  }, 30_000);

  it('a station certificate expiring within 30 days is renewed by the station itself once accepted again; one valid longer is not (A03)', async () => {
    const { csms, t, call, ca } = await ready();
    const signs = () => csms.callsOf('SignCertificate', CP);
    const boots = () => csms.callsOf('BootNotification', CP);
    const signFor = async (n: number, days: number) => {
      expect(await call('TriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).toEqual({ status: 'Accepted' });
      const csr = (await waitFor(() => signs()[n], 10_000, `SignCertificate ${n}`)).params.csr as string;
      expect((await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0x300 + n, days) })).status).toBe('Accepted');
    };
    const restart = async (n: number) => {
      expect(await call('Reset', { type: 'OnIdle' })).toEqual({ status: 'Accepted' });
      await waitFor(() => boots().length >= n && t.agent.link?.state === 'accepted', 20_000, `boot ${n}`);
    };
    await signFor(0, 60);
    await restart(2);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(signs()).toHaveLength(1);

    await signFor(1, 10);
    expect(signs()).toHaveLength(2);
    await restart(3);
    // A third request though the central system triggered two: the station's own, with a new key.
    const renewal = await waitFor(() => signs()[2], 10_000, 'the renewal');
    expect(renewal.params.certificateType).toBe('ChargingStationCertificate');
    expect(renewal.params.csr).not.toBe(signs()[1]!.params.csr);
    expect(csms.validationFailures).toEqual([]);
  }, 40_000);
});
