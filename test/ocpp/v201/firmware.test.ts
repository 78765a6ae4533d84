/**
 * OCPP 2.0.1 secure firmware update (L01) against the strict 2.0.1 server: images served by a
 * local HTTP server, signed with `openssl dgst -sha256 -sign` by a certificate of an openssl
 * Manufacturer root; the operator's install command copies the image to a marker file.
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
import { securedV201 } from '../../helpers/secured-v201.js';
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

/** openssl's signature of `data` with `key`, base64 (what a manufacturer's signing tool gives). */
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
  const dir = mkdtempSync(join(tmpdir(), 'evse-fw201-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'installed.bin');
  // Security profile 2: the Manufacturer root is installed over TLS only.
  const { csms, t, call } = await securedV201(pki, cleanups, {}, { firmware: { requireChecksum: true, installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
  expect(await call('InstallCertificate', { certificateType: 'ManufacturerRootCertificate', certificate: readFileSync(mfRoot.cert, 'utf8') })).toEqual({ status: 'Accepted' });
  return { csms, t, marker, call };
}

const firmwareStatuses = (csms: TestCsms) => csms.callsOf('FirmwareStatusNotification', CP).map((c) => c.params);
const securityEvents = (csms: TestCsms) => csms.callsOf('SecurityEventNotification', CP).map((c) => c.params.type as string);

describe('OCPP 2.0.1 secure firmware update against a strict 2.0.1 central system', () => {
  it('a signed image verified against the Manufacturer root: Downloading, Downloaded, SignatureVerified, Installing, Installed with the requestId; installed; FirmwareUpdated (L01)', async () => {
    const { csms, marker, call } = await ready();
    const image = randomBytes(4096);
    const http = await imageServer(image);
    expect(await call('UpdateFirmware', {
      requestId: 11, retries: 0,
      firmware: { location: http.url, retrieveDateTime: new Date().toISOString(), signingCertificate: readFileSync(signer.cert, 'utf8'), signature: opensslSign(image, signer.key) },
    })).toEqual({ status: 'Accepted' });
    await waitFor(() => firmwareStatuses(csms).some((s) => s.status === 'Installed' || s.status === 'InstallationFailed'), 15_000, 'the end of the update');
    expect(firmwareStatuses(csms)).toEqual(['Downloading', 'Downloaded', 'SignatureVerified', 'Installing', 'Installed'].map((status) => ({ status, requestId: 11 })));
    expect(readFileSync(marker).equals(image)).toBe(true);
    await waitFor(() => securityEvents(csms).includes('FirmwareUpdated'), 10_000, 'FirmwareUpdated');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a signature that does not match the image: InvalidSignature, InvalidFirmwareSignature, nothing installed (L01)', async () => {
    const { csms, marker, call } = await ready();
    const image = randomBytes(4096);
    const tampered = Buffer.from(image);
    tampered[100] = tampered[100]! ^ 0xff;
    const http = await imageServer(tampered);
    expect(await call('UpdateFirmware', {
      requestId: 12, retries: 0,
      firmware: { location: http.url, retrieveDateTime: new Date().toISOString(), signingCertificate: readFileSync(signer.cert, 'utf8'), signature: opensslSign(image, signer.key) },
    })).toEqual({ status: 'Accepted' });
    await waitFor(() => firmwareStatuses(csms).some((s) => s.status === 'InvalidSignature'), 15_000, 'InvalidSignature');
    expect(firmwareStatuses(csms)).toEqual(['Downloading', 'Downloaded', 'InvalidSignature'].map((status) => ({ status, requestId: 12 })));
    await waitFor(() => securityEvents(csms).includes('InvalidFirmwareSignature'), 10_000, 'InvalidFirmwareSignature');
    // Give an install every chance to (wrongly) happen.
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
    expect(firmwareStatuses(csms).map((s) => s.status)).not.toContain('Installing');
    expect(securityEvents(csms)).not.toContain('FirmwareUpdated');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a signing certificate not from an installed Manufacturer root: InvalidCertificate, InvalidFirmwareSigningCertificate, nothing downloaded; a second update replaces a waiting one (AcceptedCanceled)', async () => {
    const { csms, call } = await ready();
    const image = randomBytes(1024);
    const http = await imageServer(image);
    expect(await call('UpdateFirmware', {
      requestId: 13, firmware: { location: http.url, retrieveDateTime: new Date().toISOString(), signingCertificate: readFileSync(rogueSigner.cert, 'utf8'), signature: opensslSign(image, rogueSigner.key) },
    })).toMatchObject({ status: 'InvalidCertificate' });
    await waitFor(() => securityEvents(csms).includes('InvalidFirmwareSigningCertificate'), 10_000, 'InvalidFirmwareSigningCertificate');
    // A signature without its certificate cannot be checked.
    expect(await call('UpdateFirmware', { requestId: 14, firmware: { location: http.url, retrieveDateTime: new Date().toISOString(), signature: opensslSign(image, signer.key) } }))
      .toMatchObject({ status: 'InvalidCertificate' });

    const later = new Date(Date.now() + 3_600_000).toISOString();
    const signed = { location: http.url, retrieveDateTime: later, signingCertificate: readFileSync(signer.cert, 'utf8'), signature: opensslSign(image, signer.key) };
    expect(await call('UpdateFirmware', { requestId: 15, firmware: signed })).toEqual({ status: 'Accepted' });
    expect(await call('UpdateFirmware', { requestId: 16, firmware: signed })).toEqual({ status: 'AcceptedCanceled' });
    await new Promise((r) => setTimeout(r, 300));
    expect(http.requests).toEqual([]);
    expect(firmwareStatuses(csms)).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TriggerMessage FirmwareStatusNotification: Idle when no update runs, the waiting update with its requestId otherwise (F06, L01)', async () => {
    const { csms, call } = await ready();
    expect(await call('TriggerMessage', { requestedMessage: 'FirmwareStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => firmwareStatuses(csms).length === 1, 10_000, 'the triggered status');
    expect(firmwareStatuses(csms)).toEqual([{ status: 'Idle' }]);
    const image = randomBytes(512);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect(await call('UpdateFirmware', {
      requestId: 17, firmware: { location: 'http://127.0.0.1:9/fw.bin', retrieveDateTime: later, signingCertificate: readFileSync(signer.cert, 'utf8'), signature: opensslSign(image, signer.key) },
    })).toEqual({ status: 'Accepted' });
    expect(await call('TriggerMessage', { requestedMessage: 'FirmwareStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => firmwareStatuses(csms).length === 2, 10_000, 'the second triggered status');
    expect(firmwareStatuses(csms)[1]).toEqual({ status: 'DownloadScheduled', requestId: 17 });
    expect(csms.validationFailures).toEqual([]);
  });
});
