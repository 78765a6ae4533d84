/**
 * A minimal FTP client over node:net (RFC 959, passive mode per RFC 2428 EPSV or PASV):
 * log in, binary type, store or retrieve one file, quit. Enough for OCPP 1.6's diagnostics
 * upload and firmware download, without a dependency. FTPS is not supported.
 */
import { connect, type Socket } from 'node:net';
import { posix } from 'node:path';
import { EvseError } from './errors.js';

export class FtpError extends EvseError {
  constructor(message: string, readonly reply?: string) {
    super('ERR_FTP', message);
  }
}

interface Reply {
  code: number;
  text: string;
}

class ControlChannel {
  private buffer = '';
  private readonly replies: Reply[] = [];
  private waiter?: { resolve: (r: Reply) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new FtpError('control connection closed')));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private onData(d: string): void {
    this.buffer += d;
    // A reply ends with a line "ddd text" (multi-line replies start "ddd-").
    for (;;) {
      const m = /^(\d{3})(?:-[\s\S]*?\r?\n\1 [^\n]*|[ ][^\n]*)\r?\n/.exec(this.buffer);
      if (!m) break;
      this.buffer = this.buffer.slice(m[0].length);
      const reply = { code: Number(m[1]), text: m[0].trim() };
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w.resolve(reply);
      } else {
        this.replies.push(reply);
      }
    }
  }

  read(timeoutMs: number): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new FtpError('no reply from the FTP server in time'));
      }, timeoutMs);
      this.waiter = {
        resolve: (x) => { clearTimeout(t); resolve(x); },
        reject: (e) => { clearTimeout(t); reject(e); },
      };
    });
  }

  async send(command: string, timeoutMs: number): Promise<Reply> {
    this.socket.write(command + '\r\n');
    return this.read(timeoutMs);
  }
}

const expect = (r: Reply, ok: (code: number) => boolean, what: string): Reply => {
  if (!ok(r.code)) throw new FtpError(`${what} refused`, r.text);
  return r;
};

async function session<T>(url: URL, timeoutMs: number, body: (ctl: ControlChannel, openData: () => Promise<Socket>) => Promise<T>): Promise<T> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 21;
  const socket = connect({ host, port });
  const ctl = new ControlChannel(socket);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    expect(await ctl.read(timeoutMs), (c) => c === 220, 'greeting');
    const user = url.username ? decodeURIComponent(url.username) : 'anonymous';
    const pass = url.password ? decodeURIComponent(url.password) : 'evse-edge@';
    const u = await ctl.send(`USER ${user}`, timeoutMs);
    if (u.code === 331) expect(await ctl.send(`PASS ${pass}`, timeoutMs), (c) => c === 230 || c === 202, 'login');
    else expect(u, (c) => c === 230, 'login');
    expect(await ctl.send('TYPE I', timeoutMs), (c) => c === 200, 'binary mode');
    const openData = async (): Promise<Socket> => {
      let dataPort: number;
      let dataHost = host;
      const e = await ctl.send('EPSV', timeoutMs);
      const em = /\(\|\|\|(\d+)\|\)/.exec(e.text);
      if (e.code === 229 && em) {
        dataPort = Number(em[1]);
      } else {
        const p = expect(await ctl.send('PASV', timeoutMs), (c) => c === 227, 'passive mode');
        const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(p.text);
        if (!m) throw new FtpError('unreadable PASV reply', p.text);
        dataPort = Number(m[5]) * 256 + Number(m[6]);
        // Some servers announce a private address behind NAT: the control host is the one that works.
        dataHost = host;
      }
      const data = connect({ host: dataHost, port: dataPort });
      await new Promise<void>((resolve, reject) => {
        data.once('connect', resolve);
        data.once('error', reject);
      });
      return data;
    };
    const out = await body(ctl, openData);
    await ctl.send('QUIT', timeoutMs).catch(() => undefined);
    return out;
  } finally {
    socket.destroy();
  }
}

/** Store `data` as `fileName` in the directory of `url` (or at its path when it names a file). */
export async function ftpUpload(url: URL, fileName: string, data: Buffer, timeoutMs = 30_000): Promise<void> {
  const path = decodeURIComponent(url.pathname);
  const target = path.endsWith('/') || path === '' ? posix.join(path || '/', fileName) : path;
  await session(url, timeoutMs, async (ctl, openData) => {
    const dir = posix.dirname(target);
    if (dir && dir !== '/' && dir !== '.') expect(await ctl.send(`CWD ${dir}`, timeoutMs), (c) => c === 250, 'change directory');
    const socket = await openData();
    const started = await ctl.send(`STOR ${posix.basename(target)}`, timeoutMs);
    expect(started, (c) => c === 125 || c === 150, 'store');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.end(data, () => resolve());
    });
    await new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
    expect(await ctl.read(timeoutMs), (c) => c === 226 || c === 250, 'transfer');
  });
}

/** Retrieve the file at `url`. */
export async function ftpDownload(url: URL, timeoutMs = 30_000, maxBytes = 512 * 1024 * 1024): Promise<Buffer> {
  return session(url, timeoutMs, async (ctl, openData) => {
    const socket = await openData();
    const chunks: Buffer[] = [];
    let size = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) socket.destroy(new FtpError('file larger than allowed'));
        else chunks.push(c);
      });
      socket.once('error', reject);
      socket.once('end', () => resolve());
    });
    expect(await ctl.send(`RETR ${decodeURIComponent(url.pathname)}`, timeoutMs), (c) => c === 125 || c === 150, 'retrieve');
    await done;
    expect(await ctl.read(timeoutMs), (c) => c === 226 || c === 250, 'transfer');
    return Buffer.concat(chunks);
  });
}
