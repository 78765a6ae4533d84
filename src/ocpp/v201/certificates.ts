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
import type { Clock, Timer } from '../../core/ports.js';
import { renewBeforeExpiry as watchExpiry } from '../certificate-renewal.js';
import { getVariables, type DeviceModel, type VariableStore } from './device-model.js';
import type { CsmsCalls, GetCertificateIdUseEnumType, InstallCertificateUseEnumType } from './messages.js';

/** What the certificate handlers use of the binding's context (incoming.ts V201Context). */
export interface CertificateContext {
  security?: StationSecurity;
  /** The station's certificate requests of this link (retries), when it keeps certificates. */
  certificateRequests?: CertificateRequests;
  model: DeviceModel;
  store: VariableStore;
  clock: Pick<Clock, 'setTimeout' | 'now'>;
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

/** A SecurityCtrlr variable's value (the stored one, else the device model's default). */
const variable = (ctx: CertificateContext, name: string): string | undefined =>
  getVariables(ctx.model, ctx.store, [{ component: { name: 'SecurityCtrlr' }, variable: { name } }])[0]?.attributeValue || undefined;

/** Whether the connection is secured by TLS (security profile 2 or 3): certificate changes are accepted only then. */
export const certificatesAllowed = (ctx: CertificateContext): boolean => Number(variable(ctx, 'SecurityProfile') ?? 0) >= 2;

const UNSECURED = { reasonCode: 'UnsecureConnection', additionalInfo: 'certificates are managed over TLS only (security profile 2 or 3)' } as const;

/**
 * A02/A03: a new key on the charger and SignCertificate with its CSR (CN: SecurityCtrlr.Identity,
 * else the station's id; O: OrganizationName). When no CertificateSigned follows within
 * CertSigningWaitMinimum seconds, the same request goes again, the wait doubling each time, at
 * most CertSigningRepeatTimes times; a CertificateSigned (or the central system's Rejected) ends it.
 * One per link; stop() cancels the wait.
 */
export class CertificateRequests {
  private timer?: Timer;

  /** A new key and its request; resolves with the central system's answer to the first SignCertificate. */
  async request(ctx: CertificateContext): Promise<string> {
    const security = ctx.security;
    if (!security) throw new Error('this charger keeps no certificates');
    this.stop();
    const organization = variable(ctx, 'OrganizationName');
    const csr = await security.certificates.signingRequest({ commonName: variable(ctx, 'Identity') ?? ctx.chargePoint.id, ...(organization ? { organization } : {}) });
    return this.send(ctx, csr, 0);
  }

  private async send(ctx: CertificateContext, csr: string, repeat: number): Promise<string> {
    let status = 'NotSent';
    try {
      status = ((await ctx.link.send('SignCertificate', { csr, certificateType: 'ChargingStationCertificate' })) as { status: string }).status;
      ctx.log.info('SignCertificate answered', { status, repeat });
    } catch (err) {
      ctx.log.warn('SignCertificate not delivered', { repeat, err });
    }
    if (status === 'Rejected') return status;
    const repeats = Number(variable(ctx, 'CertSigningRepeatTimes') ?? 0);
    if (repeat < repeats) {
      const waitS = Number(variable(ctx, 'CertSigningWaitMinimum') ?? 60) * 2 ** repeat;
      this.timer = ctx.clock.setTimeout(() => void this.send(ctx, csr, repeat + 1), waitS * 1000);
    }
    return status;
  }

  /** Whether a request waits for its CertificateSigned (a repeat is scheduled). */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** The central system answered with a CertificateSigned (or the link stops): no more repeats. */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

export { RENEW_BEFORE_EXPIRY_MS } from '../certificate-renewal.js';

/** A03: the station asks for a new certificate before its own expires (../certificate-renewal.ts), with A02's retries. */
export function renewBeforeExpiry(link: { on(event: 'state', fn: (s: string) => void): unknown }, ctx: CertificateContext): void {
  const requests = (ctx.certificateRequests ??= new CertificateRequests());
  const security = ctx.security;
  if (!security) return;
  watchExpiry(link, {
    certificates: security.certificates, clock: ctx.clock, log: ctx.log,
    mayRenew: () => certificatesAllowed(ctx) && !requests.waiting,
    renew: () => requests.request(ctx),
  });
}

/** TriggerMessage SignChargingStationCertificate (A02). */
export function requestStationCertificate(ctx: CertificateContext): Promise<string> {
  return (ctx.certificateRequests ??= new CertificateRequests()).request(ctx);
}

export const certificateHandlers: Handlers = {
  // A02.FR.xx: the chain must be for the pending key and lead to a CSMS root; else Rejected and InvalidChargingStationCertificate.
  CertificateSigned: (req, ctx) => {
    const security = ctx.security;
    if (!security) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    if (!certificatesAllowed(ctx)) return { status: 'Rejected', statusInfo: UNSECURED };
    ctx.certificateRequests?.stop();
    if (req.certificateType === 'V2GCertificate') return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported', additionalInfo: 'no ISO 15118 on this station' } };
    const verdict = security.certificates.acceptSignedChain(req.certificateChain);
    if (!verdict.accepted) {
      ctx.log.warn('signed certificate refused', { reason: verdict.reason });
      // Recorded under the whitepaper's name, as every event (security-events.ts renames it on delivery).
      security.securityEvent('InvalidChargePointCertificate', verdict.reason);
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
