import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseOcmf, publicKeyHex, readPublicKey, verifyOcmf } from '../../src/lib/ocmf.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

/**
 * Calibration law (issue 20): a simulated signing meter's OCMF records reach strict central
 * systems on 1.6 (SignedData sampled values: a MeterValues right after StartTransaction, begin
 * and end in StopTransaction's transactionData; MeterPublicKey[1]) and on 2.0.1
 * (signedMeterValue, SignReadings, PublicKeyWithSignedMeterValue, EVSE.MeterPublicKey). The
 * central system here verifies every record against the meter's key and checks that the signed
 * begin and end values are the transaction's meterStart and meterStop.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function ready(protocol: 'ocpp1.6' | 'ocpp2.0.1', ocpp: Record<string, unknown> = {}): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TestCsms({ protocol });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, {
    csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: [protocol] },
    ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp }, simulation: { signedMeters: true },
  });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 15_000, 'boot and statuses');
  return { csms, t };
}

const present = (t: TestAgent, id: string) => t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId: 1 });

/** A record checked as a central system would: its signature against the meter's key; its reading returned. */
function verified(ocmf: string, keyHex: string, tx: string) {
  const verdict = verifyOcmf(ocmf, keyHex);
  expect(verdict.valid, verdict.valid ? '' : verdict.reason).toBe(true);
  const record = parseOcmf(ocmf);
  expect(record.payload.RD[0]!.TX).toBe(tx);
  return record;
}

describe('signed meter values (OCMF) over OCPP 1.6', () => {
  it('sends the signed begin in a MeterValues right after StartTransaction and begin and end in StopTransaction; MeterPublicKey[1] gives the key that verifies them', async () => {
    const { csms, t } = await ready('ocpp1.6');
    const keyFile = join(t.dir, 'meter-1.key');
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const conf = await csms.call(CP, 'GetConfiguration', { key: ['MeterPublicKey[1]', 'MeterPublicKey[2]', 'PublicKeyWithSignedMeterValue'] });
    const byKey = new Map(conf.configurationKey.map((k: any) => [k.key, k]));
    const keyHex = (byKey.get('MeterPublicKey[1]') as any).value as string;
    expect(byKey.get('MeterPublicKey[1]')).toMatchObject({ readonly: true });
    expect(keyHex).toMatch(/^[0-9A-F]{100,}$/);
    expect((byKey.get('PublicKeyWithSignedMeterValue') as any).value).toBe('OncePerTransaction');
    // Read-only: the central system cannot replace the meter's key.
    expect(await csms.call(CP, 'ChangeConfiguration', { key: 'MeterPublicKey[1]', value: 'AA' })).toEqual({ status: 'Rejected' });

    present(t, 'CARD-SIGNED-16');
    await waitFor(() => csms.callsOf('MeterValues', CP).length >= 3, 20_000, 'meter values');
    present(t, 'CARD-SIGNED-16');
    await waitFor(() => csms.callsOf('StopTransaction', CP).length === 1 && t.agent.outbox!.summary().depth === 0, 15_000, 'StopTransaction');

    const start = csms.callsOf('StartTransaction', CP)[0]!.params;
    const stop = csms.callsOf('StopTransaction', CP)[0]!.params;
    const signedOf = (mv: any[], context: string) => mv.flatMap((v) => v.sampledValue).filter((s: any) => s.format === 'SignedData' && s.context === context);

    // The message right after StartTransaction: the signed begin value, with the key (OncePerTransaction).
    const afterStart = csms.calls.filter((c) => c.chargePointId === CP && c.action !== 'StatusNotification' && c.action !== 'Heartbeat');
    const i = afterStart.findIndex((c) => c.action === 'StartTransaction');
    expect(afterStart[i + 1]!.action).toBe('MeterValues');
    const [beginValue] = signedOf(afterStart[i + 1]!.params.meterValue, 'Transaction.Begin');
    expect(beginValue).toMatchObject({ measurand: 'Energy.Active.Import.Register', location: 'Outlet', unit: 'Wh' });
    const begin = JSON.parse(beginValue.value);
    // The OCA note's shape: signingMethod "" (the record's SA names it), the key in its envelope.
    expect(begin).toMatchObject({ encodingMethod: 'OCMF', signingMethod: '' });
    expect(Buffer.from(begin.publicKey, 'base64').toString('utf8')).toBe(`oca:base16:asn1:${keyHex}`);
    expect(publicKeyHex(readPublicKey(begin.publicKey))).toBe(keyHex);
    const beginRecord = verified(Buffer.from(begin.signedMeterData, 'base64').toString('utf8'), keyHex, 'B');
    expect(Math.round(beginRecord.payload.RD[0]!.RV * 1000)).toBe(start.meterStart);

    // StopTransaction: the begin and end values, both signed, the end without the key; they bracket the session.
    const [stopBegin] = signedOf(stop.transactionData, 'Transaction.Begin');
    const [stopEnd] = signedOf(stop.transactionData, 'Transaction.End');
    const endJson = JSON.parse(stopEnd.value);
    expect(endJson.publicKey).toBe('');
    const endRecord = verified(Buffer.from(endJson.signedMeterData, 'base64').toString('utf8'), keyHex, 'E');
    expect(Buffer.from(JSON.parse(stopBegin.value).signedMeterData, 'base64').toString('utf8')).toBe(Buffer.from(begin.signedMeterData, 'base64').toString('utf8'));
    expect(Math.round(endRecord.payload.RD[0]!.RV * 1000)).toBe(stop.meterStop);
    expect(stop.meterStop).toBeGreaterThan(start.meterStart);
    expect(endRecord.payload.MS).toBe(beginRecord.payload.MS);
    expect(Number(endRecord.payload.PG.slice(1))).toBeGreaterThan(Number(beginRecord.payload.PG.slice(1)));
    // A record with one changed digit does not verify.
    const forged = Buffer.from(endJson.signedMeterData, 'base64').toString('utf8').replace(/"RV":(\d)/, (_m, d) => `"RV":${(Number(d) + 1) % 10}`);
    expect(verifyOcmf(forged, keyHex).valid).toBe(false);
    expect(csms.validationFailures).toEqual([]);
  });
});

describe('signed meter values (OCMF) over OCPP 2.0.1', () => {
  const events = (csms: TestCsms): any[] => csms.callsOf('TransactionEvent', CP).map((c) => c.params);
  const signedValues = (e: any): any[] => (e.meterValue ?? []).flatMap((mv: any) => mv.sampledValue).filter((s: any) => s.signedMeterValue);

  async function session(csms: TestCsms, t: TestAgent, card: string): Promise<any[]> {
    present(t, card);
    await waitFor(() => events(csms).filter((e) => e.triggerReason === 'MeterValuePeriodic').length >= 2, 20_000, 'periodic values');
    present(t, card);
    await waitFor(() => events(csms).some((e) => e.eventType === 'Ended') && t.agent.outbox!.summary().depth === 0, 15_000, 'Ended');
    return events(csms);
  }

  it('SignReadings true, PublicKeyWithSignedMeterValue OncePerTransaction: Started carries the signed begin with the key, Ended the signed end without; EVSE.MeterPublicKey verifies both', async () => {
    const { csms, t } = await ready('ocpp2.0.1');
    const set = await csms.call(CP, 'SetVariables', {
      setVariableData: [
        { component: { name: 'SampledDataCtrlr' }, variable: { name: 'SignReadings' }, attributeValue: 'true' },
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'PublicKeyWithSignedMeterValue' }, attributeValue: 'OncePerTransaction' },
      ],
    });
    expect(set.setVariableResult.map((r: any) => r.attributeStatus)).toEqual(['Accepted', 'Accepted']);
    const got = await csms.call(CP, 'GetVariables', { getVariableData: [{ component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'MeterPublicKey' } }] });
    expect(got.getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted' });
    const keyHex: string = got.getVariableResult[0].attributeValue;
    expect(keyHex).toMatch(/^[0-9A-F]{100,}$/);

    const es = await session(csms, t, 'CARD-SIGNED-201');
    const started = es.find((e) => e.eventType === 'Started');
    const endedEvent = es.find((e) => e.eventType === 'Ended');
    const [beginValue] = signedValues(started);
    expect(beginValue).toMatchObject({ context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register', signedMeterValue: { encodingMethod: 'OCMF', signingMethod: '' } });
    expect(Buffer.from(beginValue.signedMeterValue.publicKey, 'base64').toString('utf8')).toBe(`oca:base16:asn1:${keyHex}`);
    const beginRecord = verified(Buffer.from(beginValue.signedMeterValue.signedMeterData, 'base64').toString('utf8'), keyHex, 'B');
    expect(Math.round(beginRecord.payload.RD[0]!.RV * 1000)).toBe(beginValue.value);

    const endValue = signedValues(endedEvent).find((s) => s.context === 'Transaction.End');
    expect(endValue.signedMeterValue.publicKey).toBe('');
    const endRecord = verified(Buffer.from(endValue.signedMeterValue.signedMeterData, 'base64').toString('utf8'), keyHex, 'E');
    const stopRegister = endedEvent.meterValue.at(-1).sampledValue[0].value;
    expect(Math.round(endRecord.payload.RD[0]!.RV * 1000)).toBe(stopRegister);
    expect(endRecord.payload.RD[0]!.RV).toBeGreaterThan(beginRecord.payload.RD[0]!.RV);
    // Periodic values are not signed by this meter (it signs begin and end).
    expect(es.filter((e) => e.eventType === 'Updated').flatMap(signedValues)).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('SignReadings false (the default): no signedMeterValue is sent although the meter signs', async () => {
    const { csms, t } = await ready('ocpp2.0.1');
    const es = await session(csms, t, 'CARD-UNSIGNED-201');
    expect(es.flatMap(signedValues)).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });
});
