import { startAgent, type TestAgent } from './agent.js';
import { waitFor } from './ocpp-server.js';
import type { TestPki } from './pki.js';
import { TlsTestCsms } from './tls-csms.js';

export const SP2_KEY_V16 = 'evse-edge-key-0016';

/**
 * An agent on OCPP 1.6 under security profile 2 (TLS verified against an openssl CA, Basic
 * auth) against the strict 1.6 server behind TLS, booted: the whitepaper's certificate
 * operations are allowed only over TLS. `csms` adds to the agent's csms block.
 */
export async function securedV16(pki: TestPki, cleanups: (() => unknown)[], csms: Record<string, unknown> = {}, agent: Record<string, unknown> = {}, server?: { ca: { cert: string; key: string }; clientCa?: string }):
  Promise<{ csms: TlsTestCsms; t: TestAgent; call: (action: string, params: unknown) => Promise<any>; ca: { cert: string; key: string } }> {
  const ca = server?.ca ?? pki.ca('Transport CA');
  const cert = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
  const tls = new TlsTestCsms({ ...cert, protocol: 'ocpp1.6', ...(server?.clientCa ? { clientCa: server.clientCa } : {}) });
  tls.server.auth((accept) => accept());
  const url = await tls.startTls();
  cleanups.push(() => tls.stop());
  const t = await startAgent(url, {
    csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, securityProfile: 2, authorizationKey: SP2_KEY_V16, ca: ca.cert, ...csms },
    ...agent,
  });
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted', 15_000, 'boot');
  return { csms: tls, t, ca, call: (action, params) => tls.call('CP-TEST-1', action, params) };
}
