/**
 * OCPP 2.0.1 GetLog (N01) against the strict 2.0.1 server: the diagnostics log uploaded to a
 * real FTP server (pyftpdlib, Debian's python3-pyftpdlib, started here), the security log by
 * HTTP PUT to a local server, a failing upload retried then UploadFailure, and a GetLog during
 * an upload cancelling it (AcceptedCanceled).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { ftpServer as ftpServerOn, httpServer as httpServerOn } from '../../helpers/upload-servers.js';

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

const ftpServer = (root: string) => ftpServerOn(root, cleanups);
const httpServer = (answer: Parameters<typeof httpServerOn>[0]) => httpServerOn(answer, cleanups);

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
