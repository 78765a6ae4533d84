/**
 * Uploads and downloads for Firmware Management: HTTP(S) and FTP, the transports OCPP 1.6
 * names for diagnostics and firmware locations. HTTP uploads PUT the file (a location ending in
 * "/" gets the file name appended) and fall back to POST when the server does not allow PUT.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EvseError } from '../lib/errors.js';
import { ftpDownload, ftpUpload } from '../lib/ftp-client.js';

export const TRANSFER_DEFAULTS = { timeoutMs: 60_000, maxRedirects: 5, maxDownloadBytes: 512 * 1024 * 1024 };

export class TransferError extends EvseError {
  constructor(message: string) {
    super('ERR_TRANSFER', message);
  }
}

function send(url: URL, method: string, body?: Buffer, timeoutMs = TRANSFER_DEFAULTS.timeoutMs): Promise<{ res: IncomingMessage; data: Buffer }> {
  const request = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!request) return Promise.reject(new TransferError(`unsupported scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, timeout: timeoutMs,
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

export async function upload(location: string, fileName: string, data: Buffer): Promise<void> {
  const url = new URL(location);
  if (url.protocol === 'ftp:') return ftpUpload(url, fileName, data, TRANSFER_DEFAULTS.timeoutMs);
  const target = uploadUrl(location, fileName);
  let { res } = await send(target, 'PUT', data);
  if (res.statusCode === 405 || res.statusCode === 501) ({ res } = await send(target, 'POST', data));
  if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) throw new TransferError(`upload answered HTTP ${res.statusCode}`);
}

export async function download(location: string): Promise<Buffer> {
  let url = new URL(location);
  url.hash = '';
  if (url.protocol === 'ftp:') return ftpDownload(url, TRANSFER_DEFAULTS.timeoutMs, TRANSFER_DEFAULTS.maxDownloadBytes);
  for (let hop = 0; hop <= TRANSFER_DEFAULTS.maxRedirects; hop++) {
    const { res, data } = await send(url, 'GET');
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
