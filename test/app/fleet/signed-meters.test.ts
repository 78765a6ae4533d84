import { afterEach, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { formatReport } from '../../../src/app/fleet/report.js';
import { parseOcmf, publicKeyHex, readPublicKey, verifyOcmf } from '../../../src/lib/ocmf.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

/**
 * `sim --signed` (issue 20): every simulated meter of a fleet signs its transactions' begin and
 * end values with its own key; a strict 1.6 central system receives records it verifies, and
 * the report counts exactly the signed values the central system received.
 */
const START = Date.UTC(2026, 0, 5, 8, 0, 0);
const servers: TestCsms[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('a fleet of signing meters', () => {
  it('sends OCMF records each charger\'s meter key verifies, and the report counts them', async () => {
    const csms = new TestCsms();
    servers.push(csms);
    const url = await csms.start();
    const stops = () => csms.callsOf('StopTransaction').length;
    const deadline = Date.now() + 90_000;
    const { report } = await new FleetRunner({
      count: 6, scenario: loadScenario('smoke'), workers: 0, urls: [url], timeScale: 120, startMs: START, seed: 11, statusIntervalMs: 200, drainMs: 30_000,
      signedMeters: true,
      stopWhen: () => stops() >= 4 || Date.now() > deadline,
    }).run();
    expect(stops()).toBeGreaterThanOrEqual(4);
    expect(csms.validationFailures).toEqual([]);

    // Every SignedData value the central system received, with the charger that sent it.
    const values = csms.calls.flatMap((c) => {
      const mvs: any[] = c.action === 'MeterValues' ? c.params.meterValue : c.action === 'StopTransaction' ? c.params.transactionData ?? [] : [];
      return mvs.flatMap((mv) => mv.sampledValue).filter((sv: any) => sv.format === 'SignedData')
        .map((sv: any) => ({ cp: c.chargePointId, action: c.action, context: sv.context, ...JSON.parse(sv.value) }));
    });
    // Each meter's key (by its serial, MS), from its begin values (PublicKeyWithSignedMeterValue OncePerTransaction).
    const ocmfOf = (v: { signedMeterData: string }) => Buffer.from(v.signedMeterData, 'base64').toString('utf8');
    const keys = new Map<string, string>();
    for (const v of values) if (v.publicKey) keys.set(parseOcmf(ocmfOf(v)).payload.MS, publicKeyHex(readPublicKey(v.publicKey)));
    expect(keys.size).toBeGreaterThan(1);
    expect(new Set(keys.values()).size).toBe(keys.size); // a key per meter, not one for the fleet
    let verified = 0;
    for (const v of values) {
      const ocmf = ocmfOf(v);
      const meter = parseOcmf(ocmf).payload.MS;
      expect(meter.startsWith(`${v.cp}-M`)).toBe(true);
      expect(verifyOcmf(ocmf, keys.get(meter)!).valid, `${v.cp} ${v.context}`).toBe(true);
      expect(parseOcmf(ocmf).payload.RD[0]!.TX).toBe(v.context === 'Transaction.Begin' ? 'B' : 'E');
      verified++;
    }
    // Each stopped transaction carries its signed begin and end.
    for (const stop of csms.callsOf('StopTransaction')) {
      const contexts = (stop.params.transactionData ?? []).flatMap((mv: any) => mv.sampledValue).filter((sv: any) => sv.format === 'SignedData').map((sv: any) => sv.context);
      expect(contexts).toEqual(['Transaction.Begin', 'Transaction.End']);
    }
    expect(verified).toBeGreaterThanOrEqual(3 * 4);
    expect(report.stats.counters.signedValuesSent).toBe(verified);
    expect(formatReport(report)).toMatch(new RegExp(`signed meter values sent ${verified}\\b`));
  }, 180_000);
});

describe('a 2.0.1 fleet of signing meters', () => {
  it('sends signedMeterValue (SignReadings preset by --signed) that the central system verifies with each EVSE\'s MeterPublicKey, counted by the report', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    servers.push(csms);
    // The strict central system verifies each signedMeterValue as it arrives: the key is not sent
    // (PublicKeyWithSignedMeterValue Never, 2.0.1's default), so it asks the charger for its
    // EVSE's EVSE.MeterPublicKey (GetVariables, once per EVSE) and checks the OCMF record with it.
    const evseOf = new Map<string, number>(); // `${cp} ${transactionId}` → evse id (only the first event names it)
    const keys = new Map<string, Promise<string>>(); // `${cp} ${evse}` → the meter's key (hex DER)
    const checked: { cp: string; evse: number; context: string; valid: boolean; reason?: string; tx?: string; meter?: string; rv?: number; registerWh?: number }[] = [];
    csms.on('TransactionEvent', async (p: any, client) => {
      const cp = client.identity;
      const txKey = `${cp} ${p.transactionInfo.transactionId}`;
      if (p.evse?.id) evseOf.set(txKey, p.evse.id);
      const signed = (p.meterValue ?? []).flatMap((mv: any) => mv.sampledValue).filter((sv: any) => sv.signedMeterValue);
      if (signed.length > 0) {
        const evse = evseOf.get(txKey);
        if (evse === undefined) throw new Error(`${txKey}: a signed value before the EVSE was named`);
        const keyId = `${cp} ${evse}`;
        if (!keys.has(keyId)) {
          keys.set(keyId, client.call('GetVariables', { getVariableData: [{ component: { name: 'EVSE', evse: { id: evse } }, variable: { name: 'MeterPublicKey' } }] })
            .then((r: any) => r.getVariableResult[0].attributeValue as string));
        }
        const keyHex = await keys.get(keyId)!;
        for (const sv of signed) {
          const verdict = verifyOcmf(Buffer.from(sv.signedMeterValue.signedMeterData, 'base64').toString('utf8'), keyHex);
          const rd = verdict.record?.payload.RD[0];
          checked.push({
            cp, evse, context: sv.context, valid: verdict.valid, ...(verdict.valid ? {} : { reason: verdict.reason }),
            tx: rd?.TX, meter: verdict.record?.payload.MS, rv: rd?.RV, registerWh: Number(sv.value),
          });
        }
      }
      return p.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
    });
    const url = await csms.start();
    const ended = () => csms.callsOf('TransactionEvent').filter((c) => c.params.eventType === 'Ended').length;
    const deadline = Date.now() + 90_000;
    const { report } = await new FleetRunner({
      count: 6, scenario: loadScenario('smoke'), workers: 0, urls: [url], timeScale: 120, startMs: START, seed: 11, statusIntervalMs: 200, drainMs: 30_000,
      ocpp: '2.0.1', signedMeters: true,
      stopWhen: () => ended() >= 3 || Date.now() > deadline,
    }).run();
    expect(ended()).toBeGreaterThanOrEqual(3);
    expect(csms.validationFailures).toEqual([]);
    const signed = csms.callsOf('TransactionEvent').flatMap((c) => (c.params.meterValue ?? []).flatMap((mv: any) => mv.sampledValue))
      .filter((sv: any) => sv.signedMeterValue).map((sv: any) => ({ context: sv.context, ...sv.signedMeterValue }));
    expect(signed.every((v: any) => v.publicKey === '' && v.encodingMethod === 'OCMF')).toBe(true);
    expect(signed.some((v: any) => v.context === 'Transaction.Begin')).toBe(true);
    expect(signed.some((v: any) => v.context === 'Transaction.End')).toBe(true);
    // Every signed value received was verified at the server, and each verified.
    expect(checked).toHaveLength(signed.length);
    for (const c of checked) {
      expect(c, `${c.cp} EVSE ${c.evse} ${c.context}: ${c.reason ?? ''}`).toMatchObject({ valid: true, tx: c.context === 'Transaction.Begin' ? 'B' : 'E' });
      expect(c.meter, `${c.cp} EVSE ${c.evse}`).toBe(`${c.cp}-M${c.evse}`);
      // The signed reading is the register value it rides on (kWh in the record, Wh in OCPP).
      expect(Math.round(c.rv! * 1000)).toBe(Math.round(c.registerWh!));
    }
    // A key per meter, not one for the fleet.
    const distinct = new Set(await Promise.all(keys.values()));
    expect(keys.size).toBeGreaterThan(1);
    expect(distinct.size).toBe(keys.size);
    expect(report.stats.counters.signedValuesSent).toBe(signed.length);
  }, 180_000);
});
