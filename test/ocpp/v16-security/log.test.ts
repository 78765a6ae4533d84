/**
 * The OCPP 1.6 security whitepaper's GetLog / LogStatusNotification on a 1.6 charger against the
 * strict ocpp1.6 server: the diagnostics log to a real FTP server (pyftpdlib), the security log by
 * HTTP PUT, a GetLog during an upload cancelling it (AcceptedCanceled), a failing upload retried
 * then UploadFailure. After the OCTT 1.6 "get security log" case.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { ftpServer, httpServer } from '../../helpers/upload-servers.js';

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

async function ready(dir?: string): Promise<{ csms: TestCsms; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 } }, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
  return { csms, t, call: (action, params) => csms.call(CP, action, params) };
}

const logStatuses = (csms: TestCsms, requestId: number) => csms.callsOf('LogStatusNotification', CP).filter((c) => c.params.requestId === requestId).map((c) => c.params.status as string);

describe('OCPP 1.6 security whitepaper: GetLog against a strict ocpp1.6 central system', () => {
  it('DiagnosticsLog to an FTP server: Accepted with the file name, LogStatusNotification Uploading then Uploaded with the requestId, the bundle on the server', async () => {
    const { csms, call } = await ready();
    const root = tmp('evse-ftp16-logs-');
    mkdirSync(join(root, 'incoming'));
    const port = await ftpServer(root, cleanups);
    const res = await call('GetLog', { logType: 'DiagnosticsLog', requestId: 41, log: { remoteLocation: `ftp://logs:ftp-Pw-456@127.0.0.1:${port}/incoming/` }, retries: 0 });
    expect(res.status).toBe('Accepted');
    expect(res.filename).toMatch(/^CP-TEST-1-diagnostics-.*\.tar\.gz$/);
    await waitFor(() => logStatuses(csms, 41).includes('Uploaded') || logStatuses(csms, 41).includes('UploadFailure'), 15_000, 'the upload to end');
    expect(logStatuses(csms, 41)).toEqual(['Uploading', 'Uploaded']);
    const file = join(root, 'incoming', res.filename);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file).subarray(0, 2).toString('hex')).toBe('1f8b');
    // GetDiagnostics's own notification is not used for GetLog.
    expect(csms.callsOf('DiagnosticsStatusNotification', CP)).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_079_CS: SecurityLog by HTTP PUT: the security events as JSON lines, within oldestTimestamp..latestTimestamp', async () => {
    const { csms, call } = await ready();
    await waitFor(() => csms.callsOf('SecurityEventNotification', CP).some((c) => c.params.type === 'StartupOfTheDevice'), 10_000, 'StartupOfTheDevice');
    const http = await httpServer((_req, _body, res) => res.writeHead(201).end(), cleanups);
    const res = await call('GetLog', { logType: 'SecurityLog', requestId: 42, log: { remoteLocation: `${http.base}/upload/` } });
    expect(res).toMatchObject({ status: 'Accepted', filename: expect.stringMatching(/-security-.*\.log$/) });
    await waitFor(() => logStatuses(csms, 42).includes('Uploaded'), 10_000, 'Uploaded');
    expect(logStatuses(csms, 42)).toEqual(['Uploading', 'Uploaded']);
    expect(http.seen).toHaveLength(1);
    expect(http.seen[0]!.url).toBe(`/upload/${res.filename}`);
    const lines = http.seen[0]!.body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'StartupOfTheDevice' })]));

    // A window that ends before the charger started holds nothing.
    const before = new Date(Date.now() - 3_600_000).toISOString();
    const empty = await call('GetLog', { logType: 'SecurityLog', requestId: 43, log: { remoteLocation: `${http.base}/upload/`, latestTimestamp: before } });
    expect(empty.status).toBe('Accepted');
    await waitFor(() => logStatuses(csms, 43).includes('Uploaded'), 10_000, 'Uploaded');
    expect(http.seen[1]!.body.toString('utf8')).toBe('');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a GetLog while one uploads cancels it (AcceptedCanceled; the cancelled one never Uploaded and no status 1.6 lacks is sent); a failing upload retried, then UploadFailure; ExtendedTriggerMessage LogStatusNotification', async () => {
    const { csms, call } = await ready();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = await httpServer((_req, _body, res) => void held.then(() => res.writeHead(201).end()), cleanups);
    const failing = await httpServer((_req, _body, res) => res.writeHead(500).end(), cleanups);

    expect((await call('GetLog', { logType: 'DiagnosticsLog', requestId: 51, log: { remoteLocation: `${slow.base}/` }, retries: 0 })).status).toBe('Accepted');
    await waitFor(() => slow.seen.length === 1, 10_000, 'the first upload to reach the server');
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'LogStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => logStatuses(csms, 51).length === 2, 10_000, 'the triggered status');
    expect(logStatuses(csms, 51)).toEqual(['Uploading', 'Uploading']);
    const second = await call('GetLog', { logType: 'DiagnosticsLog', requestId: 52, log: { remoteLocation: `${failing.base}/` }, retries: 1, retryInterval: 0 });
    expect(second.status).toBe('AcceptedCanceled');
    await waitFor(() => logStatuses(csms, 52).includes('UploadFailure'), 15_000, 'UploadFailure');
    expect(logStatuses(csms, 52)).toEqual(['Uploading', 'UploadFailure']);
    expect(failing.seen).toHaveLength(2);
    release();
    await new Promise((r) => setTimeout(r, 500));
    expect(logStatuses(csms, 51)).toEqual(['Uploading', 'Uploading']);
    expect(await call('ExtendedTriggerMessage', { requestedMessage: 'LogStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('LogStatusNotification', CP).some((c) => c.params.status === 'Idle'), 10_000, 'Idle');
    expect(csms.callsOf('LogStatusNotification', CP).find((c) => c.params.status === 'Idle')!.params).toEqual({ status: 'Idle' });
    expect(csms.validationFailures).toEqual([]);
  });
});
