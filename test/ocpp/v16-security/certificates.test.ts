/**
 * The OCPP 1.6 security whitepaper's certificate management on a 1.6 charger, against the
 * strict ocpp1.6 ocpp-rpc server (its bundled schemas hold the whitepaper's messages) behind
 * TLS, with openssl as the CA. Cases follow the OCTT 1.6 security test cases where they apply
 * (update the charge point certificate, install / list / delete certificates, the invalid
 * charge point certificate security event).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { certificateHash } from '../../../src/app/services/certificate-store.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { TestPki, type Pem } from '../../helpers/pki.js';
import { securedV16 } from '../../helpers/secured-v16.js';
import { httpServer } from '../../helpers/upload-servers.js';
import { gunzipSync } from 'node:zlib';
import { X509Certificate, createHash } from 'node:crypto';

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
 * RFC 6960's CertID of a root, computed apart from the charger's code: the issuer's name as
 * openssl encodes `-subj /CN=x`, the issuer's P-256 point (the last 65 bytes of its
 * SubjectPublicKeyInfo), the serial from `openssl x509 -serial`.
 */
function expectedHash(cert: string, issuer: { cn: string; cert: string }) {
  const tlv = (tag: number, v: Buffer) => Buffer.concat([Buffer.from([tag, v.length]), v]);
  const nameDer = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]), tlv(0x0c, Buffer.from(issuer.cn))]))));
  const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: openssl(['x509', '-in', issuer.cert, '-noout', '-pubkey']) });
  const serial = openssl(['x509', '-in', cert, '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase().replace(/^0+(?=.)/, '');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return { hashAlgorithm: 'SHA256', issuerNameHash: sha(nameDer), issuerKeyHash: sha(spki.subarray(spki.length - 65)), serialNumber: serial };
}

function signCsr(csr: string, ca: Pem, serial: number, days = 30): string {
  const n = `${serial}-${Date.now()}`;
  writeFileSync(join(pki.dir, `${n}.csr`), csr);
  openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial), '-days', String(days), '-sha256', '-out', `${n}.crt`]);
  return readFileSync(join(pki.dir, `${n}.crt`), 'utf8');
}

const ready = () => securedV16(pki, cleanups);
const stationDir = (t: TestAgent) => join(t.dir, 'certificates', 'station');
const noKeyInLogs = (t: TestAgent) => expect(JSON.stringify(t.logs.records)).not.toMatch(/PRIVATE KEY|BEGIN EC/);
const pemOf = (p: Pem) => readFileSync(p.cert, 'utf8');

describe('OCPP 1.6 security whitepaper: certificate management against a strict ocpp1.6 central system', () => {
  it('the configuration keys CertificateSignedMaxChainSize, CertificateStoreMaxLength (read-only) and CpoName are in GetConfiguration', async () => {
    const { csms, call } = await ready();
    const res = await call('GetConfiguration', { key: ['CertificateSignedMaxChainSize', 'CertificateStoreMaxLength', 'CpoName'] });
    expect(res.unknownKey).toBeUndefined();
    expect(res.configurationKey).toEqual(expect.arrayContaining([
      { key: 'CertificateSignedMaxChainSize', readonly: true, value: '10000' },
      { key: 'CertificateStoreMaxLength', readonly: true, value: '20' },
      { key: 'CpoName', readonly: false, value: '' },
    ]));
    expect(await call('ChangeConfiguration', { key: 'CertificateStoreMaxLength', value: '99' })).toEqual({ status: 'Rejected' });
    expect(await call('ChangeConfiguration', { key: 'CpoName', value: 'Example CPO' })).toEqual({ status: 'Accepted' });
    expect((await call('GetConfiguration', { key: ['CpoName'] })).configurationKey).toEqual([{ key: 'CpoName', readonly: false, value: 'Example CPO' }]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_075_1_CS, TC_075_2_CS, TC_076_CS: InstallCertificate, GetInstalledCertificateIds, DeleteCertificate: roots by use with their CertID, deleted once; a leaf and garbage Rejected (install / retrieve / delete certificate cases)', async () => {
    const { csms, call } = await ready();
    const csRoot = pki.ca('Test Central System Root');
    const mfRoot = pki.ca('Test Manufacturer Root');
    const leaf = pki.leaf(csRoot, { cn: 'not-a-root', usage: 'serverAuth' });

    expect(await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).toEqual({ status: 'NotFound' });
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(csRoot) })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: pemOf(mfRoot) })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(leaf) })).toEqual({ status: 'Rejected' });
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: 'not a certificate' })).toEqual({ status: 'Rejected' });

    const csHash = expectedHash(csRoot.cert, { cn: 'Test Central System Root', cert: csRoot.cert });
    const mfHash = expectedHash(mfRoot.cert, { cn: 'Test Manufacturer Root', cert: mfRoot.cert });
    expect(await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).toEqual({ status: 'Accepted', certificateHashData: [csHash] });
    expect(await call('GetInstalledCertificateIds', { certificateType: 'ManufacturerRootCertificate' })).toEqual({ status: 'Accepted', certificateHashData: [mfHash] });

    expect(await call('DeleteCertificate', { certificateHashData: mfHash })).toEqual({ status: 'Accepted' });
    expect(await call('DeleteCertificate', { certificateHashData: mfHash })).toEqual({ status: 'NotFound' });
    expect(await call('GetInstalledCertificateIds', { certificateType: 'ManufacturerRootCertificate' })).toEqual({ status: 'NotFound' });
    expect(await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).toEqual({ status: 'Accepted', certificateHashData: [csHash] });
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_078 as TC_078_CSMS has the charge point answer: InstallCertificate of a CentralSystemRootCertificate that is not a valid root is Rejected, then SecurityEventNotification InvalidCentralSystemCertificate; a refused ManufacturerRootCertificate raises none', async () => {
    const { csms, call } = await ready();
    const csRoot = pki.ca('Test Central System Root');
    const leaf = pki.leaf(csRoot, { cn: 'not-a-root', usage: 'serverAuth' });
    const invalidCsmsEvents = () => csms.callsOf('SecurityEventNotification').filter((c) => c.params.type === 'InvalidCentralSystemCertificate');
    // A refused manufacturer root first: the outbox delivers in order, so an event of it would come before the next one.
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: 'not a certificate' })).toEqual({ status: 'Rejected' });
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(leaf) })).toEqual({ status: 'Rejected' });
    const event = await waitFor(() => invalidCsmsEvents()[0], 10_000, 'SecurityEventNotification InvalidCentralSystemCertificate');
    expect(event.params.techInfo).toMatch(/CentralSystemRootCertificate/);
    expect(invalidCsmsEvents()).toHaveLength(1);
    expect(await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).toEqual({ status: 'NotFound' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('the strict server refuses a 2.0.1-shaped call the 1.6 schemas do not allow (the whitepaper messages are validated), and the charger refuses one that reaches it', async () => {
    const { csms, t, call } = await ready();
    // 2.0.1's certificateType array is not 1.6's: the strict server does not send it.
    await expect(call('GetInstalledCertificateIds', { certificateType: ['CentralSystemRootCertificate'] })).rejects.toMatchObject({ rpcErrorCode: 'TypeConstraintViolation' });
    await expect(call('ExtendedTriggerMessage', { requestedMessage: 'SignChargingStationCertificate' })).rejects.toMatchObject({ rpcErrorCode: 'FormatViolation' });
    // Sent past the server's validation (strict mode off on its side for these calls): the
    // charger's own strict validation answers with the CALLERROR, no handler runs.
    const peer = csms.client(CP) as unknown as { _strictProtocols: string[]; call(a: string, p: unknown): Promise<unknown> };
    const strict = peer._strictProtocols;
    peer._strictProtocols = [];
    try {
      // On ocpp1.6 the codes are spelled as OCPP-J 1.6 (errata v1.0 §5) has them: FormationViolation, OccurrenceConstraintViolation.
      await expect(peer.call('InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: 'x' })).rejects.toMatchObject({ rpcErrorCode: 'FormationViolation' });
      await expect(peer.call('GetLog', { logType: 'SecurityLog', requestId: 1 })).rejects.toMatchObject({ rpcErrorCode: 'OccurrenceConstraintViolation' });
    } finally {
      peer._strictProtocols = strict;
    }
    expect(existsSync(join(t.dir, 'certificates', 'roots'))).toBe(false);
  });

  it('TC_074_CS steps 1-6: ExtendedTriggerMessage SignChargePointCertificate: Accepted, then SignCertificate with a CSR of a key made on the charger (CN the identity, O the CpoName; 0600, never logged); CertificateSigned Accepted and installed; the charger\'s own certificate never deleted (update charge point certificate case)', async () => {
    const { csms, t, call } = await ready();
    const ca = pki.ca('Operator Central System Root');
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(ca) })).toEqual({ status: 'Accepted' });
    expect(await call('ChangeConfiguration', { key: 'CpoName', value: 'evse-edge test CPO' })).toEqual({ status: 'Accepted' });

    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Accepted' });
    const sign = await waitFor(() => csms.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate');
    // The whitepaper's SignCertificate has the CSR only (no 2.0.1 certificateType).
    expect(Object.keys(sign.params)).toEqual(['csr']);
    const csr = sign.params.csr as string;
    const checked = execFileSync('openssl', ['req', '-verify', '-noout', '-subject'], { input: csr, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(checked).toMatch(/O\s*=\s*evse-edge test CPO/);
    expect(checked).toMatch(/CN\s*=\s*CP-TEST-1/);
    const pending = join(stationDir(t), 'pending-key.pem');
    expect(statSync(pending).mode & 0o077).toBe(0);

    const leaf = signCsr(csr, ca, 0x1616);
    expect(await call('CertificateSigned', { certificateChain: leaf + pemOf(ca) })).toEqual({ status: 'Accepted' });
    expect(existsSync(pending)).toBe(false);
    expect(statSync(join(stationDir(t), 'key.pem')).mode & 0o077).toBe(0);
    const keyPub = openssl(['pkey', '-in', join(stationDir(t), 'key.pem'), '-pubout']);
    expect(openssl(['x509', '-in', join(stationDir(t), 'cert.pem'), '-noout', '-pubkey'])).toBe(keyPub);

    // The charger's own certificate: Failed, kept.
    const own = certificateHash(new X509Certificate(leaf), new X509Certificate(pemOf(ca)));
    expect(own.serialNumber).toBe('1616');
    expect(await call('DeleteCertificate', { certificateHashData: own })).toEqual({ status: 'Failed' });
    expect(existsSync(join(stationDir(t), 'cert.pem'))).toBe(true);
    // Not listed among the roots.
    expect((await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).certificateHashData).toHaveLength(1);
    // Nothing pending now: another chain is Rejected.
    expect(await call('CertificateSigned', { certificateChain: leaf })).toEqual({ status: 'Rejected' });
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_077_CS: CertificateSigned untrusted, for another key, or larger than CertificateSignedMaxChainSize: Rejected with the InvalidChargePointCertificate security event, the certificate in use kept (invalid charge point certificate case)', async () => {
    const { csms, t, call } = await ready();
    const ca = pki.ca('Trusted Central System Root');
    const rogue = pki.ca('Rogue CA');
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(ca) })).toEqual({ status: 'Accepted' });
    const request = async (n: number) => {
      expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Accepted' });
      return (await waitFor(() => csms.callsOf('SignCertificate', CP)[n], 10_000, `SignCertificate ${n}`)).params.csr as string;
    };
    expect(await call('CertificateSigned', { certificateChain: signCsr(await request(0), ca, 201) })).toEqual({ status: 'Accepted' });
    const inUse = readFileSync(join(stationDir(t), 'cert.pem'), 'utf8');

    const csr = await request(1);
    expect(await call('CertificateSigned', { certificateChain: signCsr(csr, rogue, 202) + pemOf(rogue) })).toEqual({ status: 'Rejected' });
    const otherCsr = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${CP}`, '-keyout', 'other16.key']);
    expect(await call('CertificateSigned', { certificateChain: signCsr(otherCsr, ca, 203) })).toEqual({ status: 'Rejected' });
    // Within the schema's 10000 characters, over a limit of 1000 bytes set on the charger's store.
    t.agent.settings!.set('CertificateSignedMaxChainSize', '1000');
    const good = signCsr(csr, ca, 204);
    expect(await call('CertificateSigned', { certificateChain: good + pemOf(ca) })).toEqual({ status: 'Rejected' });
    t.agent.settings!.set('CertificateSignedMaxChainSize', '10000');

    const events = await waitFor(() => {
      const e = csms.callsOf('SecurityEventNotification', CP).filter((c) => c.params.type === 'InvalidChargePointCertificate');
      return e.length >= 3 ? e : undefined;
    }, 10_000, 'three InvalidChargePointCertificate events');
    expect(events.map((e) => e.params.techInfo)).toEqual([
      expect.stringContaining('CSMS root'), expect.stringContaining('not for the key'), expect.stringContaining('CertificateSignedMaxChainSize'),
    ]);
    expect(readFileSync(join(stationDir(t), 'cert.pem'), 'utf8')).toBe(inUse);
    // The request's key is still pending: the right chain within the limit is accepted.
    expect(await call('CertificateSigned', { certificateChain: good })).toEqual({ status: 'Accepted' });
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });

  it('InstallCertificate when CertificateStoreMaxLength certificates are installed: Rejected', async () => {
    const { csms, t, call } = await ready();
    t.agent.settings!.set('CertificateStoreMaxLength', '2');
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(pki.ca('Root A')) })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: pemOf(pki.ca('Root B')) })).toEqual({ status: 'Accepted' });
    expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: pemOf(pki.ca('Root C')) })).toEqual({ status: 'Rejected' });
    expect((await call('GetInstalledCertificateIds', { certificateType: 'ManufacturerRootCertificate' })).certificateHashData).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('security profile 1 (no TLS): no certificate installed, deleted or signed; the roots are still listed (libocpp #857 applied to 1.6)', async () => {
    const csms = new TestCsms();
    csms.server.auth((accept) => accept());
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, securityProfile: 1, authorizationKey: 'initial-key-0123' } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const root = pki.ca('Planted Root');
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(root) })).toEqual({ status: 'Rejected' });
    expect(await call('GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' })).toEqual({ status: 'NotFound' });
    expect(await call('DeleteCertificate', { certificateHashData: expectedHash(root.cert, { cn: 'Planted Root', cert: root.cert }) })).toEqual({ status: 'Failed' });
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Rejected' });
    expect(await call('CertificateSigned', { certificateChain: pemOf(root) })).toEqual({ status: 'Rejected' });
    await new Promise((r) => setTimeout(r, 300));
    expect(csms.callsOf('SignCertificate', CP)).toEqual([]);
    expect(existsSync(join(t.dir, 'certificates', 'roots'))).toBe(false);
    expect(csms.validationFailures).toEqual([]);
  });

  it('ExtendedTriggerMessage BootNotification, Heartbeat, StatusNotification, MeterValues, FirmwareStatusNotification, LogStatusNotification: each Accepted, then sent; an unknown connector Rejected', async () => {
    const { csms, call } = await ready();
    const count = (a: string) => csms.callsOf(a, CP).length;
    const statusesOf = (connectorId: number) => csms.callsOf('StatusNotification', CP).filter((c) => c.params.connectorId === connectorId).length;
    const before = { boot: count('BootNotification'), hb: count('Heartbeat'), st1: statusesOf(1), mv: count('MeterValues') };
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 1 })).toEqual({ status: 'Accepted' });
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 })).toEqual({ status: 'Accepted' });
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 9 })).toEqual({ status: 'Rejected' });
    await waitFor(() => statusesOf(1) > before.st1 && count('MeterValues') > before.mv, 10_000, 'the triggered StatusNotification and MeterValues');
    expect(csms.callsOf('MeterValues', CP).slice(before.mv).some((c) => c.params.connectorId === 1)).toBe(true);
    for (const requestedMessage of ['BootNotification', 'Heartbeat', 'FirmwareStatusNotification', 'LogStatusNotification']) {
      expect(await call('ExtendedTriggerMessage', { requestedMessage })).toEqual({ status: 'Accepted' });
    }
    await waitFor(() => count('BootNotification') > before.boot && count('Heartbeat') > before.hb
      && count('SignedFirmwareStatusNotification') >= 1 && count('LogStatusNotification') >= 1, 10_000, 'every triggered message');
    expect(csms.callsOf('SignedFirmwareStatusNotification', CP)[0]!.params).toEqual({ status: 'Idle' });
    expect(csms.callsOf('LogStatusNotification', CP)[0]!.params).toEqual({ status: 'Idle' });
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('OCPP 1.6 security whitepaper: certificate update initiated by the charge point', () => {
  it('a certificate expiring within 30 days is renewed by the charger itself once accepted again (a new key, SignCertificate); one valid longer is not', async () => {
    const { csms, t, call, ca } = await ready();
    const signs = () => csms.callsOf('SignCertificate', CP);
    const boots = () => csms.callsOf('BootNotification', CP);
    const signFor = async (n: number, days: number) => {
      expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Accepted' });
      const csr = (await waitFor(() => signs()[n], 10_000, `SignCertificate ${n}`)).params.csr as string;
      expect(await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0x600 + n, days) })).toEqual({ status: 'Accepted' });
    };
    const restart = async (n: number) => {
      expect(await call('Reset', { type: 'Soft' })).toEqual({ status: 'Accepted' });
      await waitFor(() => boots().length >= n && t.agent.link?.state === 'accepted', 20_000, `boot ${n}`);
    };
    // The transport CA signs: the chain leads to the configured Central System root (csms.ca).
    await signFor(0, 60);
    await restart(2);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(signs()).toHaveLength(1);

    await signFor(1, 10);
    await restart(3);
    const renewal = await waitFor(() => signs()[2], 10_000, 'the renewal');
    expect(renewal.params.csr).not.toBe(signs()[1]!.params.csr);
    // Answered Accepted (the charger has the answer): not asked again at the next acceptance of the
    // same run (the central system signs meanwhile). Had the answer been lost, asking again would be right.
    await waitFor(() => t.logs.records.filter((r) => r.msg === 'SignCertificate answered' && r.status === 'Accepted').length >= 3, 10_000, 'the renewal answered');
    await t.agent.link!.reconnect();
    await waitFor(() => t.agent.link?.state === 'accepted', 20_000, 'reconnected');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(signs()).toHaveLength(3);
    expect(csms.validationFailures).toEqual([]);
  }, 60_000);
});

describe('OCPP 1.6 security whitepaper: security profile 3', () => {
  it('TC_074_CS step 7: after CertificateSigned the charger reconnects with the renewed client certificate, without a reboot', async () => {
    const ca = pki.ca('SP3 Central System Root');
    const initial = pki.leaf(ca, { cn: CP, usage: 'clientAuth' });
    const { csms, t, call } = await securedV16(pki, cleanups, { securityProfile: 3, authorizationKey: undefined, cert: initial.cert, key: initial.key }, {}, { ca, clientCa: ca.cert });
    const initialSerial = openssl(['x509', '-in', initial.cert, '-noout', '-serial']).trim().replace(/^serial=/, '');
    expect(csms.clientSerials).toEqual([initialSerial]);

    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => csms.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate')).params.csr as string;
    // The Central System root is the configured one (csms.ca): nothing installed over OCPP.
    expect(await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0xc16) })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.clientSerials.length >= 2 && t.agent.link!.state === 'accepted' && csms.clients.has(CP), 15_000, 'reconnected');
    expect(csms.clientSerials.slice(1).every((s) => s === '0C16')).toBe(true);
    expect(csms.clientCns.every((cn) => cn === CP)).toBe(true);
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('OCPP 1.6 security whitepaper: the charger\'s key never leaves it', () => {
  it('GetLog DiagnosticsLog and SecurityLog after a certificate was signed: neither upload holds the key (PEM or its base64 body)', async () => {
    const { csms, t, call } = await ready();
    const ca = pki.ca('Bundle test Central System Root');
    expect(await call('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: pemOf(ca) })).toEqual({ status: 'Accepted' });
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' })).toEqual({ status: 'Accepted' });
    const csr = (await waitFor(() => csms.callsOf('SignCertificate', CP)[0], 10_000, 'SignCertificate')).params.csr as string;
    expect(await call('CertificateSigned', { certificateChain: signCsr(csr, ca, 0xb0) })).toEqual({ status: 'Accepted' });
    // The key's base64 body, in pieces of one PEM line: none may appear anywhere.
    const keyLines = readFileSync(join(stationDir(t), 'key.pem'), 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(0);

    const http = await httpServer((_req, _body, res) => res.writeHead(201).end(), cleanups);
    const uploaded = (requestId: number) => csms.callsOf('LogStatusNotification', CP).some((c) => c.params.requestId === requestId && c.params.status === 'Uploaded');
    expect((await call('GetLog', { logType: 'DiagnosticsLog', requestId: 71, log: { remoteLocation: `${http.base}/` } })).status).toBe('Accepted');
    await waitFor(() => uploaded(71), 15_000, 'the diagnostics log uploaded');
    expect((await call('GetLog', { logType: 'SecurityLog', requestId: 72, log: { remoteLocation: `${http.base}/` } })).status).toBe('Accepted');
    await waitFor(() => uploaded(72), 15_000, 'the security log uploaded');
    expect(http.seen).toHaveLength(2);
    const bundle = http.seen.find((r) => r.url.includes('diagnostics'))!;
    expect(bundle.body.subarray(0, 2).toString('hex')).toBe('1f8b');
    const texts = [gunzipSync(bundle.body).toString('latin1'), ...http.seen.filter((r) => r !== bundle).map((r) => r.body.toString('utf8'))];
    for (const text of texts) {
      expect(text).not.toMatch(/PRIVATE KEY|BEGIN EC/);
      for (const line of keyLines) expect(text.includes(line)).toBe(false);
    }
    noKeyInLogs(t);
    expect(csms.validationFailures).toEqual([]);
  });
});
