import { afterEach, describe, expect, it } from 'vitest';
import { loadedOcppVersion } from '../../../src/ocpp/versions.js';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

// Its own file: vitest gives each file a fresh module graph, so the 2.0.1 binding is not loaded
// when the agent is composed (as in a process that offers 1.6 first).
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('an agent offering ocpp1.6 first and ocpp2.0.1', () => {
  it('answers a 2.0.1 call the central system sends the moment the connection opens, before any BootNotification', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    // The central system's first word: a GetVariables as soon as the station is connected.
    let answer: Promise<{ ok: unknown } | { err: unknown }> | undefined;
    (csms as unknown as { server: { on(e: 'client', f: (c: { identity: string; call(a: string, p: unknown): Promise<unknown> }) => void): void } }).server
      .on('client', (client) => {
        answer = client.call('GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] })
          .then((ok) => ({ ok }), (err: unknown) => ({ err }));
      });
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp1.6', 'ocpp2.0.1'] } }, { start: false });
    cleanups.push(() => t.cleanup());
    expect(loadedOcppVersion('ocpp2.0.1')).toBeUndefined();
    await t.agent.start();
    await waitFor(() => answer !== undefined, 10_000, 'the station connected');
    const result = await answer!;
    expect(result).toEqual({ ok: { getVariableResult: [expect.objectContaining({ attributeStatus: 'Accepted', attributeValue: '300' })] } });
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted on 2.0.1');
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });
});
