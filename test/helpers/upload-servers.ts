import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * Upload targets for GetDiagnostics / GetLog tests, started on ephemeral ports; each pushes its
 * own stop onto `cleanups`.
 */

/** pyftpdlib (Debian's python3-pyftpdlib) on an ephemeral port, one user (default logs / ftp-Pw-456) with write access to `root`. */
export async function ftpServer(root: string, cleanups: (() => unknown)[], user = { name: 'logs', password: 'ftp-Pw-456' }): Promise<number> {
  const script = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
a = DummyAuthorizer()
a.add_user(sys.argv[2], sys.argv[3], sys.argv[1], perm='elradfmwMT')
FTPHandler.authorizer = a
s = FTPServer(('127.0.0.1', 0), FTPHandler)
print('READY', s.address[1], flush=True)
s.serve_forever()
`;
  const child = spawn('/usr/bin/python3', ['-c', script, root, user.name, user.password], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  const lines = createInterface({ input: child.stdout! });
  return new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('pyftpdlib did not start')), 10_000);
    lines.once('line', (l) => {
      clearTimeout(t);
      resolve(Number(l.split(' ')[1]));
    });
  });
}

/** A local HTTP server; `answer` handles each request once its body has arrived. */
export async function httpServer(answer: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void, cleanups: (() => unknown)[]) {
  const seen: { method: string; url: string; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, body });
      answer(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { seen, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
