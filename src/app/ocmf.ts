/**
 * `evse-edge ocmf verify`: check signed meter values (OCMF) against their meter's public key.
 * The input is one of: an OCMF record (`OCMF|…|…`, the key given apart), an OCPP signed meter
 * value as JSON (2.0.1's SignedMeterValueType, or 1.6's SignedData value: signedMeterData in
 * base64 with its publicKey), or a `sessions export` (JSON), whose sessions carry their records
 * and keys. Each record is verified; in an export each session's records must come from one
 * meter in increasing pagination, and its signed begin and end values bracket its energy
 * (end − begin = the session's Wh).
 */
import { parseOcmf, readPublicKey, verifyOcmf } from '../lib/ocmf.js';
import { UsageError } from '../lib/errors.js';

export interface RecordVerdict {
  /** Where the record is: "record", "session <localId> #n", "signed value". */
  where: string;
  valid: boolean;
  reason?: string;
  /** The record's pagination, transaction code and reading (kWh or Wh as RU says). */
  page?: string;
  tx?: string;
  value?: number;
  unit?: string;
}

export interface VerifyReport {
  valid: boolean;
  records: RecordVerdict[];
  /** Sessions whose signed begin and end do not give their energy. */
  problems: string[];
}

function verdictOf(where: string, ocmf: string, key: string | undefined): RecordVerdict {
  if (!key) throw new UsageError(`${where}: no public key (give --key, or verify an OCPP value or an export that carries it)`);
  const v = verifyOcmf(ocmf, key);
  const rd = v.record?.payload.RD[0];
  const facts = v.record ? { page: v.record.payload.PG, ...(rd ? { tx: rd.TX, value: rd.RV, unit: rd.RU } : {}) } : {};
  return v.valid ? { where, valid: true, ...facts } : { where, valid: false, reason: v.reason, ...facts };
}

/** A record's meter serial (MS), or '' when it does not parse. */
function safeMeter(ocmf: string): string {
  try {
    return parseOcmf(ocmf).payload.MS;
  } catch {
    return '';
  }
}

const whOf = (r: RecordVerdict) => (r.value === undefined ? undefined : r.unit === 'kWh' ? Math.round(r.value * 1000) : r.value);

/** A base64 OCMF text, or the text itself. */
function ocmfText(s: string): string {
  if (s.trim().startsWith('OCMF|')) return s.trim();
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  if (!decoded.startsWith('OCMF|')) throw new UsageError('signedMeterData is neither an OCMF record nor one in base64');
  return decoded;
}

/**
 * Verify the text of a file or stdin. Bad input (not OCMF, not JSON of a known shape, a key
 * that cannot be read) throws UsageError or OcmfError: the command exits 2.
 */
export function verifySignedValues(text: string, keyText?: string): VerifyReport {
  if (keyText !== undefined) readPublicKey(keyText); // an unreadable key is bad input, whatever the records
  const t = text.trim();
  const records: RecordVerdict[] = [];
  const problems: string[] = [];
  if (t.startsWith('OCMF|')) {
    for (const [i, line] of t.split(/\r?\n/).filter((l) => l.trim()).entries()) records.push(verdictOf(`record ${i + 1}`, line.trim(), keyText));
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch {
      throw new UsageError('input is neither an OCMF record (OCMF|…|…) nor JSON');
    }
    if (Array.isArray(doc)) {
      // A sessions export.
      for (const s of doc as { localId?: string; energyWh?: number; stoppedAt?: string | null; signedMeterValues?: { data: string; publicKey: string; context: string }[] }[]) {
        if (typeof s !== 'object' || s === null || typeof s.localId !== 'string') throw new UsageError('a JSON array must be a sessions export (objects with localId)');
        const own = (s.signedMeterValues ?? []).map((v, i) => verdictOf(`session ${s.localId} #${i + 1} (${v.context})`, v.data, keyText ?? v.publicKey));
        records.push(...own);
        // One meter, and its records in the order it paginated them (none removed or reordered between them).
        const meters = new Set((s.signedMeterValues ?? []).map((v) => safeMeter(v.data)));
        if (meters.size > 1) problems.push(`session ${s.localId}: signed values from ${meters.size} meters`);
        const pages = own.map((r) => (r.page ? Number(r.page.slice(1)) : Number.NaN));
        if (pages.some((p, i) => i > 0 && !(p > pages[i - 1]!))) problems.push(`session ${s.localId}: pagination ${own.map((r) => r.page).join(', ')} does not increase`);
        const begin = own.find((r) => r.tx === 'B');
        const end = [...own].reverse().find((r) => r.tx === 'E' || r.tx === 'L' || r.tx === 'R' || r.tx === 'A' || r.tx === 'P');
        if (s.stoppedAt && begin && end && typeof s.energyWh === 'number') {
          const signedWh = whOf(end)! - whOf(begin)!;
          if (signedWh !== s.energyWh) problems.push(`session ${s.localId}: signed end − begin is ${signedWh} Wh, the session says ${s.energyWh} Wh`);
        }
      }
    } else if (typeof doc === 'object' && doc !== null && typeof (doc as { signedMeterData?: unknown }).signedMeterData === 'string') {
      const v = doc as { signedMeterData: string; publicKey?: string; encodingMethod?: string };
      if (v.encodingMethod !== undefined && v.encodingMethod !== 'OCMF') throw new UsageError(`encodingMethod ${v.encodingMethod}: only OCMF is verified`);
      const key = keyText ?? (v.publicKey ? v.publicKey : undefined);
      records.push(verdictOf('signed value', ocmfText(v.signedMeterData), key));
    } else {
      throw new UsageError('JSON input must be a sessions export (an array) or a signed meter value ({signedMeterData, publicKey, …})');
    }
  }
  if (records.length === 0) throw new UsageError('no signed meter values in the input');
  return { valid: records.every((r) => r.valid) && problems.length === 0, records, problems };
}

