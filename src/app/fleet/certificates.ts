/**
 * A simulated charger's certificates for a renewal campaign (1.6 ExtendedTriggerMessage
 * SignChargePointCertificate, 2.0.1 TriggerMessage SignChargingStationCertificate): the agent's
 * certificate store (../services/certificate-store.ts), one directory per charger under the
 * host's temporary directory, made only when the central system first asks for a CSR or installs
 * a root. Until then every read answers from nothing (no file, no directory, no key), so a
 * charger never asked costs one small object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { CertificateHash, CertificateService, RootUse, SignedChainVerdict, StationSecurity } from '../../ocpp/certificates.js';
import { CertificateStore } from '../services/certificate-store.js';

/** What a host counts of its chargers' certificates. */
export interface CertificateCounts {
  csrMade(): void;
  chainAccepted(): void;
  chainRejected(): void;
}

/** The host's directory of its chargers' certificate stores: made on first use, removed at the end. */
export class FleetCertificateDirs {
  private base?: string;

  dirOf(id: string): string {
    this.base ??= mkdtempSync(join(tmpdir(), 'evse-fleet-certs-'));
    return join(this.base, id.replace(/[^A-Za-z0-9._-]/g, '_'));
  }

  /** Whether any charger has made its store. */
  get used(): boolean {
    return this.base !== undefined;
  }

  remove(): void {
    if (this.base) rmSync(this.base, { recursive: true, force: true });
    this.base = undefined;
  }
}

/** One charger's certificates: the agent's store, made on first write. */
export class LazyCertificates implements CertificateService {
  private store?: CertificateStore;

  constructor(private readonly o: { id: string; dirs: FleetCertificateDirs; clock: Clock; log: () => Log; csmsRoots?: Buffer; counts: CertificateCounts }) {}

  private get made(): CertificateStore {
    return (this.store ??= new CertificateStore({
      dir: this.o.dirs.dirOf(this.o.id), clock: this.o.clock, log: this.o.log(), ...(this.o.csmsRoots ? { configuredCsmsRoots: () => this.o.csmsRoots } : {}),
    }));
  }

  async signingRequest(subject: { commonName: string; organization?: string }): Promise<string> {
    const csr = await this.made.signingRequest(subject);
    this.o.counts.csrMade();
    return csr;
  }

  acceptSignedChain(pemChain: string): SignedChainVerdict {
    // Without a signing request there is no pending key (and nothing to make).
    const verdict: SignedChainVerdict = this.store ? this.store.acceptSignedChain(pemChain) : { accepted: false, reason: 'no certificate signing request is pending' };
    if (verdict.accepted) this.o.counts.chainAccepted();
    else this.o.counts.chainRejected();
    return verdict;
  }

  verifyIssuedBy(use: RootUse, pemChain: string): SignedChainVerdict {
    return this.made.verifyIssuedBy(use, pemChain);
  }

  installRoot(use: RootUse, pemCertificate: string): 'Accepted' | 'Rejected' | 'Failed' {
    return this.made.installRoot(use, pemCertificate);
  }

  installed(uses?: readonly RootUse[]) {
    return this.store?.installed(uses) ?? [];
  }

  delete(hash: CertificateHash): 'Accepted' | 'Failed' | 'NotFound' {
    return this.store?.delete(hash) ?? 'NotFound';
  }

  stationCertificateValidTo(): number | undefined {
    return this.store?.stationCertificateValidTo();
  }

  rootCertificates(use: RootUse): string[] {
    return this.store?.rootCertificates(use) ?? [];
  }

  clientCredentials(): { cert: Buffer; key: Buffer } | undefined {
    return this.store?.clientCredentials();
  }

  count(): number {
    return this.store?.count() ?? 0;
  }
}

/**
 * A simulated charger's Advanced Security: its lazy certificates, and its security events (the
 * certificate handlers raise InvalidChargePointCertificate, InvalidFirmwareSigningCertificate)
 * recorded and sent as the agent's are; or, with the scenario's securityEvents off, only logged.
 */
export function simulatedStationSecurity(certificates: LazyCertificates, events: { record(type: string, techInfo?: string): void } | Log): StationSecurity {
  return {
    certificates,
    securityEvent: 'record' in events
      ? (type, techInfo) => events.record(type, techInfo)
      : (type, techInfo) => events.warn('security event', { securityEvent: type, ...(techInfo ? { techInfo } : {}) }),
  };
}
