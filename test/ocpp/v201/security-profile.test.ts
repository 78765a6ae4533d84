import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { TestPki } from '../../helpers/pki.js';
import { TlsTestCsms } from '../../helpers/tls-csms.js';

const CP = 'CP-TEST-1';
const KEY = 'initial-key-0123';
/** 34 characters with specials: longer than 1.6's AuthorizationKey allows, within 2.0.1's 16–40. */
const NEW_PASSWORD = 'N3w:pass-word_for+2.0.1/station!!';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
let pki: TestPki;
beforeAll(() => {
  pki = new TestPki();
});
afterAll(() => pki.cleanup());

const sv = (variable: string, attributeValue: string) => ({ setVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: variable }, attributeValue }] });
const gv = (variable: string) => ({ getVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: variable } }] });
const config = (url: string, extra: object) => ({ csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 400, ocppVersions: ['ocpp2.0.1'], ...extra } });

describe('OCPP 2.0.1 security profiles against a strict 2.0.1 central system', () => {
  it('BasicAuthPassword by SetVariables: write-only (never read back, never in a report or a log), the station reconnects with it and keeps it across a restart; SecurityProfile read-only, reported, never lowered (A01, A05)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const passwords: string[] = [];
    csms.server.auth((accept, reject, hs) => {
      const password = hs.password?.toString('utf8') ?? '(none)';
      passwords.push(password);
      if (password === KEY || password === NEW_PASSWORD) accept();
      else reject(401);
    });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t: TestAgent = await startAgent(url, config(url, { securityProfile: 1, authorizationKey: KEY }));
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
    expect(passwords).toEqual([KEY]);
    const call = (action: string, params: unknown) => csms.call(CP, action, params);

    expect((await call('GetVariables', gv('SecurityProfile'))).getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: '1' });
    expect((await call('SetVariables', sv('SecurityProfile', '0'))).setVariableResult[0].attributeStatus).toBe('Rejected');
    expect((await call('SetVariables', sv('BasicAuthPassword', 'too-short'))).setVariableResult[0].attributeStatus).toBe('Rejected');
    expect(passwords).toEqual([KEY]);

    expect((await call('SetVariables', sv('BasicAuthPassword', NEW_PASSWORD))).setVariableResult[0].attributeStatus).toBe('Accepted');
    await waitFor(() => passwords.length >= 2 && csms.clients.has(CP) && t.agent.link!.online(), 10_000, 'a reconnection with the new password');
    expect(passwords.slice(1).every((p) => p === NEW_PASSWORD)).toBe(true);
    // A reconnection, not a reboot.
    expect(csms.callsOf('BootNotification', CP)).toHaveLength(1);

    const read = (await call('GetVariables', gv('BasicAuthPassword'))).getVariableResult[0];
    expect(read.attributeStatus).toBe('Rejected');
    expect(read.attributeValue).toBeUndefined();
    expect((await call('GetBaseReport', { requestId: 5, reportBase: 'FullInventory' })).status).toBe('Accepted');
    const parts = await waitFor(() => {
      const r = csms.callsOf('NotifyReport', CP).filter((c) => c.params.requestId === 5);
      return r.length && r[r.length - 1]!.params.tbc !== true ? r : undefined;
    }, 10_000, 'the whole report');
    const items = parts.flatMap((p) => p.params.reportData as any[]);
    const pw = items.find((i) => i.component.name === 'SecurityCtrlr' && i.variable.name === 'BasicAuthPassword');
    expect(pw.variableAttribute).toEqual([expect.objectContaining({ mutability: 'WriteOnly' })]);
    expect(pw.variableAttribute[0].value).toBeUndefined();
    expect(JSON.stringify(csms.calls.map((c) => c.params))).not.toContain(NEW_PASSWORD);

    const event = await waitFor(() => csms.callsOf('SecurityEventNotification', CP).find((c) => c.params.type === 'ReconfigurationOfSecurityParameters'), 10_000, 'the security event');
    expect(event.params.techInfo).toBe('BasicAuthPassword changed');
    expect(csms.callsOf('SecurityEventNotification', CP).some((c) => c.params.type === 'StartupOfTheDevice')).toBe(true);
    expect(JSON.stringify(t.logs.records)).not.toContain(NEW_PASSWORD);

    // Kept across a restart: the next process connects with the new password at once.
    await t.agent.stop();
    const before = passwords.length;
    const again = await startAgent(url, config(url, { securityProfile: 1, authorizationKey: KEY }), { dir: t.dir });
    cleanups.push(() => again.agent.stop());
    await waitFor(() => again.agent.link!.state === 'accepted', 10_000, 'boot after the restart');
    expect(passwords.slice(before)).toEqual([NEW_PASSWORD]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('a central system certificate that does not verify: InvalidCsmsCertificate (2.0.1\'s name) delivered once the connection succeeds', async () => {
    const ca = pki.ca('Operator CA');
    const rogue = pki.ca('Somebody else');
    const good = pki.leaf(ca, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    const bad = pki.leaf(rogue, { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'serverAuth' });
    const csms = new TlsTestCsms({ ...bad, protocol: 'ocpp2.0.1' });
    csms.server.auth((accept) => accept());
    const url = await csms.startTls();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, config(url, { securityProfile: 2, authorizationKey: KEY, ca: ca.cert }));
    cleanups.push(() => t.cleanup());
    await waitFor(() => csms.tlsErrors.length >= 1, 10_000, 'a refused handshake');
    expect(csms.calls).toEqual([]);
    // The operator fixes the server's certificate: the same address now presents one the station trusts.
    csms.https!.setSecureContext({ cert: readFileSync(good.cert), key: readFileSync(good.key) });
    const event = await waitFor(() => csms.callsOf('SecurityEventNotification', CP).find((c) => c.params.type === 'InvalidCsmsCertificate'), 15_000, 'InvalidCsmsCertificate');
    expect(event.params.techInfo).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    expect(csms.callsOf('SecurityEventNotification', CP).map((c) => c.params.type)).not.toContain('InvalidCentralSystemCertificate');
    expect(csms.validationFailures).toEqual([]);
  });
});
