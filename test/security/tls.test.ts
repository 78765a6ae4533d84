import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/ocpp-server.js';
import { TestPki, type Pem } from '../helpers/pki.js';
import { TlsTestCsms } from '../helpers/tls-csms.js';

const KEY = 'evse-edge-key-0001';

function securityEvents(t: TestAgent): { type: string; techInfo?: string; state: string }[] {
  return (t.agent.db!.prepare(`SELECT payload, state FROM outbox WHERE kind = 'security' ORDER BY seq`).all() as { payload: string | null; state: string }[])
    .map((r) => ({ ...(r.payload ? JSON.parse(r.payload) : { type: '(delivered)' }), state: r.state }));
}

describe('OCPP security profiles 2 and 3 against a real TLS server (certificates made by openssl)', () => {
  const pki = new TestPki();
  let ca: Pem, otherCa: Pem, server: Pem, foreignServer: Pem, wrongName: Pem, expired: Pem, clientCa: Pem, client: Pem, foreignClient: Pem;

  beforeAll(() => {
    ca = pki.ca('Operator CA');
    otherCa = pki.ca('Somebody else');
    server = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    foreignServer = pki.leaf(otherCa, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    wrongName = pki.leaf(ca, { cn: 'csms.example.com', san: 'DNS:csms.example.com', usage: 'serverAuth' });
    expired = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth', days: -1 });
    clientCa = pki.ca('Charger CA');
    client = pki.leaf(clientCa, { cn: 'CP-TEST-1', usage: 'clientAuth' });
    foreignClient = pki.leaf(otherCa, { cn: 'CP-TEST-1', usage: 'clientAuth' });
  });
  afterAll(() => pki.cleanup());

  it('TC_086_CS: profile 2: TLS verified against the operator CA, HTTP Basic auth, StartupOfTheDevice delivered schema-valid', async () => {
    const csms = new TlsTestCsms(server);
    const passwords: string[] = [];
    const protocols: string[] = [];
    csms.server.auth((accept, reject, hs) => {
      passwords.push(hs.password?.toString() ?? '(none)');
      protocols.push(((hs as unknown as { request: { socket: { getProtocol(): string } } }).request.socket).getProtocol());
      if (hs.password?.toString() === KEY) accept();
      else reject(401);
    });
    const url = await csms.startTls();
    const t = await startAgent(url, { csms: { url, securityProfile: 2, authorizationKey: KEY, ca: ca.cert, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 } });
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification over TLS');
      const startup = await waitFor(() => csms.callsOf('SecurityEventNotification').find((c) => c.params.type === 'StartupOfTheDevice'), 10_000, 'StartupOfTheDevice');
      expect(startup.params.techInfo).toContain('security profile 2');
      expect(new Set(passwords)).toEqual(new Set([KEY]));
      for (const p of protocols) expect(['TLSv1.2', 'TLSv1.3']).toContain(p);
      expect(csms.validationFailures).toEqual([]);
      await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'the outbox drained');
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });

  const refusals: { name: string; cert: () => Pem; tls?: object; type: string; code: RegExp }[] = [
    { name: 'a certificate from another CA', cert: () => foreignServer, type: 'InvalidCentralSystemCertificate', code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER/ },
    { name: 'a certificate for another host name', cert: () => wrongName, type: 'InvalidCentralSystemCertificate', code: /ERR_TLS_CERT_ALTNAME_INVALID/ },
    { name: 'an expired certificate', cert: () => expired, type: 'InvalidCentralSystemCertificate', code: /CERT_HAS_EXPIRED/ },
    { name: 'a server that speaks TLS 1.1 only', cert: () => server, tls: { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, type: 'InvalidTLSVersion', code: /protocol version|unsupported protocol/i },
    { name: 'a server that offers only a weak (CBC, SHA-1) suite', cert: () => server, tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }, type: 'InvalidTLSCipherSuite', code: /handshake failure|no shared cipher/i },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name} and records ${r.type}`, async () => {
      const csms = new TlsTestCsms({ ...r.cert(), tls: r.tls as never });
      const url = await csms.startTls();
      const t = await startAgent(url, { csms: { url, securityProfile: 2, authorizationKey: KEY, ca: ca.cert, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } });
      try {
        const event = await waitFor(() => securityEvents(t).find((e) => e.type === r.type), 10_000, r.type);
        expect(event.techInfo).toMatch(r.code);
        expect(event.state).toBe('queued');
        // Several attempts, one queued event: identical events are not queued twice.
        await waitFor(() => t.logs.records.filter((l) => l.msg === 'security event' && l.securityEvent === r.type).length >= 3, 10_000, 'more attempts');
        expect(securityEvents(t).filter((e) => e.type === r.type)).toHaveLength(1);
        expect(csms.calls).toEqual([]);
        expect(t.agent.link!.online()).toBe(false);
      } finally {
        await t.cleanup();
        await csms.stop();
      }
    });
  }

  it('TC_078_CS: connected, then a server certificate that does not verify: the charger ends that connection, records InvalidCentralSystemCertificate, and sends it once the valid certificate is back', async () => {
    const csms = new TlsTestCsms(server);
    csms.server.auth((accept, reject, hs) => (hs.password?.toString() === KEY ? accept() : reject(401)));
    const url = await csms.startTls();
    const t = await startAgent(url, { csms: { url, securityProfile: 2, authorizationKey: KEY, ca: ca.cert, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } });
    const pem = (p: Pem) => ({ cert: readFileSync(p.cert), key: readFileSync(p.key) });
    try {
      // Step 1-3: connected with the valid certificate.
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification');
      await waitFor(() => t.agent.outbox!.summary().depth === 0, 10_000, 'StartupOfTheDevice delivered');
      // Steps 4-7: the connection aborted; the server now offers a certificate from another CA: the charger refuses it.
      csms.https!.setSecureContext(pem(foreignServer));
      await (csms.client('CP-TEST-1') as unknown as { close(o: { force: boolean }): Promise<unknown> }).close({ force: true });
      await waitFor(() => securityEvents(t).find((e) => e.type === 'InvalidCentralSystemCertificate' && e.state === 'queued'), 10_000, 'InvalidCentralSystemCertificate recorded');
      const callsBefore = csms.calls.length;
      // Step 8 on: the valid certificate again; the charger reconnects and sends the event.
      csms.https!.setSecureContext(pem(server));
      const sent = await waitFor(() => csms.callsOf('SecurityEventNotification').find((c) => c.params.type === 'InvalidCentralSystemCertificate'), 15_000, 'SecurityEventNotification InvalidCentralSystemCertificate');
      expect(sent.params.techInfo).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER/);
      expect(csms.calls.slice(callsBefore).some((c) => c.action === 'SecurityEventNotification' && c.params.type === 'InvalidCentralSystemCertificate')).toBe(true);
      expect(csms.validationFailures).toEqual([]);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });

  it('TC_083_CS (profile 1 to 2 over wss://) and TC_084_CS from profile 2: SecurityProfile 2 Accepted, Reset Hard Accepted, booted again with its statuses Available, profile 2 kept; then 1 Rejected', async () => {
    const csms = new TlsTestCsms(server);
    csms.server.auth((accept, reject, hs) => (hs.password?.toString() === KEY ? accept() : reject(401)));
    const url = await csms.startTls();
    const t = await startAgent(url, { csms: { url, securityProfile: 1, authorizationKey: KEY, ca: ca.cert, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } });
    const call = (action: string, params: unknown) => csms.call('CP-TEST-1', action, params);
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0 && csms.clients.has('CP-TEST-1'), 10_000, 'BootNotification');
      expect((await call('GetConfiguration', { key: ['SecurityProfile'] })).configurationKey).toEqual([{ key: 'SecurityProfile', readonly: false, value: '1' }]);
      let connections = 0;
      csms.server.on('client', () => connections++);
      // Steps 1-2 (the charger reconnects with the new settings at once).
      expect(await call('ChangeConfiguration', { key: 'SecurityProfile', value: '2' })).toEqual({ status: 'Accepted' });
      await waitFor(() => connections > 0 && csms.clients.has('CP-TEST-1') && t.agent.link!.state === 'accepted', 10_000, 'connected again after the change');
      const boots = csms.callsOf('BootNotification').length;
      // Steps 3-8: Reset Hard, a new boot and every connector's status.
      expect(await call('Reset', { type: 'Hard' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('BootNotification').length > boots, 15_000, 'BootNotification after the reset');
      const afterBoot = csms.calls.map((c) => c.action).lastIndexOf('BootNotification');
      await waitFor(() => [0, 1, 2].every((id) => csms.calls.slice(afterBoot).some((c) => c.action === 'StatusNotification' && c.params.connectorId === id && c.params.status === 'Available')), 15_000, 'StatusNotification Available for 0, 1, 2');
      expect((await call('GetConfiguration', { key: ['SecurityProfile'] })).configurationKey).toEqual([{ key: 'SecurityProfile', readonly: false, value: '2' }]);
      // TC_084_CS: connected with profile 2, a downgrade is Rejected.
      expect(await call('ChangeConfiguration', { key: 'SecurityProfile', value: '1' })).toEqual({ status: 'Rejected' });
      const types = await waitFor(() => {
        const seen = csms.callsOf('SecurityEventNotification').map((c) => c.params.type as string);
        return seen.includes('ReconfigurationOfSecurityParameters') && seen.includes('ResetOrReboot') ? seen : undefined;
      }, 10_000, 'ReconfigurationOfSecurityParameters and ResetOrReboot');
      expect(types).toContain('StartupOfTheDevice');
      expect(csms.validationFailures).toEqual([]);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });

  it('TC_087_CS: profile 3: mutual TLS with the charger certificate, no Basic auth', async () => {
    const csms = new TlsTestCsms({ ...server, clientCa: clientCa.cert });
    const passwords: (string | undefined)[] = [];
    csms.server.auth((accept, _reject, hs) => {
      passwords.push(hs.password?.toString());
      accept();
    });
    const url = await csms.startTls();
    const t = await startAgent(url, { csms: { url, securityProfile: 3, ca: ca.cert, cert: client.cert, key: client.key, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 } });
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification over mutual TLS');
      expect(csms.clientCns).toEqual(['CP-TEST-1']);
      expect(passwords).toEqual([undefined]);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });

  it('profile 3: a client certificate the central system does not trust gets no connection', async () => {
    const csms = new TlsTestCsms({ ...server, clientCa: clientCa.cert });
    const url = await csms.startTls();
    const t = await startAgent(url, { csms: { url, securityProfile: 3, ca: ca.cert, cert: foreignClient.cert, key: foreignClient.key, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300 } });
    try {
      await waitFor(() => csms.tlsErrors.length >= 2, 10_000, 'refused handshakes');
      expect(csms.calls).toEqual([]);
      expect(csms.clientCns).toEqual([]);
      expect(t.agent.link!.online()).toBe(false);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });
});
