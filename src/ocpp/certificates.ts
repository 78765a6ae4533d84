/**
 * The station's certificates as the OCPP bindings see them (a port: the application's
 * certificate store implements it, src/app/services/certificate-store.ts). The station's own
 * key is made and kept behind this port; no method returns it.
 */

import type { NetworkProfile } from './security-keys.js';

/** The root certificates the central system can install, list and delete (2.0.1 M03–M05; 1.6 security whitepaper's). */
export const ROOT_USES = ['CSMSRoot', 'ManufacturerRoot', 'V2GRoot', 'MORoot'] as const;
export type RootUse = (typeof ROOT_USES)[number];

/** RFC 6960's CertID: how OCPP names a certificate (hex, lower case). */
export interface CertificateHash {
  hashAlgorithm: 'SHA256' | 'SHA384' | 'SHA512';
  issuerNameHash: string;
  issuerKeyHash: string;
  serialNumber: string;
}

export interface InstalledCertificate {
  use: RootUse;
  hash: CertificateHash;
}

/** Why a signed chain was refused, for the security event and the log (no key material). */
export type SignedChainVerdict = { accepted: true } | { accepted: false; reason: string };

export interface CertificateService {
  /**
   * A new key pair for the station's certificate and a PKCS#10 request for it (PEM). The key
   * stays pending (on the charger, readable by its owner only) until a signed chain for it arrives.
   */
  signingRequest(subject: { commonName: string; organization?: string }): Promise<string>;
  /**
   * A chain signed for the pending key: installed as the station's certificate if its leaf
   * holds that key, every certificate is valid now and each is signed by the next, up to a
   * trusted CSMS root. The previous certificate stays as fallback.
   */
  acceptSignedChain(pemChain: string): SignedChainVerdict;
  /** Whether a certificate (chain, leaf first) is valid now and leads to an installed root of `use` (a firmware signing certificate: ManufacturerRoot). */
  verifyIssuedBy(use: RootUse, pemChain: string): SignedChainVerdict;
  /** Install a root: Accepted, Rejected (not a valid CA certificate), Failed (storage). */
  installRoot(use: RootUse, pemCertificate: string): 'Accepted' | 'Rejected' | 'Failed';
  /** The roots installed, of the uses given (all when none). */
  installed(uses?: readonly RootUse[]): InstalledCertificate[];
  /** Delete a root by its CertID: the station's own certificate is never deleted (Failed). */
  delete(hash: CertificateHash): 'Accepted' | 'Failed' | 'NotFound';
  /** When the station's certificate in use expires (epoch ms), if it has one. */
  stationCertificateValidTo(): number | undefined;
  /** The PEM certificates installed for a use (CSMSRoot: what the central system's TLS certificate may chain to). */
  rootCertificates(use: RootUse): string[];
  /** The station's certificate chain and key for mutual TLS, if one was signed (the connection reads it; nothing else). */
  clientCredentials(): { cert: Buffer; key: Buffer } | undefined;
  /** How many certificates are installed (roots and the station's own). */
  count(): number;
}

/** What the bindings need for Advanced Security: the certificates and a way to raise a security event. */
export interface StationSecurity {
  certificates: CertificateService;
  /** Queue a security event for the central system (the version's own event name). */
  securityEvent(type: string, techInfo?: string): void;
  /** The station's certificate was replaced (CertificateSigned accepted): reconnect with it where it is used (security profile 3). */
  stationCertificateChanged?(): void;
  /**
   * SetNetworkProfile (A05, B09): keep a connection profile for a slot, used from the next
   * connection the slot is first in NetworkConfigurationPriority. Returns why it is refused
   * (a lower security profile than the one in force, or one the charger cannot use), or undefined.
   */
  setNetworkProfile?(slot: number, profile: NetworkProfile): string | undefined;
}
