import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generateOcmfKey, parseOcmf, readPrivateKey } from '../../lib/ocmf.js';
import type { SignedDisplayValue } from '../../drivers/hmi/display.js';

/**
 * A simulated signing meter's key: `meter-<connector>.key` (PKCS#8 PEM, mode 0600) beside the
 * store, created at first start, so the meter's public key (on the display, at the central
 * system) stays the same across restarts, as a real meter's does.
 */
export function loadOrCreateMeterKey(storePath: string, connectorId: number): KeyObject {
  const path = join(dirname(storePath), `meter-${connectorId}.key`);
  if (existsSync(path)) return readPrivateKey(readFileSync(path, 'utf8'));
  mkdirSync(dirname(path), { recursive: true });
  const { privateKey } = generateOcmfKey();
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return privateKey;
}

/** The readings of a session's signed records, for the screen (a record that does not parse is left out). */
export function signedReadingsOf(values: readonly { data: string }[]): SignedDisplayValue[] {
  const out: SignedDisplayValue[] = [];
  for (const v of values) {
    try {
      for (const rd of parseOcmf(v.data).payload.RD) out.push({ time: rd.TM, ...(rd.TX ? { tx: rd.TX } : {}), value: rd.RV, unit: rd.RU });
    } catch {
      // not OCMF: nothing to show
    }
  }
  return out;
}

/**
 * A simulated signing meter's pagination counter (OCMF PG), `meter-<connector>.page` beside the
 * store: records of one meter count on across restarts, as a real meter's do.
 */
export const meterPages = (storePath: string) => ({
  first(connectorId: number): number {
    const path = join(dirname(storePath), `meter-${connectorId}.page`);
    const n = existsSync(path) ? Number.parseInt(readFileSync(path, 'utf8'), 10) : 1;
    return Number.isInteger(n) && n >= 1 ? n : 1;
  },
  save(connectorId: number, next: number): void {
    const path = join(dirname(storePath), `meter-${connectorId}.page`);
    writeFileSync(`${path}.tmp`, `${next}\n`);
    renameSync(`${path}.tmp`, path);
  },
});
