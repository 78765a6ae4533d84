import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

/**
 * SecurityCtrlr.BasicAuthPassword on 2.0.1 (A01) against the strict 2.0.1 server: 2.0.1's
 * passwordString, 16 to 40 printable characters used as they are, in the config of a 2.0.1-only
 * station and by SetVariables; anything else Rejected and never used.
 */
const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
const HEX32 = '0123456789abcdef0123456789abcdef';
const PW40 = 'forty-character-password:for_2.0.1/OCPP!';

describe('OCPP 2.0.1 BasicAuthPassword: 16 to 40 characters, as they are', () => {
  it('a 2.0.1-only station sends its 32-hex-digit config password as it is; SetVariables takes 40 characters and uses them, refuses 15, 41 and non-ASCII', async () => {
    expect(PW40).toHaveLength(40);
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const passwords: string[] = [];
    const known = new Set([HEX32, PW40]);
    csms.server.auth((accept, reject, hs) => {
      const password = hs.password?.toString('latin1') ?? '(none)';
      passwords.push(password);
      if (known.has(password)) accept();
      else reject(401);
    });
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 400, ocppVersions: ['ocpp2.0.1'], securityProfile: 1, authorizationKey: HEX32 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'boot');
    // Not 1.6's reading (16 bytes from the hex): the 32 characters.
    expect(passwords).toEqual([HEX32]);

    const setPassword = async (value: string) =>
      (await csms.call(CP, 'SetVariables', { setVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' }, attributeValue: value }] })).setVariableResult[0].attributeStatus;
    for (const bad of ['x'.repeat(15), 'x'.repeat(41), 'é'.repeat(16), 'tab\tin-the-password!']) expect(await setPassword(bad)).toBe('Rejected');
    expect(passwords).toEqual([HEX32]);
    expect(await setPassword(PW40)).toBe('Accepted');
    await waitFor(() => passwords.length >= 2 && csms.clients.has(CP) && t.agent.link!.online(), 10_000, 'a reconnection with the new password');
    expect(passwords.slice(1).every((p) => p === PW40)).toBe(true);
    expect(JSON.stringify(t.logs.records)).not.toContain(PW40);
    expect(csms.validationFailures).toEqual([]);
  });
});
