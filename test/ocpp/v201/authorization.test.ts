import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { FaultProxy } from '../../helpers/fault-proxy.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';
import { toV16Status } from '../../../src/ocpp/v16/mapping.js';
import { settingsVariableStore } from '../../../src/ocpp/v201/index.js';

/**
 * 2.0.1 Authorization (C) and the Local Authorization List (D) against the strict 2.0.1 server:
 * SendLocalList / GetLocalListVersion, ClearCache, the cache filled from Authorize and
 * TransactionEvent answers with its LifeTime, the list before the cache, the offline rules,
 * GroupId and MasterPass.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Ready {
  csms: TestCsms;
  t: TestAgent;
  proxy?: FaultProxy;
  call: (action: string, params: unknown) => Promise<any>;
}

/** An agent on 2.0.1 against the strict 2.0.1 server (through a fault proxy when `viaProxy`), booted with its statuses sent. */
async function ready(ocpp: Record<string, unknown> = {}, viaProxy = false): Promise<Ready> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const direct = await csms.start();
  cleanups.push(() => csms.stop());
  let proxy: FaultProxy | undefined;
  if (viaProxy) {
    proxy = await new FaultProxy({ host: '127.0.0.1', port: csms.port }).start();
    cleanups.push(() => proxy!.stop());
  }
  const url = proxy ? proxy.url() : direct;
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp } });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, t, ...(proxy ? { proxy } : {}), call: (action, params) => csms.call(CP, action, params) };
}

const txEvents = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP);
const iso = (id: string) => ({ idToken: id, type: 'ISO14443' });
const authorizeCalls = (csms: TestCsms, id?: string) => csms.callsOf('Authorize', CP).filter((c) => id === undefined || c.params.idToken.idToken === id);

async function setVariable(r: Ready, component: string, variable: string, value: string): Promise<void> {
  const res = await r.call('SetVariables', { setVariableData: [{ component: { name: component }, variable: { name: variable }, attributeValue: value }] });
  expect(res.setVariableResult[0].attributeStatus).toBe('Accepted');
}

async function getVariable(r: Ready, component: string, variable: string): Promise<string | undefined> {
  const res = await r.call('GetVariables', { getVariableData: [{ component: { name: component }, variable: { name: variable } }] });
  expect(res.getVariableResult[0].attributeStatus).toBe('Accepted');
  return res.getVariableResult[0].attributeValue;
}

/** Present a card on an EVSE; resolves with what became of it: 'started', 'stopped' or a refusal status. */
function present(t: TestAgent, id: string, evseId = 1): Promise<string> {
  const cp = t.agent.chargePoint!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no decision for ${id}`)), 15_000);
    const done = (v: string) => {
      clearTimeout(timer);
      cp.off('auth-refused', onRefused);
      cp.off('session-started', onStarted);
      cp.off('session-stopped', onStopped);
      resolve(v);
    };
    const onRefused = (e: { evseId?: number; status: string }) => done(e.status);
    const onStarted = (e: { evseId: number }) => e.evseId === evseId && done('started');
    const onStopped = () => done('stopped');
    cp.on('auth-refused', onRefused);
    cp.on('session-started', onStarted);
    cp.on('session-stopped', onStopped);
    t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId });
  });
}

/** Unplug an EVSE's vehicle and wait until it is free again. */
async function unplug(t: TestAgent, evseId: number): Promise<void> {
  t.agent.sim.connectors.get(evseId)!.unplug();
  await waitFor(() => toV16Status(t.agent.chargePoint!.evseCondition(evseId)) === 'Available', 10_000, `EVSE ${evseId} free`);
}

describe('OCPP 2.0.1 authorisation against a strict 2.0.1 central system', () => {
  it('TC_D_01_CS, TC_D_02_CS, TC_D_03_CS, TC_D_04_CS, TC_D_08_CS, TC_D_09_CS: SendLocalList Full/Differential with versionNumber, GetLocalListVersion, LocalAuthListCtrlr Entries/ItemsPerMessage/Enabled (D01, D02)', async () => {
    const r = await ready();
    const { call, t } = r;
    // A station whose list messages hold at most 3 entries (read-only to the central system and the config).
    t.agent.runtime!.settings.set('SendLocalListMaxLength', '3');
    const version = async () => (await call('GetLocalListVersion', {})).versionNumber;
    expect(await version()).toBe(0);
    expect(await getVariable(r, 'LocalAuthListCtrlr', 'Entries')).toBe('0');
    expect(await getVariable(r, 'LocalAuthListCtrlr', 'ItemsPerMessage')).toBe('3');

    const accepted = { status: 'Accepted' };
    // versionNumber 0 is "no list": no update may claim it.
    expect((await call('SendLocalList', { versionNumber: 0, updateType: 'Full', localAuthorizationList: [{ idToken: iso('L1'), idTokenInfo: accepted }] })).status).toBe('Failed');
    expect((await call('SendLocalList', {
      versionNumber: 5, updateType: 'Full', localAuthorizationList: [
        { idToken: iso('L1'), idTokenInfo: accepted },
        { idToken: iso('L2'), idTokenInfo: { status: 'Blocked', groupIdToken: { idToken: 'G1', type: 'Central' } } },
      ],
    })).status).toBe('Accepted');
    expect(await version()).toBe(5);
    expect(await getVariable(r, 'LocalAuthListCtrlr', 'Entries')).toBe('2');
    const data = t.agent.runtime!.authData;
    expect(data.localListEntry('L2')).toEqual({ status: 'Blocked', groupId: 'G1' });

    // Bad input: Failed, and the list and its version stay.
    const failed = [
      { versionNumber: 6, updateType: 'Full', localAuthorizationList: [{ idToken: iso('X'), idTokenInfo: accepted }, { idToken: iso('X'), idTokenInfo: accepted }] },
      { versionNumber: 6, updateType: 'Full', localAuthorizationList: [{ idToken: iso('X') }] },
      { versionNumber: 6, updateType: 'Full', localAuthorizationList: ['A', 'B', 'C', 'D'].map((id) => ({ idToken: iso(id), idTokenInfo: accepted })) },
    ];
    for (const req of failed) expect((await call('SendLocalList', req)).status).toBe('Failed');
    // A message over BytesPerMessage (read-only: set here as a station with a small limit would have it).
    const bytesPerMessage = { component: 'LocalAuthListCtrlr', variable: 'BytesPerMessage', attribute: 'Actual' as const };
    settingsVariableStore(t.agent.runtime!.settings).set(bytesPerMessage, '150', { persistent: true });
    expect(await getVariable(r, 'LocalAuthListCtrlr', 'BytesPerMessage')).toBe('150');
    const long = (n: number) => ({ idToken: iso(`LONG-TOKEN-${n}-${'X'.repeat(20)}`), idTokenInfo: accepted });
    expect((await call('SendLocalList', { versionNumber: 6, updateType: 'Full', localAuthorizationList: [long(1), long(2)] })).status).toBe('Failed');
    settingsVariableStore(t.agent.runtime!.settings).set(bytesPerMessage, '65000', { persistent: true });
    expect((await call('SendLocalList', { versionNumber: 6, updateType: 'Differential', localAuthorizationList: [long(1), long(2)] })).status).toBe('Accepted');
    expect((await call('SendLocalList', { versionNumber: 6, updateType: 'Full', localAuthorizationList: [{ idToken: iso('L1'), idTokenInfo: accepted }, { idToken: iso('L2'), idTokenInfo: { status: 'Blocked', groupIdToken: { idToken: 'G1', type: 'Central' } } }] })).status).toBe('Accepted');
    expect(await version()).toBe(6);
    expect(data.localListSize()).toBe(2);

    // Differential: only a newer version; an entry with idTokenInfo is added or updated, one without removed.
    expect((await call('SendLocalList', { versionNumber: 6, updateType: 'Differential', localAuthorizationList: [{ idToken: iso('L3'), idTokenInfo: accepted }] })).status).toBe('VersionMismatch');
    expect((await call('SendLocalList', {
      versionNumber: 7, updateType: 'Differential', localAuthorizationList: [{ idToken: iso('L3'), idTokenInfo: accepted }, { idToken: iso('L1') }, { idToken: iso('L2'), idTokenInfo: accepted }],
    })).status).toBe('Accepted');
    expect(await version()).toBe(7);
    expect(data.localListEntry('L1')).toBeUndefined();
    expect(data.localListEntry('L2')).toEqual({ status: 'Accepted' });
    expect(data.localListEntry('L3')).toEqual({ status: 'Accepted' });
    // A Differential that would take the list over Entries' maximum is Failed too; here within it.
    expect(await getVariable(r, 'LocalAuthListCtrlr', 'Entries')).toBe('2');

    // A Full list without entries empties it: version 0 again.
    expect((await call('SendLocalList', { versionNumber: 8, updateType: 'Full' })).status).toBe('Accepted');
    expect(await version()).toBe(0);

    // The list disabled: GetLocalListVersion 0, SendLocalList Failed.
    expect((await call('SendLocalList', { versionNumber: 9, updateType: 'Full', localAuthorizationList: [{ idToken: iso('L9'), idTokenInfo: accepted }] })).status).toBe('Accepted');
    await setVariable(r, 'LocalAuthListCtrlr', 'Enabled', 'false');
    expect(await version()).toBe(0);
    expect((await call('SendLocalList', { versionNumber: 10, updateType: 'Full', localAuthorizationList: [{ idToken: iso('L10'), idTokenInfo: accepted }] })).status).toBe('Failed');
    expect(r.csms.validationFailures).toEqual([]);
  });

  it('the cache: filled from Authorize, updated from a TransactionEvent idTokenInfo (Blocked ends the transaction), a Blocked entry never starts, DisablePostAuthorize; ClearCache; Storage in bytes (C10, C11)', async () => {
    const r = await ready({ LocalPreAuthorize: true });
    const { csms, t, call } = r;
    const data = t.agent.runtime!.authData;
    let verdict: 'Accepted' | 'Blocked' = 'Accepted';
    csms.on('Authorize', () => ({ idTokenInfo: { status: verdict, groupIdToken: { idToken: 'G-CACHE', type: 'Central' } } }));
    csms.on('TransactionEvent', (p: any) => (p.idToken ? { idTokenInfo: { status: 'Blocked' } } : {}));
    expect(await getVariable(r, 'AuthCacheCtrlr', 'Storage')).toBe('0');

    expect(await present(t, 'CARD-C1')).toBe('started');
    expect(authorizeCalls(csms, 'CARD-C1')).toHaveLength(1);
    // The Started event's answer says Blocked: into the cache (the group kept), and the transaction ends (StopTxOnInvalidId).
    const ended = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 15_000, 'Ended after Blocked');
    expect(ended.params).toMatchObject({ triggerReason: 'Deauthorized', transactionInfo: { stoppedReason: 'DeAuthorized' } });
    expect(data.cacheEntry('CARD-C1')).toMatchObject({ status: 'Blocked', groupId: 'G-CACHE' });
    expect(Number(await getVariable(r, 'AuthCacheCtrlr', 'Storage'))).toBeGreaterThan(0);
    await unplug(t, 1);

    // Blocked in the cache is not used to start even with LocalPreAuthorize: the central system is asked.
    verdict = 'Blocked';
    expect(await present(t, 'CARD-C1')).toBe('Blocked');
    expect(authorizeCalls(csms, 'CARD-C1')).toHaveLength(2);
    // DisablePostAuthorize: the cache's Blocked is the answer, the central system is not asked again.
    await setVariable(r, 'AuthCacheCtrlr', 'DisablePostAuthorize', 'true');
    expect(await present(t, 'CARD-C1')).toBe('Blocked');
    expect(authorizeCalls(csms, 'CARD-C1')).toHaveLength(2);

    // ClearCache empties it.
    expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
    expect(data.cacheEntry('CARD-C1')).toBeUndefined();
    expect(await getVariable(r, 'AuthCacheCtrlr', 'Storage')).toBe('0');
    // Without a cache there is nothing to clear.
    await setVariable(r, 'AuthCacheCtrlr', 'Enabled', 'false');
    expect(await call('ClearCache', {})).toEqual({ status: 'Rejected' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('AuthCacheCtrlr.LifeTime: an entry without cacheExpiryDateTime holds LifeTime seconds, then the token is asked about again (C10)', async () => {
    const r = await ready({ LocalPreAuthorize: true });
    const { csms, t } = r;
    const data = t.agent.runtime!.authData;
    const lifeTimeS = async (s: number) => setVariable(r, 'AuthCacheCtrlr', 'LifeTime', String(s));

    // Times by the agent's clock (set from the central system's, so a little behind this process's).
    const agentNow = () => t.agent.clock.now();
    await lifeTimeS(3_600);
    const before = agentNow();
    expect(await present(t, 'CARD-LONG')).toBe('started');
    const expiry = Date.parse(data.cacheEntry('CARD-LONG')!.expiryDate!);
    expect(expiry).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiry).toBeLessThanOrEqual(agentNow() + 3_600_000);
    expect(await present(t, 'CARD-LONG')).toBe('stopped');
    await unplug(t, 1);
    // Within its LifeTime the cache pre-authorises: no second Authorize.
    expect(await present(t, 'CARD-LONG')).toBe('started');
    expect(authorizeCalls(csms, 'CARD-LONG')).toHaveLength(1);
    expect(await present(t, 'CARD-LONG')).toBe('stopped');
    await unplug(t, 1);

    // A central system's cacheExpiryDateTime wins over LifeTime.
    const given = new Date(Date.now() + 7_200_000).toISOString();
    csms.on('Authorize', (p: any) => ({ idTokenInfo: p.idToken.idToken === 'CARD-DATED' ? { status: 'Accepted', cacheExpiryDateTime: given } : { status: 'Accepted' } }));
    expect(await present(t, 'CARD-DATED', 2)).toBe('started');
    expect(data.cacheEntry('CARD-DATED')!.expiryDate).toBe(given);
    expect(await present(t, 'CARD-DATED', 2)).toBe('stopped');
    await unplug(t, 2);

    // LifeTime 1 s: after it the entry is forgotten and the token is asked about again.
    await lifeTimeS(1);
    expect(await present(t, 'CARD-SHORT')).toBe('started');
    expect(await present(t, 'CARD-SHORT')).toBe('stopped');
    await unplug(t, 1);
    await waitFor(() => Date.parse(data.cacheEntry('CARD-SHORT')!.expiryDate!) < agentNow() - 100, 10_000, 'the entry expired');
    expect(await present(t, 'CARD-SHORT')).toBe('started');
    expect(authorizeCalls(csms, 'CARD-SHORT')).toHaveLength(2);
    expect(csms.validationFailures).toEqual([]);
  });

  it('offline: the local list before the cache, LocalAuthorizeOffline, OfflineTxForUnknownIdEnabled (C12-C15)', async () => {
    const r = await ready({ WebSocketPingInterval: 1 }, true);
    const { csms, t, call, proxy } = r;
    // The cache learns CARD-BOTH as Accepted, the list says Blocked; CARD-CACHED only in the cache; CARD-LISTED only in the list.
    for (const [id, evseId] of [['CARD-BOTH', 1], ['CARD-CACHED', 2]] as const) {
      expect(await present(t, id, evseId)).toBe('started');
      expect(await present(t, id, evseId)).toBe('stopped');
      await unplug(t, evseId);
    }
    expect((await call('SendLocalList', {
      versionNumber: 1, updateType: 'Full', localAuthorizationList: [
        { idToken: iso('CARD-BOTH'), idTokenInfo: { status: 'Blocked' } },
        { idToken: iso('CARD-LISTED'), idTokenInfo: { status: 'Accepted' } },
      ],
    })).status).toBe('Accepted');
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'all delivered');
    const asked = csms.callsOf('Authorize', CP).length;

    proxy!.reset();
    await waitFor(() => t.agent.link!.state === 'offline', 15_000, 'offline');
    expect(await present(t, 'CARD-BOTH', 1)).toBe('Blocked');
    expect(await present(t, 'CARD-STRANGER', 1)).toBe('Invalid');
    expect(await present(t, 'CARD-LISTED', 1)).toBe('started');
    expect(await present(t, 'CARD-CACHED', 2)).toBe('started');
    expect(await present(t, 'CARD-LISTED', 1)).toBe('stopped');
    expect(await present(t, 'CARD-CACHED', 2)).toBe('stopped');
    await unplug(t, 1);
    await unplug(t, 2);

    // LocalAuthorizeOffline false: even an Accepted entry does not start offline.
    t.agent.runtime!.settings.set('LocalAuthorizeOffline', 'false');
    expect(await present(t, 'CARD-LISTED', 1)).toBe('Invalid');
    // OfflineTxForUnknownIdEnabled: an unknown token starts offline (its Started says offline: true).
    t.agent.runtime!.settings.set('AllowOfflineTxForUnknownId', 'true');
    expect(await present(t, 'CARD-STRANGER', 1)).toBe('started');
    expect(await present(t, 'CARD-STRANGER', 1)).toBe('stopped');

    proxy!.pass();
    await waitFor(() => t.agent.link!.state === 'accepted' && t.agent.outbox!.summary().depth === 0, 20_000, 'backlog delivered');
    // Nothing was asked of the central system while it was away.
    expect(csms.callsOf('Authorize', CP)).toHaveLength(asked);
    const strangerStart = txEvents(csms).find((c) => c.params.eventType === 'Started' && c.params.idToken?.idToken === 'CARD-STRANGER');
    expect(strangerStart?.params.offline).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });

  it('GroupId: another token of the running transaction\'s group stops it; a token of another group does not (C09, E07)', async () => {
    const r = await ready();
    const { csms, t } = r;
    const groups: Record<string, string> = { 'CARD-G1A': 'FLEET-1', 'CARD-G1B': 'FLEET-1', 'CARD-G2': 'FLEET-2' };
    csms.on('Authorize', (p: any) => ({ idTokenInfo: { status: 'Accepted', groupIdToken: { idToken: groups[p.idToken.idToken]!, type: 'Central' } } }));
    expect(await present(t, 'CARD-G1A', 1)).toBe('started');
    const txId = t.agent.chargePoint!.session(1)!.localId;
    // Another group's token on the same EVSE: no stop (the EVSE is busy, nothing starts either).
    t.agent.sim.reader.present({ token: { id: 'CARD-G2', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => authorizeCalls(csms, 'CARD-G2').length === 1, 10_000, 'CARD-G2 authorised');
    expect(await present(t, 'CARD-G1B', 1)).toBe('stopped');
    const ended = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    expect(ended.params).toMatchObject({ triggerReason: 'StopAuthorized', transactionInfo: { transactionId: txId } });
    // A local stop says no stoppedReason (Local is the default, OCPP201.md).
    expect(ended.params.transactionInfo.stoppedReason).toBeUndefined();
    // CARD-G2 stopped nothing: the only Ended is the one CARD-G1B caused, after it was authorised.
    expect(txEvents(csms).filter((c) => c.params.eventType === 'Ended')).toHaveLength(1);
    expect(ended.at).toBeGreaterThanOrEqual(authorizeCalls(csms, 'CARD-G1B')[0]!.at);
    expect(csms.validationFailures).toEqual([]);
  });

  it('MasterPass: a token of MasterPassGroupId stops every transaction (stoppedReason MasterPass) and never starts one, nor remotely (C16)', async () => {
    const r = await ready();
    const { csms, t, call } = r;
    await setVariable(r, 'AuthCtrlr', 'MasterPassGroupId', 'MASTER');
    csms.on('Authorize', (p: any) => ({ idTokenInfo: { status: 'Accepted', ...(p.idToken.idToken.startsWith('MASTER') ? { groupIdToken: { idToken: 'MASTER', type: 'Central' } } : {}) } }));
    expect(await present(t, 'CARD-M1', 1)).toBe('started');
    expect(await present(t, 'CARD-M2', 2)).toBe('started');
    const ids = [1, 2].map((id) => t.agent.chargePoint!.session(id)!.localId);

    t.agent.sim.reader.present({ token: { id: 'MASTER-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const ended = await waitFor(() => {
      const e = txEvents(csms).filter((c) => c.params.eventType === 'Ended');
      return e.length === 2 && e;
    }, 15_000, 'both Ended');
    expect(ended.map((e) => e.params.transactionInfo.transactionId).sort()).toEqual([...ids].sort());
    for (const e of ended) expect(e.params).toMatchObject({ triggerReason: 'StopAuthorized', transactionInfo: { stoppedReason: 'MasterPass' } });
    await unplug(t, 1);
    await unplug(t, 2);

    // With nothing running the master pass is authorised and starts nothing: its decision leaves the EVSE Available.
    const masterLogs = () => t.logs.records.filter((l) => l.msg === 'master pass presented');
    t.agent.sim.reader.present({ token: { id: 'MASTER-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => masterLogs().length === 2, 10_000, 'the master pass decided again');
    expect(masterLogs()[1]).toMatchObject({ stopping: [] });
    expect(authorizeCalls(csms, 'MASTER-CARD')).toHaveLength(2);
    expect(toV16Status(t.agent.chargePoint!.evseCondition(1))).toBe('Available');
    expect(t.agent.chargePoint!.session(1)).toBeUndefined();

    // Remotely neither, when the token is authorised first (AuthorizeRemoteStart).
    await setVariable(r, 'AuthCtrlr', 'AuthorizeRemoteStart', 'true');
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'MASTER-CARD', type: 'ISO14443' }, evseId: 2, remoteStartId: 5 })).toEqual({ status: 'Rejected' });
    expect(t.agent.chargePoint!.session(2)).toBeUndefined();
    expect(csms.validationFailures).toEqual([]);
  });

  it('Authorize and Started carry the token\'s own type: a touchscreen\'s KeyCode, a remote start\'s eMAID with AuthorizeRemoteStart (C01, E02, F01/F02)', async () => {
    const r = await ready();
    const { csms, t, call } = r;
    t.agent.sim.reader.present({ token: { id: '4711', type: 'KeyCode' }, method: 'touchscreen', evseId: 1 });
    const keyCode = await waitFor(() => authorizeCalls(csms, '4711')[0], 10_000, 'Authorize of the code');
    expect(keyCode.params.idToken).toEqual({ idToken: '4711', type: 'KeyCode' });

    await setVariable(r, 'AuthCtrlr', 'AuthorizeRemoteStart', 'true');
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'DE-EMA-1234', type: 'eMAID' }, evseId: 2, remoteStartId: 9 })).toEqual({ status: 'Accepted' });
    expect(authorizeCalls(csms, 'DE-EMA-1234').map((c) => c.params.idToken)).toEqual([{ idToken: 'DE-EMA-1234', type: 'eMAID' }]);

    // The transactions' Started events name the tokens with the same types (recorded with the session).
    const started = await waitFor(() => {
      const s = txEvents(csms).filter((c) => c.params.eventType === 'Started');
      return s.length === 2 && s;
    }, 15_000, 'both Started');
    expect(Object.fromEntries(started.map((c) => [c.params.evse.id, c.params.idToken]))).toEqual({
      1: { idToken: '4711', type: 'KeyCode' }, 2: { idToken: 'DE-EMA-1234', type: 'eMAID' },
    });
    expect(csms.validationFailures).toEqual([]);
  });

  it('a Central token is never cached, neither from Authorize nor from the TransactionEvent answer; an ISO14443 one of a remote start is (C10)', async () => {
    const r = await ready();
    const { csms, t, call } = r;
    const data = t.agent.runtime!.authData;
    await setVariable(r, 'AuthCtrlr', 'AuthorizeRemoteStart', 'true');
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'CENTRAL-1', type: 'Central' }, evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Accepted' });
    await setVariable(r, 'AuthCtrlr', 'AuthorizeRemoteStart', 'false');
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'CENTRAL-2', type: 'Central' }, evseId: 2, remoteStartId: 2 })).toEqual({ status: 'Accepted' });
    await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started').length === 2 && t.agent.outbox!.summary().depth === 0, 15_000, 'both Started and answered');
    expect(authorizeCalls(csms, 'CENTRAL-1').map((c) => c.params.idToken.type)).toEqual(['Central']);
    expect(data.cacheEntry('CENTRAL-1')).toBeUndefined();
    expect(data.cacheEntry('CENTRAL-2')).toBeUndefined();
    // The same path with an RFID card's token caches its verdict (the exclusion is the Central type's alone).
    await Promise.all([1, 2].map(async (evseId) => {
      expect(await call('RequestStopTransaction', { transactionId: t.agent.chargePoint!.session(evseId)!.localId })).toEqual({ status: 'Accepted' });
    }));
    await unplug(t, 1);
    expect(await call('RequestStartTransaction', { idToken: iso('CARD-REMOTE'), evseId: 1, remoteStartId: 3 })).toEqual({ status: 'Accepted' });
    await waitFor(() => data.cacheEntry('CARD-REMOTE'), 15_000, 'the Started answer cached');
    expect(csms.validationFailures).toEqual([]);
  });
});
