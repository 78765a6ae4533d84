import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../lib/errors.js';

/**
 * What the agent accepts from a central system over TLS: TLS 1.2 or 1.3 with AEAD suites only
 * (the OCPP 1.6 security whitepaper's required suites among them). Anything older or weaker is
 * refused during the handshake, before a byte of OCPP flows.
 */
export const TLS_MIN_VERSION = 'TLSv1.2';
export const STRONG_CIPHERS = [
  // TLS 1.3
  'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256',
  // TLS 1.2, forward secret
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  // TLS 1.2, RSA key exchange: listed by the whitepaper for RSA-only central systems
  'AES256-GCM-SHA384', 'AES128-GCM-SHA256',
].join(':');

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface TlsClientOptions {
  minVersion: 'TLSv1.2';
  ciphers: string;
  rejectUnauthorized: true;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** TLS options for ws/https from the configured PEM files; every unreadable file is reported. */
export function tlsClientOptions(files: TlsFiles, configFile = '<config>'): TlsClientOptions {
  const problems: { file: string; path: string; message: string }[] = [];
  const read = (field: keyof TlsFiles): Buffer | undefined => {
    const path = files[field];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push({ file: configFile, path: `csms.${field}`, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return undefined;
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if (problems.length) throw new ConfigError(problems);
  return {
    minVersion: TLS_MIN_VERSION, ciphers: STRONG_CIPHERS, rejectUnauthorized: true,
    ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
  };
}

/** Whether a private key file can be read by others than its owner and group (it should not). */
export function keyFileTooOpen(path: string): boolean {
  try {
    return (statSync(path).mode & 0o007) !== 0;
  } catch {
    return false;
  }
}
