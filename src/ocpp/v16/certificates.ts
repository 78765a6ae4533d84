/**
 * The OCPP 1.6 security whitepaper's certificate management (edition 3, use cases A02/A03, M03–M05 as
 * it numbers them after 2.0.1): the charge point's certificate signed by the central system from a
 * key made on the charger (ExtendedTriggerMessage SignChargePointCertificate → SignCertificate →
 * CertificateSigned), and the roots it installs, lists and deletes. The certificates live behind
 * the same CertificateService port as 2.0.1's (../certificates.ts); a charger without one (a
 * simulated fleet) answers Rejected/NotFound.
 *
 * Over an unsecured connection (SecurityProfile 0 or 1: no TLS) certificates are neither
 * installed, deleted nor signed, as on 2.0.1 (libocpp #857): without TLS anyone on the path can
 * plant a CentralSystemRoot and then impersonate the central system once the charger moves to
 * profile 2, or get a charge point certificate issued for a key of their own. Listing the roots
 * reveals nothing secret and is answered at any profile.
 */
import type { CertificateHash, RootUse, StationSecurity } from '../certificates.js';
import type { Log } from '../../lib/log.js';
import type { ConfigurationStore } from './store-ports.js';
import type { CsAction, CsRequest, CsResponse, V16CertificateUse } from './messages.js';

/** What the certificate handlers use of the incoming context. */
export interface V16CertificateContext {
  chargePoint: { readonly id: string };
  settings: ConfigurationStore;
  log: Log;
  link: { send(action: 'SignCertificate', request: { csr: string }): Promise<{ status: 'Accepted' | 'Rejected' }> };
  features?: { security?: StationSecurity };
}

type Handler<A extends CsAction> = (req: CsRequest<A>, ctx: V16CertificateContext) => Promise<CsResponse<A>> | CsResponse<A>;

const USE_OF: Record<V16CertificateUse, RootUse> = { CentralSystemRootCertificate: 'CSMSRoot', ManufacturerRootCertificate: 'ManufacturerRoot' };

/** The whitepaper's configuration keys of certificate management (their values are this charger's limits). */
export const CERTIFICATE_LIMITS = {
  /** Bytes of a CertificateSigned chain: the schema's maximum. */
  certificateSignedMaxChainSize: 10_000,
  /** Certificates installed (roots and the charger's own). */
  certificateStoreMaxLength: 20,
} as const;

const intSetting = (ctx: V16CertificateContext, key: string, fallback: number): number => {
  const value = ctx.settings.get(key);
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) ? n : fallback;
};

/** Whether the connection is secured by TLS (security profile 2 or 3): certificate changes are accepted only then. */
export const v16CertificatesAllowed = (ctx: Pick<V16CertificateContext, 'settings'>): boolean => Number(ctx.settings.get('SecurityProfile') ?? 0) >= 2;

/**
 * A new key on the charger and SignCertificate with its CSR: CN the charge point's identity (what
 * a profile 3 central system checks the client certificate against), O the CpoName key. Resolves
 * with the central system's answer.
 */
export async function requestChargePointCertificate(ctx: V16CertificateContext): Promise<string> {
  const security = ctx.features?.security;
  if (!security) throw new Error('this charger keeps no certificates');
  const organization = ctx.settings.get('CpoName') || undefined;
  const csr = await security.certificates.signingRequest({ commonName: ctx.chargePoint.id, ...(organization ? { organization } : {}) });
  const { status } = await ctx.link.send('SignCertificate', { csr });
  ctx.log.info('SignCertificate answered', { status });
  return status;
}

export const certificateHandlers: {
  CertificateSigned: Handler<'CertificateSigned'>;
  InstallCertificate: Handler<'InstallCertificate'>;
  GetInstalledCertificateIds: Handler<'GetInstalledCertificateIds'>;
  DeleteCertificate: Handler<'DeleteCertificate'>;
} = {
  // The chain must fit CertificateSignedMaxChainSize, be for the pending key and lead to a
  // Central System root; else Rejected and the InvalidChargePointCertificate security event.
  CertificateSigned: (req, ctx) => {
    const security = ctx.features?.security;
    if (!security) return { status: 'Rejected' };
    if (!v16CertificatesAllowed(ctx)) {
      ctx.log.warn('CertificateSigned refused: certificates are managed over TLS only (security profile 2 or 3)');
      return { status: 'Rejected' };
    }
    const maxBytes = intSetting(ctx, 'CertificateSignedMaxChainSize', CERTIFICATE_LIMITS.certificateSignedMaxChainSize);
    const bytes = Buffer.byteLength(req.certificateChain, 'utf8');
    const verdict = bytes > maxBytes
      ? { accepted: false as const, reason: `the chain is ${bytes} bytes, more than CertificateSignedMaxChainSize (${maxBytes})` }
      : security.certificates.acceptSignedChain(req.certificateChain);
    if (!verdict.accepted) {
      ctx.log.warn('signed certificate refused', { reason: verdict.reason });
      security.securityEvent('InvalidChargePointCertificate', verdict.reason);
      return { status: 'Rejected' };
    }
    // Used from the next connection (security profile 3 reconnects with it: the application's hook).
    setImmediate(() => security.stationCertificateChanged?.());
    return { status: 'Accepted' };
  },

  // A root of either use: not a valid, current, self-signed CA certificate, or the store full
  // (CertificateStoreMaxLength): Rejected; Failed when it cannot be stored. A Central System
  // root that is not a valid one is also the InvalidCentralSystemCertificate security event (what
  // the OCTT's TC_078_CSMS has the charge point send after its Rejected).
  InstallCertificate: (req, ctx) => {
    const security = ctx.features?.security;
    if (!security || !v16CertificatesAllowed(ctx)) return { status: 'Rejected' };
    const max = intSetting(ctx, 'CertificateStoreMaxLength', CERTIFICATE_LIMITS.certificateStoreMaxLength);
    if (security.certificates.count() >= max) {
      ctx.log.warn('root certificate refused: the store is full', { certificateStoreMaxLength: max });
      return { status: 'Rejected' };
    }
    const status = security.certificates.installRoot(USE_OF[req.certificateType], req.certificate);
    if (status === 'Rejected' && req.certificateType === 'CentralSystemRootCertificate') {
      security.securityEvent('InvalidCentralSystemCertificate', 'InstallCertificate CentralSystemRootCertificate: not a valid, current CA certificate');
    }
    return { status };
  },

  // The roots of the use asked for; the charge point's own certificate is no root and is not listed.
  GetInstalledCertificateIds: (req, ctx) => {
    const found = ctx.features?.security?.certificates.installed([USE_OF[req.certificateType]]) ?? [];
    if (!found.length) return { status: 'NotFound' };
    return { status: 'Accepted', certificateHashData: found.map((c) => c.hash) };
  },

  // Never the charge point's own certificate (Failed).
  DeleteCertificate: (req, ctx) => {
    const security = ctx.features?.security;
    if (!security) return { status: 'NotFound' };
    if (!v16CertificatesAllowed(ctx)) return { status: 'Failed' };
    const { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber } = req.certificateHashData;
    const hash: CertificateHash = { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber };
    return { status: security.certificates.delete(hash) };
  },
};
