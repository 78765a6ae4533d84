import type { AddressInfo } from 'node:net';
import { RPCClient, RPCServer, type ServerClient } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { v201ErrorCode, v201StrictValidator, V201_ERROR_CODES } from '../../../src/ocpp/v201/errors.js';
import { waitFor } from '../../helpers/ocpp-server.js';

/**
 * A charging station (RPCClient, strict on ocpp2.0.1) receives malformed calls from a lax
 * central system (RPCServer without strict mode, so that the bad payload leaves it).
 */
describe('OCPP 2.0.1 CALLERROR codes for malformed incoming calls', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function pair(validators: ReturnType<typeof v201StrictValidator>[]): Promise<{ csmsSide: ServerClient; station: RPCClient }> {
    const server = new RPCServer({ protocols: ['ocpp2.0.1'], strictMode: false });
    closers.push(() => server.close({ force: true }));
    let csmsSide: ServerClient | undefined;
    server.on('client', (c) => (csmsSide = c));
    const http = await server.listen(0, '127.0.0.1');
    const station = new RPCClient({
      endpoint: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ocpp`, identity: 'CS-ERR', protocols: ['ocpp2.0.1'], strictMode: true,
      strictModeValidators: validators, reconnect: false,
    });
    closers.push(() => station.close({ force: true }));
    station.handle('RequestStartTransaction', async () => ({ status: 'Accepted' }));
    await station.connect();
    return { csmsSide: await waitFor(() => csmsSide, 5_000, 'the station connected'), station };
  }

  it('ocpp-rpc alone answers a missing required field with the 1.6 spelling OccurenceConstraintViolation (the upstream behaviour this module corrects)', async () => {
    const { csmsSide } = await pair([]);
    await expect(csmsSide.call('RequestStartTransaction', { remoteStartId: 1 })).rejects.toMatchObject({ rpcErrorCode: 'OccurenceConstraintViolation' });
  });

  it('with v201StrictValidator: OccurrenceConstraintViolation for a missing field; the other codes unchanged; a valid call still served', async () => {
    const { csmsSide } = await pair([v201StrictValidator()]);
    await expect(csmsSide.call('RequestStartTransaction', { remoteStartId: 1 })).rejects.toMatchObject({ rpcErrorCode: 'OccurrenceConstraintViolation' });
    await expect(csmsSide.call('RequestStartTransaction', { remoteStartId: 'one', idToken: { idToken: 'A', type: 'Central' } })).rejects.toMatchObject({ rpcErrorCode: 'TypeConstraintViolation' });
    await expect(csmsSide.call('RequestStartTransaction', { remoteStartId: 1, idToken: { idToken: 'A', type: 'Central' }, colour: 'red' })).rejects.toMatchObject({ rpcErrorCode: 'PropertyConstraintViolation' });
    await expect(csmsSide.call('RequestStartTransaction', { remoteStartId: 1, idToken: { idToken: 'A'.repeat(37), type: 'Central' } })).rejects.toMatchObject({ rpcErrorCode: 'FormatViolation' });
    expect(await csmsSide.call('RequestStartTransaction', { remoteStartId: 1, idToken: { idToken: 'A', type: 'Central' } })).toEqual({ status: 'Accepted' });
  });

  it('every code it can answer is a 2.0.1 code', () => {
    expect(v201ErrorCode('OccurenceConstraintViolation')).toBe('OccurrenceConstraintViolation');
    expect(v201ErrorCode('FormationViolation')).toBe('FormatViolation');
    for (const code of V201_ERROR_CODES) expect(v201ErrorCode(code)).toBe(code);
  });
});
