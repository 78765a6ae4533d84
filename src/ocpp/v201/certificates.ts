/**
 * OCPP 2.0.1 certificate management (A02/A03, M03–M05): the station's certificate signed by
 * the central system from a key made on the charger (SignCertificate → CertificateSigned), and
 * the roots it installs, lists and deletes. The certificates live behind the CertificateService
 * port (../certificates.ts); a charger without one (a simulated fleet) answers Rejected/NotFound.
 * Over an unsecured connection (security profile 0 or 1: no TLS) certificates are neither
 * installed, deleted nor signed (libocpp #857): anyone on the path could plant a root.
 */
import type { Log } from '../../lib/log.js';
import type { CertificateHash, RootUse, StationSecurity } from '../certificates.js';
import type { VariableStore } from './device-model.js';
import type { CsmsCalls, GetCertificateIdUseEnumType, InstallCertificateUseEnumType } from './messages.js';

/** What the certificate handlers use of the binding's context (incoming.ts V201Context). */
export interface CertificateContext {
  security?: StationSecurity;
  store: VariableStore;
  log: Log;
  chargePoint: { readonly id: string };
  link: { send(action: string, request: unknown): Promise<unknown> };
}

type Handlers = { [A in keyof CsmsCalls]?: (req: CsmsCalls[A][0], ctx: CertificateContext) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1] };

const USE_OF: Record<InstallCertificateUseEnumType, RootUse> = {
  CSMSRootCertificate: 'CSMSRoot', ManufacturerRootCertificate: 'ManufacturerRoot', V2GRootCertificate: 'V2GRoot', MORootCertificate: 'MORoot',
};
const TYPE_OF: Record<RootUse, InstallCertificateUseEnumType> = {
  CSMSRoot: 'CSMSRootCertificate', ManufacturerRoot: 'ManufacturerRootCertificate', V2GRoot: 'V2GRootCertificate', MORoot: 'MORootCertificate',
};

const variable = (ctx: CertificateContext, name: string): string | undefined => ctx.store.get({ component: 'SecurityCtrlr', variable: name, attribute: 'Actual' }) || undefined;

/** Whether the connection is secured by TLS (security profile 2 or 3): certificate changes are accepted only then. */
export const certificatesAllowed = (ctx: CertificateContext): boolean => Number(variable(ctx, 'SecurityProfile') ?? 0) >= 2;

const UNSECURED = { reasonCode: 'UnsecureConnection', additionalInfo: 'certificates are managed over TLS only (security profile 2 or 3)' } as const;

/**
 * A02/A03: a new key on the charger and SignCertificate with its CSR (CN: SecurityCtrlr.Identity,
 * else the station's id; O: OrganizationName). Resolves with the central system's answer status.
 */
export async function requestStationCertificate(ctx: CertificateContext): Promise<string> {
  const security = ctx.security;
  if (!security) throw new Error('this charger keeps no certificates');
  const organization = variable(ctx, 'OrganizationName');
  const csr = await security.certificates.signingRequest({ commonName: variable(ctx, 'Identity') ?? ctx.chargePoint.id, ...(organization ? { organization } : {}) });
  const res = await ctx.link.send('SignCertificate', { csr, certificateType: 'ChargingStationCertificate' }) as { status: string };
  ctx.log.info('SignCertificate answered', { status: res.status });
  return res.status;
}

export const certificateHandlers: Handlers = {
  // A02.FR.xx: the chain must be for the pending key and lead to a CSMS root; else Rejected and InvalidChargingStationCertificate.
  CertificateSigned: (req, ctx) => {
    const security = ctx.security;
    if (!security) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    if (!certificatesAllowed(ctx)) return { status: 'Rejected', statusInfo: UNSECURED };
    if (req.certificateType === 'V2GCertificate') return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported', additionalInfo: 'no ISO 15118 on this station' } };
    const verdict = security.certificates.acceptSignedChain(req.certificateChain);
    if (!verdict.accepted) {
      ctx.log.warn('signed certificate refused', { reason: verdict.reason });
      security.securityEvent('InvalidChargingStationCertificate', verdict.reason);
      return { status: 'Rejected', statusInfo: { reasonCode: 'InvalidCertificate', additionalInfo: verdict.reason.slice(0, 512) } };
    }
    // Used from the next connection (security profile 3 reconnects with it: the application's hook).
    setImmediate(() => security.stationCertificateChanged?.());
    return { status: 'Accepted' };
  },

  // M05: a root of one of the four uses; not a valid, current, self-signed CA certificate: Rejected.
  InstallCertificate: (req, ctx) => {
    const security = ctx.security;
    if (!security) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    if (!certificatesAllowed(ctx)) return { status: 'Rejected', statusInfo: UNSECURED };
    return { status: security.certificates.installRoot(USE_OF[req.certificateType], req.certificate) };
  },

  // M03: the roots of the uses asked for (all when none); the station's own certificate is no root and is not listed.
  GetInstalledCertificateIds: (req, ctx) => {
    const wanted = req.certificateType?.flatMap((t: GetCertificateIdUseEnumType) => (t === 'V2GCertificateChain' ? [] : [USE_OF[t]]));
    const found = ctx.security?.certificates.installed(wanted ?? undefined) ?? [];
    if (!found.length) return { status: 'NotFound' };
    return { status: 'Accepted', certificateHashDataChain: found.map((c) => ({ certificateType: TYPE_OF[c.use], certificateHashData: c.hash })) };
  },

  // M04: never the station's own certificate (Failed).
  DeleteCertificate: (req, ctx) => {
    const security = ctx.security;
    if (!security) return { status: 'NotFound' };
    if (!certificatesAllowed(ctx)) return { status: 'Failed', statusInfo: UNSECURED };
    const { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber } = req.certificateHashData;
    const hash: CertificateHash = { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber };
    return { status: security.certificates.delete(hash) };
  },
};
