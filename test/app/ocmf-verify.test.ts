import { describe, expect, it } from 'vitest';
import { verifySignedValues } from '../../src/app/ocmf.js';
import { generateOcmfKey, ocmfTime, publicKeyHex, signOcmf, type OcmfPayload } from '../../src/lib/ocmf.js';

/** `ocmf verify` on a sessions export: signatures, one meter, increasing pagination, energy bracketed. */
const { privateKey, publicKey } = generateOcmfKey();
const key = publicKeyHex(publicKey);
const record = (page: number, tx: 'B' | 'E', kWh: number, meter = 'M-1'): string => signOcmf({
  PG: `T${page}`, MS: meter, IS: false, IT: 'NONE', RD: [{ TM: ocmfTime(Date.UTC(2026, 0, 1, 8, page), true), TX: tx, RV: kWh, RU: 'kWh', ST: 'G' }],
} satisfies OcmfPayload, privateKey);
const session = (values: string[], energyWh: number) => ({
  localId: 'S-1', stoppedAt: '2026-01-01T09:00:00.000Z', energyWh,
  signedMeterValues: values.map((data, i) => ({ data, publicKey: key, context: i === 0 ? 'Transaction.Begin' : 'Transaction.End' })),
});
const verify = (s: object) => verifySignedValues(JSON.stringify([s]));

describe('ocmf verify of a sessions export', () => {
  it('accepts a session whose begin and end are signed, from one meter, in order, giving its energy', () => {
    const r = verify(session([record(7, 'B', 100.5), record(8, 'E', 112.25)], 11_750));
    expect(r).toMatchObject({ valid: true, problems: [] });
    expect(r.records.map((x) => x.tx)).toEqual(['B', 'E']);
  });

  it('refuses end − begin that is not the session\'s energy, records out of order, and records from two meters', () => {
    expect(verify(session([record(7, 'B', 100.5), record(8, 'E', 112.25)], 11_751)).problems[0]).toMatch(/11750 Wh, the session says 11751/);
    expect(verify(session([record(8, 'B', 100.5), record(7, 'E', 112.25)], 11_750)).problems[0]).toMatch(/pagination T8, T7 does not increase/);
    expect(verify(session([record(7, 'B', 100.5), record(8, 'E', 112.25, 'M-2')], 11_750)).problems[0]).toMatch(/from 2 meters/);
  });

  it('refuses a record with one changed digit', () => {
    const r = verify(session([record(7, 'B', 100.5), record(8, 'E', 112.25).replace('112.25', '112.26')], 11_760));
    expect(r.valid).toBe(false);
    expect(r.records[1]).toMatchObject({ valid: false, reason: expect.stringMatching(/does not match/) });
  });

  it('says bad input clearly: not JSON, not OCMF, no key', () => {
    expect(() => verifySignedValues('hello')).toThrow(/neither an OCMF record/);
    expect(() => verifySignedValues('{"x":1}')).toThrow(/sessions export \(an array\) or a signed meter value/);
    expect(() => verifySignedValues(record(1, 'B', 1))).toThrow(/no public key/);
    expect(() => verifySignedValues(record(1, 'B', 1), 'not-a-key')).toThrow(/public key/);
  });
});
