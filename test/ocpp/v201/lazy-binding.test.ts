import { afterEach, describe, expect, it } from 'vitest';
import { loadedOcppVersion } from '../../../src/ocpp/versions.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

// Its own file: vitest gives each file a fresh module graph, so nothing here has loaded the
// 2.0.1 binding before the agent does.
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('the 2.0.1 binding is loaded when the central system selects it', () => {
  it('an agent offering ocpp1.6 first and ocpp2.0.1 starts without it; a 2.0.1 central system selects 2.0.1: loaded, booted, statuses sent and calls answered', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    // Not started yet: the agent's composition needs 1.6 only (the preferred version).
    const t: TestAgent = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp1.6', 'ocpp2.0.1'] } }, { start: false });
    cleanups.push(() => t.cleanup());
    expect(loadedOcppVersion('ocpp2.0.1')).toBeUndefined();
    await t.agent.start();
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted on 2.0.1');
    expect(loadedOcppVersion('ocpp2.0.1')).toBeDefined();
    expect(t.agent.connection!.protocol).toBe('ocpp2.0.1');
    expect(csms.callsOf('BootNotification', CP)[0]!.params).toMatchObject({ reason: 'PowerUp' });
    await waitFor(() => csms.callsOf('StatusNotification', CP).length >= 2, 5_000, 'statuses');
    expect(csms.callsOf('StatusNotification', CP).map((c) => c.params)).toEqual(expect.arrayContaining([
      expect.objectContaining({ evseId: 1, connectorId: 1, connectorStatus: 'Available' }),
      expect.objectContaining({ evseId: 2, connectorId: 1, connectorStatus: 'Available' }),
    ]));
    // The 2.0.1 incoming table answers (registered by the link created after the load).
    const get = await csms.call(CP, 'GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] });
    expect(get.getVariableResult).toEqual([expect.objectContaining({ attributeStatus: 'Accepted', attributeValue: '300' })]);
    expect(csms.validationFailures).toEqual([]);
  });
});
