/**
 * OCPP 1.6 security whitepaper: the security events the agent reports, how a failed
 * connection maps to one, and the SecurityProfile and AuthorizationKey configuration keys.
 */
import { authorizationKeyProblem } from '../../config/csms-security.js';
import type { KeyDefinition } from './configuration.js';
import { CERTIFICATE_LIMITS } from './certificates.js';

/**
 * The security events of the whitepaper (edition 3, appendix 1), with whether each is critical
 * (critical ones are what a central system must hear of at once). Every one recorded is kept in
 * the security log and queued for the central system through the outbox, as transaction messages are.
 */
export const SECURITY_EVENTS = {
  FirmwareUpdated: { critical: true },
  FailedToAuthenticateAtCentralSystem: { critical: false },
  CentralSystemFailedToAuthenticate: { critical: false },
  SettingSystemTime: { critical: true },
  StartupOfTheDevice: { critical: true },
  ResetOrReboot: { critical: true },
  SecurityLogWasCleared: { critical: true },
  ReconfigurationOfSecurityParameters: { critical: false },
  MemoryExhaustion: { critical: true },
  InvalidMessages: { critical: false },
  AttemptedReplayAttacks: { critical: false },
  TamperDetectionActivated: { critical: true },
  InvalidFirmwareSignature: { critical: false },
  InvalidFirmwareSigningCertificate: { critical: false },
  InvalidCentralSystemCertificate: { critical: false },
  InvalidChargePointCertificate: { critical: false },
  InvalidTLSVersion: { critical: false },
  InvalidTLSCipherSuite: { critical: false },
} as const;
export type SecurityEventType = keyof typeof SECURITY_EVENTS;

/** OCPP 2.0.1's names of the same events (an event recorded while the charger spoke 2.0.1, delivered on 1.6). */
const V16_NAMES: Readonly<Record<string, SecurityEventType>> = {
  InvalidCsmsCertificate: 'InvalidCentralSystemCertificate',
  FailedToAuthenticateAtCsms: 'FailedToAuthenticateAtCentralSystem',
  CsmsFailedToAuthenticate: 'CentralSystemFailedToAuthenticate',
  InvalidChargingStationCertificate: 'InvalidChargePointCertificate',
};

/** A recorded event's type as the 1.6 whitepaper names it. */
export const v16SecurityEventType = (type: string): string => V16_NAMES[type] ?? type;

const CERTIFICATE_ERRORS = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_CA_MD_TOO_WEAK', 'ERR_SSL_EE_KEY_TOO_SMALL',
]);
// Matched against the error code and, for EPROTO (how https reports TLS alerts), OpenSSL's reason.
const VERSION_ERRORS = /UNSUPPORTED[_ ]PROTOCOL|PROTOCOL[_ ]VERSION|NO[_ ]PROTOCOLS[_ ]AVAILABLE|WRONG[_ ]SSL[_ ]VERSION|VERSION[_ ]TOO[_ ]LOW/i;
const CIPHER_ERRORS = /NO[_ ]SHARED[_ ]CIPHER|NO[_ ]CIPHERS[_ ]AVAILABLE|ALERT[_ ]HANDSHAKE[_ ]FAILURE|INSUFFICIENT[_ ]SECURITY|NO[_ ]SUITABLE/i;
const CLIENT_CERT_REFUSED = /ALERT[_ ]BAD[_ ]CERTIFICATE|ALERT[_ ]UNKNOWN[_ ]CA|CERTIFICATE[_ ]REQUIRED|ALERT[_ ]CERTIFICATE[_ ](UNKNOWN|EXPIRED|REVOKED|UNSUPPORTED)|ALERT[_ ]ACCESS[_ ]DENIED/i;

/**
 * The security event a failed connection attempt is, if any: a server certificate that does
 * not verify, a TLS version or cipher suite we refuse, or the central system refusing us.
 * Plain network failures (refused, reset, timeout, DNS) are not security events.
 */
export function securityEventOfConnectError(err: { code?: string | number; message?: string }): { type: SecurityEventType; techInfo: string } | undefined {
  const code = err.code === undefined ? '' : String(err.code);
  const techInfo = `${code || 'error'}: ${err.message ?? ''}`.slice(0, 255);
  if (CERTIFICATE_ERRORS.has(code)) return { type: 'InvalidCentralSystemCertificate', techInfo };
  const text = code === 'EPROTO' || code.startsWith('ERR_SSL') ? `${code} ${err.message ?? ''}` : '';
  if (VERSION_ERRORS.test(text)) return { type: 'InvalidTLSVersion', techInfo };
  if (CLIENT_CERT_REFUSED.test(text)) return { type: 'FailedToAuthenticateAtCentralSystem', techInfo };
  if (CIPHER_ERRORS.test(text)) return { type: 'InvalidTLSCipherSuite', techInfo };
  if (code === '401' || code === '403') return { type: 'FailedToAuthenticateAtCentralSystem', techInfo: `HTTP ${code}` };
  return undefined;
}

export interface SecurityKeyState {
  /** The profile in force (config, raised over OCPP). */
  profile(): number;
  /** Why the charger cannot move to `profile` (missing key, URL or certificate), or undefined. */
  cannotUse(profile: number): string | undefined;
  /** False until the store is open: the keys come from the `csms` block, not the `ocpp` one. */
  ready(): boolean;
}

/**
 * SecurityProfile (raise only, never lower, over OCPP) and AuthorizationKey (write-only: never
 * in GetConfiguration, never logged). The agent persists changes and reconnects.
 */
export function securityKeyDefinitions(state: SecurityKeyState): KeyDefinition[] {
  const notInOcppBlock = (field: string) => (state.ready() ? undefined : `set csms.${field} instead`);
  return [
    {
      key: 'SecurityProfile', readonly: false, type: 'int', default: String(state.profile()), min: 0, max: 3,
      validate: (value) => {
        const early = notInOcppBlock('securityProfile');
        if (early) return early;
        if (!/^\d$/.test(value.trim())) return 'expected 0, 1, 2 or 3';
        const wanted = Number(value);
        if (wanted < state.profile()) return `a security profile is never lowered over OCPP (now ${state.profile()})`;
        return state.cannotUse(wanted);
      },
    },
    {
      key: 'AuthorizationKey', readonly: false, type: 'string', default: '', writeOnly: true,
      validate: (value) => notInOcppBlock('authorizationKey') ?? authorizationKeyProblem(value),
    },
    ...certificateKeyDefinitions(),
  ];
}

/**
 * The whitepaper's certificate management keys: the largest CertificateSigned chain (bytes) and
 * the most certificates the charger keeps (read-only: this charger's limits), the CPO name that
 * goes into the O of every CSR, and AdditionalRootCertificateCheck (not supported: false).
 */
export function certificateKeyDefinitions(): KeyDefinition[] {
  return [
    { key: 'CertificateSignedMaxChainSize', readonly: true, type: 'int', default: String(CERTIFICATE_LIMITS.certificateSignedMaxChainSize) },
    { key: 'CertificateStoreMaxLength', readonly: true, type: 'int', default: String(CERTIFICATE_LIMITS.certificateStoreMaxLength) },
    { key: 'CpoName', readonly: false, type: 'string', default: '', validate: (v) => (v.length > 64 ? 'at most 64 characters (the O of a certificate)' : undefined) },
    { key: 'AdditionalRootCertificateCheck', readonly: true, type: 'bool', default: 'false' },
  ];
}
