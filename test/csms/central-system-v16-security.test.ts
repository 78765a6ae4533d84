/**
 * The embedded central system's answers to the OCPP 1.6 security whitepaper's charger calls,
 * driven by a raw strict ocpp1.6 ocpp-rpc client (its schemas hold the whitepaper's messages).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralSystem, type CentralSystemOptions } from '../../src/csms/central-system.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { waitFor } from '../helpers/ocpp-server.js';
import { TestPki } from '../helpers/pki.js';

const CP = 'CP-SEC16';

describe('the embedded central system and a 1.6 charger\'s security whitepaper calls', () => {
  let dir: string;
  let csms: CentralSystem | undefined;
  const clients: RPCClient[] = [];
  let pki: TestPki;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'evse-edge-csms16s-'));
    pki = new TestPki();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close({ force: true });
    await csms?.close();
    csms = undefined;
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(opts: Partial<CentralSystemOptions> = {}): Promise<RPCClient> {
    csms = new CentralSystem({ port: 0, dbPath: join(dir, 'csms.db'), log: createLog(new MemorySink('error')), ...opts });
    const url = `ws://127.0.0.1:${await csms.listen()}/ocpp`;
    const c = new RPCClient({ endpoint: url, identity: CP, protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
    clients.push(c);
    await c.connect();
    return c;
  }

  it('answers SignedFirmwareStatusNotification, LogStatusNotification and SecurityEventNotification; SignCertificate Rejected without a CA', async () => {
    const c = await connect();
    expect(await c.call('SignedFirmwareStatusNotification', { status: 'SignatureVerified', requestId: 3 })).toEqual({});
    expect(await c.call('LogStatusNotification', { status: 'Uploaded', requestId: 4 })).toEqual({});
    expect(await c.call('SecurityEventNotification', { type: 'InvalidChargePointCertificate', timestamp: new Date().toISOString() })).toEqual({});
    expect(await c.call('SignCertificate', { csr: 'not used' })).toEqual({ status: 'Rejected' });
  });

  it('with a CA: SignCertificate Accepted, then CertificateSigned with a chain signed from the CSR', async () => {
    const ca = pki.ca('evse-edge test Central System CA');
    const c = await connect({
      certificateSigner: async (request) => {
        writeFileSync(join(pki.dir, 'in.csr'), request);
        execFileSync('openssl', ['x509', '-req', '-in', 'in.csr', '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '16', '-days', '30', '-sha256', '-out', 'out.crt'], { cwd: pki.dir, stdio: 'ignore' });
        return readFileSync(join(pki.dir, 'out.crt'), 'utf8') + readFileSync(ca.cert, 'utf8');
      },
    });
    const signed: { certificateChain: string }[] = [];
    c.handle('CertificateSigned', async ({ params }: { params: { certificateChain: string } }) => {
      signed.push(params);
      return { status: 'Accepted' };
    });
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${CP}`, '-keyout', 'cp.key', '-out', 'cp.csr'], { cwd: pki.dir, stdio: 'ignore' });
    expect(await c.call('SignCertificate', { csr: readFileSync(join(pki.dir, 'cp.csr'), 'utf8') })).toEqual({ status: 'Accepted' });
    const [msg] = await waitFor(() => (signed.length ? signed : undefined), 10_000, 'CertificateSigned');
    expect(Object.keys(msg!)).toEqual(['certificateChain']);
    writeFileSync(join(pki.dir, 'leaf.pem'), msg!.certificateChain);
    expect(execFileSync('openssl', ['x509', '-in', 'leaf.pem', '-noout', '-subject'], { cwd: pki.dir, encoding: 'utf8' })).toContain(CP);
    expect(execFileSync('openssl', ['verify', '-CAfile', ca.cert, 'leaf.pem'], { cwd: pki.dir, encoding: 'utf8' })).toContain('OK');
  });
});
