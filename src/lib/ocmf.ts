/**
 * The Open Charge Metering Format (OCMF, S.A.F.E. e.V., github.com/SAFE-eV/OCMF-Open-Charge-Metering-Format):
 * a signed meter record is `OCMF|<payload JSON>|<signature JSON>`. The signature is ECDSA over
 * the payload section exactly as transmitted (SHA-256 of its bytes), DER-encoded, hex by default
 * (`SE`); the public key travels apart (OCPP, the display), hex of its DER SubjectPublicKeyInfo, the
 * form the S.A.F.E. Transparenzsoftware takes.
 *
 * Pure: building, signing, parsing and verifying with node:crypto. No I/O, no state.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { EvseError } from './errors.js';

/** A reading's transaction reference (OCMF table 21): B begin, C charging, X exception, E end, L end by power loss, R end by reset, A end by de-authorisation, P end by power failure of the EV, S suspended, T tariff change. */
export type OcmfTransactionCode = 'B' | 'C' | 'X' | 'E' | 'L' | 'R' | 'A' | 'P' | 'S' | 'T';

/** One reading of a record (RD). */
export interface OcmfReading {
  /** Time, `YYYY-MM-DDThh:mm:ss,fff+hhmm <sync>`; sync: U unknown, I informative, S synchronised, R relative. */
  TM: string;
  TX?: OcmfTransactionCode;
  /** Reading value, in RU. */
  RV: number;
  /** Reading identification (OBIS code, e.g. 1-b:1.8.0 import energy). */
  RI?: string;
  /** Reading unit: kWh or Wh. */
  RU: string;
  /** Current type: AC or DC. */
  RT?: 'AC' | 'DC';
  /** Cumulated loss, mOhm-compensated (loss compensation meters). */
  CL?: number;
  /** Error flags: '' none, 'E' energy, 't' time. */
  EF?: string;
  /** Status: G good (others: N not present, T timeout, D disconnected, R not found, M manipulated, X exchanged, I incompatible, O out of range, S substitute, E system error, F read error). */
  ST: string;
}

/** The payload section (OCMF tables 1-10). */
export interface OcmfPayload {
  FV?: string;
  GI?: string;
  GS?: string;
  GV?: string;
  /** Pagination: T<n> in a transaction, F<n> outside one. */
  PG: string;
  MV?: string;
  MM?: string;
  MS: string;
  MF?: string;
  IS: boolean;
  IL?: string;
  IF?: string[];
  IT: string;
  ID?: string;
  TT?: string;
  CT?: string;
  CI?: string;
  RD: OcmfReading[];
}

/** The signature section. SA absent means ECDSA-secp192r1-SHA256 (the spec's default), SE absent hex, SM absent application/x-der. */
export interface OcmfSignature {
  SA?: string;
  SE?: 'hex' | 'base64';
  SM?: string;
  SD: string;
}

export interface OcmfRecord {
  /** The payload section exactly as transmitted: what the signature covers. */
  payloadText: string;
  payload: OcmfPayload;
  signature: OcmfSignature;
}

/** The one signing method evse-edge signs with, and the one besides secp384r1 it verifies. */
export const OCMF_SIGNING_METHOD = 'ECDSA-secp256r1-SHA256';

/** The curves of the signature algorithms this module verifies, as node:crypto names them. */
const CURVE_OF_METHOD: Record<string, string> = {
  'ECDSA-secp256r1-SHA256': 'prime256v1',
  'ECDSA-secp384r1-SHA256': 'secp384r1',
};

/** A record that is not OCMF, or is malformed (ERR_OCMF_FORMAT); a key that cannot be read (ERR_OCMF_KEY). */
export class OcmfError extends EvseError {}

const bad = (message: string) => new OcmfError('ERR_OCMF_FORMAT', `OCMF: ${message}`);

/** An epoch-ms instant as an OCMF reading time, in UTC: `2026-12-04T14:22:04,000+0000 S` (S synchronised, U unknown). */
export function ocmfTime(epochMs: number, clockSynced: boolean): string {
  const iso = new Date(epochMs).toISOString(); // 2026-12-04T14:22:04.000Z
  return `${iso.slice(0, 19)},${iso.slice(20, 23)}+0000 ${clockSynced ? 'S' : 'U'}`;
}

/** An OCMF reading time as epoch ms (its offset honoured), or undefined when it is not one. */
export function parseOcmfTime(tm: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}),(\d{3})([+-])(\d{2})(\d{2}) [UISR]$/.exec(tm);
  if (!m) return undefined;
  const at = Date.parse(`${m[1]}.${m[2]}${m[3]}${m[4]}:${m[5]}`);
  return Number.isNaN(at) ? undefined : at;
}

/** A new meter key pair (ECDSA secp256r1). */
export function generateOcmfKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** A public key as OCMF tools exchange it: hex of its DER SubjectPublicKeyInfo (upper case, as meters display it). */
export function publicKeyHex(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' }).toString('hex').toUpperCase();
}

/**
 * A public key as the OCA's application note "Signed Meter Values in OCPP" (v1.0, 2025, §3.2.2)
 * has OCPP carry it (SignedMeterValueType.publicKey): Base64 of `oca:base16:asn1:<key as printed
 * on the meter>`, here the hex of its DER SubjectPublicKeyInfo.
 */
export function ocaPublicKey(hexDer: string): string {
  return Buffer.from(`oca:base16:asn1:${hexDer}`, 'utf8').toString('base64');
}

/** The key inside an OCA envelope (`oca:<encoding>:<content-type>:<key>`, itself in Base64), or undefined when the text is none. */
function fromOcaEnvelope(text: string): string | undefined {
  const decoded = /^[A-Za-z0-9+/=]+$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : text;
  const m = /^oca:(base16|base64):[^:]*:(.*)$/s.exec(decoded);
  if (!m) return undefined;
  // base16: non-hex characters (spaces of a printed key) and a leading 0x are ignored (§3.2.2).
  return m[1] === 'base16' ? m[2]!.replace(/^\s*0x/i, '').replace(/[^0-9a-fA-F]/g, '') : m[2]!.trim();
}

/** A public key from hex DER, base64 DER, PEM (SubjectPublicKeyInfo), or the OCA's envelope of one. */
export function readPublicKey(text: string): KeyObject {
  const t = fromOcaEnvelope(text.trim()) ?? text.trim();
  try {
    if (t.startsWith('-----BEGIN')) return createPublicKey(t);
    const der = /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    throw new OcmfError('ERR_OCMF_KEY', 'OCMF: the public key is neither hex nor base64 DER (SubjectPublicKeyInfo) nor PEM', { cause: err });
  }
}

/** A private key from PEM (PKCS#8 or SEC1) or hex/base64 PKCS#8 DER. */
export function readPrivateKey(text: string): KeyObject {
  const t = text.trim();
  try {
    if (t.startsWith('-----BEGIN')) return createPrivateKey(t);
    const der = /^[0-9a-fA-F]+$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new OcmfError('ERR_OCMF_KEY', 'OCMF: the private key is not PEM or PKCS#8 DER', { cause: err });
  }
}

/**
 * A signed record: the payload serialised once (JSON, no white space) and signed as it stands.
 * The key must be a secp256r1 key (OCMF_SIGNING_METHOD).
 */
export function signOcmf(payload: OcmfPayload, privateKey: KeyObject): string {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new OcmfError('ERR_OCMF_KEY', `OCMF: signing needs a secp256r1 (prime256v1) key, not ${privateKey.asymmetricKeyType} ${curve ?? ''}`.trim());
  }
  const payloadText = JSON.stringify(payload);
  if (payloadText.includes('|')) throw bad('the payload may not contain "|"');
  const sd = sign('sha256', Buffer.from(payloadText, 'utf8'), { key: privateKey, dsaEncoding: 'der' }).toString('hex').toUpperCase();
  const signature: OcmfSignature = { SA: OCMF_SIGNING_METHOD, SD: sd };
  return `OCMF|${payloadText}|${JSON.stringify(signature)}`;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A record parsed and its mandatory fields checked; a clear OcmfError names what is wrong. */
export function parseOcmf(text: string): OcmfRecord {
  const t = text.trim();
  if (!t.startsWith('OCMF|')) throw bad('a record starts with "OCMF|"');
  const sections = t.split('|');
  if (sections.length !== 3) throw bad(`a record has three sections separated by "|", this one has ${sections.length}`);
  const payloadText = sections[1]!;
  let payload: unknown;
  let signature: unknown;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    throw bad('the payload section is not JSON');
  }
  try {
    signature = JSON.parse(sections[2]!);
  } catch {
    throw bad('the signature section is not JSON');
  }
  if (!isObject(payload)) throw bad('the payload section is not a JSON object');
  if (!isObject(signature)) throw bad('the signature section is not a JSON object');
  const problems: string[] = [];
  if (typeof payload.PG !== 'string' || !/^[TF]\d+$/.test(payload.PG)) problems.push('PG (pagination, T<n> or F<n>) is missing or malformed');
  if (typeof payload.MS !== 'string') problems.push('MS (meter serial) is missing');
  if (typeof payload.IS !== 'boolean') problems.push('IS (identification status) is missing or not a boolean');
  if (typeof payload.IT !== 'string') problems.push('IT (identification type) is missing');
  if (!Array.isArray(payload.RD) || payload.RD.length === 0) problems.push('RD (readings) is missing or empty');
  else {
    payload.RD.forEach((rd: unknown, i: number) => {
      if (!isObject(rd)) return problems.push(`RD[${i}] is not an object`);
      if (typeof rd.TM !== 'string' || parseOcmfTime(rd.TM) === undefined) problems.push(`RD[${i}].TM is missing or not an OCMF time`);
      if (typeof rd.RV !== 'number' || !Number.isFinite(rd.RV)) problems.push(`RD[${i}].RV is missing or not a number`);
      if (typeof rd.RU !== 'string') problems.push(`RD[${i}].RU is missing`);
      if (typeof rd.ST !== 'string') problems.push(`RD[${i}].ST is missing`);
      return undefined;
    });
  }
  if (typeof signature.SD !== 'string' || signature.SD.length === 0) problems.push('SD (signature data) is missing');
  if (signature.SE !== undefined && signature.SE !== 'hex' && signature.SE !== 'base64') problems.push('SE (signature encoding) is neither hex nor base64');
  if (problems.length > 0) throw bad(problems.join('; '));
  return { payloadText, payload: payload as unknown as OcmfPayload, signature: signature as unknown as OcmfSignature };
}

export type OcmfVerdict = { valid: true; record: OcmfRecord } | { valid: false; reason: string; record?: OcmfRecord };

/**
 * A record checked against a public key: the signature over the payload section as transmitted,
 * the algorithm named by SA and the key's curve agreeing. A malformed record or key throws
 * OcmfError (bad input); a well-formed record that does not verify is `valid: false`.
 */
export function verifyOcmf(text: string, publicKey: KeyObject | string): OcmfVerdict {
  const record = parseOcmf(text);
  const key = typeof publicKey === 'string' ? readPublicKey(publicKey) : publicKey;
  const method = record.signature.SA ?? 'ECDSA-secp192r1-SHA256';
  const curve = CURVE_OF_METHOD[method];
  if (!curve) return { valid: false, reason: `signature algorithm ${method} is not supported (${Object.keys(CURVE_OF_METHOD).join(', ')})`, record };
  const keyCurve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || keyCurve !== curve) return { valid: false, reason: `the public key (${key.asymmetricKeyType} ${keyCurve ?? ''}) is not one for ${method}`, record };
  if (record.signature.SM !== undefined && record.signature.SM !== 'application/x-der') return { valid: false, reason: `signature mime type ${record.signature.SM} is not supported`, record };
  const encoding = record.signature.SE ?? 'hex';
  if (encoding === 'hex' && !/^([0-9a-fA-F]{2})+$/.test(record.signature.SD)) throw bad('SD is not hex');
  const sd = Buffer.from(record.signature.SD, encoding);
  let ok: boolean;
  try {
    ok = verify('sha256', Buffer.from(record.payloadText, 'utf8'), { key, dsaEncoding: 'der' }, sd);
  } catch {
    ok = false;
  }
  return ok ? { valid: true, record } : { valid: false, reason: 'the signature does not match the payload and public key', record };
}
