import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/config/index.js';
import { configPasswordBytes } from '../../src/config/csms-security.js';
import { ConfigError, type ConfigProblem } from '../../src/lib/errors.js';

/**
 * csms.authorizationKey read per OCPP version offered: with 1.6 offered, 1.6's AuthorizationKey
 * (16-20 characters, or 32-40 hex digits for 16-20 bytes); 2.0.1 alone, 2.0.1's passwordString
 * (16-40 printable characters, used as they are).
 */
const config = (authorizationKey: string, ocppVersions: string[]) => ({
  chargePointId: 'CP-1', store: { path: ':memory:' }, csms: { url: 'ws://127.0.0.1:9220/ocpp', securityProfile: 1, authorizationKey, ocppVersions },
});
function problemsOf(value: unknown): readonly ConfigProblem[] {
  try {
    parseAgentConfig(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}
const keyProblems = (key: string, versions: string[]) => problemsOf(config(key, versions)).filter((p) => p.path === 'csms.authorizationKey');

const PW30 = 'a-2.0.1-password:of-30-chars!!';
const HEX32 = '0123456789abcdef0123456789abcdef';

describe('csms.authorizationKey per OCPP version', () => {
  it('2.0.1 alone takes 16 to 40 printable characters; shorter, longer or non-ASCII is refused at its path', () => {
    expect(PW30).toHaveLength(30);
    expect(keyProblems(PW30, ['ocpp2.0.1'])).toEqual([]);
    expect(keyProblems('x'.repeat(40), ['ocpp2.0.1'])).toEqual([]);
    expect(keyProblems('x'.repeat(16), ['ocpp2.0.1'])).toEqual([]);
    for (const bad of ['x'.repeat(15), 'x'.repeat(41), 'ü'.repeat(16)]) expect(keyProblems(bad, ['ocpp2.0.1'])).toHaveLength(1);
  });

  it('with 1.6 offered (alone or beside 2.0.1) the 1.6 rule holds: a 30-character password is refused, and the message says why', () => {
    for (const versions of [['ocpp1.6'], ['ocpp2.0.1', 'ocpp1.6']]) {
      const problems = keyProblems(PW30, versions);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.message).toMatch(/16-20 characters.*OCPP 1\.6 is offered/);
      expect(keyProblems(HEX32, versions)).toEqual([]);
      expect(keyProblems('x'.repeat(20), versions)).toEqual([]);
    }
  });

  it('the bytes sent: 2.0.1 alone uses the password as it is (hex digits too); with 1.6 offered, 32-40 hex digits are the key\'s bytes', () => {
    expect(configPasswordBytes(HEX32, ['ocpp2.0.1'])!.toString('latin1')).toBe(HEX32);
    expect(configPasswordBytes(HEX32, ['ocpp1.6'])!.equals(Buffer.from(HEX32, 'hex'))).toBe(true);
    expect(configPasswordBytes(PW30, ['ocpp2.0.1'])!.toString('latin1')).toBe(PW30);
    expect(configPasswordBytes(PW30, ['ocpp1.6'])).toBeUndefined();
  });
});
