import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The dashboard's static files (plain ES modules, HTML and CSS: no build chain), served by the
 * control port under /dashboard/. They sit beside this module, in src/ and (copied by
 * `npm run build`) in dist/, so the same URL resolves from the sources and from the package.
 *
 * They hold no figures and no secret, so they are served without the bearer token: the page
 * asks for it (from the URL fragment, or a prompt) and sends it with every API request.
 */
export const DASHBOARD_PATH = '/dashboard/';
const DIR = new URL('./dashboard/', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Scripts and styles from this origin only; the API and its WebSocket on the same host. */
const HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * Answers a request for the dashboard (GET /dashboard, /dashboard/, /dashboard/<file>, and GET /
 * from a browser, which asks for HTML), or returns false for the API to answer it.
 */
export async function serveDashboard(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = url.pathname;
  const browserAtRoot = path === '/' && /\btext\/html\b/.test(req.headers.accept ?? '');
  if (browserAtRoot || path === '/dashboard') {
    res.writeHead(302, { location: DASHBOARD_PATH });
    res.end();
    return true;
  }
  if (!path.startsWith(DASHBOARD_PATH)) return false;
  const name = path === DASHBOARD_PATH ? 'index.html' : path.slice(DASHBOARD_PATH.length);
  // A fixed directory, flat names only: nothing outside it can be asked for.
  const m = /^[a-z][a-z0-9-]*\.(html|js|css)$/.exec(name);
  let body: Buffer | undefined;
  if (m) body = await readFile(new URL(name, DIR)).catch(() => undefined);
  if (!m || !body) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`no dashboard file ${name}\n`);
    return true;
  }
  res.writeHead(200, { 'content-type': TYPES[m[1]!]!, 'content-length': body.length, ...HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
