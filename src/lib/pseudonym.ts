import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Keyed pseudonyms for idTags (DOMAIN.md §1): HMAC-SHA256 with a per-installation secret,
 * truncated. Stable for one installation, unlinkable without the secret; a plain hash of a
 * short UID space would be reversible.
 */
export type Pseudonymiser = (idTag: string) => string;

export function pseudonymiser(secret: Buffer): Pseudonymiser {
  const cache = new Map<string, string>();
  return (idTag: string) => {
    let ref = cache.get(idTag);
    if (!ref) {
      ref = 'c-' + createHmac('sha256', secret).update(idTag.toUpperCase(), 'utf8').digest('hex').slice(0, 16);
      if (cache.size > 10_000) cache.clear();
      cache.set(idTag, ref);
    }
    return ref;
  };
}

/** The installation's secret: created at first start with mode 0600, then read. */
export function loadOrCreateSecret(path: string): Buffer {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
    throw new Error(`pseudonym secret ${path} is not 64 hex digits`);
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(path, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return secret;
}
