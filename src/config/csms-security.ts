/**
 * OCPP security profiles (OCPP 1.6 security whitepaper): what each profile needs from the
 * config, and the AuthorizationKey format. Pure checks, no I/O: the files named here are
 * read when the agent connects (and by `evse-edge doctor`).
 */
import type { Problem } from './schema.js';

export const SECURITY_PROFILES = [0, 1, 2, 3] as const;
export type SecurityProfile = (typeof SECURITY_PROFILES)[number];

/**
 * 16-20 printable ASCII characters used as they are, or the hex form of 16-20 bytes
 * (32-40 hex digits), which is how central systems send it in ChangeConfiguration.
 */
export const AUTHORIZATION_KEY_PATTERN = /^(?:[\x20-\x7E]{16,20}|(?:[0-9A-Fa-f]{2}){16,20})$/;

/** The password bytes of an AuthorizationKey, or undefined when the value is not a valid key. */
export function decodeAuthorizationKey(value: string): Buffer | undefined {
  if (!AUTHORIZATION_KEY_PATTERN.test(value)) return undefined;
  if (value.length >= 32 && /^[0-9A-Fa-f]+$/.test(value)) return Buffer.from(value, 'hex');
  return Buffer.from(value, 'latin1');
}

export function authorizationKeyProblem(value: string): string | undefined {
  return decodeAuthorizationKey(value) ? undefined : 'expected 16-20 characters, or the hex form of 16-20 bytes (32-40 hex digits)';
}

/**
 * OCPP 2.0.1's Basic auth password (SecurityCtrlr.BasicAuthPassword, passwordString): 16 to 40
 * printable ASCII characters, used as they are (never hex-decoded).
 */
export const BASIC_AUTH_PASSWORD_PATTERN = /^[\x20-\x7E]{16,40}$/;

/** What any version accepts in the config file (the union of 1.6's and 2.0.1's forms); crossCheck narrows it per version. */
export const ANY_VERSION_PASSWORD_PATTERN = BASIC_AUTH_PASSWORD_PATTERN;

export function basicAuthPasswordProblem(value: string): string | undefined {
  return BASIC_AUTH_PASSWORD_PATTERN.test(value) ? undefined : 'expected 16-40 printable ASCII characters';
}

/**
 * The config's authorizationKey as the versions offered read it: with OCPP 1.6 offered, 1.6's
 * AuthorizationKey (16-20 characters, or 32-40 hex digits for the bytes); 2.0.1 alone, 2.0.1's
 * passwordString (16-40 characters, as they are).
 */
export function configPasswordProblem(value: string, ocppVersions: readonly string[]): string | undefined {
  if (ocppVersions.includes('ocpp1.6')) {
    const p = authorizationKeyProblem(value);
    return p ? `${p} (OCPP 1.6 is offered; a station offering only ocpp2.0.1 takes 16-40 characters)` : undefined;
  }
  return basicAuthPasswordProblem(value);
}

/** The Basic auth password bytes of the config's key for the versions offered (1.6 offered: its decoding; 2.0.1 alone: as it is). */
export function configPasswordBytes(value: string, ocppVersions: readonly string[]): Buffer | undefined {
  if (ocppVersions.includes('ocpp1.6')) return decodeAuthorizationKey(value);
  return BASIC_AUTH_PASSWORD_PATTERN.test(value) ? Buffer.from(value, 'latin1') : undefined;
}

/** The security part of the `csms` block. */
export interface CsmsSecurityConfig {
  url: string;
  securityProfile: number;
  authorizationKey?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** What profile `profile` needs that the config lacks, as problems at their field paths. */
export function securityProfileProblems(csms: CsmsSecurityConfig, profile = csms.securityProfile, base = 'csms'): Problem[] {
  const problems: Problem[] = [];
  const tls = /^wss:\/\//i.test(csms.url);
  if ((profile === 1 || profile === 2) && !csms.authorizationKey) {
    problems.push({ path: `${base}.authorizationKey`, message: `security profile ${profile} needs an AuthorizationKey (HTTP Basic auth)` });
  }
  if (profile >= 2 && !tls) problems.push({ path: `${base}.url`, message: `security profile ${profile} needs a wss:// URL (TLS)` });
  if (profile === 3 && !csms.cert) problems.push({ path: `${base}.cert`, message: 'security profile 3 needs a client certificate (PEM file)' });
  if (profile === 3 && !csms.key) problems.push({ path: `${base}.key`, message: 'security profile 3 needs the client certificate\'s private key (PEM file)' });
  if (Boolean(csms.cert) !== Boolean(csms.key) && profile !== 3) {
    problems.push({ path: `${base}.${csms.cert ? 'key' : 'cert'}`, message: 'a client certificate and its key go together' });
  }
  if (!tls && (csms.ca || csms.cert)) problems.push({ path: `${base}.url`, message: 'ca, cert and key are used only with a wss:// URL' });
  return problems;
}
