import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { FaultProxy } from '../../helpers/fault-proxy.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * OfflineThreshold (OCPPCommCtrlr, B04): after an outage longer than it, a StatusNotification of
 * every connector on reconnect; after a shorter one, only of those whose status changed.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function behindProxy(): Promise<{ csms: TestCsms; proxy: FaultProxy; t: TestAgent }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  await csms.start();
  cleanups.push(() => csms.stop());
  const proxy = await new FaultProxy({ host: '127.0.0.1', port: csms.port }).start();
  cleanups.push(() => proxy.stop());
  const url = proxy.url();
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { HeartbeatInterval: 300, WebSocketPingInterval: 1 } });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, proxy, t };
}

async function setOfflineThreshold(csms: TestCsms, seconds: number): Promise<void> {
  const res = await csms.call(CP, 'SetVariables', { setVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'OfflineThreshold' }, attributeValue: String(seconds) }] });
  expect(res.setVariableResult[0].attributeStatus).toBe('Accepted');
}

/** An outage: partition, wait until the agent noticed it and `minMs` more, change EVSE 2 meanwhile, heal, wait for Accepted again. */
async function outage(csms: TestCsms, proxy: FaultProxy, t: TestAgent, minMs: number): Promise<number> {
  const before = csms.callsOf('StatusNotification', CP).length;
  proxy.blackhole();
  await waitFor(() => t.agent.link!.state === 'offline', 15_000, 'the outage noticed');
  // The station measures its outage from when it noticed it.
  const from = Date.now();
  // A vehicle plugged into EVSE 2 while offline: Occupied, not sent.
  t.agent.sim.connectors.get(2)!.plug();
  while (Date.now() - from < minMs) await new Promise((r) => setTimeout(r, 50));
  expect(csms.callsOf('StatusNotification', CP)).toHaveLength(before);
  proxy.pass();
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.clients.has(CP), 15_000, 'reconnected');
  return before;
}

/** The StatusNotifications after index `from`, once a Heartbeat sent after them has arrived (calls go one at a time, in order). */
async function statusesSince(csms: TestCsms, from: number): Promise<{ evseId: number; connectorStatus: string }[]> {
  await waitFor(() => csms.callsOf('StatusNotification', CP).slice(from).some((c) => c.params.evseId === 2), 10_000, 'EVSE 2 announced');
  const beats = csms.callsOf('Heartbeat', CP).length;
  expect(await csms.call(CP, 'TriggerMessage', { requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
  await waitFor(() => csms.callsOf('Heartbeat', CP).length > beats, 10_000, 'the Heartbeat after them');
  return csms.callsOf('StatusNotification', CP).slice(from).map((c) => ({ evseId: c.params.evseId, connectorStatus: c.params.connectorStatus }));
}

describe('OCPP 2.0.1 OfflineThreshold (B04)', () => {
  it('an outage shorter than OfflineThreshold: on reconnect only the connector whose status changed', async () => {
    const { csms, proxy, t } = await behindProxy();
    await setOfflineThreshold(csms, 3_600);
    const before = await outage(csms, proxy, t, 0);
    expect(await statusesSince(csms, before)).toEqual([{ evseId: 2, connectorStatus: 'Occupied' }]);
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  it('an outage longer than OfflineThreshold: on reconnect every connector, changed or not', async () => {
    const { csms, proxy, t } = await behindProxy();
    await setOfflineThreshold(csms, 1);
    const before = await outage(csms, proxy, t, 2_000);
    const after = await statusesSince(csms, before);
    expect(after).toHaveLength(2);
    expect(after).toEqual(expect.arrayContaining([{ evseId: 1, connectorStatus: 'Available' }, { evseId: 2, connectorStatus: 'Occupied' }]));
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });
});
