/**
 * GetDiagnostics and UpdateFirmware over explicit FTPS (ftps://: AUTH TLS, PROT P) against
 * pyftpdlib's TLS_FTPHandler (Debian python3-pyftpdlib with python3-openssl), which refuses
 * any command or transfer that is not under TLS. The server's certificate comes from the
 * operator's private CA, which the agent trusts through csms.ca (the CA of its wss:// central
 * system); a server certified by another CA is refused. Plain ftp:// downloads still work, and
 * https:// downloads trust the operator CA too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { download, upload } from '../../src/app/services/file-transfer.js';
import { LEVELS } from '../../src/lib/log.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { TestPki, type Pem } from '../helpers/pki.js';
import { TlsTestCsms } from '../helpers/tls-csms.js';

const CP = 'CP-TEST-1';
const KEY = 'evse-edge-key-0001';
const USER = 'diag';
const PASSWORD = 'ftp-Pw-123';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const pki = new TestPki();
let ca: Pem, server: Pem, foreign: Pem;
beforeAll(() => {
  ca = pki.ca('Operator CA');
  server = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
  foreign = pki.leaf(pki.ca('Somebody else'), { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
});
afterAll(() => pki.cleanup());

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * pyftpdlib on an ephemeral port, one user with write access to `root`. With `tls`, its
 * TLS_FTPHandler with that certificate, requiring TLS on the control and data connections.
 */
async function ftpServer(root: string, tls?: Pem): Promise<number> {
  const script = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
a = DummyAuthorizer()
a.add_user('${USER}', '${PASSWORD}', sys.argv[1], perm='elradfmwMT')
if len(sys.argv) > 2:
    from pyftpdlib.handlers import TLS_FTPHandler as Handler, TLS_DTPHandler
    class DTP(TLS_DTPHandler):
        # pyftpdlib 1.5.7 (Debian 12) closes a data connection that is readable before its
        # transfer command, i.e. one whose client already sent its TLS ClientHello, as curl and
        # basic-ftp do; fixed upstream in 1.5.8 (giampaolo/pyftpdlib#612), backported here.
        def readable(self):
            return self._ssl_accepting or super().readable()
    Handler.dtp_handler = DTP
    Handler.certfile = sys.argv[2]
    Handler.keyfile = sys.argv[3]
    Handler.tls_control_required = True
    Handler.tls_data_required = True
else:
    from pyftpdlib.handlers import FTPHandler as Handler
Handler.authorizer = a
s = FTPServer(('127.0.0.1', 0), Handler)
print('READY', s.address[1], flush=True)
s.serve_forever()
`;
  const child = spawn('/usr/bin/python3', ['-c', script, root, ...(tls ? [tls.cert, tls.key] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  const lines = createInterface({ input: child.stdout! });
  return new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pyftpdlib did not start: ${stderr}`)), 10_000);
    child.once('exit', () => reject(new Error(`pyftpdlib exited: ${stderr}`)));
    lines.once('line', (l) => {
      clearTimeout(t);
      resolve(Number(l.split(' ')[1]));
    });
  });
}

/** An agent whose central system is behind TLS (profile 2) certified by the operator CA. */
async function setup(overrides: Record<string, unknown> = {}): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TlsTestCsms(server);
  csms.server.auth((accept, reject, hs) => (hs.password?.toString() === KEY ? accept() : reject(401)));
  const url = await csms.startTls();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, securityProfile: 2, authorizationKey: KEY, ca: ca.cert, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 }, ...overrides });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted over TLS');
  return { csms, t };
}

function untar(archive: Buffer): string[] {
  const dir = tmp('evse-untar-');
  writeFileSync(join(dir, 'bundle.tar.gz'), archive);
  execFileSync('tar', ['-xzf', 'bundle.tar.gz'], { cwd: dir });
  return readdirSync(join(dir, 'diagnostics'));
}

const statuses = (csms: TestCsms, action: string) => csms.callsOf(action).map((c) => c.params.status);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FTPS', () => {
  it('GetDiagnostics uploads over explicit FTPS to a server of the operator CA; plain ftp:// to it is refused', async () => {
    const root = tmp('evse-ftps-');
    mkdirSync(join(root, 'incoming'));
    const port = await ftpServer(root, server);
    const { csms, t } = await setup();
    const res = await csms.call(CP, 'GetDiagnostics', { location: `ftps://${USER}:${PASSWORD}@127.0.0.1:${port}/incoming/`, retries: 0 });
    await waitFor(() => statuses(csms, 'DiagnosticsStatusNotification').includes('Uploaded'), 15_000, 'Uploaded');
    expect(untar(readFileSync(join(root, 'incoming', res.fileName)))).toContain('manifest.json');

    // The server requires TLS: the same location without it fails, and says why.
    await csms.call(CP, 'GetDiagnostics', { location: `ftp://${USER}:${PASSWORD}@127.0.0.1:${port}/incoming/`, retries: 0 });
    await waitFor(() => statuses(csms, 'DiagnosticsStatusNotification').includes('UploadFailed'), 15_000, 'UploadFailed');
    expect(statuses(csms, 'DiagnosticsStatusNotification')).toEqual(['Uploading', 'Uploaded', 'Uploading', 'UploadFailed']);
    const failure = t.logs.records.find((r) => r.msg === 'diagnostics upload failed');
    expect(failure).toMatchObject({ level: LEVELS.warn, err: { code: 'ERR_TRANSFER', message: expect.stringMatching(/^FTP upload failed: .*SSL/) } });
    expect(JSON.stringify(t.logs.records)).not.toContain(PASSWORD);
    expect(csms.validationFailures).toEqual([]);
  });

  it('UpdateFirmware downloads over explicit FTPS, verifies and installs the image', async () => {
    const root = tmp('evse-ftps-fw-');
    const image = Buffer.from('evse-edge firmware image v3\n'.repeat(5_000));
    mkdirSync(join(root, 'fw'));
    writeFileSync(join(root, 'fw', 'image v3.bin'), image);
    const port = await ftpServer(root, server);
    const marker = join(tmp('evse-ftps-marker-'), 'installed.bin');
    const { csms } = await setup({ firmware: { requireChecksum: true, installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
    const location = `ftps://${USER}:${PASSWORD}@127.0.0.1:${port}/fw/image%20v3.bin#sha256=${sha256(image)}`;
    expect(await csms.call(CP, 'UpdateFirmware', { location, retrieveDate: new Date().toISOString(), retries: 0 })).toEqual({});
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').includes('Installed'), 15_000, 'Installed');
    expect(statuses(csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'Downloaded', 'Installing', 'Installed']);
    expect(readFileSync(marker)).toEqual(image);
    expect(csms.validationFailures).toEqual([]);
  });

  it('refuses a server certified by another CA: DownloadFailed, never installed', async () => {
    const root = tmp('evse-ftps-foreign-');
    writeFileSync(join(root, 'fw.bin'), 'image');
    const port = await ftpServer(root, foreign);
    const marker = join(tmp('evse-ftps-marker-'), 'installed.bin');
    const { csms, t } = await setup({ firmware: { installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
    await csms.call(CP, 'UpdateFirmware', { location: `ftps://${USER}:${PASSWORD}@127.0.0.1:${port}/fw.bin`, retrieveDate: new Date().toISOString(), retries: 0 });
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').includes('DownloadFailed'), 15_000, 'DownloadFailed');
    expect(statuses(csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'DownloadFailed']);
    const failure = t.logs.records.find((r) => r.msg === 'firmware download failed');
    expect(failure).toMatchObject({ err: { code: 'ERR_TRANSFER', message: expect.stringMatching(/^FTPS download failed: .*(certificate|UNABLE_TO_VERIFY)/i) } });
    expect(existsSync(marker)).toBe(false);
  });

  it('without the operator CA, a server of that CA is refused too; with it, the file comes back byte for byte', async () => {
    const root = tmp('evse-ftps-direct-');
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    writeFileSync(join(root, 'blob.bin'), data);
    const port = await ftpServer(root, server);
    const location = `ftps://${USER}:${PASSWORD}@127.0.0.1:${port}/blob.bin`;
    await expect(download(location)).rejects.toMatchObject({ code: 'ERR_TRANSFER', message: expect.stringMatching(/certificate|UNABLE_TO_VERIFY/i) });
    expect(await download(location, { ca: readFileSync(ca.cert) })).toEqual(data);
  });

  it('refuses implicit FTPS (port 990) at once, with a clear error', async () => {
    await expect(upload('ftps://u:p@127.0.0.1:990/', 'x.tar.gz', Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_TRANSFER', message: expect.stringMatching(/implicit FTPS .*not supported/) });
  });

  it('plain ftp:// downloads still work (firmware from pyftpdlib without TLS)', async () => {
    const root = tmp('evse-ftp-plain-');
    const data = Buffer.from('plain image\n'.repeat(1_000));
    mkdirSync(join(root, 'a dir'));
    writeFileSync(join(root, 'a dir', 'fw.bin'), data);
    const port = await ftpServer(root);
    expect(await download(`ftp://${USER}:${PASSWORD}@127.0.0.1:${port}/a%20dir/fw.bin`)).toEqual(data);
    await expect(download(`ftp://${USER}:${PASSWORD}@127.0.0.1:${port}/missing.bin`)).rejects.toMatchObject({ code: 'ERR_TRANSFER', message: expect.stringMatching(/^FTP download failed: 550/) });
  });

  it('https:// downloads trust the operator CA the same way, besides the system CAs', async () => {
    const body = Buffer.from('https image\n'.repeat(100));
    const https = createHttpsServer({ cert: readFileSync(server.cert), key: readFileSync(server.key) }, (_req, res) => res.writeHead(200).end(body));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => https.close(() => r())));
    const location = `https://127.0.0.1:${(https.address() as AddressInfo).port}/fw.bin`;
    await expect(download(location)).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO_VERIFY|SELF_SIGNED/) });
    expect(await download(location, { ca: readFileSync(ca.cert) })).toEqual(body);
  });
});
