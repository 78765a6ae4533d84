/**
 * What the central system says reaches the touchscreen: display messages (O01-O06) and the cost
 * and personal messages of a transaction (Authorize's personalMessage, TransactionEvent's
 * totalCost and updatedPersonalMessage, CostUpdated), shown on a real JSON-lines screen driver over
 * a socat pty, against the strict 2.0.1 TestCsms; the Ended event's totalCost becomes the
 * session record's cost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SessionRecords } from '../../../src/store/index.js';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { startPtyPair, writeAll } from '../../helpers/pty.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

type Line = Record<string, any>;

/** A strict 2.0.1 server, a JSON-lines screen on a pty, and an agent on 2.0.1 with that screen. */
async function ready(csms: TestCsms, touchscreen: Record<string, unknown> = {}) {
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const screen = await startPtyPair();
  cleanups.push(() => screen.cleanup());
  const device = await screen.openDevice();
  const lines: Line[] = [];
  let pending = '';
  device.on('data', (c: Buffer) => {
    pending += c.toString('utf8');
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      lines.push(JSON.parse(pending.slice(0, i)));
      pending = pending.slice(i + 1);
    }
  });
  const t = await startAgent(url, {
    csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
    touchscreen: { driver: 'json-lines', port: screen.host, ...touchscreen },
  });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  await waitFor(() => lines.some((l) => l.type === 'hello'), 10_000, 'the screen greeted');
  /** The last message line for a connector. */
  const message = (connectorId: number) => lines.filter((l) => l.type === 'message' && l.connectorId === connectorId).at(-1);
  const connector = (connectorId: number) => lines.filter((l) => l.type === 'connector' && l.connectorId === connectorId).at(-1);
  return { t, device, lines, message, connector, call: (action: string, params: unknown) => csms.call(CP, action, params) as Promise<any> };
}

describe('the central system\'s messages on the touchscreen (OCPP 2.0.1)', () => {
  it('display messages: the one in front on each connector by priority and state, cleared back to the next, nothing when none (O01, O05)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const { message, call } = await ready(csms);
    expect(await call('SetDisplayMessage', { message: { id: 1, priority: 'NormalCycle', message: { format: 'UTF8', content: 'Willkommen – 0,39 €/kWh', language: 'de' } } })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Willkommen – 0,39 €/kWh' && message(2)?.text === 'Willkommen – 0,39 €/kWh', 10_000, 'NormalCycle on both connectors');
    expect(message(1)).toEqual({ type: 'message', connectorId: 1, text: 'Willkommen – 0,39 €/kWh', priority: 'NormalCycle', language: 'de' });
    // AlwaysFront for the Idle state wins over it; one for Charging does not apply to idle connectors.
    expect(await call('SetDisplayMessage', { message: { id: 2, priority: 'AlwaysFront', state: 'Charging', message: { format: 'ASCII', content: 'Do not unplug' } } })).toEqual({ status: 'Accepted' });
    expect(await call('SetDisplayMessage', { message: { id: 3, priority: 'AlwaysFront', state: 'Idle', message: { format: 'ASCII', content: 'Maintenance at 18:00' } } })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Maintenance at 18:00' && message(2)?.text === 'Maintenance at 18:00', 10_000, 'AlwaysFront Idle in front');
    // A charging connector shows the Charging one.
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'DRIVER01', type: 'Central' }, evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Do not unplug', 10_000, 'the Charging message on connector 1');
    expect(message(2)?.text).toBe('Maintenance at 18:00');
    expect(await call('ClearDisplayMessage', { id: 3 })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(2)?.text === 'Willkommen – 0,39 €/kWh', 10_000, 'back to the NormalCycle one');
    expect(await call('ClearDisplayMessage', { id: 1 })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(2) && message(2)!.text === undefined, 10_000, 'the message area emptied');
    expect(message(2)).toEqual({ type: 'message', connectorId: 2 });
    expect(message(1)?.text).toBe('Do not unplug');
    expect(csms.validationFailures).toEqual([]);
  });

  it('cost and personal messages: Authorize\'s personalMessage, TransactionEvent totalCost and updatedPersonalMessage, CostUpdated on the screen; the Ended totalCost is the session\'s cost (C01, I02-I04)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    csms.on('Authorize', (p) => ({ idTokenInfo: { status: 'Accepted', personalMessage: { format: 'UTF8', content: `Hallo ${p.idToken.idToken}!` } } }));
    let updates = 0;
    csms.on('TransactionEvent', (p) => {
      if (p.eventType === 'Started') return { idTokenInfo: { status: 'Accepted' }, totalCost: 0 };
      if (p.eventType === 'Ended') return { totalCost: 7.89 };
      updates++;
      return updates === 1 ? { totalCost: 1.25, updatedPersonalMessage: { format: 'ASCII', content: 'Charging at 0.39/kWh' } } : {};
    });
    const { t, device, message, connector, call } = await ready(csms);
    await writeAll(device, '{"type":"code","code":"4711","connectorId":1}\n');
    await waitFor(() => message(1)?.text === 'Hallo 4711!', 10_000, 'the personal message from Authorize');
    // The code started a transaction on EVSE 1 (the simulated vehicle plugs in).
    const started = await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    const transactionId = started.params.transactionInfo.transactionId;
    await waitFor(() => message(1)?.text === 'Charging at 0.39/kWh', 15_000, 'the updated personal message');
    await waitFor(() => connector(1)?.cost === 1.25, 10_000, 'the cost from the Updated answer');
    expect(await call('CostUpdated', { transactionId, totalCost: 4.5 })).toEqual({});
    await waitFor(() => connector(1)?.cost === 4.5, 10_000, 'the cost from CostUpdated');
    // CostUpdated for a transaction not running here: answered, nothing shown.
    expect(await call('CostUpdated', { transactionId: 'not-here', totalCost: 99 })).toEqual({});
    expect(connector(2)?.cost).toBeUndefined();
    expect(await call('RequestStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('TransactionEvent', CP).some((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    const records = new SessionRecords(t.agent.db!);
    const row = await waitFor(() => {
      const r = records.get(transactionId);
      return r?.cost === '7.89' ? r : undefined;
    }, 10_000, 'the final cost kept with the session');
    expect(row).toMatchObject({ cost: '7.89', transactionId });
    expect(csms.validationFailures).toEqual([]);
  });

  it('an HMI that renders HTML takes HTML messages (format on its line) and refuses what it does not list; SupportedFormats says which (O01)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const { message, call } = await ready(csms, { messageFormats: ['UTF8', 'HTML'] });
    const formats = await call('GetVariables', { getVariableData: [{ component: { name: 'DisplayMessageCtrlr' }, variable: { name: 'SupportedFormats' } }] });
    expect(formats.getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'UTF8,HTML' });
    expect(await call('SetDisplayMessage', { message: { id: 1, priority: 'InFront', message: { format: 'HTML', content: '<b>Free</b> parking' } } })).toEqual({ status: 'Accepted' });
    expect((await call('SetDisplayMessage', { message: { id: 2, priority: 'InFront', message: { format: 'ASCII', content: 'plain' } } })).status).toBe('NotSupportedMessageFormat');
    await waitFor(() => message(1)?.text === '<b>Free</b> parking', 10_000, 'the HTML message');
    expect(message(1)).toEqual({ type: 'message', connectorId: 1, text: '<b>Free</b> parking', priority: 'InFront', format: 'HTML' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('a Nextion screen from the agent config: its message field and currency; the display message and the central system\'s cost reach it (O01, I04)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const screen = await startPtyPair();
    cleanups.push(() => screen.cleanup());
    const device = await screen.openDevice();
    const instructions: string[] = [];
    let pending = Buffer.alloc(0);
    const end = Buffer.from('ffffff', 'hex');
    device.on('data', (c: Buffer) => {
      pending = Buffer.concat([pending, c]);
      for (let i = pending.indexOf(end); i >= 0; i = pending.indexOf(end)) {
        instructions.push(pending.subarray(0, i).toString('latin1'));
        pending = pending.subarray(i + 3);
      }
    });
    const t = await startAgent(url, {
      csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] },
      touchscreen: { driver: 'nextion', port: screen.host, currency: 'EUR', fields: { message: 'main.m{id}.txt' } },
    });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
    const call = (action: string, params: unknown) => csms.call(CP, action, params) as Promise<any>;
    expect(await call('SetDisplayMessage', { message: { id: 7, priority: 'InFront', message: { format: 'UTF8', content: 'Grüße, "Gast"' } } })).toEqual({ status: 'Accepted' });
    await waitFor(() => instructions.includes('main.m1.txt="Grüße, \\"Gast\\""') && instructions.includes('main.m2.txt="Grüße, \\"Gast\\""'), 10_000, 'the message on both connectors');
    expect(await call('RequestStartTransaction', { idToken: { idToken: 'DRIVER01', type: 'Central' }, evseId: 2, remoteStartId: 3 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => csms.callsOf('TransactionEvent', CP).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(await call('CostUpdated', { transactionId: started.params.transactionInfo.transactionId, totalCost: 2.4 })).toEqual({});
    await waitFor(() => instructions.includes('c2cost.txt="2.40 EUR"'), 10_000, 'the cost on connector 2');
    expect(await call('ClearDisplayMessage', { id: 7 })).toEqual({ status: 'Accepted' });
    await waitFor(() => instructions.includes('main.m1.txt=""'), 10_000, 'the message area emptied');
    expect(instructions.some((i) => i.startsWith('c1msg.txt'))).toBe(false);
    expect(csms.validationFailures).toEqual([]);
  });
});
