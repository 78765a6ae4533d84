import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * TxStartPoint / TxStopPoint (TxCtrlr) against the strict 2.0.1 server: only the points the
 * station honours are accepted; TxStopPoint without EVConnected keeps the transaction running
 * through an EV-side disconnect; the setting survives a restart.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const config = (url: string) => ({
  csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
  ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, StopTransactionOnEVSideDisconnect: true },
  simulation: { departureDelayMs: 0 },
});

async function booted(csms: TestCsms, t: TestAgent): Promise<void> {
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.clients.has(CP), 10_000, 'Accepted');
}

const setTx = async (csms: TestCsms, name: string, value: string): Promise<string> =>
  (await csms.call(CP, 'SetVariables', { setVariableData: [{ component: { name: 'TxCtrlr' }, variable: { name }, attributeValue: value }] })).setVariableResult[0].attributeStatus;
const getTx = async (csms: TestCsms, name: string): Promise<string> =>
  (await csms.call(CP, 'GetVariables', { getVariableData: [{ component: { name: 'TxCtrlr' }, variable: { name } }] })).getVariableResult[0].attributeValue;
const events = (csms: TestCsms): any[] => csms.callsOf('TransactionEvent', CP).map((c) => c.params);

describe('OCPP 2.0.1 TxStartPoint and TxStopPoint', () => {
  it('accepts only the points honoured; TxStopPoint Authorized: an EV-side disconnect does not end the transaction, the card does; persisted across a restart', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, config(url));
    cleanups.push(() => t.cleanup());
    await booted(csms, t);

    expect(await setTx(csms, 'TxStartPoint', 'DataSigned')).toBe('Rejected');
    expect(await setTx(csms, 'TxStartPoint', 'EnergyTransfer')).toBe('Rejected');
    expect(await setTx(csms, 'TxStartPoint', 'PowerPathClosed')).toBe('Accepted');
    expect(await setTx(csms, 'TxStopPoint', 'EnergyTransfer')).toBe('Rejected');
    expect(await setTx(csms, 'TxStopPoint', 'Authorized')).toBe('Accepted');
    expect(await getTx(csms, 'TxStopPoint')).toBe('Authorized');

    // Cable first, then the card: the transaction runs; the cable pulled at the car does not end it.
    const sim = t.agent.sim.connectors.get(1)!;
    sim.plug();
    t.agent.sim.reader.present({ token: { id: 'CARD-STOP-POINT', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => events(csms).some((e) => e.eventType === 'Started'), 10_000, 'Started');
    const localId = t.agent.chargePoint!.session(1)!.localId;
    sim.unplug();
    // Two periodic values after the disconnect prove the transaction went on (MeterValueSampleInterval 1 s).
    const n = events(csms).length;
    await waitFor(() => events(csms).slice(n).filter((e) => e.triggerReason === 'MeterValuePeriodic').length >= 2, 10_000, 'values after the disconnect');
    expect(events(csms).some((e) => e.eventType === 'Ended')).toBe(false);
    expect(t.agent.chargePoint!.session(1)?.localId).toBe(localId);
    t.agent.sim.reader.present({ token: { id: 'CARD-STOP-POINT', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const ended = await waitFor(() => events(csms).find((e) => e.eventType === 'Ended'), 10_000, 'Ended by the card');
    expect(ended.triggerReason).toBe('StopAuthorized');
    await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'queue empty');
    await t.agent.stop();

    // The same store after a restart: still Authorized, and still honoured.
    const again = await startAgent(url, config(url), { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await booted(csms, again);
    expect(await getTx(csms, 'TxStopPoint')).toBe('Authorized');
    expect(await getTx(csms, 'TxStartPoint')).toBe('PowerPathClosed');
    const before = events(csms).length;
    const sim2 = again.agent.sim.connectors.get(1)!;
    sim2.plug();
    again.agent.sim.reader.present({ token: { id: 'CARD-AFTER-RESTART', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => events(csms).slice(before).some((e) => e.eventType === 'Started'), 10_000, 'Started after the restart');
    sim2.unplug();
    const m = events(csms).length;
    await waitFor(() => events(csms).slice(m).filter((e) => e.triggerReason === 'MeterValuePeriodic').length >= 2, 10_000, 'values after the second disconnect');
    expect(events(csms).slice(before).some((e) => e.eventType === 'Ended')).toBe(false);

    // Back to the default: the disconnect ends the transaction (EVCommunicationLost / EVDisconnected).
    expect(await setTx(csms, 'TxStopPoint', 'EVConnected,Authorized')).toBe('Accepted');
    sim2.plug();
    await waitFor(() => again.agent.chargePoint!.evseCondition(1).chargingState === 'Charging', 10_000, 'charging again');
    sim2.unplug();
    const last = await waitFor(() => events(csms).slice(before).find((e) => e.eventType === 'Ended'), 10_000, 'Ended by the disconnect');
    expect(last).toMatchObject({ triggerReason: 'EVCommunicationLost', transactionInfo: { stoppedReason: 'EVDisconnected' } });
    expect(csms.validationFailures).toEqual([]);
  });
});
