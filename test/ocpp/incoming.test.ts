import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/index.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { startTcpSlave, tempDir, type PyPeer } from '../helpers/modbus-slave.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const CP = 'CP-TEST-1';

/** The Core keys of DOMAIN.md §5 (and the Local Auth List ones), with their read-only flag. */
const CORE_KEYS: Record<string, boolean> = {
  AllowOfflineTxForUnknownId: false,
  AuthorizationCacheEnabled: false,
  AuthorizeRemoteTxRequests: false,
  ClockAlignedDataInterval: false,
  ConnectionTimeOut: false,
  ConnectorPhaseRotation: false,
  GetConfigurationMaxKeys: true,
  HeartbeatInterval: false,
  LocalAuthorizeOffline: false,
  LocalPreAuthorize: false,
  MaxEnergyOnInvalidId: false,
  MeterValuesSampledData: false,
  MeterValuesAlignedData: false,
  MeterValueSampleInterval: false,
  MinimumStatusDuration: false,
  NumberOfConnectors: true,
  ResetRetries: false,
  StopTransactionOnEVSideDisconnect: false,
  StopTransactionOnInvalidId: false,
  StopTxnSampledData: false,
  StopTxnAlignedData: false,
  SupportedFeatureProfiles: true,
  TransactionMessageAttempts: false,
  TransactionMessageRetryInterval: false,
  UnlockConnectorOnEVSideDisconnect: false,
  WebSocketPingInterval: false,
  LocalAuthListEnabled: false,
  LocalAuthListMaxLength: true,
  SendLocalListMaxLength: true,
};

describe('calls from the central system (Core, Local Auth List, Remote Trigger)', () => {
  let csms: TestCsms;
  let url: string;
  let agent: TestAgent | undefined;

  beforeEach(async () => {
    csms = new TestCsms();
    url = await csms.start();
  });

  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
    await csms.stop();
  });

  const call = (action: string, params: unknown) => csms.call(CP, action, params);
  const statusesOf = (connectorId: number) => csms.callsOf('StatusNotification').filter((c) => c.params.connectorId === connectorId).map((c) => c.params.status);
  const lastStatus = (connectorId: number) => statusesOf(connectorId).at(-1);
  const ready = () => waitFor(() => agent?.agent.link?.state === 'accepted' && csms.callsOf('StatusNotification').length >= 3, 10_000, 'boot and statuses');

  /** Remote start on a connector and wait for its StartTransaction to be confirmed; returns the transactionId. */
  async function startSession(connectorId: number, idTag = 'APPUSER1'): Promise<number> {
    const before = csms.callsOf('StartTransaction').length;
    expect(await call('RemoteStartTransaction', { connectorId, idTag })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StartTransaction').length > before, 10_000, 'StartTransaction');
    const localId = await waitFor(() => agent!.agent.chargePoint!.session(connectorId)?.localId, 5_000, 'session');
    return waitFor(() => agent!.agent.runtime!.link.transactionIdOf(localId), 5_000, 'transactionId') as Promise<number>;
  }

  describe('RemoteStartTransaction / RemoteStopTransaction', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    it('accepts a start on a free connector and a start without connectorId', async () => {
      const tx = await startSession(1);
      expect(tx).toBe(1);
      expect(await call('RemoteStartTransaction', { idTag: 'APPUSER2' })).toEqual({ status: 'Accepted' });
      const second = await waitFor(() => csms.callsOf('StartTransaction')[1], 10_000, 'second start');
      expect(second.params).toMatchObject({ connectorId: 2, idTag: 'APPUSER2' });
    });

    it('rejects an unknown connector and a busy one', async () => {
      expect(await call('RemoteStartTransaction', { connectorId: 3, idTag: 'APPUSER1' })).toEqual({ status: 'Rejected' });
      expect(await call('RemoteStartTransaction', { connectorId: 0, idTag: 'APPUSER1' })).toMatchObject({ status: expect.stringMatching(/Accepted|Rejected/) });
      await startSession(1);
      expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER2' })).toEqual({ status: 'Rejected' });
      // Only the one session was started.
      await new Promise((r) => setTimeout(r, 200));
      expect(csms.callsOf('StartTransaction').filter((c) => c.params.connectorId === 1)).toHaveLength(1);
    });

    it('with AuthorizeRemoteTxRequests the tag is authorised first, and a refused tag is Rejected', async () => {
      expect(await call('ChangeConfiguration', { key: 'AuthorizeRemoteTxRequests', value: 'true' })).toEqual({ status: 'Accepted' });
      csms.on('Authorize', (p) => ({ idTagInfo: { status: p.idTag === 'GOODTAG' ? 'Accepted' : 'Blocked' } }));
      expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'BADTAG' })).toEqual({ status: 'Rejected' });
      expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'GOODTAG' })).toEqual({ status: 'Accepted' });
      expect(csms.callsOf('Authorize').map((c) => c.params.idTag)).toEqual(['BADTAG', 'GOODTAG']);
      await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'start');
    });

    it('RemoteStopTransaction: an unknown transaction is Rejected, a running one is stopped (Remote)', async () => {
      expect(await call('RemoteStopTransaction', { transactionId: 4711 })).toEqual({ status: 'Rejected' });
      const tx = await startSession(2);
      expect(await call('RemoteStopTransaction', { transactionId: tx + 100 })).toEqual({ status: 'Rejected' });
      expect(await call('RemoteStopTransaction', { transactionId: tx })).toEqual({ status: 'Accepted' });
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
      expect(stop.params).toMatchObject({ transactionId: tx, reason: 'Remote' });
      // A stopped transaction cannot be stopped again.
      await waitFor(() => !agent!.agent.chargePoint!.session(2), 5_000, 'session closed');
      expect(await call('RemoteStopTransaction', { transactionId: tx })).toEqual({ status: 'Rejected' });
    });
  });

  describe('Reset', () => {
    for (const [type, reason] of [['Soft', 'SoftReset'], ['Hard', 'HardReset']] as const) {
      it(`${type}: running sessions stop with ${reason}, then a new BootNotification`, async () => {
        agent = await startAgent(url);
        await ready();
        const tx1 = await startSession(1);
        const tx2 = await startSession(2, 'APPUSER2');
        expect(await call('Reset', { type })).toEqual({ status: 'Accepted' });
        await waitFor(() => csms.callsOf('BootNotification').length >= 2, 15_000, 'second BootNotification');
        const stops = csms.callsOf('StopTransaction').map((c) => c.params);
        expect(stops.map((s) => s.transactionId).sort()).toEqual([tx1, tx2].sort());
        for (const s of stops) expect(s.reason).toBe(reason);
        // The stops were delivered before the reboot.
        const secondBoot = csms.calls.indexOf(csms.callsOf('BootNotification')[1]!);
        for (const s of csms.callsOf('StopTransaction')) expect(csms.calls.indexOf(s)).toBeLessThan(secondBoot);
        // After the reboot the charger works: statuses sent again, and a new session starts.
        await waitFor(() => agent!.agent.link?.state === 'accepted', 10_000, 'accepted again');
        await waitFor(() => csms.calls.slice(secondBoot).filter((c) => c.action === 'StatusNotification').length >= 3, 10_000, 'statuses after reboot');
        expect(await call('GetConfiguration', { key: ['NumberOfConnectors'] })).toMatchObject({ configurationKey: [{ value: '2' }] });
        expect(await call('RemoteStopTransaction', { transactionId: tx1 })).toEqual({ status: 'Rejected' });
      });
    }

    it('a reset with no session just reboots', async () => {
      agent = await startAgent(url);
      await ready();
      expect(await call('Reset', { type: 'Soft' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('BootNotification').length >= 2, 15_000, 'second BootNotification');
      expect(csms.callsOf('StopTransaction')).toHaveLength(0);
    });
  });

  describe('ChangeConfiguration', () => {
    it('Accepted, and the value survives an agent restart on the same store', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'evse-edge-incoming-'));
      try {
        agent = await startAgent(url, {}, { dir });
        await ready();
        expect(await call('ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '30' })).toEqual({ status: 'Accepted' });
        expect(await call('ChangeConfiguration', { key: 'StopTransactionOnInvalidId', value: 'FALSE' })).toEqual({ status: 'Accepted' });
        expect(await call('ChangeConfiguration', { key: 'MeterValuesSampledData', value: 'Energy.Active.Import.Register, SoC' })).toEqual({ status: 'Accepted' });
        const read = async () => (await call('GetConfiguration', { key: ['MeterValueSampleInterval', 'StopTransactionOnInvalidId', 'MeterValuesSampledData'] })).configurationKey.map((k: { value: string }) => k.value);
        expect(await read()).toEqual(['30', 'false', 'Energy.Active.Import.Register,SoC']);
        await agent.cleanup();
        agent = undefined;
        const boots = csms.callsOf('BootNotification').length;
        agent = await startAgent(url, {}, { dir });
        await waitFor(() => csms.callsOf('BootNotification').length > boots && agent!.agent.link?.state === 'accepted', 10_000, 'rebooted');
        expect(await read()).toEqual(['30', 'false', 'Energy.Active.Import.Register,SoC']);
      } finally {
        await agent?.cleanup();
        agent = undefined;
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('read-only → Rejected, unknown → NotSupported, invalid value → Rejected; nothing changes', async () => {
      agent = await startAgent(url);
      await ready();
      expect(await call('ChangeConfiguration', { key: 'NumberOfConnectors', value: '4' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeConfiguration', { key: 'SupportedFeatureProfiles', value: 'Core' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeConfiguration', { key: 'NoSuchKey', value: '1' })).toEqual({ status: 'NotSupported' });
      expect(await call('ChangeConfiguration', { key: 'HeartbeatInterval', value: 'often' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeConfiguration', { key: 'HeartbeatInterval', value: '-5' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeConfiguration', { key: 'LocalPreAuthorize', value: 'yes' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeConfiguration', { key: 'MeterValuesSampledData', value: 'Energy.Active.Import.Register,Bogus' })).toEqual({ status: 'Rejected' });
      const res = await call('GetConfiguration', { key: ['NumberOfConnectors', 'HeartbeatInterval', 'LocalPreAuthorize', 'MeterValuesSampledData'] });
      expect(res.configurationKey.map((k: { value: string }) => k.value)).toEqual([
        '2', '300', 'false', 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage',
      ]);
    });

    it('keys are CiString50Type: matched whatever their case, stored and reported in their canonical spelling', async () => {
      agent = await startAgent(url);
      await ready();
      expect(await call('ChangeConfiguration', { key: 'ConnectionTimeout', value: '2' })).toEqual({ status: 'Accepted' });
      expect(await call('ChangeConfiguration', { key: 'heartbeatinterval', value: '120' })).toEqual({ status: 'Accepted' });
      // Read-only whatever the case: Rejected, not NotSupported.
      expect(await call('ChangeConfiguration', { key: 'NUMBEROFCONNECTORS', value: '4' })).toEqual({ status: 'Rejected' });
      const res = await call('GetConfiguration', { key: ['connectiontimeout', 'HEARTBEATINTERVAL', 'numberOfConnectors', 'bogusKey'] });
      expect(res.configurationKey).toEqual([
        { key: 'ConnectionTimeOut', readonly: false, value: '2' },
        { key: 'HeartbeatInterval', readonly: false, value: '120' },
        { key: 'NumberOfConnectors', readonly: true, value: '2' },
      ]);
      expect(res.unknownKey).toEqual(['bogusKey']);
      // The full list holds each key once, canonically spelt.
      const all = (await call('GetConfiguration', {})).configurationKey.filter((k: { key: string }) => k.key.toLowerCase() === 'connectiontimeout');
      expect(all).toEqual([{ key: 'ConnectionTimeOut', readonly: false, value: '2' }]);
    });
  });

  describe('GetConfiguration', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    it('without keys: every Core key of DOMAIN.md §5 with the right readonly flag', async () => {
      const res = await call('GetConfiguration', {});
      expect(res.unknownKey ?? []).toEqual([]);
      const byKey = new Map<string, { readonly: boolean; value?: string }>(res.configurationKey.map((k: { key: string }) => [k.key, k]));
      for (const [key, readonly] of Object.entries(CORE_KEYS)) {
        expect(byKey.get(key), key).toBeDefined();
        expect(byKey.get(key)!.readonly, key).toBe(readonly);
        expect(typeof byKey.get(key)!.value, key).toBe('string');
      }
      expect(byKey.get('NumberOfConnectors')!.value).toBe('2');
      expect(byKey.get('SupportedFeatureProfiles')!.value!.split(',')).toEqual(expect.arrayContaining(['Core', 'LocalAuthListManagement', 'RemoteTrigger']));
      expect(byKey.get('MeterValueSampleInterval')!.value).toBe('1');
      expect(res.configurationKey.length).toBeLessThanOrEqual(Number(byKey.get('GetConfigurationMaxKeys')!.value) || Infinity);
    });

    it('specific keys, and unknown ones in unknownKey', async () => {
      const res = await call('GetConfiguration', { key: ['HeartbeatInterval', 'Bogus', 'NumberOfConnectors', 'AlsoBogus'] });
      expect(res.configurationKey).toEqual([
        { key: 'HeartbeatInterval', readonly: false, value: '300' },
        { key: 'NumberOfConnectors', readonly: true, value: '2' },
      ]);
      expect(res.unknownKey).toEqual(['Bogus', 'AlsoBogus']);
      const none = await call('GetConfiguration', { key: ['Bogus'] });
      expect(none.configurationKey ?? []).toEqual([]);
      expect(none.unknownKey).toEqual(['Bogus']);
    });
  });

  describe('ChangeAvailability', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    it('Inoperative → Unavailable; Operative → Available; a card cannot start there', async () => {
      expect(await call('ChangeAvailability', { connectorId: 2, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
      await waitFor(() => lastStatus(2) === 'Unavailable', 5_000, 'Unavailable');
      expect(await call('RemoteStartTransaction', { connectorId: 2, idTag: 'APPUSER1' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeAvailability', { connectorId: 2, type: 'Operative' })).toEqual({ status: 'Accepted' });
      await waitFor(() => lastStatus(2) === 'Available', 5_000, 'Available');
      expect(statusesOf(2)).toEqual(['Available', 'Unavailable', 'Available']);
      expect(statusesOf(1)).toEqual(['Available']);
      expect(await call('ChangeAvailability', { connectorId: 9, type: 'Inoperative' })).toEqual({ status: 'Rejected' });
    });

    it('during a transaction: Scheduled, then Unavailable once it stops', async () => {
      const tx = await startSession(1);
      await waitFor(() => lastStatus(1) === 'Charging', 5_000, 'Charging');
      expect(await call('ChangeAvailability', { connectorId: 1, type: 'Inoperative' })).toEqual({ status: 'Scheduled' });
      await new Promise((r) => setTimeout(r, 200));
      expect(lastStatus(1)).toBe('Charging');
      expect(agent!.agent.chargePoint!.session(1)).toBeDefined();
      expect(await call('RemoteStopTransaction', { transactionId: tx })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
      await waitFor(() => lastStatus(1) === 'Unavailable', 5_000, 'Unavailable after the stop');
      expect(await call('RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Rejected' });
    });

    it('connector 0: the whole charge point', async () => {
      expect(await call('ChangeAvailability', { connectorId: 0, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
      await waitFor(() => [0, 1, 2].every((id) => lastStatus(id) === 'Unavailable'), 5_000, 'all Unavailable');
      expect(await call('RemoteStartTransaction', { idTag: 'APPUSER1' })).toEqual({ status: 'Rejected' });
      expect(await call('ChangeAvailability', { connectorId: 0, type: 'Operative' })).toEqual({ status: 'Accepted' });
      await waitFor(() => [0, 1, 2].every((id) => lastStatus(id) === 'Available'), 5_000, 'all Available');
    });

    it('availability survives a restart of the agent', async () => {
      expect(await call('ChangeAvailability', { connectorId: 2, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
      const boots = csms.callsOf('BootNotification').length;
      expect(await call('Reset', { type: 'Soft' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('BootNotification').length > boots && agent!.agent.link?.state === 'accepted', 10_000, 'rebooted');
      const after = csms.calls.indexOf(csms.callsOf('BootNotification').at(-1)!);
      await waitFor(() => csms.calls.slice(after).filter((c) => c.action === 'StatusNotification').length >= 3, 5_000, 'statuses');
      const statuses = csms.calls.slice(after).filter((c) => c.action === 'StatusNotification').map((c) => [c.params.connectorId, c.params.status]);
      expect(statuses).toContainEqual([2, 'Unavailable']);
      expect(statuses).toContainEqual([1, 'Available']);
    });

    it('connector 0 Operative after connector 2 Inoperative: all Operative, also after a restart', async () => {
      expect(await call('ChangeAvailability', { connectorId: 2, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
      expect(await call('ChangeAvailability', { connectorId: 0, type: 'Operative' })).toEqual({ status: 'Accepted' });
      await waitFor(() => lastStatus(2) === 'Available', 5_000, 'Available');
      const boots = csms.callsOf('BootNotification').length;
      expect(await call('Reset', { type: 'Soft' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('BootNotification').length > boots && agent!.agent.link?.state === 'accepted', 10_000, 'rebooted');
      const after = csms.calls.indexOf(csms.callsOf('BootNotification').at(-1)!);
      await waitFor(() => csms.calls.slice(after).filter((c) => c.action === 'StatusNotification').length >= 3, 5_000, 'statuses');
      const statuses = csms.calls.slice(after).filter((c) => c.action === 'StatusNotification').map((c) => [c.params.connectorId, c.params.status]);
      expect(statuses).toEqual(expect.arrayContaining([[0, 'Available'], [1, 'Available'], [2, 'Available']]));
    });
  });

  describe('UnlockConnector, ClearCache, DataTransfer', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    it('UnlockConnector: Unlocked; a running session stops first (UnlockCommand); unknown connector NotSupported', async () => {
      expect(await call('UnlockConnector', { connectorId: 2 })).toEqual({ status: 'Unlocked' });
      const tx = await startSession(1);
      expect(await call('UnlockConnector', { connectorId: 1 })).toEqual({ status: 'Unlocked' });
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
      expect(stop.params).toMatchObject({ transactionId: tx, reason: 'UnlockCommand' });
      expect(await call('UnlockConnector', { connectorId: 7 })).toEqual({ status: 'NotSupported' });
    });

    it('ClearCache empties the authorisation cache', async () => {
      agent!.agent.sim.reader.present({ token: { id: 'CARD0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await waitFor(() => csms.callsOf('Authorize')[0], 10_000, 'Authorize');
      const count = () => {
        const db = new Database(join(agent!.dir, 'agent.db'), { readonly: true });
        try {
          return (db.prepare('SELECT COUNT(*) AS n FROM auth_cache').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      await waitFor(() => count() === 1, 5_000, 'cached');
      expect(await call('ClearCache', {})).toEqual({ status: 'Accepted' });
      expect(count()).toBe(0);
    });

    it('DataTransfer: an unknown vendor is UnknownVendorId, our vendor with an unknown message UnknownMessageId', async () => {
      expect(await call('DataTransfer', { vendorId: 'com.example.other', messageId: 'x', data: 'y' })).toEqual({ status: 'UnknownVendorId' });
      expect(await call('DataTransfer', { vendorId: 'org.evse-edge', messageId: 'nope' })).toEqual({ status: 'UnknownMessageId' });
    });
  });

  describe('UnlockConnector on a connector without a lock (EVSE-WB board on pymodbus)', () => {
    let slave: PyPeer | undefined;
    let tmp: { dir: string; remove(): void } | undefined;

    afterEach(async () => {
      await agent?.cleanup();
      agent = undefined;
      await slave?.stop();
      slave = undefined;
      tmp?.remove();
      tmp = undefined;
    });

    it('NotSupported, and the running transaction goes on (§5.18, OCTT TC_018_2)', async () => {
      tmp = tempDir();
      const boardValues = join(tmp.dir, 'board.json');
      // The EVSE-WB has no plug lock register: its profile has no `lock`.
      writeFileSync(boardValues, JSON.stringify({ 'hr:1000': 0, 'hr:1001': 0, 'hr:1002': 1, 'hr:1003': 32, 'hr:1005': 18, 'hr:1006': 1 }));
      slave = await startTcpSlave([{ unitId: 3, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues }]);
      const device = { driver: 'modbus-tcp', host: '127.0.0.1', port: slave.port, timeoutMs: 300, retries: 1, unitId: 3, profile: 'evse-wb' };
      agent = await startAgent(url, { connectors: [{ id: 1, evse: device }] });
      await ready();
      const cp = agent.agent.chargePoint!;
      await slave.command('set 3 3 1002 2'); // vehicle connected (state B)
      await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Preparing', 10_000, 'Preparing');
      const tx = await startSession(1, 'BOARD001');
      await slave.command('set 3 3 1002 3'); // charging (state C)
      await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');

      const mark = csms.calls.length;
      expect(await call('UnlockConnector', { connectorId: 1 })).toEqual({ status: 'NotSupported' });
      // The transaction keeps running: no StopTransaction, the session is there, still Charging;
      // a MeterValues sent after the answer still carries its transactionId.
      await waitFor(() => csms.calls.slice(mark).find((c) => c.action === 'StopTransaction' || (c.action === 'MeterValues' && c.params.transactionId === tx)), 10_000, 'MeterValues of the running transaction');
      expect(csms.callsOf('StopTransaction').map((c) => c.params.reason)).toEqual([]);
      expect(cp.session(1)).toBeDefined();
      expect(toV16Status(cp.evseCondition(1))).toBe('Charging');
      // It ends when asked to, with its own reason.
      expect(await call('RemoteStopTransaction', { transactionId: tx })).toEqual({ status: 'Accepted' });
      const stop = await waitFor(() => csms.callsOf('StopTransaction')[0], 10_000, 'stop');
      expect(stop.params).toMatchObject({ transactionId: tx, reason: 'Remote' });
      // The simulated connector 2 has a lock: unlocked.
      expect(await call('UnlockConnector', { connectorId: 2 })).toEqual({ status: 'Unlocked' });
    });
  });

  describe('TriggerMessage', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    it('StatusNotification for one connector and for all', async () => {
      const n = csms.callsOf('StatusNotification').length;
      expect(await call('TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 2 })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('StatusNotification').length === n + 1, 5_000, 'triggered status');
      expect(csms.callsOf('StatusNotification').at(-1)!.params).toMatchObject({ connectorId: 2, status: 'Available', errorCode: 'NoError' });
      expect(await call('TriggerMessage', { requestedMessage: 'StatusNotification' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('StatusNotification').length === n + 4, 5_000, 'all statuses');
      expect(csms.callsOf('StatusNotification').slice(-3).map((c) => c.params.connectorId).sort()).toEqual([0, 1, 2]);
    });

    it('MeterValues: a Trigger sample, with the transactionId while a session runs', async () => {
      expect(await call('TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 2 })).toEqual({ status: 'Accepted' });
      const idle = await waitFor(() => csms.callsOf('MeterValues')[0], 5_000, 'triggered MeterValues');
      expect(idle.params.connectorId).toBe(2);
      expect(idle.params.transactionId).toBeUndefined();
      expect(idle.params.meterValue[0].sampledValue[0]).toMatchObject({ context: 'Trigger', measurand: 'Energy.Active.Import.Register', unit: 'Wh' });

      await call('ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '0' });
      const tx = await startSession(1);
      const n = csms.callsOf('MeterValues').length;
      expect(await call('TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('MeterValues').length > n, 5_000, 'triggered MeterValues in a session');
      const mv = csms.callsOf('MeterValues').at(-1)!.params;
      expect(mv).toMatchObject({ connectorId: 1, transactionId: tx });
      expect(mv.meterValue[0].sampledValue.every((v: { context: string }) => v.context === 'Trigger')).toBe(true);
    });

    it('Heartbeat and BootNotification', async () => {
      expect(await call('TriggerMessage', { requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('Heartbeat').length === 1, 5_000, 'Heartbeat');
      expect(await call('TriggerMessage', { requestedMessage: 'BootNotification' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('BootNotification').length === 2, 5_000, 'BootNotification');
      expect(agent!.agent.link!.state).toBe('accepted');
    });

    it('a connector that does not exist is Rejected', async () => {
      expect(await call('TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 5 })).toEqual({ status: 'Rejected' });
      expect(await call('TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 3 })).toEqual({ status: 'Rejected' });
    });
  });

  describe('Local authorisation list', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    const entry = (idTag: string, status = 'Accepted') => ({ idTag, idTagInfo: { status } });
    const listed = () => {
      const db = new Database(join(agent!.dir, 'agent.db'), { readonly: true });
      try {
        return db.prepare('SELECT id_tag AS idTag, status FROM local_auth_list ORDER BY id_tag').all();
      } finally {
        db.close();
      }
    };

    it('Full, Differential and VersionMismatch, with GetLocalListVersion', async () => {
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
      expect(await call('SendLocalList', { listVersion: 3, updateType: 'Full', localAuthorizationList: [entry('TAGA'), entry('TAGB', 'Blocked')] })).toEqual({ status: 'Accepted' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 3 });
      expect(listed()).toEqual([{ idTag: 'TAGA', status: 'Accepted' }, { idTag: 'TAGB', status: 'Blocked' }]);

      // Differential: add, update, remove (an entry without idTagInfo).
      expect(await call('SendLocalList', {
        listVersion: 4, updateType: 'Differential',
        localAuthorizationList: [entry('TAGC'), entry('TAGB'), { idTag: 'TAGA' }],
      })).toEqual({ status: 'Accepted' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 4 });
      expect(listed()).toEqual([{ idTag: 'TAGB', status: 'Accepted' }, { idTag: 'TAGC', status: 'Accepted' }]);

      // A differential update not newer than the list is refused and changes nothing.
      expect(await call('SendLocalList', { listVersion: 4, updateType: 'Differential', localAuthorizationList: [entry('TAGD')] })).toEqual({ status: 'VersionMismatch' });
      expect(await call('SendLocalList', { listVersion: 2, updateType: 'Differential', localAuthorizationList: [entry('TAGD')] })).toEqual({ status: 'VersionMismatch' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 4 });
      expect(listed()).toHaveLength(2);

      // A Full update replaces the list, whatever its version.
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [entry('TAGZ')] })).toEqual({ status: 'Accepted' });
      expect(listed()).toEqual([{ idTag: 'TAGZ', status: 'Accepted' }]);
      // An empty Full list clears it; an empty list is version 0 (§5.10).
      expect(await call('SendLocalList', { listVersion: 5, updateType: 'Full' })).toEqual({ status: 'Accepted' });
      expect(listed()).toEqual([]);
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
    });

    it('an emptied list reports version 0: a Full update with no entries, and a Differential removing the last one', async () => {
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [] })).toEqual({ status: 'Accepted' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
      expect(await call('SendLocalList', { listVersion: 2, updateType: 'Full', localAuthorizationList: [entry('TAGA')] })).toEqual({ status: 'Accepted' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 2 });
      expect(await call('SendLocalList', { listVersion: 3, updateType: 'Differential', localAuthorizationList: [{ idTag: 'TAGA' }] })).toEqual({ status: 'Accepted' });
      expect(listed()).toEqual([]);
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
      // The version the central system was told is the one a Differential update is compared with.
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Differential', localAuthorizationList: [entry('TAGB')] })).toEqual({ status: 'Accepted' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 1 });
      expect(listed()).toEqual([{ idTag: 'TAGB', status: 'Accepted' }]);
    });

    it('a Full entry without idTagInfo or a repeated idTag fails; disabled list → NotSupported and version -1', async () => {
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [{ idTag: 'TAGA' }] })).toEqual({ status: 'Failed' });
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [entry('TAGA'), entry('TAGA')] })).toEqual({ status: 'Failed' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: 0 });
      expect(await call('ChangeConfiguration', { key: 'LocalAuthListEnabled', value: 'false' })).toEqual({ status: 'Accepted' });
      expect(await call('SendLocalList', { listVersion: 1, updateType: 'Full', localAuthorizationList: [entry('TAGA')] })).toEqual({ status: 'NotSupported' });
      expect(await call('GetLocalListVersion', {})).toEqual({ listVersion: -1 });
    });
  });

  describe('malformed and unknown calls', () => {
    beforeEach(async () => {
      agent = await startAgent(url);
      await ready();
    });

    /** Send a raw frame and return the agent's answer to its message id. */
    async function raw(frame: string, id: string): Promise<unknown[]> {
      const client = csms.client(CP);
      const answers: unknown[][] = [];
      const onMessage = (m: { message: string; outbound: boolean }) => {
        if (m.outbound) return;
        try {
          const parsed = JSON.parse(m.message);
          if (Array.isArray(parsed) && parsed[1] === id) answers.push(parsed);
        } catch {
          /* not ours */
        }
      };
      client.on('message', onMessage);
      try {
        client.sendRaw(frame);
        return await waitFor(() => answers[0], 5_000, `answer to ${id}`);
      } finally {
        client.off('message', onMessage);
      }
    }

    it('a schema-invalid call gets a CALLERROR with the constraint code, and the agent keeps running', async () => {
      const typeErr = await raw('[2,"x1","RemoteStartTransaction",{"idTag":123}]', 'x1');
      expect(typeErr.slice(0, 3)).toEqual([4, 'x1', 'TypeConstraintViolation']);
      const missing = await raw('[2,"x2","ChangeAvailability",{"connectorId":1}]', 'x2');
      // OCPP-J 1.6 spells it OccurenceConstraintViolation; its errata (v1.0 §5) corrects the
      // spelling, which ocpp-rpc sends. Either is the right code.
      expect(missing.slice(0, 2)).toEqual([4, 'x2']);
      expect(missing[2]).toMatch(/^Occurr?enceConstraintViolation$/);
      const tooLong = await raw(`[2,"x3","RemoteStartTransaction",{"idTag":"${'A'.repeat(21)}"}]`, 'x3');
      expect(tooLong.slice(0, 3)).toEqual([4, 'x3', 'FormationViolation']);
      const extra = await raw('[2,"x4","ClearCache",{"please":true}]', 'x4');
      expect(extra.slice(0, 3)).toEqual([4, 'x4', 'PropertyConstraintViolation']);
      // Nothing was started by the invalid calls.
      expect(csms.callsOf('StartTransaction')).toHaveLength(0);
      expect(await call('GetConfiguration', { key: ['NumberOfConnectors'] })).toMatchObject({ configurationKey: [{ value: '2' }] });
      await startSession(1);
    });

    it('an unknown action gets NotImplemented; ReserveNow (Reservation profile) is answered', async () => {
      const unknown = await raw('[2,"u1","MakeCoffee",{}]', 'u1');
      expect(unknown.slice(0, 3)).toEqual([4, 'u1', 'NotImplemented']);
      const reserve = await raw(`[2,"u2","ReserveNow",{"connectorId":1,"expiryDate":"${new Date(Date.now() + 60_000).toISOString()}","idTag":"X","reservationId":1}]`, 'u2');
      expect(reserve).toEqual([3, 'u2', { status: 'Accepted' }]);
      expect(await call('GetConfiguration', { key: ['NumberOfConnectors'] })).toMatchObject({ configurationKey: [{ value: '2' }] });
    });

    it('a frame that is not JSON, or not an OCPP frame, gets a CALLERROR and the link stays up', async () => {
      const client = csms.client(CP);
      const errors: unknown[][] = [];
      const onMessage = (m: { message: string; outbound: boolean }) => {
        if (m.outbound) return;
        try {
          const parsed = JSON.parse(m.message);
          if (Array.isArray(parsed) && parsed[0] === 4) errors.push(parsed);
        } catch {
          /* ignore */
        }
      };
      client.on('message', onMessage);
      try {
        client.sendRaw('this is not json');
        client.sendRaw('{"not":"an array"}');
        await waitFor(() => errors.length >= 2, 5_000, 'CALLERRORs');
      } finally {
        client.off('message', onMessage);
      }
      expect(csms.client(CP)).toBe(client);
      expect(await call('TriggerMessage', { requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('Heartbeat').length === 1, 5_000, 'Heartbeat');
    });
  });
});
