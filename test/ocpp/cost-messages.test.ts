/**
 * OCPP 1.6 display and cost messages, the OCA's "OCPP & California Pricing Requirements"
 * customization (DataTransfer org.openchargealliance.costmsg: SetUserPrice, RunningCost,
 * FinalCost, and its configuration keys), against the strict 1.6 TestCsms: what each message
 * answers, what reaches the touchscreen (JSON lines and Nextion over socat ptys), and FinalCost's
 * cost on the session record and in `sessions export`.
 */
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, writeExport } from '../../src/app/sessions.js';
import { SessionRecords } from '../../src/store/index.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { startPtyPair, writeAll } from '../helpers/pty.js';

const CP = 'CP-TEST-1';
const VENDOR = 'org.openchargealliance.costmsg';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

type Line = Record<string, any>;
type Call = (action: string, params: unknown) => Promise<any>;

async function agentOn(csms: TestCsms, overrides: Record<string, unknown> = {}): Promise<{ t: TestAgent; call: Call }> {
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 }, ...overrides });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 3, 10_000, 'boot and statuses');
  return { t, call: (action, params) => csms.call(CP, action, params) };
}

const costMessage = (call: Call, messageId: string, data: unknown) =>
  call('DataTransfer', { vendorId: VENDOR, messageId, ...(data === undefined ? {} : { data: typeof data === 'string' ? data : JSON.stringify(data) }) });

/** Remote start on a connector; its 1.6 transactionId once StartTransaction.conf gave it. */
async function startSession(t: TestAgent, call: Call, connectorId: number, idTag: string): Promise<{ transactionId: number; localId: string }> {
  expect(await call('RemoteStartTransaction', { connectorId, idTag })).toEqual({ status: 'Accepted' });
  const localId = await waitFor(() => t.agent.chargePoint!.session(connectorId)?.localId, 10_000, 'session');
  const transactionId = await waitFor(() => t.agent.runtime!.link.transactionIdOf(localId), 10_000, 'transactionId') as number;
  return { transactionId, localId };
}

const runningCost = (transactionId: number, cost: number, extra: Record<string, unknown> = {}) => ({
  transactionId, timestamp: new Date().toISOString(), meterValue: 1234, cost, state: 'Charging',
  chargingPrice: { kWhPrice: 0.39, hourPrice: 0, flatFee: 0.5 }, ...extra,
});

describe('OCPP 1.6 California Pricing: configuration keys', () => {
  it('are reported with their access, and changed by their rules (DefaultPrice, DefaultPriceText[,language], Language, TimeOffset and its transition)', async () => {
    const csms = new TestCsms();
    const { t, call } = await agentOn(csms);
    const keys = ['CustomDisplayCostAndPrice', 'DefaultPrice', 'DefaultPriceText', 'TimeOffset', 'NextTimeOffsetTransitionDateTime', 'TimeOffsetNextTransition', 'CustomIdleFeeAfterStop', 'SupportedLanguages', 'CustomMultiLanguageMessages', 'Language'];
    const got = await call('GetConfiguration', { key: keys });
    expect(got.unknownKey).toBeUndefined();
    const byKey = Object.fromEntries(got.configurationKey.map((k: { key: string; readonly: boolean; value: string }) => [k.key, [k.readonly, k.value]]));
    expect(byKey).toEqual({
      CustomDisplayCostAndPrice: [false, 'true'], DefaultPrice: [false, ''], DefaultPriceText: [false, ''], TimeOffset: [false, '+00:00'],
      NextTimeOffsetTransitionDateTime: [false, ''], TimeOffsetNextTransition: [false, ''], CustomIdleFeeAfterStop: [true, 'false'],
      SupportedLanguages: [true, 'en,de,fr,es,nl'], CustomMultiLanguageMessages: [true, 'true'], Language: [false, 'en'],
    });
    const change = (key: string, value: string) => call('ChangeConfiguration', { key, value }).then((r) => r.status);
    // DefaultPrice: a JSON object with a priceText.
    const price = JSON.stringify({ priceText: '0.39 EUR/kWh, 0.50 EUR per session', priceTextOffline: '0.39 EUR/kWh', chargingPrice: { kWhPrice: 0.39, flatFee: 0.5 } });
    expect(await change('DefaultPrice', price)).toBe('Accepted');
    expect(await change('DefaultPrice', '{"priceTextOffline":"no priceText"}')).toBe('Rejected');
    expect(await change('DefaultPrice', 'not json')).toBe('Rejected');
    expect(await change('DefaultPrice', '{"priceText":"x","chargingPrice":{"kWhPrice":"cheap"}}')).toBe('Rejected');
    // One language's default price text goes into DefaultPriceText; an unsupported language is not a key here.
    expect(await change('DefaultPriceText,nl', '{"priceText":"0,39 EUR/kWh","priceTextOffline":"offline: 0,39 EUR/kWh"}')).toBe('Accepted');
    expect(await change('DefaultPriceText,de', '{"priceText":"0,39 EUR/kWh (de)"}')).toBe('Accepted');
    expect(await change('DefaultPriceText,nl', '{"priceText":"0,40 EUR/kWh"}')).toBe('Accepted');
    expect(await change('DefaultPriceText,xx', '{"priceText":"?"}')).toBe('NotSupported');
    expect(await change('DefaultPriceText,de', '{"language":"de"}')).toBe('Rejected');
    const texts = await call('GetConfiguration', { key: ['DefaultPriceText', 'DefaultPriceText,nl', 'DefaultPriceText,fr', 'DefaultPrice'] });
    expect(texts.unknownKey).toEqual(['DefaultPriceText,fr']);
    const value = (k: string) => texts.configurationKey.find((x: { key: string }) => x.key === k)?.value;
    expect(JSON.parse(value('DefaultPriceText'))).toEqual({ priceTexts: [{ priceText: '0,39 EUR/kWh (de)', language: 'de' }, { priceText: '0,40 EUR/kWh', language: 'nl' }] });
    expect(JSON.parse(value('DefaultPriceText,nl'))).toEqual({ priceText: '0,40 EUR/kWh' });
    expect(value('DefaultPrice')).toBe(price);
    expect(await change('DefaultPriceText', '{"priceTexts":[{"priceText":"x","language":"xx"}]}')).toBe('Rejected');
    // Language: one of SupportedLanguages. Read-only keys are Rejected.
    expect(await change('Language', 'de')).toBe('Accepted');
    expect(await change('Language', 'xx')).toBe('Rejected');
    expect(await change('SupportedLanguages', 'en,xx')).toBe('Rejected');
    expect(await change('CustomIdleFeeAfterStop', 'true')).toBe('Rejected');
    expect(await change('CustomMultiLanguageMessages', 'false')).toBe('Rejected');
    // TimeOffset and its daylight-saving transition: once the date has passed, the next offset is the offset.
    expect(await change('TimeOffset', '-05:00')).toBe('Accepted');
    expect(await change('TimeOffset', '25:00')).toBe('Rejected');
    expect(await change('TimeOffsetNextTransition', '-04:00')).toBe('Accepted');
    expect(await change('NextTimeOffsetTransitionDateTime', 'tomorrow')).toBe('Rejected');
    expect(await change('NextTimeOffsetTransitionDateTime', new Date(Date.now() + 86_400_000).toISOString())).toBe('Accepted');
    const before = await call('GetConfiguration', { key: ['TimeOffset'] });
    expect(before.configurationKey[0].value).toBe('-05:00');
    expect(await change('NextTimeOffsetTransitionDateTime', new Date(Date.now() - 1_000).toISOString())).toBe('Accepted');
    const after = await call('GetConfiguration', { key: ['TimeOffset', 'NextTimeOffsetTransitionDateTime', 'TimeOffsetNextTransition'] });
    expect(after.configurationKey.map((k: { key: string; value: string }) => [k.key, k.value])).toEqual([['TimeOffset', '-04:00'], ['NextTimeOffsetTransitionDateTime', ''], ['TimeOffsetNextTransition', '']]);
    // A transition ahead happens at its time, without anyone reading the key (the stored setting changes).
    expect(await change('TimeOffsetNextTransition', '+01:00')).toBe('Accepted');
    expect(await change('NextTimeOffsetTransitionDateTime', new Date(Date.now() + 1_000).toISOString())).toBe('Accepted');
    await waitFor(() => t.agent.settings!.get('TimeOffset') === '+01:00', 10_000, 'the offset switched at its time');
    expect(t.agent.settings!.get('NextTimeOffsetTransitionDateTime')).toBe('');
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('OCPP 1.6 California Pricing: DataTransfer org.openchargealliance.costmsg', () => {
  it('answers Accepted, UnknownMessageId, Rejected for a bad payload or a transaction not here (logged why), and UnknownVendorId while CustomDisplayCostAndPrice is false', async () => {
    const csms = new TestCsms();
    const { t, call } = await agentOn(csms);
    expect(await costMessage(call, 'SetUserPrice', { idToken: 'DRIVER01', priceText: '0.39 EUR/kWh' })).toEqual({ status: 'Accepted' });
    expect(await costMessage(call, 'SetTariff', { idToken: 'DRIVER01', priceText: 'x' })).toEqual({ status: 'UnknownMessageId' });
    expect(await costMessage(call, undefined as unknown as string, undefined)).toEqual({ status: 'UnknownMessageId' });
    const rejected = async (messageId: string, data: unknown, why: RegExp) => {
      const before = t.logs.records.length;
      expect(await costMessage(call, messageId, data)).toEqual({ status: 'Rejected' });
      const line = t.logs.records.slice(before).find((r) => r.msg === 'cost message rejected');
      expect(line, `a log line saying why ${messageId} was rejected`).toBeDefined();
      expect(String(line!.why)).toMatch(why);
    };
    await rejected('SetUserPrice', undefined, /no data/);
    await rejected('SetUserPrice', '{not json', /not JSON/);
    await rejected('SetUserPrice', '[1,2]', /not a JSON object/);
    await rejected('SetUserPrice', { priceText: 'no token' }, /idToken is missing/);
    await rejected('SetUserPrice', { idToken: 'DRIVER01', priceText: 42 }, /priceText is not a string/);
    await rejected('SetUserPrice', { idToken: 'DRIVER01', priceText: 'x', priceTextExtra: [{ format: 'PDF', content: 'x' }] }, /priceTextExtra\[0\]\.format/);
    await rejected('RunningCost', { transactionId: 1, cost: 1 }, /timestamp is missing/);
    await rejected('RunningCost', runningCost(1, -1), /cost is not a number ≥ 0/);
    await rejected('RunningCost', runningCost(1, 1, { state: 'Parked' }), /state/);
    await rejected('RunningCost', runningCost(1, 1, { transactionId: 'one' }), /transactionId is not an integer/);
    await rejected('RunningCost', runningCost(987654, 1), /transaction 987654 is not running here/);
    await rejected('FinalCost', { transactionId: 987654, cost: 1 }, /priceText is missing/);
    await rejected('FinalCost', { transactionId: 987654, cost: 1, priceText: 'Total 1.00' }, /transaction 987654 is not known here/);
    // A running transaction takes its RunningCost.
    const { transactionId } = await startSession(t, call, 1, 'DRIVER01');
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 0.75))).toEqual({ status: 'Accepted' });
    expect(t.agent.features!.displayMessages!.costOf(1)).toMatchObject({ totalCost: 0.75, final: false });
    // Switched off: the charger has no such vendor's extension.
    expect((await call('ChangeConfiguration', { key: 'CustomDisplayCostAndPrice', value: 'false' })).status).toBe('Accepted');
    expect(await costMessage(call, 'SetUserPrice', { idToken: 'DRIVER01', priceText: 'x' })).toEqual({ status: 'UnknownVendorId' });
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 9))).toEqual({ status: 'UnknownVendorId' });
    expect(t.agent.features!.displayMessages!.costOf(1)).toMatchObject({ totalCost: 0.75 });
    expect((await call('ChangeConfiguration', { key: 'CustomDisplayCostAndPrice', value: 'true' })).status).toBe('Accepted');
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 1.5))).toEqual({ status: 'Accepted' });
    // The evse-edge vendor id and others are unchanged.
    expect(await call('DataTransfer', { vendorId: 'org.evse-edge', messageId: 'Nope' })).toEqual({ status: 'UnknownMessageId' });
    expect(await call('DataTransfer', { vendorId: 'com.example', messageId: 'SetUserPrice' })).toEqual({ status: 'UnknownVendorId' });
    // No idTag in a log line (privacy): the rejected SetUserPrice lines above named none.
    expect(t.logs.records.filter((r) => JSON.stringify(r).includes('DRIVER01'))).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('an installation switches it off in its config (ocpp.CustomDisplayCostAndPrice false): UnknownVendorId from the start', async () => {
    const csms = new TestCsms();
    const { call } = await agentOn(csms, { ocpp: { CustomDisplayCostAndPrice: false } });
    expect(await costMessage(call, 'SetUserPrice', { idToken: 'DRIVER01', priceText: 'x' })).toEqual({ status: 'UnknownVendorId' });
    const got = await call('GetConfiguration', { key: ['CustomDisplayCostAndPrice'] });
    expect(got.configurationKey).toEqual([{ key: 'CustomDisplayCostAndPrice', readonly: false, value: 'false' }]);
  });
});

describe('OCPP 1.6 California Pricing on the touchscreen and the session record', () => {
  it('JSON lines: SetUserPrice on every screen, then on the driver\'s; RunningCost\'s cost and text; FinalCost\'s text, and its cost on the record and in sessions export', async () => {
    const csms = new TestCsms();
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
    const { t, call } = await agentOn(csms, { touchscreen: { driver: 'json-lines', port: screen.host } });
    await waitFor(() => lines.some((l) => l.type === 'hello'), 10_000, 'the screen greeted');
    const message = (connectorId: number) => lines.filter((l) => l.type === 'message' && l.connectorId === connectorId).at(-1);
    const connector = (connectorId: number) => lines.filter((l) => l.type === 'connector' && l.connectorId === connectorId).at(-1);

    // Before Authorize.conf the EVSE is not known: every screen shows the driver's price.
    expect(await costMessage(call, 'SetUserPrice', { idToken: 'DRIVER01', priceText: 'Your price: 0.35 EUR/kWh' })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Your price: 0.35 EUR/kWh' && message(2)?.text === 'Your price: 0.35 EUR/kWh', 10_000, 'the user price on both screens');
    expect(message(1)).toEqual({ type: 'message', connectorId: 1, text: 'Your price: 0.35 EUR/kWh', priority: 'InFront', language: 'en' });
    // A driver with a running session: on that session's EVSE only; in the station's Language when a translation is given.
    const { transactionId, localId } = await startSession(t, call, 1, 'DRIVER01');
    expect((await call('ChangeConfiguration', { key: 'Language', value: 'de' })).status).toBe('Accepted');
    expect(await costMessage(call, 'SetUserPrice', {
      idToken: 'DRIVER01', priceText: 'Now: 0.30 EUR/kWh',
      priceTextExtra: [{ format: 'UTF8', language: 'nl', content: 'Nu: 0,30 EUR/kWh' }, { format: 'UTF8', language: 'de', content: 'Jetzt: 0,30 €/kWh' }],
    })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Jetzt: 0,30 €/kWh', 10_000, 'the German text on connector 1');
    expect(message(1)).toMatchObject({ language: 'de' });
    expect(message(2)?.text).toBe('Your price: 0.35 EUR/kWh');
    // RunningCost: the cost on the connector, its text in the message area.
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 1.23, { priceText: 'So far 1.23 EUR' }))).toEqual({ status: 'Accepted' });
    await waitFor(() => connector(1)?.cost === 1.23, 10_000, 'the running cost on connector 1');
    await waitFor(() => message(1)?.text === 'So far 1.23 EUR', 10_000, 'the running cost text');
    expect(connector(2)?.cost).toBeUndefined();
    // FinalCost after StopTransaction: its text shown, its cost the session's.
    expect(await call('RemoteStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => csms.callsOf('StopTransaction', CP).length === 1, 10_000, 'StopTransaction');
    await waitFor(() => t.agent.ledger!.get(localId)?.stoppedAt, 10_000, 'the session closed');
    expect(await costMessage(call, 'FinalCost', { transactionId, cost: 4.56, priceText: 'Total 4.56 EUR, thank you', qrCodeText: 'https://pay.example/r/1' })).toEqual({ status: 'Accepted' });
    await waitFor(() => message(1)?.text === 'Total 4.56 EUR, thank you', 10_000, 'the final cost text');
    expect(message(1)).toEqual({ type: 'message', connectorId: 1, text: 'Total 4.56 EUR, thank you', priority: 'InFront', language: 'de', qrCode: 'https://pay.example/r/1' });
    const records = new SessionRecords(t.agent.db!);
    const row = await waitFor(() => (records.get(localId)?.cost === '4.56' ? records.get(localId) : undefined), 10_000, 'the final cost on the record');
    expect(row).toMatchObject({ cost: '4.56', transactionId });
    // sessions export (the CLI's export, on the agent's database): the central system's cost.
    const store = openStore({ db: join(t.dir, 'agent.db') });
    cleanups.push(() => store.close());
    const out = new PassThrough();
    let csv = '';
    out.on('data', (c) => (csv += c));
    expect(await writeExport(store.records, {}, 'csv', out)).toBe(1);
    const [header, first] = csv.trim().split('\n');
    const cells = Object.fromEntries(header!.split(',').map((h, i) => [h, first!.split(',')[i]]));
    expect(cells).toMatchObject({ transactionId: String(transactionId), cost: '4.56' });
    // The running cost of an ended transaction is refused, the final one stays.
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 9.99))).toEqual({ status: 'Rejected' });
    expect(records.get(localId)?.cost).toBe('4.56');
    expect(csms.validationFailures).toEqual([]);
  });

  it('JSON lines: an idle screen shows the default price (DefaultPriceText in the station\'s Language, else DefaultPrice), its offline text while the central system is away; a session\'s EVSE does not', async () => {
    const csms = new TestCsms();
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
    const { t, call } = await agentOn(csms, { touchscreen: { driver: 'json-lines', port: screen.host } });
    await waitFor(() => lines.some((l) => l.type === 'hello'), 10_000, 'the screen greeted');
    const message = (connectorId: number) => lines.filter((l) => l.type === 'message' && l.connectorId === connectorId).at(-1);
    expect(message(1)?.text).toBeUndefined();
    const change = (key: string, value: string) => call('ChangeConfiguration', { key, value }).then((r) => r.status);
    expect(await change('DefaultPrice', JSON.stringify({ priceText: '0.39 EUR/kWh', priceTextOffline: 'Offline: 0.45 EUR/kWh' }))).toBe('Accepted');
    await waitFor(() => message(1)?.text === '0.39 EUR/kWh' && message(2)?.text === '0.39 EUR/kWh', 10_000, 'the default price on both idle screens');
    expect(message(1)).toEqual({ type: 'message', connectorId: 1, text: '0.39 EUR/kWh', priority: 'NormalCycle', language: 'en' });
    // In Dutch when the station's Language is nl and DefaultPriceText has it.
    expect(await change('DefaultPriceText,nl', JSON.stringify({ priceText: '0,39 EUR/kWh (nl)', priceTextOffline: 'Offline: 0,45 EUR/kWh (nl)' }))).toBe('Accepted');
    expect(message(1)?.text).toBe('0.39 EUR/kWh');
    expect(await change('Language', 'nl')).toBe('Accepted');
    await waitFor(() => message(1)?.text === '0,39 EUR/kWh (nl)', 10_000, 'the Dutch default price');
    // A session's EVSE shows no default price; the idle one still does.
    await startSession(t, call, 1, 'DRIVER03');
    await waitFor(() => message(1) && message(1)!.text === undefined, 10_000, 'connector 1 without the default price');
    expect(message(2)?.text).toBe('0,39 EUR/kWh (nl)');
    // The central system away: the offline text.
    await csms.stop();
    await waitFor(() => message(2)?.text === 'Offline: 0,45 EUR/kWh (nl)', 15_000, 'the offline default price');
    expect(message(1)?.text).toBeUndefined();
  });

  it('RunningCost\'s triggerMeterValue: a MeterValues of the transaction at its time and when the register reaches atEnergykWh; a bad trigger is Rejected', async () => {
    const csms = new TestCsms();
    // No periodic MeterValues: every MeterValues the central system gets is a triggered one.
    const { t, call } = await agentOn(csms, { ocpp: { MeterValueSampleInterval: 0 } });
    const { transactionId } = await startSession(t, call, 1, 'DRIVER04');
    const meterStart = (await waitFor(() => csms.callsOf('StartTransaction', CP)[0], 10_000, 'StartTransaction')).params.meterStart as number;
    const at = new Date(Date.now() + 1_500).toISOString();
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 0.1, { triggerMeterValue: { atTime: 'soon' } }))).toEqual({ status: 'Rejected' });
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 0.1, { triggerMeterValue: { atCPStatus: ['Sleeping'] } }))).toEqual({ status: 'Rejected' });
    expect(csms.callsOf('MeterValues', CP)).toEqual([]);
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 0.1, { triggerMeterValue: { atTime: at, atEnergykWh: (meterStart + 5) / 1000 } }))).toEqual({ status: 'Accepted' });
    const sent = await waitFor(() => (csms.callsOf('MeterValues', CP).length >= 2 ? csms.callsOf('MeterValues', CP) : undefined), 20_000, 'two triggered MeterValues');
    for (const c of sent) {
      expect(c.params).toMatchObject({ connectorId: 1, transactionId });
      expect(c.params.meterValue[0].sampledValue.every((v: { context?: string }) => v.context === 'Trigger')).toBe(true);
    }
    const register = (c: { params: any }) => Number(c.params.meterValue[0].sampledValue.find((v: { measurand?: string }) => (v.measurand ?? 'Energy.Active.Import.Register') === 'Energy.Active.Import.Register').value);
    expect(sent.some((c) => register(c) >= meterStart + 5)).toBe(true);
    expect(sent.some((c) => c.at >= Date.parse(at) - 50)).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });

  it('Nextion from the agent config: the user price in its message field, RunningCost\'s cost in its currency', async () => {
    const csms = new TestCsms();
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
    const { t, call } = await agentOn(csms, { touchscreen: { driver: 'nextion', port: screen.host, currency: 'USD', fields: { message: 'main.m{id}.txt' } } });
    const { transactionId } = await startSession(t, call, 2, 'DRIVER02');
    // The idTag in another case is the same driver (CiString20).
    expect(await costMessage(call, 'SetUserPrice', { idToken: 'driver02', priceText: '$0.45/kWh, idle $0.40/min after 10 min' })).toEqual({ status: 'Accepted' });
    await waitFor(() => instructions.includes('main.m2.txt="$0.45/kWh, idle $0.40/min after 10 min"'), 10_000, 'the user price on connector 2');
    expect(instructions.some((i) => i === 'main.m1.txt="$0.45/kWh, idle $0.40/min after 10 min"')).toBe(false);
    expect(await costMessage(call, 'RunningCost', runningCost(transactionId, 3.1))).toEqual({ status: 'Accepted' });
    await waitFor(() => instructions.includes('c2cost.txt="3.10 USD"'), 10_000, 'the running cost on connector 2');
    expect(csms.validationFailures).toEqual([]);
  });
});

// The code presented on the JSON-lines screen goes through Authorize; the central system answers
// SetUserPrice first, as the application note's sequence has it.
describe('OCPP 1.6 California Pricing: the sequence of the application note', () => {
  it('SetUserPrice sent before Authorize.conf reaches the screens while the driver waits', async () => {
    const csms = new TestCsms();
    let sent: Promise<unknown> | undefined;
    // The DataTransfer CALL goes out on the socket before the Authorize CALLRESULT.
    csms.on('Authorize', (p: { idTag: string }, client) => {
      sent = client.call('DataTransfer', { vendorId: VENDOR, messageId: 'SetUserPrice', data: JSON.stringify({ idToken: p.idTag, priceText: 'Hello, 0.33 EUR/kWh for you' }) });
      return { idTagInfo: { status: 'Accepted' } };
    });
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
    await agentOn(csms, { touchscreen: { driver: 'json-lines', port: screen.host } });
    await waitFor(() => lines.some((l) => l.type === 'hello'), 10_000, 'the screen greeted');
    await writeAll(device, '{"type":"code","code":"4711","connectorId":1}\n');
    await waitFor(() => lines.some((l) => l.type === 'message' && l.connectorId === 1 && l.text === 'Hello, 0.33 EUR/kWh for you'), 10_000, 'the user price on the screen');
    await waitFor(() => csms.callsOf('StartTransaction', CP).length === 1, 10_000, 'the session started');
    expect(await sent).toEqual({ status: 'Accepted' });
    expect(csms.validationFailures).toEqual([]);
  });
});
