/**
 * OCPP 2.0.1 Advanced UI, display part (O01-O06), against the strict 2.0.1 TestCsms:
 * SetDisplayMessage and each of its answers, GetDisplayMessages → NotifyDisplayMessages (filters,
 * parts with tbc), ClearDisplayMessage, messages of a transaction removed when it ends, the
 * DisplayMessageCtrlr variables, and the messages kept across a restart of the agent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

type Peer = { csms: TestCsms; url: string };

async function ready(dir?: string, peer?: Peer): Promise<Peer & { t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  if (!peer) {
    const server = new TestCsms({ protocol: 'ocpp2.0.1' });
    server.on('NotifyDisplayMessages', () => ({}));
    peer = { csms: server, url: await server.start() };
    cleanups.push(() => server.stop());
  }
  const { csms, url } = peer;
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] } }, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  const c = csms;
  await waitFor(() => t.agent.link!.state === 'accepted' && c.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, url, t, call: (action, params) => c.call(CP, action, params) };
}

const msg = (id: number, extra: Record<string, unknown> = {}, content = `message ${id}`) => ({ message: { id, priority: 'NormalCycle', message: { format: 'UTF8', content }, ...extra } });
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const getVariable = (call: (a: string, p: unknown) => Promise<any>, variable: string) =>
  call('GetVariables', { getVariableData: [{ component: { name: 'DisplayMessageCtrlr' }, variable: { name: variable } }] }).then((r) => r.getVariableResult[0]);

describe('OCPP 2.0.1 display messages against a strict 2.0.1 central system', () => {
  it('SetDisplayMessage answers Accepted, NotSupportedMessageFormat, UnknownTransaction and Rejected where the spec says; an id is replaced (O01, O02, O06)', async () => {
    const { csms, call, t } = await ready();
    expect(await call('SetDisplayMessage', msg(1))).toEqual({ status: 'Accepted' });
    expect((await call('SetDisplayMessage', { message: { id: 2, priority: 'InFront', message: { format: 'HTML', content: '<b>hi</b>' } } })).status).toBe('NotSupportedMessageFormat');
    expect((await call('SetDisplayMessage', { message: { id: 2, priority: 'InFront', message: { format: 'URI', content: 'https://example.com' } } })).status).toBe('NotSupportedMessageFormat');
    expect(await call('SetDisplayMessage', msg(3, { transactionId: 'no-such-transaction' }))).toEqual({ status: 'UnknownTransaction', statusInfo: { reasonCode: 'TxNotFound', additionalInfo: expect.any(String) } });
    expect((await call('SetDisplayMessage', msg(4, { endDateTime: inMs(-60_000) }))).status).toBe('Rejected');
    expect((await call('SetDisplayMessage', msg(4, { startDateTime: inMs(60_000), endDateTime: inMs(30_000) }))).status).toBe('Rejected');
    // The same id replaces the message.
    expect(await call('SetDisplayMessage', { message: { id: 1, priority: 'AlwaysFront', state: 'Idle', message: { format: 'ASCII', language: 'en', content: 'Replaced' } } })).toEqual({ status: 'Accepted' });
    expect(t.agent.features!.displayMessages!.list().map((m) => [m.id, m.priority, m.message.content])).toEqual([[1, 'AlwaysFront', 'Replaced']]);
    // Full: DisplayMessages' maxLimit new ids are taken, one more is Rejected, a held id still replaced.
    const count = await call('GetVariables', { getVariableData: [{ component: { name: 'DisplayMessageCtrlr' }, variable: { name: 'DisplayMessages' }, attributeType: 'Actual' }] });
    expect(count.getVariableResult[0].attributeValue).toBe('1');
    const report = await call('GetBaseReport', { requestId: 77, reportBase: 'FullInventory' });
    expect(report.status).toBe('Accepted');
    const reported = await waitFor(() => {
      const parts = csms.callsOf('NotifyReport', CP).filter((c) => c.params.requestId === 77);
      return parts.some((p) => !p.params.tbc) ? parts.flatMap((p) => p.params.reportData) : undefined;
    }, 10_000, 'FullInventory');
    const maxLimit = reported.find((r: any) => r.component.name === 'DisplayMessageCtrlr' && r.variable.name === 'DisplayMessages').variableCharacteristics.maxLimit;
    expect(maxLimit).toBeGreaterThan(1);
    for (let id = 100; id < 100 + maxLimit - 1; id++) expect((await call('SetDisplayMessage', msg(id))).status).toBe('Accepted');
    expect((await call('SetDisplayMessage', msg(999))).status).toBe('Rejected');
    expect((await call('SetDisplayMessage', msg(100, {}, 'replaced while full'))).status).toBe('Accepted');
    expect((await getVariable(call, 'DisplayMessages')).attributeValue).toBe(String(maxLimit));
    expect(csms.validationFailures).toEqual([]);
  });

  it('GetDisplayMessages: Unknown when nothing matches, else Accepted and NotifyDisplayMessages by id, priority and state, in parts with tbc (O03, O04); ClearDisplayMessage Accepted then Unknown (O05)', async () => {
    const { csms, call } = await ready();
    expect(await call('GetDisplayMessages', { requestId: 1 })).toEqual({ status: 'Unknown' });
    for (let id = 1; id <= 9; id++) expect((await call('SetDisplayMessage', msg(id, id % 3 === 0 ? { priority: 'InFront', state: 'Charging' } : {}))).status).toBe('Accepted');
    const notified = async (requestId: number, filter: Record<string, unknown>) => {
      expect(await call('GetDisplayMessages', { requestId, ...filter })).toEqual({ status: 'Accepted' });
      return waitFor(() => {
        const parts = csms.callsOf('NotifyDisplayMessages', CP).filter((c) => c.params.requestId === requestId).map((c) => c.params);
        return parts.length && !parts.at(-1).tbc ? parts : undefined;
      }, 10_000, `NotifyDisplayMessages ${requestId}`);
    };
    // All nine: parts, tbc on all but the last, the ids in order.
    const all = await notified(2, {});
    expect(all.length).toBeGreaterThan(1);
    expect(all.slice(0, -1).every((p: any) => p.tbc === true)).toBe(true);
    expect(all.at(-1).tbc).toBeUndefined();
    expect(all.flatMap((p: any) => p.messageInfo.map((m: any) => m.id))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all[0].messageInfo[0]).toEqual({ id: 1, priority: 'NormalCycle', message: { format: 'UTF8', content: 'message 1' } });
    const byPriority = await notified(3, { priority: 'InFront' });
    expect(byPriority.flatMap((p: any) => p.messageInfo.map((m: any) => m.id))).toEqual([3, 6, 9]);
    const byIdAndState = await notified(4, { id: [2, 3, 42], state: 'Charging' });
    expect(byIdAndState.flatMap((p: any) => p.messageInfo.map((m: any) => m.id))).toEqual([3]);
    expect(await call('GetDisplayMessages', { requestId: 5, id: [42] })).toEqual({ status: 'Unknown' });
    expect(await call('GetDisplayMessages', { requestId: 6, id: [1], state: 'Faulted' })).toEqual({ status: 'Unknown' });
    expect(await call('ClearDisplayMessage', { id: 3 })).toEqual({ status: 'Accepted' });
    expect(await call('ClearDisplayMessage', { id: 3 })).toEqual({ status: 'Unknown' });
    const after = await notified(7, { priority: 'InFront' });
    expect(after.flatMap((p: any) => p.messageInfo.map((m: any) => m.id))).toEqual([6, 9]);
    // Enabled false: Set Rejected, Get Unknown.
    const set = await call('SetVariables', { setVariableData: [{ component: { name: 'DisplayMessageCtrlr' }, variable: { name: 'Enabled' }, attributeValue: 'false' }] });
    expect(set.setVariableResult[0].attributeStatus).toBe('Accepted');
    expect((await call('SetDisplayMessage', msg(20))).status).toBe('Rejected');
    expect(await call('GetDisplayMessages', { requestId: 8 })).toEqual({ status: 'Unknown' });
    // No NotifyDisplayMessages for an Unknown answer (any would have come before the later answers).
    expect(csms.callsOf('NotifyDisplayMessages', CP).filter((c) => [1, 5, 6, 8].includes(c.params.requestId))).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('a message for a running transaction is Accepted and removed when the transaction ends; a timed one ends at endDateTime (O01)', async () => {
    const { csms, call, t } = await ready();
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'DRIVER01', type: 'Central' }, evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const transactionId = started.params.transactionInfo.transactionId;
    expect(await call('SetDisplayMessage', msg(5, { transactionId, priority: 'InFront' }, 'Thanks for charging'))).toEqual({ status: 'Accepted' });
    expect(await call('SetDisplayMessage', msg(6, { endDateTime: inMs(1_500) }, 'short'))).toEqual({ status: 'Accepted' });
    const service = t.agent.features!.displayMessages!;
    expect(service.shown({ evseId: 1, state: 'Charging', sessionId: transactionId })?.message.content).toBe('Thanks for charging');
    expect(service.shown({ evseId: 2, state: 'Idle' })?.message.content).toBe('short');
    await waitFor(() => service.list().every((m) => m.id !== 6), 10_000, 'the timed message ends');
    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('TransactionEvent', CP).some((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    await waitFor(() => service.list().length === 0, 10_000, 'the transaction message removed');
    expect((await call('SetDisplayMessage', msg(7, { transactionId }))).status).toBe('UnknownTransaction');
    expect(csms.validationFailures).toEqual([]);
  });

  it('messages survive a restart of the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-dm-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await ready(dir);
    expect(await first.call('SetDisplayMessage', { message: { id: 11, priority: 'AlwaysFront', state: 'Idle', endDateTime: inMs(3_600_000), message: { format: 'UTF8', language: 'de', content: 'Wartung ab 18 Uhr' } } })).toEqual({ status: 'Accepted' });
    await first.t.agent.stop();
    const again = await ready(dir, first);
    expect(await again.call('GetDisplayMessages', { requestId: 9 })).toEqual({ status: 'Accepted' });
    const part = await waitFor(() => first.csms.callsOf('NotifyDisplayMessages', CP).find((c) => c.params.requestId === 9), 10_000, 'NotifyDisplayMessages after restart');
    expect(part.params.messageInfo).toEqual([expect.objectContaining({ id: 11, priority: 'AlwaysFront', state: 'Idle', message: { format: 'UTF8', language: 'de', content: 'Wartung ab 18 Uhr' } })]);
    expect(first.csms.validationFailures).toEqual([]);
  });
});
