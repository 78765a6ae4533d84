/**
 * OCPP 2.0.1 GetLog (N01) against the strict 2.0.1 server: the diagnostics log uploaded to a
 * real FTP server (pyftpdlib, Debian's python3-pyftpdlib, started here), the security log by
 * HTTP PUT to a local server, a failing upload retried then UploadFailure, and a GetLog during
 * an upload cancelling it (AcceptedCanceled).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** pyftpdlib on an ephemeral port, one user with write access to `root`. */
async function ftpServer(root: string): Promise<number> {
  const script = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
a = DummyAuthorizer()
a.add_user('logs', 'ftp-Pw-456', sys.argv[1], perm='elradfmwMT')
FTPHandler.authorizer = a
s = FTPServer(('127.0.0.1', 0), FTPHandler)
print('READY', s.address[1], flush=True)
s.serve_forever()
`;
  const child = spawn('/usr/bin/python3', ['-c', script, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  const lines = createInterface({ input: child.stdout! });
  return new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('pyftpdlib did not start')), 10_000);
    lines.once('line', (l) => {
      clearTimeout(t);
      resolve(Number(l.split(' ')[1]));
    });
  });
}

/** A local HTTP server; `answer` handles each request once its body has arrived. */
async function httpServer(answer: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void) {
  const seen: { method: string; url: string; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, body });
      answer(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { seen, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function ready(): Promise<{ csms: TestCsms; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] } });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
  return { csms, t, call: (action, params) => csms.call(CP, action, params) };
}

const logStatuses = (csms: TestCsms, requestId: number) => csms.callsOf('LogStatusNotification', CP).filter((c) => c.params.requestId === requestId).map((c) => c.params.status as string);

describe('OCPP 2.0.1 GetLog against a strict 2.0.1 central system', () => {
  it('DiagnosticsLog to an FTP server: Accepted with the file name, Uploading then Uploaded with the requestId, the bundle on the server (N01)', async () => {
    const { csms, call } = await ready();
    const root = tmp('evse-ftp-logs-');
    mkdirSync(join(root, 'incoming'));
    const port = await ftpServer(root);
    const res = await call('GetLog', { logType: 'DiagnosticsLog', requestId: 21, log: { remoteLocation: `ftp://logs:ftp-Pw-456@127.0.0.1:${port}/incoming/` }, retries: 0 });
    expect(res.status).toBe('Accepted');
    expect(res.filename).toMatch(/^CP-TEST-1-diagnostics-.*\.tar\.gz$/);
    await waitFor(() => logStatuses(csms, 21).includes('Uploaded') || logStatuses(csms, 21).includes('UploadFailure'), 15_000, 'the upload to end');
    expect(logStatuses(csms, 21)).toEqual(['Uploading', 'Uploaded']);
    const file = join(root, 'incoming', res.filename);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file).subarray(0, 2).toString('hex')).toBe('1f8b'); // gzip
    expect(csms.validationFailures).toEqual([]);
  });

  it('SecurityLog by HTTP PUT: the security events as JSON lines (N01)', async () => {
    const { csms, call } = await ready();
    await waitFor(() => csms.callsOf('SecurityEventNotification', CP).some((c) => c.params.type === 'StartupOfTheDevice'), 10_000, 'StartupOfTheDevice');
    const http = await httpServer((_req, _body, res) => res.writeHead(201).end());
    const res = await call('GetLog', { logType: 'SecurityLog', requestId: 22, log: { remoteLocation: `${http.base}/upload/` } });
    expect(res).toMatchObject({ status: 'Accepted', filename: expect.stringMatching(/-security-.*\.log$/) });
    await waitFor(() => logStatuses(csms, 22).includes('Uploaded'), 10_000, 'Uploaded');
    expect(logStatuses(csms, 22)).toEqual(['Uploading', 'Uploaded']);
    expect(http.seen).toHaveLength(1);
    expect(http.seen[0]!.url).toBe(`/upload/${res.filename}`);
    const lines = http.seen[0]!.body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'StartupOfTheDevice' })]));
    expect(csms.validationFailures).toEqual([]);
  });

  it('a GetLog while one uploads cancels it (AcceptedCanceled, the cancelled one told so and never Uploaded); a failing upload retried, then UploadFailure (N01)', async () => {
    const { csms, call } = await ready();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = await httpServer((_req, _body, res) => void held.then(() => res.writeHead(201).end()));
    const failing = await httpServer((_req, _body, res) => res.writeHead(500).end());

    expect((await call('GetLog', { logType: 'DiagnosticsLog', requestId: 31, log: { remoteLocation: `${slow.base}/` }, retries: 0 })).status).toBe('Accepted');
    await waitFor(() => slow.seen.length === 1, 10_000, 'the first upload to reach the server');
    // TriggerMessage LogStatusNotification: the upload running, with its requestId.
    expect(await call('TriggerMessage', { requestedMessage: 'LogStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => logStatuses(csms, 31).length === 2, 10_000, 'the triggered status');
    expect(logStatuses(csms, 31)).toEqual(['Uploading', 'Uploading']);
    const second = await call('GetLog', { logType: 'DiagnosticsLog', requestId: 32, log: { remoteLocation: `${failing.base}/` }, retries: 1, retryInterval: 0 });
    expect(second.status).toBe('AcceptedCanceled');
    await waitFor(() => logStatuses(csms, 32).includes('UploadFailure'), 15_000, 'UploadFailure');
    expect(logStatuses(csms, 32)).toEqual(['Uploading', 'UploadFailure']);
    expect(failing.seen).toHaveLength(2); // one attempt and one retry
    release();
    await waitFor(() => logStatuses(csms, 31).includes('AcceptedCanceled'), 10_000, 'the cancelled one told');
    await new Promise((r) => setTimeout(r, 300));
    expect(logStatuses(csms, 31)).toEqual(['Uploading', 'Uploading', 'AcceptedCanceled']);
    // Nothing uploading now: Idle, without a requestId.
    expect(await call('TriggerMessage', { requestedMessage: 'LogStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('LogStatusNotification', CP).some((c) => c.params.status === 'Idle'), 10_000, 'Idle');
    expect(csms.callsOf('LogStatusNotification', CP).find((c) => c.params.status === 'Idle')!.params).toEqual({ status: 'Idle' });
    expect(csms.validationFailures).toEqual([]);
  });
});
