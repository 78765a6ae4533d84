/**
 * Uploads and downloads for Firmware Management: HTTP(S), FTP and FTPS, the transports OCPP 1.6
 * names for diagnostics and firmware locations. HTTP uploads PUT the file (a location ending in
 * "/" gets the file name appended) and fall back to POST when the server does not allow PUT.
 *
 * FTP is basic-ftp, in passive mode (EPSV, else PASV to the control host). `ftps://` is
 * explicit FTPS (RFC 4217: AUTH TLS on the control connection, PROT P, TLS on every data
 * connection), on port 21 unless the URL names one. Implicit FTPS (TLS from the first byte,
 * port 990) was never standardised and RFC 4217 leaves it out: a location on port 990 is
 * refused with a clear error rather than left to time out against a greeting that never comes.
 *
 * Trust for https:// and ftps://: the system's CAs plus, when the agent has one, the operator's
 * private CA (csms.ca, the CA the central system's certificate chains to), so a file server of
 * the operator's PKI and a public one are both verified; TLS 1.2 at least.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { Client as FtpClient } from 'basic-ftp';
import { EvseError } from '../../lib/errors.js';
import { TLS_MIN_VERSION } from '../../ocpp/tls.js';

export const TRANSFER_DEFAULTS = { timeoutMs: 60_000, maxRedirects: 5, maxDownloadBytes: 512 * 1024 * 1024 };
/** The port of implicit FTPS (IANA "ftps"), which is not supported. */
const IMPLICIT_FTPS_PORT = 990;

export class TransferError extends EvseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TRANSFER', message, options);
  }
}

/** Whom https:// and ftps:// servers may be certified by, besides the system's CAs. */
export interface TransferTrust {
  /** PEM certificate(s) of a private CA (the operator's, csms.ca). */
  ca?: Buffer | string;
}

function tlsOptions(trust: TransferTrust | undefined): ConnectionOptions {
  return {
    minVersion: TLS_MIN_VERSION,
    rejectUnauthorized: true,
    ...(trust?.ca ? { ca: [...rootCertificates, trust.ca.toString()] } : {}),
  };
}

function send(url: URL, method: string, body?: Buffer, trust?: TransferTrust, timeoutMs = TRANSFER_DEFAULTS.timeoutMs): Promise<{ res: IncomingMessage; data: Buffer }> {
  const https = url.protocol === 'https:';
  const request = https ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!request) return Promise.reject(new TransferError(`unsupported scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, timeout: timeoutMs,
      ...(https ? tlsOptions(trust) : {}),
      headers: body ? { 'content-type': 'application/gzip', 'content-length': body.length } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > TRANSFER_DEFAULTS.maxDownloadBytes) req.destroy(new TransferError('download larger than allowed'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ res, data: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new TransferError('no answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Where a file goes: a location ending in "/" is a directory. */
export function uploadUrl(location: string, fileName: string): URL {
  const url = new URL(location);
  if (url.pathname.endsWith('/')) url.pathname += encodeURIComponent(fileName);
  return url;
}

const isFtp = (url: URL) => url.protocol === 'ftp:' || url.protocol === 'ftps:';

/** One FTP(S) session: connect, log in (anonymous without credentials), `body`, close. */
async function ftpSession<T>(url: URL, trust: TransferTrust | undefined, what: string, body: (client: FtpClient) => Promise<T>): Promise<T> {
  const secure = url.protocol === 'ftps:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 21;
  if (secure && port === IMPLICIT_FTPS_PORT) throw new TransferError(`implicit FTPS (port ${IMPLICIT_FTPS_PORT}) is not supported: use explicit FTPS (AUTH TLS), usually on port 21`);
  // basic-ftp is loaded by the first FTP transfer, not at the agent's start.
  const { Client } = await import('basic-ftp');
  // Data connections go to the control host only, whatever address PASV announces.
  const client = new Client(TRANSFER_DEFAULTS.timeoutMs, { allowSeparateTransferHost: false });
  try {
    await client.access({
      host, port,
      user: url.username ? decodeURIComponent(url.username) : 'anonymous',
      password: url.password ? decodeURIComponent(url.password) : 'evse-edge@',
      secure,
      ...(secure ? { secureOptions: tlsOptions(trust) } : {}),
    });
    return await body(client);
  } catch (err) {
    if (err instanceof TransferError) throw err;
    throw new TransferError(`${secure ? 'FTPS' : 'FTP'} ${what} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.close();
  }
}

/** Store `data` as `fileName` in the directory of `url` (or at its path when it names a file). */
async function ftpUpload(url: URL, fileName: string, data: Buffer, trust?: TransferTrust): Promise<void> {
  const path = decodeURIComponent(url.pathname);
  const target = path.endsWith('/') || path === '' ? posix.join(path || '/', fileName) : path;
  await ftpSession(url, trust, 'upload', async (client) => {
    const dir = posix.dirname(target);
    if (dir && dir !== '/' && dir !== '.') await client.cd(dir);
    await client.uploadFrom(Readable.from([data]), posix.basename(target));
  });
}

/** Retrieve the file at `url`, at most `maxBytes`. */
async function ftpDownload(url: URL, trust?: TransferTrust, maxBytes = TRANSFER_DEFAULTS.maxDownloadBytes): Promise<Buffer> {
  return ftpSession(url, trust, 'download', async (client) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new TransferError('download larger than allowed'));
        chunks.push(chunk);
        done();
      },
    });
    await client.downloadTo(sink, decodeURIComponent(url.pathname));
    return Buffer.concat(chunks);
  });
}

export async function upload(location: string, fileName: string, data: Buffer, trust?: TransferTrust): Promise<void> {
  const url = new URL(location);
  if (isFtp(url)) return ftpUpload(url, fileName, data, trust);
  const target = uploadUrl(location, fileName);
  let { res } = await send(target, 'PUT', data, trust);
  if (res.statusCode === 405 || res.statusCode === 501) ({ res } = await send(target, 'POST', data, trust));
  if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) throw new TransferError(`upload answered HTTP ${res.statusCode}`);
}

export async function download(location: string, trust?: TransferTrust): Promise<Buffer> {
  let url = new URL(location);
  url.hash = '';
  if (isFtp(url)) return ftpDownload(url, trust);
  for (let hop = 0; hop <= TRANSFER_DEFAULTS.maxRedirects; hop++) {
    const { res, data } = await send(url, 'GET', undefined, trust);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      url = new URL(res.headers.location, url);
      continue;
    }
    if (status < 200 || status >= 300) throw new TransferError(`download answered HTTP ${status}`);
    return data;
  }
  throw new TransferError('too many redirects');
}
