/**
 * Firmware Management against the strict TestCsms: diagnostics bundles uploaded to a local
 * HTTP server (PUT) and a local FTP server (pyftpdlib, started here), with retries and status
 * notifications; firmware updates from a local HTTP server: a bad checksum refused (never
 * installed), a good one installed once the running transaction ended, with idle connectors
 * Unavailable meanwhile; a scheduled update surviving a restart.
 */
import { execFileSync } from 'node:child_process';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redactFields, scrubText } from '../../src/app/services/diagnostics-bundle.js';
import { tar } from '../../src/lib/tar.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { ftpServer } from '../helpers/upload-servers.js';

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

async function setup(overrides: Record<string, unknown> = {}, dir?: string): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, overrides, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
  return { csms, t };
}

/**
 * A local HTTP server: `answer` decides each request's status; bodies are kept, with when each
 * request arrived. With `until`, answers wait for that promise (the test decides when).
 */
async function httpServer(answer: (req: IncomingMessage, n: number) => { status: number; body?: Buffer }, until?: Promise<void>) {
  const seen: { method: string; url: string; body: Buffer; at: number }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks), at: Date.now() });
      const a = answer(req, seen.length);
      void (until ?? Promise.resolve()).then(() => res.writeHead(a.status).end(a.body));
    });
  });
  // A request still held when the test ends must not keep the server open.
  cleanups.push(() => server.closeAllConnections());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { seen, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function untar(archive: Buffer): Record<string, string> {
  const dir = tmp('evse-untar-');
  writeFileSync(join(dir, 'bundle.tar.gz'), archive);
  execFileSync('tar', ['-xzf', 'bundle.tar.gz'], { cwd: dir });
  const out: Record<string, string> = {};
  for (const f of readdirSync(join(dir, 'diagnostics'))) out[f] = readFileSync(join(dir, 'diagnostics', f), 'utf8');
  return out;
}

const statuses = (csms: TestCsms, action: string) => csms.callsOf(action).map((c) => c.params.status);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('GetDiagnostics', () => {
  it('uploads a redacted bundle by HTTP PUT, retrying after a failure', async () => {
    const http = await httpServer((_req, n) => ({ status: n === 1 ? 503 : 201 }));
    const { csms, t } = await setup({ simulation: { departureDelayMs: 0 } });
    // A session and a sloppy log line give the bundle an idTag and a password to leak.
    expect(await csms.call(CP, 'SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: 'LISTTAG9', idTagInfo: { status: 'Accepted' } }] })).toEqual({ status: 'Accepted' });
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'DIAGTAG1' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StartTransaction').length === 1, 10_000, 'StartTransaction');
    t.agent.log.warn('careless line about DIAGTAG1 and LISTTAG9', { idTag: 'DIAGTAG1', password: 'Pw-Secret-123' });

    const res = await csms.call(CP, 'GetDiagnostics', { location: `${http.base}/upload/`, retries: 2, retryInterval: 1 });
    expect(res.fileName).toMatch(/^CP-TEST-1-diagnostics-.*\.tar\.gz$/);
    await waitFor(() => statuses(csms, 'DiagnosticsStatusNotification').includes('Uploaded'), 15_000, 'Uploaded');
    expect(statuses(csms, 'DiagnosticsStatusNotification')).toEqual(['Uploading', 'Uploaded']);
    expect(http.seen.map((s) => [s.method, s.url])).toEqual([['PUT', `/upload/${res.fileName}`], ['PUT', `/upload/${res.fileName}`]]);

    const files = untar(http.seen[1]!.body);
    expect(Object.keys(files).sort()).toEqual(['config.json', 'database.json', 'hardware.json', 'logs.jsonl', 'manifest.json', 'outbox.json']);
    const all = Object.values(files).join('\n');
    for (const leak of ['DIAGTAG1', 'LISTTAG9', 'Pw-Secret-123']) expect(all).not.toContain(leak);
    expect(files['logs.jsonl']).toContain('careless line about ref:');
    expect(JSON.parse(files['database.json']!)).toMatchObject({ ok: true, integrity: 'ok', rows: { sessions: 1 } });
    expect(JSON.parse(files['outbox.json']!)).toHaveProperty('summary.depth');
    expect(JSON.parse(files['hardware.json']!).connectors).toHaveLength(2);
    expect(JSON.parse(files['config.json']!).ocpp).toHaveProperty('MeterValueSampleInterval', '1');
    expect(JSON.parse(files['config.json']!).ocpp).not.toHaveProperty('AuthorizationKey');
    expect(csms.validationFailures).toEqual([]);
  });

  it('uploads by FTP (passive mode) to pyftpdlib; UploadFailed after the retries when nobody answers', async () => {
    const root = tmp('evse-ftp-');
    mkdirSync(join(root, 'incoming'));
    const port = await ftpServer(root, cleanups, { name: 'diag', password: 'ftp-Pw-123' });
    const { csms } = await setup();
    const res = await csms.call(CP, 'GetDiagnostics', { location: `ftp://diag:ftp-Pw-123@127.0.0.1:${port}/incoming/`, retries: 0 });
    await waitFor(() => statuses(csms, 'DiagnosticsStatusNotification').includes('Uploaded'), 15_000, 'Uploaded');
    const stored = readFileSync(join(root, 'incoming', res.fileName));
    expect(Object.keys(untar(stored))).toContain('manifest.json');

    const dead = await deadPort();
    await csms.call(CP, 'GetDiagnostics', { location: `ftp://127.0.0.1:${dead}/`, retries: 1, retryInterval: 1 });
    await waitFor(() => statuses(csms, 'DiagnosticsStatusNotification').includes('UploadFailed'), 15_000, 'UploadFailed');
    expect(statuses(csms, 'DiagnosticsStatusNotification')).toEqual(['Uploading', 'Uploaded', 'Uploading', 'UploadFailed']);
  });

  it('never lets a tag or a secret through the redaction (unit)', () => {
    const p = (tag: string) => `h(${tag.length})`;
    expect(redactFields({ a: { idTag: 'CARD1234', parentIdTag: 'PARENT99', password: 'x', mqttPassword: 'y', authorizationKey: 'z', note: 'ok' } }, p))
      .toEqual({ a: { idTag: 'ref:h(8)', parentIdTag: 'ref:h(8)', password: '(redacted)', mqttPassword: '(redacted)', authorizationKey: '(redacted)', note: 'ok' } });
    expect(scrubText('seen CARD1234, not XCARD1234; key S3cretKey!', ['CARD1234'], ['S3cretKey!'], p)).toBe('seen ref:h(8), not XCARD1234; key (redacted)');
    // The tar writer makes archives tar reads.
    const dir = tmp('evse-tar-');
    writeFileSync(join(dir, 'a.tar'), tar([{ name: 'x/hello.txt', data: 'hello', mtimeMs: Date.UTC(2026, 0, 1) }]));
    expect(execFileSync('tar', ['-tvf', 'a.tar'], { cwd: dir, encoding: 'utf8' })).toContain('x/hello.txt');
  });
});

describe('UpdateFirmware', () => {
  const good = Buffer.from('evse-edge firmware image v2\n'.repeat(100));
  const bad = Buffer.from('tampered image\n'.repeat(100));

  it('refuses an image that fails the configured checksum: DownloadFailed after the retries, never installed', async () => {
    const http = await httpServer(() => ({ status: 200, body: bad }));
    const dir = tmp('evse-fw-');
    const marker = join(dir, 'installed.bin');
    const { csms } = await setup({ firmware: { sha256: sha256(good), installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
    expect(await csms.call(CP, 'UpdateFirmware', { location: `${http.base}/fw.bin`, retrieveDate: new Date().toISOString(), retries: 1, retryInterval: 1 })).toEqual({});
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').includes('DownloadFailed'), 15_000, 'DownloadFailed');
    expect(statuses(csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'Downloading', 'DownloadFailed']);
    expect(http.seen).toHaveLength(2);
    expect(existsSync(marker)).toBe(false);
    expect(csms.validationFailures).toEqual([]);
  });

  it('installs a verified image once the running transaction ended, idle connectors Unavailable meanwhile', async () => {
    const http = await httpServer(() => ({ status: 200, body: good }));
    const dir = tmp('evse-fw-');
    const marker = join(dir, 'installed.bin');
    const { csms, t } = await setup({ firmware: { requireChecksum: true, installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } });
    const cp = t.agent.chargePoint!;
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'FWDRIVER' })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    const location = `${http.base}/fw.bin#sha256=${sha256(good)}`;
    expect(await csms.call(CP, 'UpdateFirmware', { location, retrieveDate: new Date().toISOString() })).toEqual({});
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').includes('Downloaded'), 10_000, 'Downloaded');
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Unavailable', 5_000, 'idle connector Unavailable');
    expect(toV16Status(cp.evseCondition(1))).toBe('Charging');
    expect(await csms.call(CP, 'TriggerMessage', { requestedMessage: 'FirmwareStatusNotification' })).toEqual({ status: 'Accepted' });
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').length === 3, 5_000, 'triggered status');
    expect(statuses(csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'Downloaded', 'Downloaded']);
    expect(existsSync(marker)).toBe(false);

    const transactionId = await waitFor(() => t.agent.ledger!.get(cp.session(1)!.localId)?.transactionId, 10_000, 'transactionId');
    expect(await csms.call(CP, 'RemoteStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => statuses(csms, 'FirmwareStatusNotification').includes('Installed'), 15_000, 'Installed');
    expect(statuses(csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'Downloaded', 'Downloaded', 'Installing', 'Installed']);
    expect(readFileSync(marker)).toEqual(good);
    // Installing began once the transaction had ended (its StopTransaction's timestamp). Not
    // the order the two reach the central system: the StopTransaction waits in the outbox
    // behind any MeterValues still being answered, the status does not.
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    const installing = csms.callsOf('FirmwareStatusNotification').find((c) => c.params.status === 'Installing')!;
    expect(stop.params.transactionId).toBe(transactionId);
    expect(Date.parse(stop.params.timestamp)).toBeLessThanOrEqual(installing.at);
    // Availability is back afterwards.
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Available', 5_000, 'Available again');
    expect(csms.validationFailures).toEqual([]);
  });

  it('a scheduled update survives a restart and runs at its retrieveDate', async () => {
    // The image is served only once the restarted charger is Accepted: however long the restart
    // takes (its retrieveDate may pass meanwhile), no status falls in a time without a link.
    let serve!: () => void;
    const http = await httpServer(() => ({ status: 200, body: good }), new Promise<void>((r) => (serve = r)));
    const dir = tmp('evse-fw-restart-');
    const marker = join(dir, 'installed.bin');
    const overrides = { firmware: { sha256: sha256(good), installCommand: ['/bin/sh', '-c', `cp "$1" "${marker}"`, 'install'] } };
    const first = await setup(overrides, dir);
    const retrieveAt = Date.now() + 2_000;
    await first.csms.call(CP, 'UpdateFirmware', { location: `${http.base}/fw.bin`, retrieveDate: new Date(retrieveAt).toISOString() });
    await first.t.agent.stop();
    await first.csms.stop();
    const restartedAt = Date.now();
    const second = await setup(overrides, dir);
    serve();
    await waitFor(() => statuses(second.csms, 'FirmwareStatusNotification').includes('Installed'), 15_000, 'Installed after restart');
    expect(statuses(second.csms, 'FirmwareStatusNotification')).toEqual(['Downloading', 'Downloaded', 'Installing', 'Installed']);
    expect(readFileSync(marker)).toEqual(good);
    // Fetched by the restarted charger, and never before the retrieveDate.
    expect(http.seen.some((s) => s.at >= restartedAt)).toBe(true);
    for (const s of http.seen) expect(s.at).toBeGreaterThanOrEqual(retrieveAt);
  });
});
