/**
 * The OCPP 1.6 security whitepaper's secure firmware update (SignedUpdateFirmware,
 * SignedFirmwareStatusNotification) on a 1.6 charger against the strict ocpp1.6 server behind
 * TLS: images served by a local HTTP server, signed with `openssl dgst -sha256 -sign` by a
 * certificate of an openssl Manufacturer root; the operator's install command copies the image
 * to a marker file. After the OCTT 1.6 secure firmware update cases (valid, invalid signature,
 * invalid signing certificate).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestAgent } from '../../helpers/agent.js';
import { type TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { securedV16 } from '../../helpers/secured-v16.js';
import { TestPki, type Pem } from '../../helpers/pki.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let pki: TestPki;
let mfRoot: Pem, signer: Pem, rogueSigner: Pem;
beforeAll(() => {
  pki = new TestPki();
  mfRoot = pki.ca('Test Manufacturer Root');
  signer = pki.leaf(mfRoot, { cn: 'Firmware Signer', usage: 'codeSigning' });
  rogueSigner = pki.leaf(pki.ca('Not the manufacturer'), { cn: 'Firmware Signer', usage: 'codeSigning' });
});
afterAll(() => pki.cleanup());

function opensslSign(data: Buffer, key: string): string {
  const file = join(pki.dir, `image-${Date.now()}-${Math.random()}.bin`);
  writeFileSync(file, data);
  return execFileSync('openssl', ['dgst', '-sha256', '-sign', key, file]).toString('base64');
}

async function imageServer(image: Buffer): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    res.writeHead(200).end(image);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fw.bin`, requests };
}

async function ready(): Promise<{ csms: TestCsms; t: TestAgent; marker: string; call: (action: string, params: unknown) => Promise<any> }> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-fw16s-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'installed.bin');
  const { csms, t, call } = await securedV16(pki, cleanups, {}, { firmware: { requireChecksum: true, installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
  expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: readFileSync(mfRoot.cert, 'utf8') })).toEqual({ status: 'Accepted' });
  return { csms, t, marker, call };
}

const signedStatuses = (csms: TestCsms) => csms.callsOf('SignedFirmwareStatusNotification', CP).map((c) => c.params);
const securityEvents = (csms: TestCsms) => csms.callsOf('SecurityEventNotification', CP).map((c) => c.params.type as string);
const signedFirmware = (location: string, image: Buffer, by: Pem, at = new Date()) => ({
  location, retrieveDateTime: at.toISOString(), signingCertificate: readFileSync(by.cert, 'utf8'), signature: opensslSign(image, by.key),
});

describe('OCPP 1.6 security whitepaper: signed firmware update against a strict ocpp1.6 central system', () => {
  it('TC_080_CS: a signed image verified against the Manufacturer root: SignedFirmwareStatusNotification Downloading, Downloaded, SignatureVerified, Installing, Installed with the requestId; installed; FirmwareUpdated', async () => {
    const { csms, marker, call } = await ready();
    const image = randomBytes(4096);
    const http = await imageServer(image);
    expect(await call('SignedUpdateFirmware', { requestId: 21, retries: 0, firmware: signedFirmware(http.url, image, signer) })).toEqual({ status: 'Accepted' });
    await waitFor(() => signedStatuses(csms).some((s) => s.status === 'Installed' || s.status === 'InstallationFailed'), 15_000, 'the end of the update');
    expect(signedStatuses(csms)).toEqual(['Downloading', 'Downloaded', 'SignatureVerified', 'Installing', 'Installed'].map((status) => ({ status, requestId: 21 })));
    // The signed update's statuses never go as 1.6's plain FirmwareStatusNotification.
    expect(csms.callsOf('FirmwareStatusNotification', CP)).toEqual([]);
    expect(readFileSync(marker).equals(image)).toBe(true);
    await waitFor(() => securityEvents(csms).includes('FirmwareUpdated'), 10_000, 'FirmwareUpdated');
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_081_CS: a signature that does not match the image: InvalidSignature, the InvalidFirmwareSignature security event, nothing installed', async () => {
    const { csms, marker, call } = await ready();
    const image = randomBytes(4096);
    const tampered = Buffer.from(image);
    tampered[100] = tampered[100]! ^ 0xff;
    const http = await imageServer(tampered);
    expect(await call('SignedUpdateFirmware', { requestId: 22, retries: 0, firmware: signedFirmware(http.url, image, signer) })).toEqual({ status: 'Accepted' });
    await waitFor(() => signedStatuses(csms).some((s) => s.status === 'InvalidSignature'), 15_000, 'InvalidSignature');
    expect(signedStatuses(csms)).toEqual(['Downloading', 'Downloaded', 'InvalidSignature'].map((status) => ({ status, requestId: 22 })));
    await waitFor(() => securityEvents(csms).includes('InvalidFirmwareSignature'), 10_000, 'InvalidFirmwareSignature');
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
    expect(signedStatuses(csms).map((s) => s.status)).not.toContain('Installing');
    expect(securityEvents(csms)).not.toContain('FirmwareUpdated');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a signing certificate not from an installed Manufacturer root: InvalidCertificate, InvalidFirmwareSigningCertificate, nothing downloaded; a second update replaces a waiting one (AcceptedCanceled)', async () => {
    const { csms, call } = await ready();
    const image = randomBytes(1024);
    const http = await imageServer(image);
    expect(await call('SignedUpdateFirmware', { requestId: 23, firmware: signedFirmware(http.url, image, rogueSigner) })).toEqual({ status: 'InvalidCertificate' });
    await waitFor(() => securityEvents(csms).includes('InvalidFirmwareSigningCertificate'), 10_000, 'InvalidFirmwareSigningCertificate');

    const later = new Date(Date.now() + 3_600_000);
    expect(await call('SignedUpdateFirmware', { requestId: 24, firmware: signedFirmware(http.url, image, signer, later) })).toEqual({ status: 'Accepted' });
    expect(await call('SignedUpdateFirmware', { requestId: 25, firmware: signedFirmware(http.url, image, signer, later) })).toEqual({ status: 'AcceptedCanceled' });
    // ExtendedTriggerMessage FirmwareStatusNotification: the waiting update, by its requestId.
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'FirmwareStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => signedStatuses(csms).length === 1, 10_000, 'the triggered status');
    expect(signedStatuses(csms)).toEqual([{ status: 'DownloadScheduled', requestId: 25 }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(http.requests).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('installDateTime later than the download: InstallScheduled after SignatureVerified, installed only then', async () => {
    const { csms, marker, call } = await ready();
    const image = randomBytes(2048);
    const http = await imageServer(image);
    const installAt = new Date(Date.now() + 3_000).toISOString();
    expect(await call('SignedUpdateFirmware', { requestId: 26, retries: 0, firmware: { ...signedFirmware(http.url, image, signer), installDateTime: installAt } })).toEqual({ status: 'Accepted' });
    await waitFor(() => signedStatuses(csms).some((s) => s.status === 'InstallScheduled'), 15_000, 'InstallScheduled');
    expect(existsSync(marker)).toBe(false);
    await waitFor(() => signedStatuses(csms).some((s) => s.status === 'Installed'), 20_000, 'Installed');
    expect(signedStatuses(csms).map((s) => s.status)).toEqual(['Downloading', 'Downloaded', 'SignatureVerified', 'InstallScheduled', 'Installing', 'Installed']);
    // Lower bound only: a busy machine may install late, never early.
    expect(csms.callsOf('SignedFirmwareStatusNotification', CP).find((c) => c.params.status === 'Installing')!.at).toBeGreaterThanOrEqual(Date.parse(installAt) - 50);
    expect(readFileSync(marker).equals(image)).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  }, 30_000);
});
