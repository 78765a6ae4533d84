import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RPCClient } from 'ocpp-rpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralSystem, type CentralSystemOptions } from '../../src/csms/central-system.js';
import { ControlEndpoint } from '../../src/csms/control.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { baseReport, buildDeviceModel, getVariables, MemoryVariableStore } from '../../src/ocpp/v201/device-model.js';
import type { MeterValueType, StationRequest } from '../../src/ocpp/v201/messages.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/ocpp-server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/evse-edge.js');
const CS = 'CS-201-1';

describe('the embedded central system on OCPP 2.0.1, driven by a raw strict ocpp-rpc client', () => {
  let dir: string;
  let csms: CentralSystem | undefined;
  let url: string;
  let calls: { chargePointId: string; action: string; params: any }[];
  const clients: RPCClient[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'evse-edge-csms201-'));
    calls = [];
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close({ force: true });
    await csms?.close();
    csms = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function startCsms(opts: Partial<CentralSystemOptions> = {}): Promise<void> {
    csms = new CentralSystem({ port: 0, dbPath: join(dir, 'csms.db'), log: createLog(new MemorySink('error')), ...opts });
    csms.on('call', (c) => calls.push(c as (typeof calls)[number]));
    url = `ws://127.0.0.1:${await csms.listen()}/ocpp`;
  }
  async function station(identity = CS, protocols = ['ocpp2.0.1'], strictMode = true): Promise<RPCClient> {
    const c = new RPCClient({ endpoint: url, identity, protocols, strictMode, reconnect: false });
    clients.push(c);
    await c.connect();
    return c;
  }
  const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 14, 0, s)).toISOString();
  const energy = (timestamp: string, value: number, context: 'Transaction.Begin' | 'Sample.Periodic' | 'Transaction.End', unit = 'Wh'): MeterValueType => ({
    timestamp, sampledValue: [{ value, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit } }, { value: 7200, context, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } }],
  });

  it('negotiates the version by subprotocol: 2.0.1-only and 1.6-only clients each get theirs; a client offering both gets the central system\'s first choice', async () => {
    await startCsms();
    expect((await station('CS-A', ['ocpp2.0.1'])).protocol).toBe('ocpp2.0.1');
    expect((await station('CS-B', ['ocpp1.6'])).protocol).toBe('ocpp1.6');
    expect((await station('CS-C', ['ocpp2.0.1', 'ocpp1.6'])).protocol).toBe('ocpp1.6');
    await waitFor(() => csms!.connectedIds().length === 3, 5_000, 'three connected');
    expect(csms!.protocolOf('CS-A')).toBe('ocpp2.0.1');
    // A call in the other version's vocabulary is refused before anything is sent.
    await expect(csms!.call('CS-A', 'ClearCache', {})).rejects.toMatchObject({ code: 'ERR_INVALID_CALL', message: expect.stringContaining('speaks ocpp2.0.1') });
    await expect(csms!.callV201('CS-B', 'ClearCache', {})).rejects.toMatchObject({ code: 'ERR_INVALID_CALL', message: expect.stringContaining('speaks ocpp1.6') });
    await csms!.close();
    await startCsms({ protocols: ['ocpp2.0.1', 'ocpp1.6'] });
    expect((await station('CS-D', ['ocpp1.6', 'ocpp2.0.1'])).protocol).toBe('ocpp2.0.1');
  });

  it('boot → authorize → TransactionEvent Started/Updated/Ended: answers, and the transaction recorded by the station\'s transactionId with its energy from the meter values', async () => {
    await startCsms({ heartbeatIntervalS: 120 });
    const c = await station();
    const boot = await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge', firmwareVersion: '0.1.0' } });
    expect(boot).toEqual({ status: 'Accepted', currentTime: expect.any(String), interval: 120 });
    expect((await c.call('Heartbeat', {})).currentTime).toEqual(expect.any(String));
    expect(await c.call('StatusNotification', { timestamp: at(0), connectorStatus: 'Available', evseId: 1, connectorId: 1 })).toEqual({});
    expect(await c.call('Authorize', { idToken: { idToken: 'DEMO0001', type: 'ISO14443' } })).toEqual({ idTokenInfo: { status: 'Accepted' } });
    expect(await c.call('Authorize', { idToken: { idToken: 'BLOCKED1', type: 'ISO14443' } })).toEqual({ idTokenInfo: { status: 'Blocked' } });
    expect(await c.call('Authorize', { idToken: { idToken: 'STRANGER', type: 'KeyCode' } })).toEqual({ idTokenInfo: { status: 'Unknown' } });

    const txId = 'c0ffee00-2010-4000-8000-000000000001';
    const started: StationRequest<'TransactionEvent'> = {
      eventType: 'Started', timestamp: at(1), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: txId, chargingState: 'EVConnected' }, evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'DEMO0001', type: 'ISO14443' }, meterValue: [energy(at(1), 1000, 'Transaction.Begin')],
    };
    expect(await c.call('TransactionEvent', started)).toEqual({ idTokenInfo: { status: 'Accepted' } });
    expect(await c.call('StatusNotification', { timestamp: at(1), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 })).toEqual({});
    expect(await c.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(60), triggerReason: 'MeterValuePeriodic', seqNo: 1,
      transactionInfo: { transactionId: txId, chargingState: 'Charging' }, meterValue: [energy(at(60), 1.5, 'Sample.Periodic', 'kWh')],
    })).toEqual({});
    // The main meter (evse 0), outside the transaction.
    expect(await c.call('MeterValues', { evseId: 0, meterValue: [energy(at(61), 99_000, 'Sample.Periodic')] })).toEqual({});
    const ended: StationRequest<'TransactionEvent'> = {
      eventType: 'Ended', timestamp: at(120), triggerReason: 'StopAuthorized', seqNo: 2,
      transactionInfo: { transactionId: txId, chargingState: 'EVConnected', stoppedReason: 'Local' },
      idToken: { idToken: 'DEMO0001', type: 'ISO14443' }, meterValue: [energy(at(120), 2500, 'Transaction.End')],
    };
    expect(await c.call('TransactionEvent', ended)).toEqual({ idTokenInfo: { status: 'Accepted' } });
    // A retry of the Ended event (its answer lost) is answered again and recorded once.
    expect(await c.call('TransactionEvent', ended)).toEqual({ idTokenInfo: { status: 'Accepted' } });

    expect(csms!.store.transactionsV201(CS)).toEqual([{
      transactionId: txId, chargePointId: CS, evseId: 1, connectorId: 1, idToken: 'DEMO0001', idTokenType: 'ISO14443',
      startedAt: at(1), endedAt: at(120), stoppedReason: 'Local', chargingState: 'EVConnected', remoteStartId: null,
      events: 3, lastSeqNo: 2, offlineEvents: 0, meterStartWh: 1000, meterStopWh: 2500, energyWh: 1500, meterValueCount: 3,
    }]);
    expect(csms!.store.meterValuesV201(CS, null)).toHaveLength(1);
    expect(csms!.store.statusesV201(CS)).toEqual([{ evseId: 1, connectorId: 1, status: 'Occupied' }]);
    expect(csms!.store.sessions()).toEqual([{
      protocol: 'ocpp2.0.1', transactionId: txId, chargePointId: CS, evseId: 1, connectorId: 1, idTag: 'DEMO0001',
      startedAt: at(1), stoppedAt: at(120), stopReason: 'Local', energyWh: 1500, meterValueCount: 3,
    }]);
    expect(calls.filter((x) => x.chargePointId === CS).map((x) => x.action)).toEqual([
      'BootNotification', 'Heartbeat', 'StatusNotification', 'Authorize', 'Authorize', 'Authorize', 'TransactionEvent', 'StatusNotification',
      'TransactionEvent', 'MeterValues', 'TransactionEvent', 'TransactionEvent',
    ]);

    // The session report lists it, from the database file, beside the 1.6 ones (none here).
    const table = await run(['csms', 'sessions', '--db', join(dir, 'csms.db')]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ocpp\s+tx\s+charge point\s+conn\s+started\s+stopped\s+Wh\s+reason\s+meter values$/);
    expect(lines[2]!.split(/\s{2,}/)).toEqual(['2.0.1', txId, CS, '1/1', at(1), at(120), '1500', 'Local', '3']);
  });

  it('cable first: Started without an idToken answers no idTokenInfo; the token arrives in an Updated event and is kept; offline events counted; a remote start id kept', async () => {
    await startCsms({ idTags: ['APP00001'] });
    const c = await station();
    await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge' } });
    const txId = 'tx-cable-first';
    expect(await c.call('TransactionEvent', {
      eventType: 'Started', timestamp: at(0), triggerReason: 'CablePluggedIn', seqNo: 0, offline: true,
      transactionInfo: { transactionId: txId, chargingState: 'EVConnected' }, evse: { id: 2, connectorId: 1 },
    })).toEqual({});
    expect(await c.call('TransactionEvent', {
      eventType: 'Updated', timestamp: at(5), triggerReason: 'RemoteStart', seqNo: 1,
      transactionInfo: { transactionId: txId, chargingState: 'Charging', remoteStartId: 42 }, idToken: { idToken: 'APP00001', type: 'Central' },
    })).toEqual({ idTokenInfo: { status: 'Accepted' } });
    const [t] = csms!.store.transactionsV201(CS);
    expect(t).toMatchObject({ transactionId: txId, evseId: 2, connectorId: 1, idToken: 'APP00001', idTokenType: 'Central', remoteStartId: 42,
      chargingState: 'Charging', endedAt: null, stoppedReason: null, events: 2, offlineEvents: 1, energyWh: null, meterValueCount: 0 });
  });

  it('answers the other station calls schema-valid: NotifyReport (parts of a real device-model report, recorded whole), NotifyEvent, SecurityEventNotification, FirmwareStatusNotification, LogStatusNotification, DataTransfer', async () => {
    await startCsms();
    const c = await station();
    await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge' } });
    // The central system asks for a base report; the station answers and sends the parts.
    const model = buildDeviceModel({ evses: [{ id: 1, maxPowerW: 11_000, supplyPhases: 3, connectors: [{ id: 1, connectorType: 'cType2' }] }] });
    const store = new MemoryVariableStore();
    c.handle('GetBaseReport', async ({ params }: { params: { requestId: number; reportBase: 'FullInventory' } }) => {
      const { status, reports } = baseReport(model, store, params, new Date().toISOString(), { itemsPerMessage: 20 });
      setImmediate(async () => {
        for (const r of reports) await c.call('NotifyReport', r);
      });
      return { status };
    });
    expect(await csms!.callV201(CS, 'GetBaseReport', { requestId: 9, reportBase: 'FullInventory' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms!.store.report(CS, 9).complete, 10_000, 'the whole report');
    expect(csms!.store.report(CS, 9).reportData).toHaveLength(model.variables.length);
    const parts = Math.ceil(model.variables.length / 20);
    expect(parts).toBeGreaterThan(1);
    expect(calls.filter((x) => x.action === 'NotifyReport').map((x) => [x.params.seqNo, x.params.tbc])).toEqual(Array.from({ length: parts }, (_, i) => [i, i < parts - 1]));

    expect(await c.call('NotifyEvent', {
      generatedAt: at(0), seqNo: 0, eventData: [{ eventId: 1, timestamp: at(0), trigger: 'Delta', actualValue: 'Faulted', eventNotificationType: 'HardWiredNotification',
        component: { name: 'Connector', evse: { id: 1, connectorId: 1 } }, variable: { name: 'AvailabilityState' } }],
    })).toEqual({});
    expect(await c.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: at(0) })).toEqual({});
    expect(await c.call('FirmwareStatusNotification', { status: 'Installed', requestId: 3 })).toEqual({});
    expect(await c.call('LogStatusNotification', { status: 'Uploaded', requestId: 4 })).toEqual({});
    expect(await c.call('DataTransfer', { vendorId: 'com.example', messageId: 'x', data: { any: [1, 'json'] } })).toEqual({ status: 'UnknownVendorId' });
  });

  it('SignCertificate: Rejected without a CA; with one, Accepted and then CertificateSigned with a chain signed from the station\'s CSR', async () => {
    await startCsms();
    let c = await station();
    const pki = new TestPki();
    try {
      // The station's key and CSR (made here; on a charger the key never leaves it).
      const keyFile = join(pki.dir, 'station.key');
      const csrFile = join(pki.dir, 'station.csr');
      execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${CS}/O=evse-edge`, '-keyout', keyFile, '-out', csrFile], { stdio: 'ignore' });
      const csr = readFileSync(csrFile, 'utf8');
      expect(await c.call('SignCertificate', { csr, certificateType: 'ChargingStationCertificate' })).toMatchObject({ status: 'Rejected', statusInfo: { reasonCode: 'NoCA' } });
      await c.close({ force: true });
      await csms!.close();

      const ca = pki.ca('evse-edge test CSMS CA');
      await startCsms({
        certificateSigner: async (request) => {
          const inFile = join(pki.dir, 'in.csr');
          const outFile = join(pki.dir, 'out.crt');
          writeFileSync(inFile, request);
          execFileSync('openssl', ['x509', '-req', '-in', inFile, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '7', '-days', '30', '-sha256', '-out', outFile], { stdio: 'ignore' });
          return readFileSync(outFile, 'utf8') + readFileSync(ca.cert, 'utf8');
        },
      });
      c = await station();
      const signed: any[] = [];
      c.handle('CertificateSigned', async ({ params }: { params: unknown }) => {
        signed.push(params);
        return { status: 'Accepted' };
      });
      expect(await c.call('SignCertificate', { csr, certificateType: 'ChargingStationCertificate' })).toEqual({ status: 'Accepted' });
      const [msg] = await waitFor(() => (signed.length ? signed : undefined), 10_000, 'CertificateSigned');
      expect(msg.certificateType).toBe('ChargingStationCertificate');
      const leaf = join(pki.dir, 'leaf.pem');
      writeFileSync(leaf, msg.certificateChain);
      expect(execFileSync('openssl', ['x509', '-in', leaf, '-noout', '-subject'], { encoding: 'utf8' })).toContain(CS);
      expect(execFileSync('openssl', ['verify', '-CAfile', ca.cert, leaf], { encoding: 'utf8' })).toContain('OK');
    } finally {
      pki.cleanup();
    }
  });

  it('the control endpoint (csms call) calls a 2.0.1 station with 2.0.1 actions, schema-checked, and refuses a 1.6 action for it', async () => {
    await startCsms();
    const c = await station();
    const model = buildDeviceModel({ evses: [{ id: 1, maxPowerW: 11_000, supplyPhases: 3, connectors: [{ id: 1, connectorType: 'cType2' }] }] });
    const store = new MemoryVariableStore();
    c.handle('GetVariables', async ({ params }: { params: { getVariableData: Parameters<typeof getVariables>[2] } }) => ({ getVariableResult: getVariables(model, store, params.getVariableData) }));
    const control = new ControlEndpoint({ csms: csms!, port: 0, log: createLog(new MemorySink('error')) });
    const base = await control.listen();
    try {
      const post = async (cp: string, action: string, body: unknown) => {
        const res = await fetch(`${base}/call/${cp}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as any };
      };
      const ok = await post(CS, 'GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'MessageAttempts', instance: 'TransactionEvent' } }] });
      expect(ok).toEqual({ status: 200, body: { result: { getVariableResult: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'MessageAttempts', instance: 'TransactionEvent' }, attributeStatus: 'Accepted', attributeValue: '3' }] } } });
      expect(await post(CS, 'RemoteStartTransaction', { idTag: 'DEMO0001' })).toMatchObject({ status: 400, body: { error: { code: 'ERR_UNKNOWN_ACTION', message: expect.stringContaining('OCPP 2.0.1') } } });
      expect(await post(CS, 'GetVariables', { getVariableData: [] })).toMatchObject({ status: 400, body: { error: { code: 'ERR_INVALID_CALL', message: expect.stringContaining('OCPP 2.0.1 schema') } } });
      expect(await post('CS-NOBODY', 'GetVariables', { getVariableData: [] })).toMatchObject({ status: 404, body: { error: { code: 'ERR_NOT_CONNECTED' } } });
    } finally {
      await control.close();
    }
  });

  it('strict: a 2.0.1 call missing a required field gets CALLERROR OccurrenceConstraintViolation (2.0.1 spelling) and records nothing; the station stays served', async () => {
    await startCsms();
    const lax = await station(CS, ['ocpp2.0.1'], false);
    await expect(lax.call('TransactionEvent', { eventType: 'Started', timestamp: at(0), triggerReason: 'Authorized', seqNo: 0 }))
      .rejects.toMatchObject({ rpcErrorCode: 'OccurrenceConstraintViolation' });
    await expect(lax.call('StartTransaction', { connectorId: 1, idTag: 'DEMO0001', meterStart: 0, timestamp: at(0) })).rejects.toMatchObject({ rpcErrorCode: expect.any(String) });
    expect(csms!.store.transactionsV201()).toEqual([]);
    expect(await lax.call('Heartbeat', {})).toEqual({ currentTime: expect.any(String) });
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
