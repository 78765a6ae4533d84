import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { ChildAgent } from '../../helpers/child-agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

/**
 * TxCtrlr.TxStartPoint EVConnected and Authorized (E01–E03) against the strict 2.0.1 server: the
 * Started goes at the start point with its triggerReason and chargingState, the session that opens
 * later continues the same transaction (its opening an Updated, seqNo contiguous, the token once),
 * a transaction that ends before any session is Ended, the choice persists across a restart and
 * an opening left by the last run is settled at start.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const config = (url: string, ocpp: Record<string, unknown> = {}) => ({
  csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
  ocpp: { MeterValueSampleInterval: 0, HeartbeatInterval: 300, StopTransactionOnEVSideDisconnect: true, ...ocpp },
  // No simulated driver: the test plugs and unplugs.
  simulation: { departureDelayMs: 0, arrivalDelayMs: 0 },
});

async function ready(ocpp: Record<string, unknown> = {}): Promise<{ csms: TestCsms; t: TestAgent; url: string }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, config(url, ocpp));
  cleanups.push(() => t.cleanup());
  await booted(csms, t);
  return { csms, t, url };
}

async function booted(csms: TestCsms, t: TestAgent): Promise<void> {
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.clients.has(CP), 10_000, 'Accepted');
}

const setStartPoint = async (csms: TestCsms, value: string): Promise<string> =>
  (await csms.call(CP, 'SetVariables', { setVariableData: [{ component: { name: 'TxCtrlr' }, variable: { name: 'TxStartPoint' }, attributeValue: value }] })).setVariableResult[0].attributeStatus;
const getStartPoint = async (csms: TestCsms): Promise<string> =>
  (await csms.call(CP, 'GetVariables', { getVariableData: [{ component: { name: 'TxCtrlr' }, variable: { name: 'TxStartPoint' } }] })).getVariableResult[0].attributeValue;
const events = (csms: TestCsms): any[] => csms.callsOf('TransactionEvent', CP).map((c: RecordedCall) => c.params);
const present = (t: TestAgent, id: string) => t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
const summary = (es: any[]) => es.map((e) => `${e.eventType}:${e.triggerReason}${e.transactionInfo.chargingState ? `:${e.transactionInfo.chargingState}` : ''}`);

function expectOneTransaction(es: any[]): void {
  expect(es.map((e) => e.seqNo)).toEqual(es.map((_e, i) => i));
  expect(new Set(es.map((e) => e.transactionInfo.transactionId)).size).toBe(1);
}

describe('OCPP 2.0.1 TxStartPoint', () => {
  it('refuses what the station cannot honour, accepts EVConnected, Authorized, PowerPathClosed and combinations', async () => {
    const { csms } = await ready();
    expect(await getStartPoint(csms)).toBe('PowerPathClosed');
    for (const v of ['ParkingBayOccupancy', 'DataSigned', 'EnergyTransfer', 'EVConnected,DataSigned']) expect(await setStartPoint(csms, v)).toBe('Rejected');
    for (const v of ['EVConnected', 'Authorized', 'EVConnected,Authorized', 'PowerPathClosed']) expect(await setStartPoint(csms, v)).toBe('Accepted');
    expect(csms.validationFailures).toEqual([]);
  });

  it('EVConnected, cable first: Started by CablePluggedIn before any card; the card is an Updated Authorized with the token; Ended by the disconnect', async () => {
    const { csms, t } = await ready();
    expect(await setStartPoint(csms, 'EVConnected')).toBe('Accepted');
    const sim = t.agent.sim.connectors.get(1)!;
    sim.plug();
    const started = await waitFor(() => events(csms).find((e) => e.eventType === 'Started'), 10_000, 'Started at the plug-in');
    expect(started).toMatchObject({ triggerReason: 'CablePluggedIn', seqNo: 0, transactionInfo: { chargingState: 'EVConnected' }, evse: { id: 1, connectorId: 1 } });
    expect(started).not.toHaveProperty('idToken');
    // No session yet: the core waits for the card, the transaction runs already.
    expect(t.agent.chargePoint!.session(1)).toBeUndefined();
    present(t, 'CARD-EV-FIRST');
    await waitFor(() => events(csms).some((e) => e.transactionInfo.chargingState === 'Charging'), 15_000, 'Charging');
    // The session opened on the transaction the plug-in began: the same id.
    expect(t.agent.chargePoint!.session(1)!.localId).toBe(started.transactionInfo.transactionId);
    sim.unplug();
    await waitFor(() => events(csms).some((e) => e.eventType === 'Ended') && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');
    const es = events(csms);
    expectOneTransaction(es);
    expect(summary(es)).toEqual([
      'Started:CablePluggedIn:EVConnected', 'Updated:Authorized:EVConnected', 'Updated:ChargingStateChanged:Charging', 'Ended:EVCommunicationLost:Idle',
    ]);
    expect(es[1].idToken).toEqual({ idToken: 'CARD-EV-FIRST', type: 'ISO14443' });
    expect(es.filter((e) => e.idToken !== undefined)).toHaveLength(1);
    expect(es.filter((e) => e.evse !== undefined)).toHaveLength(1);
    expect(es.at(-1).transactionInfo.stoppedReason).toBe('EVDisconnected');
    expect(csms.validationFailures).toEqual([]);
  });

  it('EVConnected: a cable plugged and pulled without a card is a transaction Started and Ended (EVDisconnected); the next plug-in is a new one', async () => {
    const { csms, t } = await ready();
    expect(await setStartPoint(csms, 'EVConnected')).toBe('Accepted');
    const sim = t.agent.sim.connectors.get(1)!;
    sim.plug();
    await waitFor(() => events(csms).some((e) => e.eventType === 'Started'), 10_000, 'Started');
    sim.unplug();
    await waitFor(() => events(csms).some((e) => e.eventType === 'Ended'), 10_000, 'Ended');
    const first = events(csms);
    expectOneTransaction(first);
    expect(summary(first)).toEqual(['Started:CablePluggedIn:EVConnected', 'Ended:EVCommunicationLost:Idle']);
    expect(first[1].transactionInfo.stoppedReason).toBe('EVDisconnected');
    sim.plug();
    await waitFor(() => events(csms).filter((e) => e.eventType === 'Started').length === 2, 10_000, 'second Started');
    const second = events(csms).slice(2);
    expect(second[0].seqNo).toBe(0);
    expect(second[0].transactionInfo.transactionId).not.toBe(first[0].transactionInfo.transactionId);
    expect(csms.validationFailures).toEqual([]);
  });

  it('Authorized, card first: Started by Authorized in Idle with the token; the cable is an Updated CablePluggedIn; cable first: Started at the card', async () => {
    const { csms, t } = await ready();
    expect(await setStartPoint(csms, 'Authorized')).toBe('Accepted');
    const sim = t.agent.sim.connectors.get(1)!;
    present(t, 'CARD-AUTH-FIRST');
    const started = await waitFor(() => events(csms).find((e) => e.eventType === 'Started'), 10_000, 'Started at the card');
    expect(started).toMatchObject({ triggerReason: 'Authorized', seqNo: 0, transactionInfo: { chargingState: 'Idle' }, idToken: { idToken: 'CARD-AUTH-FIRST' }, evse: { id: 1 } });
    expect(t.agent.chargePoint!.session(1)).toBeUndefined();
    sim.plug();
    await waitFor(() => events(csms).some((e) => e.transactionInfo.chargingState === 'Charging'), 15_000, 'Charging');
    present(t, 'CARD-AUTH-FIRST');
    await waitFor(() => events(csms).some((e) => e.eventType === 'Ended') && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');
    let es = events(csms);
    expectOneTransaction(es);
    expect(summary(es)).toEqual([
      'Started:Authorized:Idle', 'Updated:CablePluggedIn:EVConnected', 'Updated:ChargingStateChanged:Charging', 'Ended:StopAuthorized:EVConnected',
    ]);
    expect(es.filter((e) => e.idToken !== undefined)).toHaveLength(1);

    // Cable first (the cable still in): nothing until the card, then Started by Authorized with the EV connected.
    sim.unplug();
    await waitFor(() => t.agent.chargePoint!.evseCondition(1).chargingState === 'Idle', 10_000, 'unplugged');
    const before = events(csms).length;
    sim.plug();
    await waitFor(() => t.agent.chargePoint!.evseCondition(1).chargingState === 'EVConnected', 10_000, 'plugged');
    expect(events(csms).length).toBe(before);
    present(t, 'CARD-CABLE-FIRST');
    await waitFor(() => events(csms).slice(before).some((e) => e.transactionInfo.chargingState === 'Charging'), 15_000, 'Charging again');
    es = events(csms).slice(before);
    expect(summary(es).slice(0, 2)).toEqual(['Started:Authorized:EVConnected', 'Updated:ChargingStateChanged:Charging']);
    expect(es[0]).toMatchObject({ seqNo: 0, idToken: { idToken: 'CARD-CABLE-FIRST' } });
    expect(csms.validationFailures).toEqual([]);
  });

  it('Authorized: an authorisation that expires without a cable ends its transaction (EVConnectTimeout / Timeout)', async () => {
    const { csms, t } = await ready({ ConnectionTimeOut: 2 });
    expect(await setStartPoint(csms, 'Authorized')).toBe('Accepted');
    present(t, 'CARD-NO-CABLE');
    await waitFor(() => events(csms).some((e) => e.eventType === 'Ended'), 15_000, 'Ended by the timeout');
    const es = events(csms);
    expectOneTransaction(es);
    expect(summary(es)).toEqual(['Started:Authorized:Idle', 'Ended:EVConnectTimeout:Idle']);
    expect(es[1].transactionInfo.stoppedReason).toBe('Timeout');
    expect(csms.validationFailures).toEqual([]);
  });

  it('the start point persists across a restart; a transaction left open without a session by the last run is Ended at start, with the next seqNo', async () => {
    const { csms, t, url } = await ready();
    expect(await setStartPoint(csms, 'EVConnected')).toBe('Accepted');
    t.agent.sim.connectors.get(1)!.plug();
    const started = await waitFor(() => events(csms).find((e) => e.eventType === 'Started'), 10_000, 'Started');
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'delivered');
    await t.agent.stop();

    // The same store: the simulated vehicle did not survive the restart, so the open transaction ends.
    const again = await startAgent(url, config(url), { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await booted(csms, again);
    const ended = await waitFor(() => events(csms).find((e) => e.eventType === 'Ended'), 10_000, 'Ended after the restart');
    expect(ended).toMatchObject({ seqNo: 1, transactionInfo: { transactionId: started.transactionInfo.transactionId, stoppedReason: 'EVDisconnected' } });
    expect(await getStartPoint(csms)).toBe('EVConnected');
    again.agent.sim.connectors.get(1)!.plug();
    await waitFor(() => events(csms).filter((e) => e.eventType === 'Started').length === 2, 10_000, 'Started at the plug-in after the restart');
    expect(events(csms).at(-1)).toMatchObject({ eventType: 'Started', triggerReason: 'CablePluggedIn', seqNo: 0 });
    expect(csms.validationFailures).toEqual([]);
  });

  it('Authorized: a remote start before the cable is the Started (RemoteStart, its remoteStartId, the Central token); the cable an Updated without them', async () => {
    const { csms, t } = await ready();
    expect(await setStartPoint(csms, 'Authorized')).toBe('Accepted');
    expect(await csms.call(CP, 'RequestStartTransaction', { remoteStartId: 41, evseId: 1, idToken: { idToken: 'APP-41', type: 'Central' } })).toMatchObject({ status: 'Accepted' });
    const started = await waitFor(() => events(csms).find((e) => e.eventType === 'Started'), 10_000, 'Started at the remote start');
    expect(started).toMatchObject({ triggerReason: 'RemoteStart', seqNo: 0, transactionInfo: { chargingState: 'Idle', remoteStartId: 41 }, idToken: { idToken: 'APP-41', type: 'Central' } });
    t.agent.sim.connectors.get(1)!.plug();
    await waitFor(() => events(csms).some((e) => e.triggerReason === 'CablePluggedIn'), 10_000, 'the cable');
    const es = events(csms);
    expectOneTransaction(es);
    expect(es[1]).toMatchObject({ eventType: 'Updated', triggerReason: 'CablePluggedIn', transactionInfo: { chargingState: 'EVConnected' } });
    expect(es.filter((e) => e.transactionInfo.remoteStartId !== undefined)).toHaveLength(1);
    expect(es.filter((e) => e.idToken !== undefined)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('kill -9 after a transaction began before its session: the restart ends it (PowerLoss) with the next seqNo, the Started never sent again', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const id = 'CP-TXSTART-KILL';
    // No simulated driver arrives within the test, and the authorisation waits longer than it.
    const child = new ChildAgent({ url, chargePointId: id, csms: { ocppVersions: ['ocpp2.0.1'] }, ocpp: { ConnectionTimeOut: 600 }, simulation: { arrivalDelayMs: 0 } });
    cleanups.push(() => child.cleanup());
    child.start();
    await waitFor(() => csms.clients.has(id) && csms.callsOf('StatusNotification', id).length >= 2, 20_000, 'boot');
    expect((await csms.call(id, 'SetVariables', { setVariableData: [{ component: { name: 'TxCtrlr' }, variable: { name: 'TxStartPoint' }, attributeValue: 'Authorized' }] })).setVariableResult[0].attributeStatus).toBe('Accepted');
    expect(await csms.call(id, 'RequestStartTransaction', { remoteStartId: 9, evseId: 1, idToken: { idToken: 'APP-KILL', type: 'Central' } })).toMatchObject({ status: 'Accepted' });
    const txOf = () => csms.callsOf('TransactionEvent', id).map((c) => c.params);
    const started = await waitFor(() => txOf().find((e) => e.eventType === 'Started'), 15_000, 'Started');
    // Its acknowledgement committed (a kill before it would send the Started again, with the same seqNo: at least once).
    await waitFor(() => {
      const db = new Database(child.storePath, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued' AND kind != 'security'`).get() as { n: number }).n === 0;
      } finally {
        db.close();
      }
    }, 15_000, 'the Started acknowledged');
    await child.kill9();
    child.start();
    const ended = await waitFor(() => txOf().find((e) => e.eventType === 'Ended'), 20_000, 'Ended after the restart');
    expect(ended).toMatchObject({ seqNo: 1, transactionInfo: { transactionId: started.transactionInfo.transactionId, stoppedReason: 'PowerLoss', chargingState: 'Idle' } });
    expect(txOf().filter((e) => e.eventType === 'Started')).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });
});
