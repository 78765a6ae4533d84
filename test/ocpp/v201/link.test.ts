import { createRPCError } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDeviceModel } from '../../../src/ocpp/v201/device-model.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { FaultProxy } from '../../helpers/fault-proxy.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';
import { toV16Status } from '../../../src/ocpp/v16/mapping.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function server(protocol?: 'ocpp2.0.1'): Promise<{ csms: TestCsms; url: string }> {
  const csms = new TestCsms(protocol ? { protocol } : {});
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  return { csms, url };
}

async function agentOn(url: string, ocppVersions: string[], ocpp: Record<string, unknown> = {}): Promise<TestAgent> {
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp } });
  cleanups.push(() => t.cleanup());
  return t;
}

const present = (t: TestAgent, id: string) => t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
const txEvents = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP);

describe('OCPP 2.0.1 link against a strict 2.0.1 central system', () => {
  it('boots PowerUp, is told Pending, boots again after interval, and sends statuses only once Accepted (B01, B02)', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    let boots = 0;
    csms.on('BootNotification', () => (++boots === 1
      ? { status: 'Pending', currentTime: new Date().toISOString(), interval: 1 }
      : { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
    const t = await agentOn(url, ['ocpp2.0.1']);
    const states: string[] = [];
    t.agent.link!.on('state', (s) => states.push(s));
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    await waitFor(() => csms.callsOf('StatusNotification', CP).length >= 2, 5_000, 'statuses');
    expect(t.agent.connection!.protocol).toBe('ocpp2.0.1');
    expect(states).toContain('pending');
    const boot = csms.callsOf('BootNotification', CP);
    expect(boot).toHaveLength(2);
    expect(boot[0]!.params).toMatchObject({ reason: 'PowerUp', chargingStation: { vendorName: expect.any(String), model: expect.any(String) } });
    // Nothing but BootNotification while Pending: every other call came after the Accepted boot.
    const acceptedAt = boot[1]!.at;
    expect(csms.calls.filter((c) => c.action !== 'BootNotification').every((c) => c.at >= acceptedAt)).toBe(true);
    const statuses = csms.callsOf('StatusNotification', CP).map((c) => c.params);
    expect(statuses).toEqual(expect.arrayContaining([
      expect.objectContaining({ evseId: 1, connectorId: 1, connectorStatus: 'Available' }),
      expect.objectContaining({ evseId: 2, connectorId: 1, connectorStatus: 'Available' }),
    ]));
    expect(csms.validationFailures).toEqual([]);
  });

  it('offers ocpp2.0.1 and ocpp1.6: a 1.6-only central system gets 1.6, a 2.0.1 one 2.0.1', async () => {
    const old = await server();
    const t16 = await agentOn(old.url, ['ocpp2.0.1', 'ocpp1.6']);
    await waitFor(() => t16.agent.link!.state === 'accepted', 10_000, 'Accepted on 1.6');
    expect(t16.agent.connection!.protocol).toBe('ocpp1.6');
    expect(old.csms.callsOf('BootNotification', CP)[0]!.params).toMatchObject({ chargePointVendor: expect.any(String) });
    await waitFor(() => old.csms.callsOf('StatusNotification', CP).length >= 3, 5_000, '1.6 statuses');
    expect(old.csms.callsOf('StatusNotification', CP)[0]!.params).toMatchObject({ errorCode: 'NoError' });
    await t16.cleanup();

    const neu = await server('ocpp2.0.1');
    const t201 = await agentOn(neu.url, ['ocpp2.0.1', 'ocpp1.6']);
    await waitFor(() => t201.agent.link!.state === 'accepted', 10_000, 'Accepted on 2.0.1');
    expect(t201.agent.connection!.protocol).toBe('ocpp2.0.1');
    expect(neu.csms.callsOf('BootNotification', CP)[0]!.params).toMatchObject({ reason: 'PowerUp' });
    expect(old.csms.validationFailures).toEqual([]);
    expect(neu.csms.validationFailures).toEqual([]);
  });

  it('an auth-first transaction: Authorize with IdToken, then TransactionEvent Started, Updated…, Ended with seqNo 0..n (E03)', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    const t = await agentOn(url, ['ocpp2.0.1']);
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    present(t, 'CARD-201');
    await waitFor(() => txEvents(csms).length >= 3, 10_000, 'Started and two Updated');
    const localId = t.agent.chargePoint!.session(1)!.localId;
    present(t, 'CARD-201');
    await waitFor(() => txEvents(csms).some((c) => c.params.eventType === 'Ended') && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');

    expect(csms.callsOf('Authorize', CP)[0]!.params).toEqual({ idToken: { idToken: 'CARD-201', type: 'ISO14443' } });
    const events = txEvents(csms).map((c) => c.params);
    const types = events.map((e) => e.eventType);
    expect(types[0]).toBe('Started');
    expect(types.at(-1)).toBe('Ended');
    expect(types.slice(1, -1).every((x) => x === 'Updated')).toBe(true);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    const txId = events[0]!.transactionInfo.transactionId;
    expect(txId).toBe(t.agent.runtime!.link.transactionIdOf(localId));
    expect(events.every((e) => e.transactionInfo.transactionId === txId)).toBe(true);
    expect(events[0]).toMatchObject({
      // Authorised first: the cable plugged in completes the start, the EV not yet charging.
      triggerReason: 'CablePluggedIn', evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'CARD-201', type: 'ISO14443' },
      transactionInfo: { chargingState: 'EVConnected' },
    });
    expect(events[0]!.meterValue[0].sampledValue[0]).toMatchObject({ context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register' });
    expect(events.slice(1).every((e) => e.idToken === undefined)).toBe(true);
    expect(events[1]).toMatchObject({ triggerReason: 'ChargingStateChanged', transactionInfo: { chargingState: 'Charging' } });
    expect(events[2]).toMatchObject({ triggerReason: 'MeterValuePeriodic', meterValue: [expect.objectContaining({ sampledValue: expect.any(Array) })] });
    // A local stop: stoppedReason omitted (Local is the default).
    expect(events.at(-1)).toMatchObject({ triggerReason: 'StopAuthorized' });
    expect(events.at(-1).transactionInfo).not.toHaveProperty('stoppedReason');
    expect(events.every((e) => e.offline === undefined)).toBe(true);
    // Station-generated, persisted with the session as 2.0.1's.
    const ref = t.agent.ledger!.transactionRefOf(localId);
    expect(ref).toEqual({ version: 'ocpp2.0.1', id: txId });
    // A second session gets another id.
    t.agent.sim.connectors.get(1)!.unplug();
    await waitFor(() => toV16Status(t.agent.chargePoint!.evseCondition(1)) === 'Available', 10_000, 'Available again');
    present(t, 'CARD-202');
    await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started').length === 2, 10_000, 'second Started');
    const second = txEvents(csms).filter((c) => c.params.eventType === 'Started')[1]!.params;
    expect(second.transactionInfo.transactionId).not.toBe(txId);
    expect(second.seqNo).toBe(0);
    expect(csms.validationFailures).toEqual([]);
    expect(csms.maxOutstanding.get(CP)).toBe(1);
  });

  it('an outage mid-transaction: events queued offline carry offline: true, arrive in order, seqNo contiguous (E04)', async () => {
    const { csms } = await server('ocpp2.0.1');
    const proxy = await new FaultProxy({ host: '127.0.0.1', port: csms.port }).start();
    cleanups.push(() => proxy.stop());
    const t = await agentOn(proxy.url(), ['ocpp2.0.1'], { WebSocketPingInterval: 1 });
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    present(t, 'CARD-OUT');
    await waitFor(() => txEvents(csms).length >= 2, 10_000, 'Started and an Updated');
    proxy.blackhole();
    await waitFor(() => t.agent.link!.state === 'offline', 10_000, 'the outage noticed');
    const offlineFrom = Date.now();
    await waitFor(() => t.agent.outbox!.summary().depth >= 4, 15_000, 'events queued offline');
    present(t, 'CARD-OUT');
    await waitFor(() => t.agent.chargePoint!.session(1) === undefined, 10_000, 'stopped offline');
    const offlineUntil = Date.now();
    proxy.pass();
    await waitFor(() => t.agent.link!.state === 'accepted' && t.agent.outbox!.summary().depth === 0
      && txEvents(csms).some((c) => c.params.eventType === 'Ended'), 20_000, 'the backlog delivered');

    // Each event once (a retried one may arrive twice: keep the first arrival of each seqNo).
    const seen = new Map<number, any>();
    for (const c of txEvents(csms)) if (!seen.has(c.params.seqNo)) seen.set(c.params.seqNo, c.params);
    const events = [...seen.values()];
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    expect(events[0].eventType).toBe('Started');
    expect(events.at(-1).eventType).toBe('Ended');
    const offline = events.filter((e) => e.offline === true);
    expect(offline.length).toBeGreaterThanOrEqual(2);
    expect(offline.at(-1).eventType).toBe('Ended');
    for (const e of events) {
      const at = Date.parse(e.timestamp);
      if (at >= offlineFrom && at <= offlineUntil) expect(e.offline).toBe(true);
      if (e.offline) expect(at).toBeGreaterThanOrEqual(offlineFrom - 3_000);
    }
    expect(events[0].offline).toBeUndefined();
    expect(csms.validationFailures).toEqual([]);
  });

  it('retries a TransactionEvent refused with a CALLERROR after MessageAttemptInterval x attempts, the same event each time (E13)', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    let refusals = 0;
    csms.on('TransactionEvent', (p: { eventType: string; idToken?: unknown }) => {
      if (p.eventType === 'Started' && refusals < 2) {
        refusals++;
        throw createRPCError('InternalError', 'not now');
      }
      return p.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
    });
    const t = await agentOn(url, ['ocpp2.0.1'], { TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1 });
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    present(t, 'CARD-RETRY');
    await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started').length === 3 && txEvents(csms).some((c) => c.params.eventType === 'Updated'), 15_000, 'Started three times, then Updated');
    const started = txEvents(csms).filter((c) => c.params.eventType === 'Started');
    // The same event each time: one transactionId, seqNo 0.
    expect(new Set(started.map((c) => c.params.transactionInfo.transactionId)).size).toBe(1);
    expect(started.every((c) => c.params.seqNo === 0)).toBe(true);
    // Waits of 1 s after the first transmission, 2 s after the second.
    expect(started[1]!.at - started[0]!.at).toBeGreaterThanOrEqual(900);
    expect(started[2]!.at - started[1]!.at).toBeGreaterThanOrEqual(1_900);
    const updated = txEvents(csms).find((c) => c.params.eventType === 'Updated')!;
    expect(updated.params.seqNo).toBe(1);
    expect(t.agent.outbox!.summary().deadLetters).toBe(0);
  });

  it('a restart mid-transaction: the session closed at start (PowerLoss) goes as Ended with the same transactionId and the next seqNo; the next session gets a new id', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    const t = await agentOn(url, ['ocpp2.0.1']);
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    present(t, 'CARD-RESTART');
    await waitFor(() => txEvents(csms).length >= 2 && t.agent.outbox!.summary().depth === 0, 10_000, 'Started and an Updated');
    await t.agent.stop();
    const before = txEvents(csms).length;
    const txId = txEvents(csms)[0]!.params.transactionInfo.transactionId;
    // The same store, a new process state (the simulated vehicle is not plugged in any more).
    const again = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { MeterValueSampleInterval: 1 } }, { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await waitFor(() => txEvents(csms).some((c) => c.params.eventType === 'Ended'), 10_000, 'Ended after the restart');
    const events = txEvents(csms).map((c) => c.params);
    const ended = events.find((e) => e.eventType === 'Ended')!;
    expect(ended.transactionInfo).toMatchObject({ transactionId: txId, stoppedReason: 'PowerLoss' });
    expect(ended.seqNo).toBe(before);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(2);
    present(again, 'CARD-NEXT');
    await waitFor(() => txEvents(csms).filter((c) => c.params.eventType === 'Started').length === 2, 10_000, 'a new Started');
    const next = txEvents(csms).filter((c) => c.params.eventType === 'Started')[1]!.params;
    expect(next.transactionInfo.transactionId).not.toBe(txId);
    expect(next.seqNo).toBe(0);
    expect(csms.validationFailures).toEqual([]);
  });

  it('answers GetVariables and SetVariables from the device model over the stored settings (ReadOnly → Rejected) (B05, B06)', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    const t = await agentOn(url, ['ocpp2.0.1']);
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    const get = await csms.call(CP, 'GetVariables', { getVariableData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
      { component: { name: 'NoSuchCtrlr' }, variable: { name: 'X' } },
    ] });
    expect(get.getVariableResult).toEqual([
      expect.objectContaining({ attributeStatus: 'Accepted', attributeValue: '300', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }),
      expect.objectContaining({ attributeStatus: 'UnknownComponent' }),
    ]);
    const set = await csms.call(CP, 'SetVariables', { setVariableData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' }, attributeValue: '120' },
      { component: { name: 'SecurityCtrlr' }, variable: { name: 'SecurityProfile' }, attributeValue: '3' },
    ] });
    expect(set.setVariableResult.map((r: { attributeStatus: string }) => r.attributeStatus)).toEqual(['Accepted', 'Rejected']);
    // One setting, two views: the 1.6 key holds the value written as a 2.0.1 variable.
    expect(t.agent.settings!.get('HeartbeatInterval')).toBe('120');
    expect(csms.validationFailures).toEqual([]);
  });

  it('GetBaseReport FullInventory: Accepted, then NotifyReport parts seqNo 0.. with tbc until the last, holding every required variable (B07)', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    const t = await agentOn(url, ['ocpp2.0.1']);
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    expect(await csms.call(CP, 'GetBaseReport', { requestId: 7, reportBase: 'FullInventory' })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('NotifyReport', CP).some((c) => !c.params.tbc), 10_000, 'the last NotifyReport');
    const parts = csms.callsOf('NotifyReport', CP).map((c) => c.params);
    expect(parts.map((p) => p.seqNo)).toEqual(parts.map((_p, i) => i));
    expect(parts.every((p, i) => p.requestId === 7 && Boolean(p.tbc) === (i < parts.length - 1))).toBe(true);
    const reported = new Set(parts.flatMap((p) => p.reportData).map((d: any) => `${d.component.name}|${d.component.evse?.id ?? ''}|${d.variable.name}|${d.variable.instance ?? ''}`));
    const model = buildDeviceModel({ evses: [1, 2].map((id) => ({ id, maxPowerW: 0, supplyPhases: 3, connectors: [{ id: 1, connectorType: 'Unknown' }] })) });
    const required = model.variables.filter((v) => v.required).map((v) => `${v.component}|${v.evseId ?? ''}|${v.variable}|${v.variableInstance ?? ''}`);
    expect(required.length).toBeGreaterThan(30);
    expect(required.filter((r) => !reported.has(r))).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });
});
