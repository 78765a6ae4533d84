/**
 * The charger's certificates on disk, behind the OCPP bindings' CertificateService port
 * (src/ocpp/certificates.ts): the roots the central system installs, and the station's own
 * certificate, whose key is made here and never leaves the charger (no method returns it, no
 * log line holds it; the key files are 0600 in a 0700 directory).
 *
 *   <dir>/roots/<use>/<sha256 fingerprint>.pem   installed roots
 *   <dir>/station/pending-key.pem                 the key of the last signing request
 *   <dir>/station/cert.pem, key.pem               the station's certificate chain and its key
 *   <dir>/station/previous-cert.pem, -key.pem     the one before (fallback)
 */
import { createHash, generateKeyPair, KeyObject, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../../core/ports.js';
import { certificationRequest, ECDSA_WITH_SHA256, issuerNameDer, name, pem, publicKeyBits } from '../../lib/der.js';
import type { Log } from '../../lib/log.js';
import { ROOT_USES, type CertificateHash, type CertificateService, type InstalledCertificate, type RootUse, type SignedChainVerdict } from '../../ocpp/certificates.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const HASHES = { SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' } as const;

/** The PEM certificates of a text, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

/** RFC 6960's CertID of `cert` issued by `issuer` (itself for a root). */
export function certificateHash(cert: X509Certificate, issuer: X509Certificate, algorithm: CertificateHash['hashAlgorithm'] = 'SHA256'): CertificateHash {
  const h = (data: Buffer) => createHash(HASHES[algorithm]).update(data).digest('hex');
  return {
    hashAlgorithm: algorithm,
    issuerNameHash: h(issuerNameDer(cert.raw)),
    issuerKeyHash: h(publicKeyBits(issuer.publicKey.export({ type: 'spki', format: 'der' }))),
    serialNumber: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
  };
}

const sameHash = (a: CertificateHash, b: CertificateHash) =>
  a.issuerNameHash.toLowerCase() === b.issuerNameHash.toLowerCase() && a.issuerKeyHash.toLowerCase() === b.issuerKeyHash.toLowerCase()
  && a.serialNumber.toLowerCase().replace(/^0+(?=.)/, '') === b.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');

const selfSigned = (c: X509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);

export interface CertificateStoreOptions {
  dir: string;
  clock: Clock;
  log: Log;
  /** CSMS roots from the configuration (csms.ca), trusted beside the installed ones. */
  configuredCsmsRoots?: () => Buffer | undefined;
}

export class CertificateStore implements CertificateService {
  private readonly roots: string;
  private readonly station: string;

  constructor(private readonly o: CertificateStoreOptions) {
    this.roots = join(o.dir, 'roots');
    this.station = join(o.dir, 'station');
  }

  private dirFor(path: string): string {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return path;
  }

  /** Write a file whole or not at all (a crash leaves the old one). */
  private write(path: string, data: string, mode: number): void {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  }

  private validNow(c: X509Certificate): boolean {
    const now = this.o.clock.now();
    return Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
  }

  // ------------------------------------------------------------- the station's certificate

  async signingRequest(subject: { commonName: string; organization?: string }): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
    const dir = this.dirFor(this.station);
    this.write(join(dir, 'pending-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    const der = certificationRequest(name(subject), publicKey.export({ type: 'spki', format: 'der' }), ECDSA_WITH_SHA256, (tbs) => sign('sha256', tbs, privateKey));
    this.o.log.info('certificate signing request made, key kept on the charger', { commonName: subject.commonName });
    return pem('CERTIFICATE REQUEST', der);
  }

  private readKey(file: string): KeyObject | undefined {
    const path = join(this.station, file);
    return existsSync(path) ? createPrivateKey(readFileSync(path)) : undefined;
  }

  private trustedCsmsRoots(): X509Certificate[] {
    const configured = this.o.configuredCsmsRoots?.();
    const fromConfig = configured ? pemCertificates(configured.toString('utf8')) : [];
    return [...this.rootFiles('CSMSRoot').map((f) => readFileSync(f, 'utf8')), ...fromConfig].map((p) => new X509Certificate(p));
  }

  acceptSignedChain(pemChain: string): SignedChainVerdict {
    const refuse = (reason: string): SignedChainVerdict => ({ accepted: false, reason });
    const key = this.readKey('pending-key.pem');
    if (!key) return refuse('no certificate signing request is pending');
    let chain: X509Certificate[];
    try {
      chain = pemCertificates(pemChain).map((p) => new X509Certificate(p));
    } catch {
      return refuse('the chain does not parse');
    }
    const leaf = chain[0];
    if (!leaf) return refuse('no certificate in the chain');
    if (!leaf.checkPrivateKey(key)) return refuse('the certificate is not for the key of the signing request');
    if (leaf.ca) return refuse('the certificate is a CA certificate');
    const problem = this.chainProblem(chain, this.trustedCsmsRoots(), 'CSMS');
    if (problem) return refuse(problem);
    const dir = this.dirFor(this.station);
    // The certificate in use becomes the fallback; the new one is used from the next connection.
    if (existsSync(join(dir, 'cert.pem')) && existsSync(join(dir, 'key.pem'))) {
      renameSync(join(dir, 'key.pem'), join(dir, 'previous-key.pem'));
      renameSync(join(dir, 'cert.pem'), join(dir, 'previous-cert.pem'));
    }
    this.write(join(dir, 'cert.pem'), chain.map((c) => c.toString()).join(''), 0o644);
    renameSync(join(dir, 'pending-key.pem'), join(dir, 'key.pem'));
    this.o.log.info('station certificate installed', { subject: leaf.subject.replace(/\n/g, ', '), validTo: leaf.validTo, serialNumber: leaf.serialNumber });
    return { accepted: true };
  }

  /** Why a chain (leaf first) is not valid now up to one of `trusted`, or undefined. */
  private chainProblem(chain: X509Certificate[], trusted: X509Certificate[], what: string): string | undefined {
    const expired = chain.find((c) => !this.validNow(c));
    if (expired) return `a certificate of the chain is not valid now (${expired.subject.replace(/\n/g, ', ')}: ${expired.validFrom} to ${expired.validTo})`;
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) return `certificate ${i} of the chain is not signed by the next`;
    }
    const last = chain[chain.length - 1]!;
    const anchored = selfSigned(last)
      ? trusted.some((r) => r.fingerprint256 === last.fingerprint256)
      : trusted.some((r) => last.checkIssued(r) && last.verify(r.publicKey));
    if (!anchored) return trusted.length ? `the chain does not lead to an installed ${what} root` : `no ${what} root is installed to verify the chain`;
    return undefined;
  }

  verifyIssuedBy(use: RootUse, pemChain: string): SignedChainVerdict {
    let chain: X509Certificate[];
    try {
      chain = pemCertificates(pemChain).map((p) => new X509Certificate(p));
    } catch {
      return { accepted: false, reason: 'the certificate does not parse' };
    }
    if (!chain.length) return { accepted: false, reason: 'no certificate' };
    const roots = this.rootFiles(use).map((f) => new X509Certificate(readFileSync(f)));
    const problem = this.chainProblem(chain, roots, use);
    return problem ? { accepted: false, reason: problem } : { accepted: true };
  }

  stationCertificateValidTo(): number | undefined {
    const path = join(this.station, 'cert.pem');
    if (!existsSync(path)) return undefined;
    const [leaf] = pemCertificates(readFileSync(path, 'utf8'));
    return leaf ? Date.parse(new X509Certificate(leaf).validTo) : undefined;
  }

  clientCredentials(): { cert: Buffer; key: Buffer } | undefined {
    const cert = join(this.station, 'cert.pem');
    const key = join(this.station, 'key.pem');
    return existsSync(cert) && existsSync(key) ? { cert: readFileSync(cert), key: readFileSync(key) } : undefined;
  }

  /** The station's certificates (in use and fallback), each with its issuer, for the never-delete rule. */
  private stationLeaves(): { cert: X509Certificate; issuer?: X509Certificate }[] {
    const out: { cert: X509Certificate; issuer?: X509Certificate }[] = [];
    for (const file of ['cert.pem', 'previous-cert.pem']) {
      const path = join(this.station, file);
      if (!existsSync(path)) continue;
      const [cert, issuer] = pemCertificates(readFileSync(path, 'utf8')).map((p) => new X509Certificate(p));
      if (!cert) continue;
      out.push({ cert, issuer: issuer ?? this.trustedCsmsRoots().find((r) => cert.checkIssued(r)) });
    }
    return out;
  }

  // ------------------------------------------------------------- roots

  private rootFiles(use: RootUse): string[] {
    const dir = join(this.roots, use);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pem')).sort().map((f) => join(dir, f)) : [];
  }

  installRoot(use: RootUse, pemCertificate: string): 'Accepted' | 'Rejected' | 'Failed' {
    let cert: X509Certificate;
    try {
      const [one, ...more] = pemCertificates(pemCertificate);
      if (!one || more.length) return 'Rejected';
      cert = new X509Certificate(one);
    } catch {
      return 'Rejected';
    }
    if (!cert.ca || !selfSigned(cert) || !this.validNow(cert)) {
      this.o.log.warn('root certificate refused', { use, subject: cert.subject.replace(/\n/g, ', '), ca: cert.ca, validTo: cert.validTo });
      return 'Rejected';
    }
    try {
      const file = join(this.dirFor(join(this.roots, use)), `${cert.fingerprint256.replace(/:/g, '').toLowerCase()}.pem`);
      this.write(file, cert.toString(), 0o644);
    } catch (err) {
      this.o.log.error('root certificate could not be stored', { use, err });
      return 'Failed';
    }
    this.o.log.info('root certificate installed', { use, subject: cert.subject.replace(/\n/g, ', ') });
    return 'Accepted';
  }

  rootCertificates(use: RootUse): string[] {
    return this.rootFiles(use).map((f) => readFileSync(f, 'utf8'));
  }

  installed(uses: readonly RootUse[] = ROOT_USES): InstalledCertificate[] {
    return uses.flatMap((use) => this.rootFiles(use).map((f) => {
      const c = new X509Certificate(readFileSync(f));
      return { use, hash: certificateHash(c, c) };
    }));
  }

  delete(hash: CertificateHash): 'Accepted' | 'Failed' | 'NotFound' {
    const algorithm = hash.hashAlgorithm;
    for (const { cert, issuer } of this.stationLeaves()) {
      if (issuer && sameHash(certificateHash(cert, issuer, algorithm), hash)) {
        this.o.log.warn('refused to delete the station\'s own certificate', { serialNumber: cert.serialNumber });
        return 'Failed';
      }
    }
    const found = ROOT_USES.flatMap((use) => this.rootFiles(use)).filter((f) => {
      const c = new X509Certificate(readFileSync(f));
      return sameHash(certificateHash(c, c, algorithm), hash);
    });
    if (!found.length) return 'NotFound';
    try {
      for (const f of found) rmSync(f);
    } catch (err) {
      this.o.log.error('root certificate could not be deleted', { err });
      return 'Failed';
    }
    this.o.log.info('root certificate deleted', { serialNumber: hash.serialNumber });
    return 'Accepted';
  }

  count(): number {
    const station = ['cert.pem', 'previous-cert.pem'].filter((f) => existsSync(join(this.station, f))).length;
    return ROOT_USES.reduce((n, use) => n + this.rootFiles(use).length, station);
  }
}
