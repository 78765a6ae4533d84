import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

/**
 * TransactionEvent triggerReason and chargingState for the sequences a 2.0.1 station runs (E02
 * cable first, E03 authorisation first, E10 EV-side disconnect), against the strict 2.0.1 server.
 * chargingState goes in Started and Ended, and in an Updated only when it changed.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function ready(ocpp: Record<string, unknown> = {}, simulation: Record<string, unknown> = {}): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, {
    csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
    ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp }, simulation,
  });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, t };
}

const present = (t: TestAgent, id: string) => t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
const events = (csms: TestCsms): any[] => csms.callsOf('TransactionEvent', CP).map((c: RecordedCall) => c.params);
const ended = (csms: TestCsms) => events(csms).find((e) => e.eventType === 'Ended');

/** Each event's trigger and, when it carries one, its chargingState. */
const summary = (es: any[]) => es.map((e) => `${e.eventType}:${e.triggerReason}${e.transactionInfo.chargingState ? `:${e.transactionInfo.chargingState}` : ''}`);

function expectContiguous(es: any[]): void {
  expect(es.map((e) => e.seqNo)).toEqual(es.map((_e, i) => i));
  expect(new Set(es.map((e) => e.transactionInfo.transactionId)).size).toBe(1);
}

describe('OCPP 2.0.1 TransactionEvent triggerReason and chargingState', () => {
  it('authorisation first (E03): Started by CablePluggedIn in EVConnected, ChargingStateChanged to Charging, periodic values without chargingState, Ended StopAuthorized', async () => {
    const { csms, t } = await ready();
    present(t, 'CARD-AUTH-FIRST');
    await waitFor(() => events(csms).filter((e) => e.triggerReason === 'MeterValuePeriodic').length >= 2, 15_000, 'periodic values');
    present(t, 'CARD-AUTH-FIRST');
    await waitFor(() => ended(csms) && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');
    const es = events(csms);
    expectContiguous(es);
    expect(es[0]).toMatchObject({ eventType: 'Started', triggerReason: 'CablePluggedIn', transactionInfo: { chargingState: 'EVConnected' }, evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'CARD-AUTH-FIRST' } });
    // Exactly one change, to Charging, before any periodic value; every other Updated is periodic and carries no chargingState.
    const updated = es.filter((e) => e.eventType === 'Updated');
    expect(summary(updated)[0]).toBe('Updated:ChargingStateChanged:Charging');
    expect(summary(updated.slice(1)).every((s) => s === 'Updated:MeterValuePeriodic')).toBe(true);
    expect(summary([es.at(-1)])).toEqual(['Ended:StopAuthorized:EVConnected']);
    expect(es.at(-1).transactionInfo).not.toHaveProperty('stoppedReason');
    expect(csms.validationFailures).toEqual([]);
  });

  it('cable first (E02): Started by Authorized; the EV full mid-session is ChargingStateChanged to SuspendedEV; EV-side disconnect ends with EVCommunicationLost / EVDisconnected in Idle (E10)', async () => {
    const { csms, t } = await ready({ StopTransactionOnEVSideDisconnect: true }, { departureDelayMs: 0 });
    // A vehicle half a percent from its target: full a few seconds into the session.
    t.agent.sim.connectors.get(1)!.plug({ batteryWh: 1_000, maxPowerW: 7_000, socPct: 50, targetSocPct: 50.5 });
    await waitFor(() => csms.callsOf('StatusNotification', CP).some((c) => c.params.evseId === 1 && c.params.connectorStatus === 'Occupied'), 10_000, 'Occupied');
    present(t, 'CARD-CABLE-FIRST');
    await waitFor(() => events(csms).some((e) => e.transactionInfo.chargingState === 'SuspendedEV'), 20_000, 'the EV full');
    t.agent.sim.connectors.get(1)!.unplug();
    await waitFor(() => ended(csms) && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');
    const es = events(csms);
    expectContiguous(es);
    expect(es[0]).toMatchObject({ eventType: 'Started', triggerReason: 'Authorized', transactionInfo: { chargingState: 'EVConnected' }, idToken: { idToken: 'CARD-CABLE-FIRST' } });
    const changes = es.filter((e) => e.transactionInfo.chargingState !== undefined).map((e) => `${e.triggerReason}:${e.transactionInfo.chargingState}`);
    expect(changes).toEqual(['Authorized:EVConnected', 'ChargingStateChanged:Charging', 'ChargingStateChanged:SuspendedEV', 'EVCommunicationLost:Idle']);
    expect(es.at(-1)).toMatchObject({ eventType: 'Ended', triggerReason: 'EVCommunicationLost', transactionInfo: { stoppedReason: 'EVDisconnected', chargingState: 'Idle' } });
    expect(es.filter((e) => e.idToken !== undefined)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('a remote start: Started by RemoteStart with the remoteStartId; a remote stop ends with RemoteStop / Remote (F01, F03)', async () => {
    const { csms } = await ready();
    expect(await csms.call(CP, 'RequestStartTransaction', { idToken: { idToken: 'APP-1', type: 'Central' }, evseId: 1, remoteStartId: 17 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => events(csms).find((e) => e.eventType === 'Started'), 10_000, 'Started');
    expect(started).toMatchObject({ triggerReason: 'RemoteStart', transactionInfo: { remoteStartId: 17, chargingState: 'EVConnected' } });
    await waitFor(() => events(csms).some((e) => e.triggerReason === 'ChargingStateChanged'), 10_000, 'Charging');
    expect(await csms.call(CP, 'RequestStopTransaction', { transactionId: started.transactionInfo.transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => ended(csms), 10_000, 'Ended');
    expect(ended(csms)).toMatchObject({ triggerReason: 'RemoteStop', transactionInfo: { stoppedReason: 'Remote', chargingState: 'EVConnected' } });
    expectContiguous(events(csms));
    expect(events(csms).filter((e) => e.transactionInfo.remoteStartId !== undefined)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TriggerMessage TransactionEvent: Accepted for a running transaction, then an Updated with triggerReason Trigger and the next seqNo; Rejected on an EVSE without one (F06)', async () => {
    // No periodic samples: every Updated after the start is one this test caused.
    const { csms, t } = await ready({ MeterValueSampleInterval: 0 });
    present(t, 'CARD-TRIGGER');
    await waitFor(() => events(csms).some((e) => e.triggerReason === 'ChargingStateChanged') && t.agent.outbox!.summary().depth === 0, 10_000, 'Started and Charging');
    const before = events(csms).length;
    expect(await csms.call(CP, 'TriggerMessage', { requestedMessage: 'TransactionEvent', evse: { id: 2 } })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'TriggerMessage', { requestedMessage: 'TransactionEvent', evse: { id: 1 } })).toEqual({ status: 'Accepted' });
    const triggered = await waitFor(() => events(csms).find((e) => e.triggerReason === 'Trigger'), 10_000, 'the triggered Updated');
    expect(triggered).toMatchObject({ eventType: 'Updated', seqNo: before, transactionInfo: { transactionId: events(csms)[0].transactionInfo.transactionId } });
    expect(triggered.transactionInfo).not.toHaveProperty('chargingState');
    expect(triggered.meterValue[0].sampledValue.length).toBeGreaterThan(0);
    expect(triggered.meterValue[0].sampledValue.every((v: any) => v.context === 'Trigger')).toBe(true);
    // Without an evse: every EVSE with a transaction (one here).
    expect(await csms.call(CP, 'TriggerMessage', { requestedMessage: 'TransactionEvent' })).toEqual({ status: 'Accepted' });
    await waitFor(() => events(csms).filter((e) => e.triggerReason === 'Trigger').length === 2, 10_000, 'the second triggered Updated');
    present(t, 'CARD-TRIGGER');
    await waitFor(() => ended(csms) && t.agent.outbox!.summary().depth === 0, 10_000, 'Ended');
    expectContiguous(events(csms));
    expect(events(csms).filter((e) => e.triggerReason === 'Trigger')).toHaveLength(2);
    expect(csms.validationFailures).toEqual([]);
    expect(csms.maxOutstanding.get(CP)).toBe(1);
  });

  it('the central system refuses the token in its answer to Started, StopTxOnInvalidId true: Ended with triggerReason Deauthorized, stoppedReason DeAuthorized (E05)', async () => {
    const { csms, t } = await ready({ StopTransactionOnInvalidId: true });
    csms.on('Authorize', () => ({ idTokenInfo: { status: 'Accepted' } }));
    csms.on('TransactionEvent', (p: any) => (p.idToken ? { idTokenInfo: { status: 'Blocked' } } : {}));
    present(t, 'CARD-BLOCKED-LATE');
    const end = await waitFor(() => ended(csms), 10_000, 'Ended');
    expect(end).toMatchObject({ triggerReason: 'Deauthorized', transactionInfo: { stoppedReason: 'DeAuthorized' } });
    expectContiguous(events(csms));
    expect(csms.validationFailures).toEqual([]);
  });
});

