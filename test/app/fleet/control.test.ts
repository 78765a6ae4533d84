import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runFleet } from '../../../src/app/fleet/run.js';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { ControlServer } from '../../../src/app/fleet/control/server.js';
import type { ControlEvent } from '../../../src/app/fleet/control/protocol.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { api, eventStream, parsePrometheus, quietScenario, sample } from './control-helpers.js';

const START = Date.UTC(2026, 0, 5, 8, 0, 0);
/** Generous: two cores shared by several test runs. */
const WAIT_MS = 90_000;

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function strictServer(): Promise<{ csms: TestCsms; url: string }> {
  const csms = new TestCsms();
  csms.on('Authorize', (p: { idTag: string }) => ({ idTagInfo: { status: p.idTag.startsWith('BAD') ? 'Invalid' : 'Accepted' } }));
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  return { csms, url };
}

/** A fleet with the control API on, and its server; stopped after the test. */
async function controlledFleet(o: { count: number; workers?: number; processes?: number; urls?: string[]; listen?: string; prefix?: string }) {
  const events: ControlEvent[] = [];
  const runner = new FleetRunner({
    count: o.count, scenario: quietScenario(), startMs: START, timeScale: 1, rampPerSec: 0, seed: 3, drainMs: 2_000,
    workers: o.workers, processes: o.processes, urls: o.urls, prefix: o.prefix ?? 'CP-',
    control: {}, onControlEvents: (list) => {
      events.push(...list);
      server.publish(list);
    },
  });
  const server = new ControlServer({ listen: o.listen ?? '127.0.0.1:0', fleet: runner, count: o.count });
  const base = await server.start();
  const done = runner.run();
  cleanups.push(async () => {
    runner.stop();
    await done.catch(() => undefined);
    await server.close();
  });
  return { runner, server, base, events, done };
}

const accepted = async (base: string, n: number, query = '') => waitFor(async () => {
  const r = await api(base, 'GET', `/chargers?link=accepted${query}`);
  return r.status === 200 && r.json.count >= n ? r.json : undefined;
}, WAIT_MS, `${n} chargers accepted`);

describe.each([
  { where: 'two worker threads', count: 100, workers: 2 },
  { where: 'two processes', count: 200, processes: 2 },
])('fleet control API in $where', ({ count, workers, processes }) => {
  it('drives chargers at run time, streams events, traces frames and serves /metrics that match the server', async () => {
    const { csms, url } = await strictServer();
    const { base } = await controlledFleet({ count, workers, processes, urls: [url] });
    const stream = await eventStream(base);
    cleanups.push(() => stream.close());
    await accepted(base, count);

    // List and filter.
    const all = await api(base, 'GET', '/chargers');
    expect(all.json.count).toBe(count);
    expect(all.json.chargers.every((c: { link: string }) => c.link === 'accepted')).toBe(true);
    expect((await api(base, 'GET', '/chargers?state=available')).json.count).toBe(count);
    expect((await api(base, 'GET', '/chargers?state=charging')).json.count).toBe(0);
    expect((await api(base, 'GET', '/chargers?state=nonsense')).status).toBe(400);

    // Trace one charger, plug a car in and present a card: a session starts.
    const id = 'CP-00007';
    expect((await api(base, 'POST', `/chargers/${id}/trace`, { frames: 50 })).status).toBe(200);
    expect((await api(base, 'POST', `/chargers/${id}/plug`, { connectorId: 1 })).status).toBe(200);
    expect((await api(base, 'POST', `/chargers/${id}/plug`, { connectorId: 1 })).status).toBe(409);
    expect((await api(base, 'POST', `/chargers/${id}/present`, { token: 'CARD-1', method: 'rfid', connectorId: 1 })).status).toBe(200);
    await waitFor(() => csms.callsOf('StartTransaction', id).length === 1, WAIT_MS, 'StartTransaction');
    const detail = await waitFor(async () => {
      const r = await api(base, 'GET', `/chargers/${id}`);
      return r.json.state === 'charging' ? r.json : undefined;
    }, WAIT_MS, 'charging');
    expect(detail.connectors[0].plugged).toBe(true);
    expect(detail.connectors[0].session.authMethod).toBe('rfid');
    expect(detail.traced).toBe(true);
    const trace = await api(base, 'GET', `/chargers/${id}/trace`);
    const startCall = trace.json.frames.find((f: { direction: string; frame: unknown[] }) => f.direction === 'out' && f.frame[0] === 2 && f.frame[2] === 'StartTransaction');
    expect(startCall).toBeDefined();
    const startAnswer = trace.json.frames.find((f: { direction: string; frame: unknown[] }) => f.direction === 'in' && f.frame[0] === 3 && f.frame[1] === startCall.frame[1]);
    expect(startAnswer.latencyMs).toBeGreaterThanOrEqual(0);
    await waitFor(() => stream.events.some((e) => e.type === 'session-started' && e.id === id), WAIT_MS, 'session-started event');
    await waitFor(() => stream.events.some((e) => e.type === 'frame' && e.id === id), WAIT_MS, 'frame event');
    expect(stream.events.some((e) => e.type === 'charger' && e.id === id && e.state === 'charging')).toBe(true);

    // Unplug: the session stops.
    expect((await api(base, 'POST', `/chargers/${id}/unplug`, {})).status).toBe(200);
    await waitFor(() => csms.callsOf('StopTransaction', id).length === 1, WAIT_MS, 'StopTransaction');
    await waitFor(() => stream.events.some((e) => e.type === 'session-stopped' && e.id === id), WAIT_MS, 'session-stopped event');

    // A PIN on a screen, and an app start (the charger's own remote start against another central system).
    await api(base, 'POST', '/chargers/CP-00008/plug', {});
    expect((await api(base, 'POST', '/chargers/CP-00008/present', { token: '1234', method: 'pin' })).status).toBe(200);
    await waitFor(() => csms.callsOf('StartTransaction', 'CP-00008').length === 1, WAIT_MS, 'PIN start');
    await api(base, 'POST', '/chargers/CP-00009/plug', {});
    expect((await api(base, 'POST', '/chargers/CP-00009/present', { token: 'APP-1', method: 'app' })).status).toBe(200);
    await waitFor(() => csms.callsOf('StartTransaction', 'CP-00009').length === 1, WAIT_MS, 'app start');

    // Faults: a ground fault makes the charger Faulted; cleared, it is not.
    expect((await api(base, 'POST', '/chargers/CP-00010/fault', { fault: 'ground-fault', connectorId: 2 })).status).toBe(200);
    await waitFor(() => csms.callsOf('StatusNotification', 'CP-00010').some((c) => (c.params as { errorCode: string }).errorCode === 'GroundFailure'), WAIT_MS, 'GroundFailure');
    expect((await api(base, 'GET', '/chargers?state=faulted')).json.chargers.map((c: { id: string }) => c.id)).toEqual(['CP-00010']);
    expect((await api(base, 'POST', '/chargers/CP-00010/clear-fault', { fault: 'ground-fault', connectorId: 2 })).status).toBe(200);
    await waitFor(async () => (await api(base, 'GET', '/chargers?state=faulted')).json.count === 0, WAIT_MS, 'fault cleared');
    expect((await api(base, 'POST', '/chargers/CP-00010/fault', { fault: 'lightning' })).status).toBe(400);
    for (const fault of ['meter-timeout', 'reader-failure', 'evse-error']) {
      expect((await api(base, 'POST', '/chargers/CP-00011/fault', { fault })).status).toBe(200);
    }
    await waitFor(() => stream.events.filter((e) => e.type === 'error' && e.id === 'CP-00011' && e.kind === 'fault').length === 3, WAIT_MS, 'fault events');
    for (const fault of ['meter-timeout', 'reader-failure', 'evse-error']) {
      expect((await api(base, 'POST', '/chargers/CP-00011/clear-fault', { fault })).status).toBe(200);
    }

    // The central system answers one charger's StatusNotification with a CALLERROR (ocpp-rpc's GenericError for a handler's error): an event, and counted by code.
    csms.on('StatusNotification', (_p: unknown, client: { identity: string }) => {
      if (client.identity === 'CP-00030') throw new Error('refused for the test');
      return {};
    });
    await api(base, 'POST', '/chargers/CP-00030/plug', {});
    await waitFor(() => stream.events.some((e) => e.type === 'error' && e.id === 'CP-00030' && e.kind === 'callerror' && /^StatusNotification: GenericError$/.test(e.message)), WAIT_MS, 'a callerror event');
    csms.on('StatusNotification', () => ({}));
    const errorsByCode = parsePrometheus((await api(base, 'GET', '/metrics')).text);
    expect(sample(errorsByCode, 'evse_sim_ocpp_callerrors_total', { action: 'StatusNotification', code: 'GenericError' })).toBeGreaterThanOrEqual(1);
    expect(sample(errorsByCode, 'evse_sim_ocpp_calls_total', { action: 'StatusNotification', result: 'callerror' }))
      .toBe(sample(errorsByCode, 'evse_sim_ocpp_callerrors_total', { action: 'StatusNotification', code: 'GenericError' }));

    // Network: refuse on a selection (by prefix), then restore.
    const cutIds = all.json.chargers.map((c: { id: string }) => c.id).filter((x: string) => x.startsWith('CP-0001'));
    expect(cutIds.length).toBeGreaterThanOrEqual(10);
    const cut = await api(base, 'POST', '/actions/cut-network', { select: { prefix: 'CP-0001' }, mode: 'refuse' });
    expect(cut.json.matched).toBe(cutIds.length);
    expect(cut.json.ok).toBe(cutIds.length);
    await waitFor(async () => (await api(base, 'GET', '/chargers?link=disconnected')).json.count === cutIds.length, WAIT_MS, 'the selection disconnected');
    await waitFor(() => stream.events.some((e) => e.type === 'error' && e.kind === 'connect-failed' && e.id.startsWith('CP-0001')), WAIT_MS, 'refused attempts');
    expect((await api(base, 'GET', '/chargers/CP-00012')).json.network).toBe('refuse');
    await api(base, 'POST', '/actions/restore-network', { select: { prefix: 'CP-0001' } });
    await accepted(base, count);

    // Black hole: the link stays open, nothing passes; restored, what was held arrives.
    const hole = 'CP-00021';
    const statusesBefore = csms.callsOf('StatusNotification', hole).length;
    expect((await api(base, 'POST', `/chargers/${hole}/cut-network`, { mode: 'black-hole' })).status).toBe(200);
    await api(base, 'POST', `/chargers/${hole}/plug`, {});
    expect((await api(base, 'GET', `/chargers/${hole}`)).json.link).toBe('accepted');
    await api(base, 'POST', `/chargers/${hole}/restore-network`, {});
    await waitFor(() => csms.callsOf('StatusNotification', hole).length > statusesBefore, WAIT_MS, 'held StatusNotification');

    // Close: the link closes and stays down; restored, the charger connects again.
    const linkOf = () => csms.clients.get('CP-00022');
    const before = linkOf();
    await api(base, 'POST', '/chargers/CP-00022/cut-network', { mode: 'close' });
    await waitFor(async () => (await api(base, 'GET', '/chargers/CP-00022')).json.link === 'disconnected', WAIT_MS, 'closed');
    expect(linkOf()).toBeUndefined();
    await api(base, 'POST', '/chargers/CP-00022/restore-network', {});
    await waitFor(async () => (await api(base, 'GET', '/chargers/CP-00022')).json.link === 'accepted', WAIT_MS, 'connected after close');
    expect(linkOf()).toBeDefined();
    expect(linkOf()).not.toBe(before);

    // Another central system: set its URL, the charger reconnects there (a reconnect, not a
    // reboot: its statuses, no BootNotification), and a reboot then boots it there.
    const other = await strictServer();
    expect((await api(base, 'POST', '/chargers/CP-00023/set-url', { url: other.url })).status).toBe(200);
    await waitFor(() => other.csms.callsOf('StatusNotification', 'CP-00023').length > 0, WAIT_MS, 'statuses at the other central system');
    expect(csms.clients.has('CP-00023')).toBe(false);
    expect((await api(base, 'POST', '/chargers/CP-00023/reboot', {})).status).toBe(200);
    await waitFor(() => other.csms.callsOf('BootNotification', 'CP-00023').length === 1, WAIT_MS, 'boot at the other central system');
    expect((await api(base, 'GET', '/chargers/CP-00023')).json.url).toBe(other.url);
    expect((await api(base, 'POST', '/chargers/CP-00023/set-url', { url: 'http://x' })).status).toBe(400);

    // Hard reboot with a session open: the store keeps it, the new boot recovers it.
    const charging = (await api(base, 'GET', '/chargers/CP-00008')).json;
    const localId = charging.connectors.find((c: { session?: unknown }) => c.session).session.localId;
    const bootsBefore = csms.callsOf('BootNotification', 'CP-00008').length;
    expect((await api(base, 'POST', '/chargers/CP-00008/reboot', {})).status).toBe(200);
    await waitFor(() => csms.callsOf('BootNotification', 'CP-00008').length === bootsBefore + 1, WAIT_MS, 'boot after reboot');
    const after = await waitFor(async () => {
      const r = await api(base, 'GET', '/chargers/CP-00008');
      return r.json.link === 'accepted' ? r.json : undefined;
    }, WAIT_MS, 'accepted after reboot');
    expect(after.connectors.find((c: { session?: { localId: string } }) => c.session)?.session.localId).toBe(localId);

    // Add chargers at run time (spread over both threads), then remove some.
    const added = await api(base, 'POST', '/chargers', { prefix: 'NEW-', count: 6, profile: 'sim-ac-2x22kw', ocpp: '1.6' });
    expect(added.status).toBe(201);
    expect(added.json.added).toHaveLength(6);
    expect((await api(base, 'POST', '/chargers', { prefix: 'NEW-', count: 2 })).status).toBe(409);
    expect((await api(base, 'POST', '/chargers', { prefix: 'X-', count: 1, profile: 'no-such-profile' })).status).toBe(400);
    await accepted(base, 6, '&prefix=NEW-');
    await waitFor(() => stream.events.filter((e) => e.type === 'added').length === 6, WAIT_MS, 'added events');
    expect((await api(base, 'DELETE', '/chargers/NEW-00001')).status).toBe(200);
    const removedAgain = await api(base, 'DELETE', '/chargers/NEW-00001');
    expect(removedAgain.status).toBe(404);
    expect(removedAgain.json.error.message).toMatch(/no charger NEW-00001/);
    expect((await api(base, 'GET', '/chargers/NEW-00001')).status).toBe(404);
    expect((await api(base, 'POST', '/chargers/NEW-00001/plug', {})).status).toBe(404);
    expect((await api(base, 'GET', '/chargers/NEW-00001/trace')).status).toBe(404);
    const mixed = await api(base, 'POST', '/actions/plug', { select: { ids: ['NEW-00002', 'NEW-00001'] } });
    expect(mixed.json.results).toEqual(expect.arrayContaining([{ id: 'NEW-00002', ok: true }, expect.objectContaining({ id: 'NEW-00001', ok: false })]));
    expect((await api(base, 'POST', '/remove', { select: { prefix: 'NEW-' } })).json.removed).toHaveLength(5);
    expect((await api(base, 'POST', '/remove', {})).status).toBe(400);
    expect((await api(base, 'GET', '/chargers')).json.count).toBe(count);

    // Chargers of another version, added against their own central system.
    const v201 = new TestCsms({ protocol: 'ocpp2.0.1' });
    const v201Url = await v201.start();
    cleanups.push(() => v201.stop());
    const added201 = await api(base, 'POST', '/chargers', { prefix: 'V2-', count: 4, ocpp: '2.0.1', url: v201Url });
    expect(added201.json.added).toHaveLength(4);
    await waitFor(() => v201.callsOf('BootNotification').length === 4, WAIT_MS, '2.0.1 boots');
    expect((await api(base, 'GET', '/chargers/V2-00003')).json.version).toBe('ocpp2.0.1');
    await accepted(base, 4, '&prefix=V2-');
    await api(base, 'POST', '/chargers/V2-00003/plug', {});
    await api(base, 'POST', '/chargers/V2-00003/present', { token: 'CARD-201' });
    await waitFor(() => v201.callsOf('TransactionEvent', 'V2-00003').some((c) => (c.params as { eventType: string }).eventType === 'Started'), WAIT_MS, 'TransactionEvent Started');
    expect((await api(base, 'POST', '/remove', { select: { prefix: 'V2-' } })).json.removed).toHaveLength(4);
    expect(v201.validationFailures).toEqual([]);
    expect(csms.validationFailures).toEqual([]);

    const received = (action: string) => csms.callsOf(action).length + other.csms.callsOf(action).length + v201.callsOf(action).length;
    // Prometheus: what the servers received, as the chargers counted it (every CALL answered by now).
    await waitFor(async () => {
      const s = parsePrometheus((await api(base, 'GET', '/metrics')).text);
      return ['BootNotification', 'StartTransaction', 'StopTransaction', 'Authorize'].every((action) =>
        sample(s, 'evse_sim_ocpp_calls_total', { action, result: 'ok' }) === received(action));
    }, WAIT_MS, 'metrics equal to what the servers received');
    const metrics = await api(base, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    const s = parsePrometheus(metrics.text);
    const boot = sample(s, 'evse_sim_ocpp_calls_total', { action: 'BootNotification', result: 'ok' });
    expect(boot).toBe(received('BootNotification'));
    expect(sample(s, 'evse_sim_ocpp_calls_total', { action: 'TransactionEvent', result: 'ok' })).toBe(received('TransactionEvent'));
    expect(sample(s, 'evse_sim_ocpp_call_duration_seconds_count', { action: 'BootNotification' })).toBe(boot);
    expect(sample(s, 'evse_sim_ocpp_call_duration_seconds_bucket', { action: 'BootNotification', le: '+Inf' })).toBe(boot);
    expect(sample(s, 'evse_sim_ocpp_call_duration_seconds_bucket', { action: 'BootNotification', le: '60' })).toBe(boot);
    expect(sample(s, 'evse_sim_chargers', { state: 'charging' }) + sample(s, 'evse_sim_chargers', { state: 'available' }) + sample(s, 'evse_sim_chargers', { state: 'occupied' })).toBe(count);
    expect(sample(s, 'evse_sim_chargers_link', { link: 'accepted' })).toBe(count);
    expect(sample(s, 'evse_sim_sessions_started_total')).toBe(csms.callsOf('StartTransaction').length + 1);
    expect(sample(s, 'evse_sim_sessions_open')).toBeGreaterThanOrEqual(2);
    expect(sample(s, 'evse_sim_shards_answering')).toBe(2);
    expect(s.some((x) => x.name === 'evse_sim_main_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(sample(s, 'evse_sim_reconnects_total')).toBeGreaterThanOrEqual(cutIds.length + 2);
  }, 300_000);
});

describe('fleet control API access', () => {
  it('bound off loopback, needs its bearer token: 401 without, for HTTP and the event stream', async () => {
    const { url } = await strictServer();
    const { server, base } = await controlledFleet({ count: 3, workers: 0, urls: [url], listen: '0.0.0.0:0' });
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const local = base.replace('0.0.0.0', '127.0.0.1');
    const denied = await api(local, 'GET', '/chargers');
    expect(denied.status).toBe(401);
    expect(denied.json.error.code).toBe('ERR_CONTROL_TOKEN');
    expect((await api(local, 'GET', '/metrics')).status).toBe(401);
    expect((await api(local, 'GET', '/chargers', undefined, 'wrong')).status).toBe(401);
    await waitFor(async () => (await api(local, 'GET', '/chargers', undefined, server.token)).json.count === 3, WAIT_MS, 'chargers with the token');
    await expect(eventStream(local)).rejects.toThrow(/401/);
    const stream = await eventStream(local, `?access_token=${server.token}`);
    stream.close();
  }, 120_000);

  it('loopback needs no token; an unknown route or action is a clear 404, bad JSON a 400', async () => {
    const { url } = await strictServer();
    const { server, base } = await controlledFleet({ count: 2, workers: 0, urls: [url] });
    expect(server.token).toBeUndefined();
    await accepted(base, 2);
    expect((await api(base, 'GET', '/')).json.endpoints.length).toBeGreaterThan(5);
    const unknown = await api(base, 'POST', '/chargers/CP-00001/dance', {});
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toMatch(/unknown action "dance"/);
    expect((await api(base, 'GET', '/nowhere')).status).toBe(404);
    const res = await fetch(`${base}/chargers/CP-00001/plug`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    // What a cross-site form could send: refused before anything is done.
    const form = await fetch(`${base}/chargers/CP-00001/reboot`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(form.status).toBe(415);
    // A name that resolved to 127.0.0.1 for a page's script (DNS rebinding): refused.
    const rebound = await new Promise<number>((resolve, reject) => {
      const r = httpRequest(`${base}/chargers`, { headers: { host: 'evil.example:9400' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      r.on('error', reject);
      r.end();
    });
    expect(rebound).toBe(403);
  }, 120_000);
});

describe('evse-edge sim --control --trace', () => {
  it('prints the control URL, and writes the traced charger\'s frames as JSON lines with the latency of each answer', async () => {
    const { csms, url } = await strictServer();
    const dir = mkdtempSync(join(tmpdir(), 'evse-trace-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'trace.jsonl');
    let errText = '';
    const err = new Writable({ write(chunk, _enc, cb) { errText += String(chunk); cb(); } });
    const out = new Writable({ write(_chunk, _enc, cb) { cb(); } });
    let stop: ((signal?: string) => void) | undefined;
    const run = runFleet(
      { count: 3, scenario: quietScenario(), urls: [url], workers: 2, rampPerSec: 0, startMs: START, prefix: 'CP-', statusIntervalMs: 60_000, drainMs: 2_000,
        controlListen: '127.0.0.1:0', trace: { ids: ['CP-00002'], file } },
      { out, err, onInterrupt: (s) => { stop = s; return () => {}; } },
    );
    cleanups.push(async () => {
      stop?.('SIGINT');
      await run.catch(() => undefined);
    });
    const base = await waitFor(() => /control API: (http:\/\/\S+)/.exec(errText)?.[1], WAIT_MS, 'the control URL');
    expect(errText).not.toMatch(/token/);
    await accepted(base, 3);
    await api(base, 'POST', '/chargers/CP-00002/plug', {});
    await api(base, 'POST', '/chargers/CP-00002/present', { token: 'CARD-9' });
    await waitFor(() => csms.callsOf('StartTransaction', 'CP-00002').length === 1, WAIT_MS, 'StartTransaction');
    await api(base, 'POST', '/chargers/CP-00001/plug', {});
    await waitFor(() => csms.callsOf('StatusNotification', 'CP-00001').length >= 4, WAIT_MS, 'CP-00001 Preparing');
    stop!('SIGINT');
    await run;
    const frames = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; direction: string; at: string; frame: unknown[]; latencyMs?: number });
    expect(new Set(frames.map((f) => f.id))).toEqual(new Set(['CP-00002']));
    const calls = frames.filter((f) => f.direction === 'out' && f.frame[0] === 2);
    const byAction = (a: string) => calls.filter((f) => f.frame[2] === a).length;
    // Every CALL the server received from it, in the trace.
    for (const action of ['BootNotification', 'StatusNotification', 'StartTransaction', 'Authorize']) {
      expect(byAction(action)).toBe(csms.callsOf(action, 'CP-00002').length);
    }
    const boot = calls.find((f) => f.frame[2] === 'BootNotification')!;
    const answer = frames.find((f) => f.direction === 'in' && f.frame[0] === 3 && f.frame[1] === boot.frame[1])!;
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(answer.at)).toBeGreaterThanOrEqual(Date.parse(boot.at));
  }, 180_000);
});
