import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  generateOcmfKey, ocaPublicKey, OcmfError, ocmfTime, parseOcmf, parseOcmfTime, publicKeyHex, readPrivateKey, readPublicKey, signOcmf, verifyOcmf,
  type OcmfPayload,
} from '../../src/lib/ocmf.js';

const payload = (rv: number): OcmfPayload => ({
  FV: '1.0', GI: 'evse-edge', GS: 'CP-0001', PG: 'T1', MV: 'Sim', MM: 'sim-meter', MS: 'SIM-0001', IS: false, IT: 'NONE',
  RD: [{ TM: ocmfTime(Date.UTC(2026, 11, 4, 14, 22, 4, 5), true), TX: 'B', RV: rv, RI: '1-b:1.8.0', RU: 'kWh', RT: 'AC', EF: '', ST: 'G' }],
});

const dir = mkdtempSync(join(tmpdir(), 'ocmf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('OCMF records', () => {
  it('signs a record that parses and verifies against its public key, by key object and by hex', () => {
    const { privateKey, publicKey } = generateOcmfKey();
    const text = signOcmf(payload(12.345), privateKey);
    expect(text.startsWith('OCMF|{')).toBe(true);
    const record = parseOcmf(text);
    expect(record.payload.RD[0]!.RV).toBe(12.345);
    expect(record.signature.SA).toBe('ECDSA-secp256r1-SHA256');
    expect(verifyOcmf(text, publicKey).valid).toBe(true);
    expect(verifyOcmf(text, publicKeyHex(publicKey)).valid).toBe(true);
    expect(verifyOcmf(text, publicKey.export({ type: 'spki', format: 'der' }).toString('base64')).valid).toBe(true);
    // The OCA note's envelope (Base64 of oca:base16:asn1:<hex>), also as printed with spaces and 0x.
    expect(Buffer.from(ocaPublicKey(publicKeyHex(publicKey)), 'base64').toString('utf8')).toBe(`oca:base16:asn1:${publicKeyHex(publicKey)}`);
    expect(verifyOcmf(text, ocaPublicKey(publicKeyHex(publicKey))).valid).toBe(true);
    const printed = `0x${publicKeyHex(publicKey).replace(/(.{4})/g, '$1 ')}`;
    expect(verifyOcmf(text, Buffer.from(`oca:base16:asn1:${printed}`).toString('base64')).valid).toBe(true);
  });

  it('rejects a record with one changed digit, and one checked against another meter key', () => {
    const { privateKey, publicKey } = generateOcmfKey();
    const text = signOcmf(payload(12.345), privateKey);
    const tampered = text.replace('"RV":12.345', '"RV":12.346');
    expect(tampered).not.toBe(text);
    const verdict = verifyOcmf(tampered, publicKey);
    expect(verdict.valid).toBe(false);
    if (!verdict.valid) expect(verdict.reason).toMatch(/signature does not match/);
    expect(verifyOcmf(text, generateOcmfKey().publicKey).valid).toBe(false);
  });

  it('refuses malformed input with a clear OcmfError naming what is wrong', () => {
    const { privateKey, publicKey } = generateOcmfKey();
    const text = signOcmf(payload(1), privateKey);
    expect(() => parseOcmf('hello')).toThrow(/starts with "OCMF\|"/);
    expect(() => parseOcmf('OCMF|{}')).toThrow(/three sections/);
    expect(() => parseOcmf('OCMF|{x|{}')).toThrow(/payload section is not JSON/);
    expect(() => parseOcmf('OCMF|{"PG":"T1"}|{"SD":"00"}')).toThrow(/MS \(meter serial\).*IS.*IT.*RD/);
    expect(() => parseOcmf(text.replace(/"TM":"[^"]+"/, '"TM":"yesterday"'))).toThrow(/RD\[0\]\.TM/);
    expect(() => verifyOcmf(text, 'not a key')).toThrow(OcmfError);
    // A key of another curve is refused, not crashed on.
    const p384 = readPublicKey(execFileSync('openssl', ['ec', '-pubout'], { input: execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout']) }).toString());
    expect(verifyOcmf(text, p384)).toMatchObject({ valid: false });
    expect(verifyOcmf(text, publicKey).valid).toBe(true);
  });

  it('reads and writes OCMF times with their offset and sync flag', () => {
    const at = Date.UTC(2026, 11, 4, 14, 22, 4, 5);
    expect(ocmfTime(at, true)).toBe('2026-12-04T14:22:04,005+0000 S');
    expect(ocmfTime(at, false)).toBe('2026-12-04T14:22:04,005+0000 U');
    expect(parseOcmfTime('2026-12-04T15:22:04,005+0100 S')).toBe(at);
    expect(parseOcmfTime('2026-12-04T14:22:04.005Z')).toBeUndefined();
  });

  it('agrees with openssl: our signature verifies there, and openssl\'s signature verifies here', () => {
    const keyPem = join(dir, 'key.pem');
    const pubPem = join(dir, 'pub.pem');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPem]);
    execFileSync('openssl', ['ec', '-in', keyPem, '-pubout', '-out', pubPem], { stdio: 'ignore' });
    const privateKey = readPrivateKey(readFileSync(keyPem, 'utf8'));
    const publicKey = readPublicKey(readFileSync(pubPem, 'utf8'));

    // Ours, checked by openssl.
    const ours = parseOcmf(signOcmf(payload(7.5), privateKey));
    writeFileSync(join(dir, 'payload'), ours.payloadText);
    writeFileSync(join(dir, 'sig.der'), Buffer.from(ours.signature.SD, 'hex'));
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', pubPem, '-signature', join(dir, 'sig.der'), join(dir, 'payload')]).toString();
    expect(out).toMatch(/Verified OK/);

    // openssl's, checked by us (its payload text kept as openssl signed it, white space and all).
    const theirsPayload = JSON.stringify(payload(8.25), null, 1).replace(/\n/g, ' ');
    writeFileSync(join(dir, 'payload2'), theirsPayload);
    execFileSync('openssl', ['dgst', '-sha256', '-sign', keyPem, '-out', join(dir, 'sig2.der'), join(dir, 'payload2')]);
    const sd = readFileSync(join(dir, 'sig2.der')).toString('hex');
    const theirs = `OCMF|${theirsPayload}|{"SA":"ECDSA-secp256r1-SHA256","SD":"${sd}"}`;
    expect(verifyOcmf(theirs, publicKey).valid).toBe(true);
    expect(verifyOcmf(theirs.replace('8.25', '8.26'), publicKey).valid).toBe(false);
  });
});
