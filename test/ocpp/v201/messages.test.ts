import { readFileSync } from 'node:fs';
import { createValidator } from 'ocpp-rpc';
import { describe, expect, it } from 'vitest';
import { bundledSchemas, CSMS_TO_STATION, generateMessages, OUTPUT, STATION_TO_CSMS } from '../../../tools/gen-v201-messages.js';
import { CSMS_ACTIONS, STATION_ACTIONS, type CsmsRequest, type StationRequest, type StationResponse } from '../../../src/ocpp/v201/messages.js';

describe('OCPP 2.0.1 message types', () => {
  it('messages.ts is what the generator makes of ocpp-rpc bundled schemas (regenerate: npx tsx tools/gen-v201-messages.ts)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(generateMessages(bundledSchemas()));
  });

  it('maps every action of the schemas, each in its direction; DataTransfer both ways', () => {
    const actions = new Set(bundledSchemas().map((s) => /^urn:(\w+)\.req$/.exec(s.$id ?? '')?.[1]).filter(Boolean));
    expect(actions.size).toBe(64);
    expect(new Set([...STATION_ACTIONS, ...CSMS_ACTIONS])).toEqual(actions);
    expect(STATION_ACTIONS).toHaveLength(STATION_TO_CSMS.length);
    expect(CSMS_ACTIONS).toHaveLength(CSMS_TO_STATION.length);
    expect(STATION_ACTIONS.filter((a) => (CSMS_ACTIONS as readonly string[]).includes(a))).toEqual(['DataTransfer']);
  });

  it('a generator that meets an action it cannot place refuses to write', () => {
    const schemas = [...bundledSchemas(), { $id: 'urn:Teleport.req', type: 'object', properties: {} }, { $id: 'urn:Teleport.conf', type: 'object', properties: {} }];
    expect(() => generateMessages(schemas)).toThrow(/not placed Teleport/);
  });

  it('typed payloads are valid for ocpp-rpc strict 2.0.1 validation, and a field the types forbid is refused by it too', () => {
    const schemas = JSON.parse(readFileSync(new URL('../../../node_modules/ocpp-rpc/lib/schemas/ocpp2_0_1.json', import.meta.url), 'utf8'));
    const v = createValidator('ocpp2.0.1', schemas);
    const boot: StationRequest<'BootNotification'> = { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge', serialNumber: 'S1' } };
    const tx: StationRequest<'TransactionEvent'> = {
      eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'CablePluggedIn', seqNo: 0,
      transactionInfo: { transactionId: '9f0e1c2d-0000-4000-8000-000000000001', chargingState: 'EVConnected' },
      evse: { id: 1, connectorId: 1 }, idToken: { idToken: 'AA11BB22', type: 'ISO14443' },
      meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: 1234.5, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }],
    };
    const txAnswer: StationResponse<'TransactionEvent'> = { idTokenInfo: { status: 'Accepted' } };
    const start: CsmsRequest<'RequestStartTransaction'> = { remoteStartId: 7, idToken: { idToken: 'APP1', type: 'Central' }, evseId: 1 };
    const dt: StationRequest<'DataTransfer'> = { vendorId: 'com.example', data: { any: ['json', 1] } };
    expect(v.validate('urn:BootNotification.req', boot)).toBe(true);
    expect(v.validate('urn:TransactionEvent.req', tx)).toBe(true);
    expect(v.validate('urn:TransactionEvent.conf', txAnswer)).toBe(true);
    expect(v.validate('urn:RequestStartTransaction.req', start)).toBe(true);
    expect(v.validate('urn:DataTransfer.req', dt)).toBe(true);
    // @ts-expect-error: chargePointVendor is 1.6; 2.0.1 has no such field
    const wrong: StationRequest<'BootNotification'> = { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge' }, chargePointVendor: 'x' };
    expect(() => v.validate('urn:BootNotification.req', wrong)).toThrow(/additional properties/);
  });
});
