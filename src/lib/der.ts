/**
 * The little DER (X.690) the charger needs for its certificates: reading a certificate's
 * issuer name and a key's bits (CertificateHashData, RFC 6960 CertID), and writing a PKCS#10
 * certificate signing request. Node's crypto signs and parses certificates but encodes
 * neither of these.
 */

export interface Tlv {
  tag: number;
  /** The whole element: tag, length and value. */
  raw: Buffer;
  value: Buffer;
}

/** One TLV element at `offset` (short and long lengths; single-byte tags). */
export function readTlv(buf: Buffer, offset = 0): Tlv & { end: number } {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) throw new Error('DER: truncated element');
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: unsupported length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  const end = pos + len;
  if (end > buf.length) throw new Error('DER: element past the end');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(pos, end), end };
}

/** The elements of a constructed value (SEQUENCE, SET, context tag). */
export function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < value.length;) {
    const t = readTlv(value, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** A certificate's issuer Name, DER-encoded as it stands in the certificate. */
export function issuerNameDer(certDer: Buffer): Buffer {
  const [tbs] = children(readTlv(certDer).value);
  if (!tbs) throw new Error('DER: not a certificate');
  const fields = children(tbs.value);
  // version [0] is optional: then serialNumber, signature, issuer.
  const i = fields[0]?.tag === 0xa0 ? 3 : 2;
  const issuer = fields[i];
  if (!issuer || issuer.tag !== 0x30) throw new Error('DER: no issuer name');
  return issuer.raw;
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (what RFC 6960's issuerKeyHash hashes). */
export function publicKeyBits(spkiDer: Buffer): Buffer {
  const [, bits] = children(readTlv(spkiDer).value);
  if (!bits || bits.tag !== 0x03) throw new Error('DER: no subjectPublicKey');
  return bits.value.subarray(1); // after the unused-bits byte
}

// ------------------------------------------------------------- writing

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const value = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
};

export const sequence = (...parts: Buffer[]) => tlv(0x30, ...parts);

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const enc: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) enc.unshift(0x80 | (v & 0x7f));
    bytes.push(...enc);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
const OID_COUNTRY = '2.5.4.6';

/** An X.501 Name of UTF8String attributes (PrintableString for the country, as X.520 requires). */
export function name(subject: { commonName: string; organization?: string; country?: string }): Buffer {
  const rdn = (id: string, value: string, tag = 0x0c) => tlv(0x31, sequence(oid(id), tlv(tag, Buffer.from(value, 'utf8'))));
  return sequence(
    ...(subject.country ? [rdn(OID_COUNTRY, subject.country, 0x13)] : []),
    ...(subject.organization ? [rdn(OID_ORGANIZATION, subject.organization)] : []),
    rdn(OID_COMMON_NAME, subject.commonName),
  );
}

/** ecdsa-with-SHA256 (RFC 5758). */
export const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/**
 * A PKCS#10 CertificationRequest (RFC 2986): the subject, the public key (SPKI DER) and no
 * attributes, signed by `sign` (which holds the private key; this module never sees it).
 */
export function certificationRequest(subjectName: Buffer, spkiDer: Buffer, signatureAlgorithm: Buffer, sign: (tbs: Buffer) => Buffer): Buffer {
  const info = sequence(tlv(0x02, Buffer.from([0])), subjectName, spkiDer, tlv(0xa0));
  return sequence(info, signatureAlgorithm, tlv(0x03, Buffer.from([0]), sign(info)));
}

/** PEM armour of a DER blob. */
export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
