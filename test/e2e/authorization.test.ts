import Database from 'better-sqlite3';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authorizeIdTag, cacheTransactionVerdict, effectiveStatus, type AuthorizationSource } from '../../src/core/authorization.js';
import type { AuthorizationData, AuthorizationInfo, RemoteAuthorizer } from '../../src/core/ports.js';
import type { Settings } from '../../src/ocpp/v16/store-ports.js';
import { policyFromSettings } from '../../src/ocpp/v16/policy.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const PAST = new Date(NOW - 60_000).toISOString();
const FUTURE = new Date(NOW + 86_400_000).toISOString();

// ------------------------------------------------------------------ small fakes for the pure logic

const DEFAULTS: Record<string, string> = {
  LocalAuthListEnabled: 'true',
  AuthorizationCacheEnabled: 'true',
  LocalAuthorizeOffline: 'true',
  LocalPreAuthorize: 'false',
  AllowOfflineTxForUnknownId: 'false',
};

function fakeSettings(values: Record<string, string | boolean>): Settings {
  const get = (k: string) => String(values[k] ?? DEFAULTS[k] ?? '');
  return {
    int: (k) => Number.parseInt(get(k), 10) || 0,
    bool: (k) => get(k).toLowerCase() === 'true',
    list: (k) => get(k).split(',').filter(Boolean),
  };
}

/** The 1.6 keys as the core's authorisation policy (through the v16 binding's mapping). */
function fakePolicy(values: Record<string, string | boolean>) {
  return policyFromSettings(fakeSettings(values)).authorization;
}

function fakeData(list: Record<string, AuthorizationInfo> = {}, cache: Record<string, AuthorizationInfo> = {}): AuthorizationData & { cache: Record<string, AuthorizationInfo> } {
  return {
    cache,
    localListEntry: (t) => list[t],
    cacheEntry: (t) => cache[t],
    cachePut: (t, info) => {
      cache[t] = info;
    },
  };
}

function fakeRemote(online: boolean, answer?: AuthorizationInfo): RemoteAuthorizer & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    online: () => online,
    authorize: async (t) => {
      asked.push(t);
      return answer;
    },
  };
}

interface Row {
  name: string;
  online: boolean;
  /** The central system's answer; undefined = it could not be asked (timeout, CALLERROR). */
  answer?: AuthorizationInfo;
  list?: AuthorizationInfo;
  cache?: AuthorizationInfo;
  settings?: Record<string, string | boolean>;
  accepted: boolean;
  status: AuthorizationInfo['status'];
  source: AuthorizationSource;
  offline: boolean;
  asksCsms: boolean;
}

const A = (expiryDate?: string): AuthorizationInfo => ({ status: 'Accepted', ...(expiryDate ? { expiryDate } : {}) });
const S = (status: AuthorizationInfo['status']): AuthorizationInfo => ({ status });

// DOMAIN.md R8 and OCPP 1.6 §3.5, row by row.
const rows: Row[] = [
  // offline: the local list beats the cache
  { name: 'offline, listed Accepted → accepted from the list', online: false, list: A(), accepted: true, status: 'Accepted', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Accepted with a future expiry → accepted', online: false, list: A(FUTURE), accepted: true, status: 'Accepted', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Blocked but cached Accepted → refused (list beats cache)', online: false, list: S('Blocked'), cache: A(), accepted: false, status: 'Blocked', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Accepted but cached Blocked → accepted (list beats cache)', online: false, list: A(), cache: S('Blocked'), accepted: true, status: 'Accepted', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Invalid → refused', online: false, list: S('Invalid'), accepted: false, status: 'Invalid', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Expired → refused', online: false, list: S('Expired'), accepted: false, status: 'Expired', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed Accepted but past its expiryDate → refused as Expired', online: false, list: A(PAST), accepted: false, status: 'Expired', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, listed ConcurrentTx → refused', online: false, list: S('ConcurrentTx'), accepted: false, status: 'ConcurrentTx', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, a listed refused tag stays refused even with AllowOfflineTxForUnknownId', online: false, list: S('Blocked'), settings: { AllowOfflineTxForUnknownId: true }, accepted: false, status: 'Blocked', source: 'local-list', offline: true, asksCsms: false },
  { name: 'offline, an expired listed tag stays refused even with AllowOfflineTxForUnknownId', online: false, list: A(PAST), settings: { AllowOfflineTxForUnknownId: true }, accepted: false, status: 'Expired', source: 'local-list', offline: true, asksCsms: false },
  // offline: the cache
  { name: 'offline, cached Accepted → accepted from the cache', online: false, cache: A(), accepted: true, status: 'Accepted', source: 'cache', offline: true, asksCsms: false },
  { name: 'offline, cached Blocked → refused', online: false, cache: S('Blocked'), accepted: false, status: 'Blocked', source: 'cache', offline: true, asksCsms: false },
  { name: 'offline, cached Accepted but expired → refused as Expired', online: false, cache: A(PAST), accepted: false, status: 'Expired', source: 'cache', offline: true, asksCsms: false },
  { name: 'offline, cache disabled: a cached tag is unknown → refused', online: false, cache: A(), settings: { AuthorizationCacheEnabled: false }, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: false },
  { name: 'offline, list disabled: a listed tag is unknown → refused', online: false, list: A(), settings: { LocalAuthListEnabled: false }, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: false },
  { name: 'offline, list disabled: the cache still decides', online: false, list: S('Blocked'), cache: A(), settings: { LocalAuthListEnabled: false }, accepted: true, status: 'Accepted', source: 'cache', offline: true, asksCsms: false },
  // offline: LocalAuthorizeOffline
  { name: 'offline, listed Accepted without LocalAuthorizeOffline → refused', online: false, list: A(), settings: { LocalAuthorizeOffline: false }, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: false },
  { name: 'offline, cached Accepted without LocalAuthorizeOffline → refused', online: false, cache: A(), settings: { LocalAuthorizeOffline: false }, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: false },
  // offline: unknown tags
  { name: 'offline, unknown tag → refused', online: false, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: false },
  { name: 'offline, unknown tag with AllowOfflineTxForUnknownId → accepted', online: false, settings: { AllowOfflineTxForUnknownId: true }, accepted: true, status: 'Accepted', source: 'offline-unknown', offline: true, asksCsms: false },
  // online: the central system decides
  { name: 'online, unknown tag, CSMS Accepted → accepted', online: true, answer: A(), accepted: true, status: 'Accepted', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, unknown tag, CSMS Invalid → refused', online: true, answer: S('Invalid'), accepted: false, status: 'Invalid', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, listed Accepted, CSMS Blocked → refused (the CSMS decides online)', online: true, list: A(), answer: S('Blocked'), accepted: false, status: 'Blocked', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, listed Blocked, CSMS Accepted → accepted', online: true, list: S('Blocked'), answer: A(), accepted: true, status: 'Accepted', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, LocalPreAuthorize, listed Accepted → accepted without asking', online: true, list: A(), answer: S('Blocked'), settings: { LocalPreAuthorize: true }, accepted: true, status: 'Accepted', source: 'local-list', offline: false, asksCsms: false },
  { name: 'online, LocalPreAuthorize, cached Accepted → accepted without asking', online: true, cache: A(), answer: S('Blocked'), settings: { LocalPreAuthorize: true }, accepted: true, status: 'Accepted', source: 'cache', offline: false, asksCsms: false },
  { name: 'online, LocalPreAuthorize, listed but expired → the CSMS is asked', online: true, list: A(PAST), answer: A(), settings: { LocalPreAuthorize: true }, accepted: true, status: 'Accepted', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, LocalPreAuthorize, listed Blocked → the CSMS is asked', online: true, list: S('Blocked'), answer: S('Blocked'), settings: { LocalPreAuthorize: true }, accepted: false, status: 'Blocked', source: 'csms', offline: false, asksCsms: true },
  { name: 'online, LocalPreAuthorize, unknown → the CSMS is asked', online: true, answer: A(), settings: { LocalPreAuthorize: true }, accepted: true, status: 'Accepted', source: 'csms', offline: false, asksCsms: true },
  // online, but the CSMS cannot be asked after all: decided as offline
  { name: 'online, CSMS unreachable, listed Accepted → accepted offline', online: true, list: A(), accepted: true, status: 'Accepted', source: 'local-list', offline: true, asksCsms: true },
  { name: 'online, CSMS unreachable, cached Blocked → refused', online: true, cache: S('Blocked'), accepted: false, status: 'Blocked', source: 'cache', offline: true, asksCsms: true },
  { name: 'online, CSMS unreachable, unknown → refused', online: true, accepted: false, status: 'Invalid', source: 'none', offline: true, asksCsms: true },
  { name: 'online, CSMS unreachable, unknown with AllowOfflineTxForUnknownId → accepted offline', online: true, settings: { AllowOfflineTxForUnknownId: true }, accepted: true, status: 'Accepted', source: 'offline-unknown', offline: true, asksCsms: true },
];

describe('authorizeIdTag: DOMAIN.md R8 decision table', () => {
  it.each(rows)('$name', async (row) => {
    const data = fakeData(row.list ? { TAG: row.list } : {}, row.cache ? { TAG: row.cache } : {});
    const remote = fakeRemote(row.online, row.answer);
    const d = await authorizeIdTag('TAG', { policy: fakePolicy(row.settings ?? {}), data, remote, now: () => NOW });
    expect(d.accepted).toBe(row.accepted);
    expect(d.info.status).toBe(row.status);
    expect(d.source).toBe(row.source);
    expect(d.offline).toBe(row.offline);
    expect(remote.asked).toEqual(row.asksCsms ? ['TAG'] : []);
  });

  it('an answer from the central system updates the cache (only when the cache is enabled)', async () => {
    const data = fakeData({}, {});
    await authorizeIdTag('TAG', { policy: fakePolicy({}), data, remote: fakeRemote(true, { status: 'Blocked', groupId: 'P' }), now: () => NOW });
    expect(data.cache.TAG).toEqual({ status: 'Blocked', groupId: 'P' });
    const off = fakeData({}, {});
    await authorizeIdTag('TAG', { policy: fakePolicy({ AuthorizationCacheEnabled: false }), data: off, remote: fakeRemote(true, A()), now: () => NOW });
    expect(off.cache).toEqual({});
  });

  it('an offline decision never writes the cache', async () => {
    const data = fakeData({ TAG: A() }, {});
    await authorizeIdTag('TAG', { policy: fakePolicy({}), data, remote: fakeRemote(false), now: () => NOW });
    expect(data.cache).toEqual({});
  });

  it('a transaction answer (Start/StopTransaction.conf) that names no expiryDate or group (parentIdTag) keeps the cached ones; one that does replaces them', () => {
    const data = fakeData({}, { TAG: { status: 'Accepted', expiryDate: PAST, groupId: 'P' } });
    cacheTransactionVerdict(data, 'TAG', { status: 'Accepted' });
    expect(data.cache.TAG).toEqual({ status: 'Accepted', expiryDate: PAST, groupId: 'P' });
    cacheTransactionVerdict(data, 'TAG', { status: 'Accepted', expiryDate: FUTURE, groupId: 'Q' });
    expect(data.cache.TAG).toEqual({ status: 'Accepted', expiryDate: FUTURE, groupId: 'Q' });
    // Another status is a new verdict: the old validity does not carry over.
    cacheTransactionVerdict(data, 'TAG', { status: 'Blocked' });
    expect(data.cache.TAG).toEqual({ status: 'Blocked', groupId: 'Q' });
    cacheTransactionVerdict(data, 'NEW', { status: 'Accepted' });
    expect(data.cache.NEW).toEqual({ status: 'Accepted' });
  });

  it('effectiveStatus: Accepted past expiry is Expired; other statuses unchanged', () => {
    expect(effectiveStatus(A(PAST), NOW)).toBe('Expired');
    expect(effectiveStatus(A(FUTURE), NOW)).toBe('Accepted');
    expect(effectiveStatus(A(new Date(NOW).toISOString()), NOW)).toBe('Expired');
    expect(effectiveStatus({ status: 'Blocked', expiryDate: FUTURE }, NOW)).toBe('Blocked');
  });
});

// ------------------------------------------------------------------ against the real server

/** A TCP proxy between agent and central system that can cut the link (server down) and restore it. */
class LinkCutter {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private isDown = false;
  port = 0;
  constructor(private readonly upstreamPort: number) {}
  async start(): Promise<number> {
    this.server = createServer((downstream) => {
      if (this.isDown) return downstream.destroy();
      const upstream = createConnection({ port: this.upstreamPort, host: '127.0.0.1' });
      for (const s of [downstream, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      downstream.pipe(upstream).pipe(downstream);
      downstream.on('close', () => upstream.destroy());
      upstream.on('close', () => downstream.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server!.address() as AddressInfo).port;
    return this.port;
  }
  down(): void {
    this.isDown = true;
    for (const s of this.sockets) s.destroy();
  }
  up(): void {
    this.isDown = false;
  }
  async stop(): Promise<void> {
    this.down();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

describe('authorisation with a real central system', () => {
  const CP = 'CP-TEST-1';
  let csms: TestCsms;
  let cutter: LinkCutter;
  let agent: TestAgent | undefined;

  beforeEach(async () => {
    csms = new TestCsms();
    await csms.start();
    cutter = new LinkCutter(csms.port);
    await cutter.start();
  });

  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
    await cutter.stop();
    await csms.stop();
  });

  const call = (action: string, params: unknown) => csms.call(CP, action, params);
  const url = () => `ws://127.0.0.1:${cutter.port}/ocpp`;

  async function boot(overrides: Record<string, unknown> = {}): Promise<TestAgent> {
    agent = await startAgent(url(), overrides);
    await waitFor(() => agent!.agent.link?.state === 'accepted' && csms.callsOf('StatusNotification').length >= 3, 10_000, 'boot');
    return agent;
  }

  /** Present a card and return what became of it: a session started, or a refusal status. */
  async function present(a: TestAgent, idTag: string, connectorId: number): Promise<'started' | string> {
    const cp = a.agent.chargePoint!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no decision for ${idTag}`)), 10_000);
      const done = (v: string) => {
        clearTimeout(timer);
        cp.off('auth-refused', onRefused);
        cp.off('session-started', onStarted);
        resolve(v);
      };
      const onRefused = (e: { evseId?: number; status: string }) => e.evseId === connectorId && done(e.status);
      const onStarted = (e: { evseId: number }) => e.evseId === connectorId && done('started');
      cp.on('auth-refused', onRefused);
      cp.on('session-started', onStarted);
      a.agent.sim.reader.present({ token: { id: idTag, type: 'ISO14443' }, method: 'rfid', evseId: connectorId });
    });
  }

  async function goOffline(): Promise<void> {
    cutter.down();
    await waitFor(() => agent!.agent.link?.state === 'offline', 10_000, 'offline');
  }

  async function goOnline(): Promise<void> {
    cutter.up();
    await waitFor(() => agent!.agent.link?.state === 'accepted', 10_000, 'online again');
  }

  it('server down: decisions come from the local list sent with SendLocalList; the CSMS checks the tag again', async () => {
    const a = await boot();
    expect(await call('SendLocalList', {
      listVersion: 1, updateType: 'Full', localAuthorizationList: [
        { idTag: 'LISTED01', idTagInfo: { status: 'Accepted' } },
        { idTag: 'BLOCKED1', idTagInfo: { status: 'Blocked' } },
        { idTag: 'OLDCARD1', idTagInfo: { status: 'Accepted', expiryDate: new Date(Date.now() - 60_000).toISOString() } },
      ],
    })).toEqual({ status: 'Accepted' });
    await goOffline();
    const boots = csms.callsOf('BootNotification').length;
    const callsBefore = csms.calls.length;

    expect(await present(a, 'BLOCKED1', 1)).toBe('Blocked');
    expect(await present(a, 'OLDCARD1', 1)).toBe('Expired');
    expect(await present(a, 'STRANGER', 1)).toBe('Invalid');
    expect(await present(a, 'LISTED01', 1)).toBe('started');
    await waitFor(() => a.agent.chargePoint!.session(1)?.energyWh, 5_000, 'charging offline');
    expect(csms.calls.length).toBe(callsBefore);

    const reconnectAt = csms.calls.length;
    await goOnline();
    // R2: on reconnect the current status of each connector, not the history (Preparing is not replayed).
    await waitFor(() => csms.calls.slice(reconnectAt).filter((c) => c.action === 'StatusNotification').length >= 3, 10_000, 'statuses after reconnect');
    const replayed = csms.calls.slice(reconnectAt).filter((c) => c.action === 'StatusNotification').map((c) => [c.params.connectorId, c.params.status]);
    expect(replayed.sort()).toEqual([[0, 'Available'], [1, 'Charging'], [2, 'Available']]);
    // A reconnect, not a reboot; the offline start is delivered and the tag is checked again.
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction after reconnect');
    expect(start.params).toMatchObject({ connectorId: 1, idTag: 'LISTED01' });
    expect(csms.callsOf('BootNotification')).toHaveLength(boots);
    expect(csms.callsOf('Authorize')).toHaveLength(0);
    // Accepted by the CSMS: the session goes on.
    await waitFor(() => csms.callsOf('MeterValues').some((c) => c.params.transactionId === 1), 10_000, 'MeterValues');
    expect(a.agent.chargePoint!.session(1)).toBeDefined();
    expect(csms.callsOf('StopTransaction')).toHaveLength(0);
  });

  it('the cache decides offline when the tag is not listed; ClearCache forgets it', async () => {
    const a = await boot({ simulation: { departureDelayMs: 50 } });
    // Online: Authorize puts the tag in the cache. Start and stop a session with it.
    expect(await present(a, 'CACHED01', 1)).toBe('started');
    a.agent.sim.reader.present({ token: { id: 'CACHED01', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
    await waitFor(() => toV16Status(a.agent.chargePoint!.evseCondition(1)) === 'Available', 5_000, 'available');
    await goOffline();
    expect(await present(a, 'CACHED01', 2)).toBe('started');
    await goOnline();
    a.agent.sim.reader.present({ token: { id: 'CACHED01', type: 'ISO14443' }, method: 'rfid', evseId: 2 });
    await waitFor(() => csms.callsOf('StopTransaction').length === 2, 10_000, 'second stop');
    // Until the charger has the answer (its idTagInfo goes into the cache, R7): a ClearCache before
    // that would be undone by it.
    await waitFor(() => a.agent.outbox?.summary().depth === 0, 10_000, 'StopTransaction.conf handled');
    expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(a.agent.chargePoint!.evseCondition(2)) === 'Available', 5_000, 'available');
    await goOffline();
    expect(await present(a, 'CACHED01', 2)).toBe('Invalid');
  });

  it('AllowOfflineTxForUnknownId: an unknown tag starts offline; the CSMS refuses it later → stopped DeAuthorized', async () => {
    const a = await boot();
    csms.on('StartTransaction', (p) => ({ transactionId: 77, idTagInfo: { status: p.idTag === 'STRANGER' ? 'Invalid' : 'Accepted' } }));
    await goOffline();
    expect(await present(a, 'STRANGER', 1)).toBe('Invalid');
    await goOnline();
    expect(await call('ChangeConfiguration', { key: 'AllowOfflineTxForUnknownId', value: 'true' })).toEqual({ status: 'Accepted' });
    await goOffline();
    expect(await present(a, 'STRANGER', 1)).toBe('started');
    await goOnline();
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 77, reason: 'DeAuthorized' });
    expect(csms.callsOf('StartTransaction')[0]!.params.idTag).toBe('STRANGER');
    await waitFor(() => !a.agent.chargePoint!.session(1), 5_000, 'session closed');
    // The refusal went into the cache (R7): offline, the tag is no longer unknown, so it is refused.
    await goOffline();
    expect(await present(a, 'STRANGER', 2)).toBe('Invalid');
    expect(a.agent.chargePoint!.session(2)).toBeUndefined();
    // Another unknown tag still starts offline.
    expect(await present(a, 'STRANGER2', 2)).toBe('started');
  });

  it('LocalPreAuthorize: a listed tag starts without Authorize; an unlisted one is still authorised', async () => {
    const a = await boot();
    expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: 'LISTED01', idTagInfo: { status: 'Accepted' } }] })).toEqual({ status: 'Accepted' });
    // Without LocalPreAuthorize the central system is asked even for a listed tag.
    csms.on('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
    expect(await present(a, 'LISTED01', 1)).toBe('started');
    expect(csms.callsOf('Authorize').map((c) => c.params.idTag)).toEqual(['LISTED01']);

    expect(await call('ChangeConfiguration', { key: 'LocalPreAuthorize', value: 'true' })).toEqual({ status: 'Accepted' });
    expect(await present(a, 'LISTED01', 2)).toBe('started');
    expect(csms.callsOf('Authorize')).toHaveLength(1);
    await waitFor(() => csms.callsOf('StartTransaction').length === 2, 10_000, 'both starts');
    expect(csms.callsOf('StartTransaction').map((c) => c.params.idTag)).toEqual(['LISTED01', 'LISTED01']);
  });

  it('LocalPreAuthorize: an unlisted tag is authorised by the central system', async () => {
    const a = await boot({ ocpp: { LocalPreAuthorize: true } });
    csms.on('Authorize', () => ({ idTagInfo: { status: 'Blocked' } }));
    expect(await present(a, 'UNLISTED', 1)).toBe('Blocked');
    expect(csms.callsOf('Authorize').map((c) => c.params.idTag)).toEqual(['UNLISTED']);
  });

  it('the central system cannot answer Authorize: decided offline from the local list', async () => {
    const a = await boot();
    await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: 'LISTED01', idTagInfo: { status: 'Accepted' } }] });
    csms.on('Authorize', () => {
      throw new Error('authorisation backend down');
    });
    expect(await present(a, 'STRANGER', 2)).toBe('Invalid');
    expect(await present(a, 'LISTED01', 1)).toBe('started');
    expect(csms.callsOf('Authorize')).toHaveLength(2);
  });

  // OCPP 1.6 §3.5, §4.10 (OCTT TC_068/TC_069): another tag of the same group (parentIdTag) stops a
  // session; a tag of another group, or of none, does not.
  const GROUPS: Record<string, string | undefined> = { DEADBEEF: 'PARENTTAG', CAFEBABE: 'PARENTTAG', OTHERTAG: 'OTHERPAR', NOPARENT: undefined };
  const groupAnswer = (p: { idTag: string }) => ({ idTagInfo: { status: 'Accepted', ...(GROUPS[p.idTag] ? { parentIdTag: GROUPS[p.idTag] } : {}) } });
  const rfid = (a: TestAgent, idTag: string, connectorId?: number) =>
    a.agent.chargePoint!.presentToken({ token: { id: idTag, type: 'ISO14443' }, method: 'rfid', ...(connectorId !== undefined ? { evseId: connectorId } : {}) });

  it('a second tag with the session\'s parentIdTag is authorised and stops it (Local); another group\'s tag, or one without a group, does not', async () => {
    const a = await boot();
    const cp = a.agent.chargePoint!;
    csms.on('Authorize', groupAnswer);
    expect(await present(a, 'DEADBEEF', 1)).toBe('started');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    // The reader of connector 1: other tags are authorised (their group is not known otherwise) and leave it running.
    expect(await rfid(a, 'OTHERTAG', 1)).toBe('ignored');
    expect(await rfid(a, 'NOPARENT', 1)).toBe('ignored');
    expect(cp.session(1)).toBeDefined();
    expect(csms.callsOf('Authorize').map((c) => c.params.idTag)).toEqual(['DEADBEEF', 'OTHERTAG', 'NOPARENT']);
    // A member of the same group, swiped on the same reader.
    a.agent.sim.reader.present({ token: { id: 'CAFEBABE', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(csms.callsOf('Authorize').at(-1)!.params.idTag).toBe('CAFEBABE');
    expect(csms.calls.indexOf(csms.callsOf('Authorize').at(-1)!)).toBeLessThan(csms.calls.indexOf(stop));
    expect(stop.params).toMatchObject({ transactionId: 1, idTag: 'CAFEBABE', reason: 'Local' });
    expect(start.params.idTag).toBe('DEADBEEF');
    expect(csms.callsOf('StopTransaction')).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('a remote-started session learns its group from StartTransaction.conf; a member\'s card stops it', async () => {
    const a = await boot();
    const cp = a.agent.chargePoint!;
    csms.on('Authorize', groupAnswer);
    csms.on('StartTransaction', () => ({ transactionId: 21, idTagInfo: { status: 'Accepted', parentIdTag: 'PARENTTAG' } }));
    expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'DEADBEEF' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(csms.callsOf('Authorize')).toHaveLength(0);
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    await waitFor(() => a.agent.runtime!.link.transactionIdOf(cp.session(1)!.localId) === 21, 10_000, 'confirmed');
    a.agent.sim.reader.present({ token: { id: 'CAFEBABE', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 21, idTag: 'CAFEBABE', reason: 'Local' });
  });

  it('one reader for both connectors: another group\'s tag starts on the free connector, the same group\'s tag stops the session', async () => {
    const a = await boot();
    const cp = a.agent.chargePoint!;
    csms.on('Authorize', groupAnswer);
    expect((await rfid(a, 'DEADBEEF')) as { accepted: boolean }).toMatchObject({ accepted: true });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging on 1');
    expect((await rfid(a, 'OTHERTAG')) as { accepted: boolean }).toMatchObject({ accepted: true });
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Charging', 10_000, 'Charging on 2');
    expect(await rfid(a, 'CAFEBABE')).toBe('stopped');
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 1, idTag: 'CAFEBABE', reason: 'Local' });
    expect(cp.session(2)).toBeDefined();
    expect(cp.session(1)).toBeUndefined();
  });

  it('the group comes from the cache (LocalPreAuthorize: no Authorize.req) even after a StartTransaction.conf without parentIdTag', async () => {
    const a = await boot({ ocpp: { LocalPreAuthorize: true } });
    const cp = a.agent.chargePoint!;
    csms.on('Authorize', groupAnswer);
    // CAFEBABE goes into the cache with its group (and through a transaction of its own).
    expect(await present(a, 'CAFEBABE', 2)).toBe('started');
    await waitFor(() => csms.callsOf('StartTransaction').length === 1, 10_000, 'StartTransaction');
    expect(await rfid(a, 'CAFEBABE', 2)).toBe('stopped');
    expect(await present(a, 'DEADBEEF', 1)).toBe('started');
    await waitFor(() => csms.callsOf('StartTransaction').length === 2, 10_000, 'second StartTransaction');
    const asked = csms.callsOf('Authorize').length;
    expect(await rfid(a, 'CAFEBABE', 1)).toBe('stopped');
    expect(csms.callsOf('Authorize')).toHaveLength(asked);
    const stop = await waitFor(() => csms.callsOf('StopTransaction').find((c) => c.params.transactionId === 2), 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ idTag: 'CAFEBABE', reason: 'Local' });
    expect(cp.session(1)).toBeUndefined();
  });

  it('offline, the group comes from the local list; an expired listed member does not stop the session', async () => {
    const a = await boot();
    const cp = a.agent.chargePoint!;
    expect(await call('SendLocalList', {
      listVersion: 1, updateType: 'Full', localAuthorizationList: [
        { idTag: 'DEADBEEF', idTagInfo: { status: 'Accepted', parentIdTag: 'PARENTTAG' } },
        { idTag: 'CAFEBABE', idTagInfo: { status: 'Accepted', parentIdTag: 'PARENTTAG' } },
        { idTag: 'OLDCARD1', idTagInfo: { status: 'Accepted', parentIdTag: 'PARENTTAG', expiryDate: new Date(Date.now() - 60_000).toISOString() } },
      ],
    })).toEqual({ status: 'Accepted' });
    await goOffline();
    expect(await present(a, 'DEADBEEF', 1)).toBe('started');
    expect(await rfid(a, 'OLDCARD1', 1)).toMatchObject({ accepted: false, info: { status: 'Expired' } });
    expect(cp.session(1)).toBeDefined();
    expect(await rfid(a, 'CAFEBABE', 1)).toBe('stopped');
    expect(cp.session(1)).toBeUndefined();
    await goOnline();
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction after reconnect');
    expect(stop.params).toMatchObject({ idTag: 'CAFEBABE', reason: 'Local' });
    expect(csms.callsOf('Authorize')).toHaveLength(0);
  });

  it('an Authorize.conf expiryDate ends the cache entry, even after a StartTransaction.conf that names none (§3.5.1)', async () => {
    const a = await boot({ ocpp: { LocalPreAuthorize: true }, simulation: { departureDelayMs: 50 } });
    const cp = a.agent.chargePoint!;
    csms.on('Authorize', () => ({ idTagInfo: { status: 'Accepted', expiryDate: new Date().toISOString() } }));
    expect(await present(a, 'EXPIRING', 1)).toBe('started');
    await waitFor(() => csms.callsOf('StartTransaction').length === 1, 10_000, 'StartTransaction');
    expect(await rfid(a, 'EXPIRING', 1)).toBe('stopped');
    await waitFor(() => csms.callsOf('StopTransaction').length === 1, 10_000, 'StopTransaction');
    // Past its expiryDate the entry is no authorisation: online, the central system is asked.
    expect(await rfid(a, 'EXPIRING', 2)).toMatchObject({ accepted: true, source: 'csms' });
    expect(csms.callsOf('Authorize')).toHaveLength(2);
    await waitFor(() => csms.callsOf('StartTransaction').length === 2, 10_000, 'second StartTransaction');
    expect(await rfid(a, 'EXPIRING', 2)).toBe('stopped');
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Available' && csms.callsOf('StopTransaction').length === 2, 10_000, 'Available, stopped');
    // Offline, it is expired: refused (R8), not taken from the cache.
    await goOffline();
    expect(await present(a, 'EXPIRING', 1)).toBe('Expired');
  });

  it('StopTransactionOnInvalidId: StartTransaction.conf Invalid stops the session (DeAuthorized)', async () => {
    const a = await boot();
    csms.on('StartTransaction', () => ({ transactionId: 5, idTagInfo: { status: 'Invalid' } }));
    expect(await present(a, 'LATEBAD1', 1)).toBe('started');
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'StopTransaction');
    expect(stop.params).toMatchObject({ transactionId: 5, reason: 'DeAuthorized' });
    await waitFor(() => !a.agent.chargePoint!.session(1), 5_000, 'session closed');
    // The verdict went into the cache.
    const db = new Database(join(a.dir, 'agent.db'), { readonly: true });
    try {
      expect(db.prepare(`SELECT status FROM auth_cache WHERE id_tag = 'LATEBAD1'`).get()).toEqual({ status: 'Invalid' });
    } finally {
      db.close();
    }
  });

  it('MaxEnergyOnInvalidId with StopTransactionOnInvalidId false: charging goes on up to the cap, then energy stops (SuspendedEVSE) and the transaction stays open', async () => {
    const capWh = 4;
    const a = await boot({ ocpp: { StopTransactionOnInvalidId: false, MaxEnergyOnInvalidId: capWh } });
    csms.on('StartTransaction', () => ({ transactionId: 9, idTagInfo: { status: 'Blocked' } }));
    expect(await present(a, 'LATEBAD2', 1)).toBe('started');
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'start');
    // Not stopped at once: it keeps charging after the refusal, until the cap.
    await waitFor(() => csms.callsOf('MeterValues').some((c) => c.params.transactionId === 9), 10_000, 'MeterValues after the refusal');
    const suspended = await waitFor(
      () => csms.callsOf('StatusNotification').find((c) => c.params.connectorId === 1 && c.params.status === 'SuspendedEVSE'),
      15_000, 'SuspendedEVSE at the cap',
    );
    expect(csms.calls.indexOf(suspended)).toBeGreaterThan(csms.calls.indexOf(start));
    const delivered = a.agent.chargePoint!.session(1)!.energyWh;
    expect(delivered).toBeGreaterThanOrEqual(capWh);
    // Stopped at the first meter poll past the cap (200 ms at ~11 kW ≈ 0.6 Wh, plus slack for a
    // loaded machine); uncapped it would charge on at ~3 Wh a second.
    expect(delivered).toBeLessThanOrEqual(capWh + 5);
    // The transaction is still open: no StopTransaction; energy no longer rises.
    await waitFor(() => csms.callsOf('MeterValues').filter((c) => Date.parse(c.params.meterValue[0].timestamp) > suspended.at).length >= 2, 10_000, 'MeterValues while suspended');
    expect(csms.callsOf('StopTransaction')).toHaveLength(0);
    expect(a.agent.chargePoint!.session(1)!.powerW).toBe(0);
    // (A sliver may pass between the reading that crossed the cap and the contactor opening.)
    expect(a.agent.chargePoint!.session(1)!.energyWh).toBeLessThanOrEqual(delivered + 0.2);
    // The driver ends it with the card: a normal Local stop with what was delivered.
    a.agent.sim.reader.present({ token: { id: 'LATEBAD2', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
    expect(stop.params).toMatchObject({ transactionId: 9, reason: 'Local' });
    expect(stop.params.meterStop - start.params.meterStart).toBeLessThanOrEqual(Math.ceil(delivered) + 1);
  });

  it('StopTransactionOnInvalidId false with MaxEnergyOnInvalidId 0: energy stops at once, the transaction stays open', async () => {
    const a = await boot({ ocpp: { StopTransactionOnInvalidId: false, MaxEnergyOnInvalidId: 0 } });
    csms.on('StartTransaction', () => ({ transactionId: 11, idTagInfo: { status: 'Invalid' } }));
    expect(await present(a, 'LATEBAD3', 2)).toBe('started');
    await waitFor(() => csms.callsOf('StatusNotification').find((c) => c.params.connectorId === 2 && c.params.status === 'SuspendedEVSE'), 10_000, 'SuspendedEVSE');
    expect(csms.callsOf('StopTransaction')).toHaveLength(0);
    expect(a.agent.chargePoint!.session(2)).toBeDefined();
    expect(await call('RemoteStopTransaction', { transactionId: 11 })).toEqual({ status: 'Accepted' });
    const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
    expect(stop.params).toMatchObject({ transactionId: 11, reason: 'Remote' });
  });
});
