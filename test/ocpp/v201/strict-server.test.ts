import { RPCClient } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import { TestCsms } from '../../helpers/ocpp-server.js';

describe('the strict test central system on ocpp2.0.1', () => {
  const servers: TestCsms[] = [];
  const clients: RPCClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close({ force: true });
    for (const s of servers.splice(0)) await s.stop();
  });

  async function server(protocol?: 'ocpp2.0.1'): Promise<{ csms: TestCsms; url: string }> {
    const csms = new TestCsms(protocol ? { protocol } : {});
    servers.push(csms);
    return { csms, url: await csms.start() };
  }
  function client(url: string, protocols: string[]): RPCClient {
    const c = new RPCClient({ endpoint: url, identity: 'CS-201', protocols, strictMode: true, reconnect: false });
    clients.push(c);
    return c;
  }

  it('negotiates ocpp2.0.1, answers 2.0.1 calls schema-valid by default, records them, and refuses a 1.6-shaped payload', async () => {
    const { csms, url } = await server('ocpp2.0.1');
    const c = client(url, ['ocpp2.0.1']);
    await c.connect();
    expect(c.protocol).toBe('ocpp2.0.1');
    const boot = await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'EE-22', vendorName: 'evse-edge' } });
    expect(boot).toMatchObject({ status: 'Accepted', interval: 300 });
    expect(await c.call('TransactionEvent', {
      eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'tx-1' }, idToken: { idToken: 'AA11', type: 'ISO14443' },
    })).toEqual({ idTokenInfo: { status: 'Accepted' } });
    expect(csms.callsOf('TransactionEvent')[0]!.params.transactionInfo.transactionId).toBe('tx-1');
    // The server itself is strict: a 1.6 BootNotification is not a 2.0.1 one. (The client is
    // made lax so that the payload reaches the server.)
    const lax = new RPCClient({ endpoint: url, identity: 'CS-LAX', protocols: ['ocpp2.0.1'], strictMode: false, reconnect: false });
    clients.push(lax);
    await lax.connect();
    await expect(lax.call('BootNotification', { chargePointVendor: 'x', chargePointModel: 'y' })).rejects.toMatchObject({ rpcErrorCode: expect.stringMatching(/Violation/) });
    expect(csms.callsOf('BootNotification', 'CS-LAX')).toEqual([]);
  });

  it('the default stays ocpp1.6: a 2.0.1-only client is refused, a 1.6 one is served', async () => {
    const { url } = await server();
    await expect(client(url, ['ocpp2.0.1']).connect()).rejects.toThrow();
    const c = client(url, ['ocpp1.6']);
    await c.connect();
    expect(c.protocol).toBe('ocpp1.6');
    expect(await c.call('StartTransaction', { connectorId: 1, idTag: 'T1', meterStart: 0, timestamp: new Date().toISOString() })).toMatchObject({ transactionId: 1 });
  });
});
