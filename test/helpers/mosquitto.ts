import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chownSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BrokerUser {
  name: string;
  password: string;
  /** mosquitto ACL lines for this user, e.g. ['topic read evse/#']. */
  acl: string[];
}

export interface Mosquitto {
  url: string;
  tlsUrl?: string;
  port: number;
  dir: string;
  caFile?: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A real mosquitto with a password file and an ACL, on a free loopback port; optional TLS listener.
 * `patterns` are ACL lines for every user (`pattern write evse/+/request/%u/#`).
 */
export async function startMosquitto(users: BrokerUser[], opts: { tls?: boolean; patterns?: string[] } = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-mqtt-'));
  const port = await freePort();
  const passwd = join(dir, 'passwd');
  users.forEach((u, i) => execFileSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', passwd, u.name, u.password]));
  const patterns = (opts.patterns ?? []).map((l) => `pattern ${l}\n`).join('');
  writeFileSync(join(dir, 'acl'), patterns + '\n' + users.map((u) => `user ${u.name}\n${u.acl.join('\n')}\n`).join('\n'));
  let conf = `per_listener_settings false\nallow_anonymous false\npassword_file ${passwd}\nacl_file ${join(dir, 'acl')}\npersistence false\nset_tcp_nodelay true\nlog_dest file ${join(dir, 'broker.log')}\nlistener ${port} 127.0.0.1\n`;
  let tlsPort: number | undefined;
  let caFile: string | undefined;
  if (opts.tls) {
    tlsPort = await freePort();
    caFile = join(dir, 'ca.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=test-ca', '-keyout', join(dir, 'ca.key'), '-out', caFile], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr')], { stdio: 'ignore' });
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', caFile, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'server.crt')], { stdio: 'ignore' });
    conf += `listener ${tlsPort} 127.0.0.1\ncafile ${caFile}\ncertfile ${join(dir, 'server.crt')}\nkeyfile ${join(dir, 'server.key')}\ntls_version tlsv1.2\n`;
  }
  writeFileSync(join(dir, 'mosquitto.conf'), conf);
  // Started as root, mosquitto drops to user mosquitto: it must read its files.
  for (const f of ['passwd', 'acl', 'server.key', 'server.crt', 'ca.crt']) {
    const p = join(dir, f);
    if (existsSync(p)) {
      try { chownSync(p, uid('mosquitto'), gid('mosquitto')); } catch { /* not root */ }
      chmodSync(p, 0o600);
    }
  }
  try { chownSync(dir, uid('mosquitto'), gid('mosquitto')); } catch { /* not root */ }
  const child: ChildProcess = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  if (tlsPort) await waitForPort(tlsPort);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    ...(tlsPort ? { tlsUrl: `mqtts://localhost:${tlsPort}` } : {}),
    port, dir, caFile,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function uid(name: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(name + ':'));
  return Number(line?.split(':')[2] ?? process.getuid?.() ?? 0);
}
function gid(name: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(name + ':'));
  return Number(line?.split(':')[3] ?? process.getgid?.() ?? 0);
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  const end = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
