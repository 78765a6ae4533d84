import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
}

/**
 * Certificates made by openssl for one test file, in a temp dir: CAs, server and client
 * certificates (P-256 keys: quick to make), including expired and wrongly named ones.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'evse-edge-pki-'));
  private n = 0;

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  private files(name: string): Pem {
    return { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) };
  }

  ca(cn: string): Pem {
    const name = `ca-${++this.n}`;
    const f = this.files(name);
    this.openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', f.key, '-out', f.cert]);
    return f;
  }

  /** A certificate signed by `ca`; `days` < 0 makes one that has expired. */
  leaf(ca: Pem, opts: { cn: string; san?: string; usage: 'serverAuth' | 'clientAuth' | 'codeSigning'; days?: number }): Pem {
    const name = `leaf-${++this.n}`;
    const f = this.files(name);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `${opts.san ? `subjectAltName=${opts.san}\n` : ''}extendedKeyUsage=${opts.usage}\nbasicConstraints=CA:FALSE\n`);
    this.openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${opts.cn}`, '-keyout', f.key, '-out', csr]);
    this.openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(1000 + this.n), '-days', String(opts.days ?? 30), '-sha256', '-extfile', ext, '-out', f.cert]);
    return f;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
