/**
 * `evse-edge doctor`: every check of a controller's setup (config, serial ports, the central
 * system's TCP/TLS and OCPP WebSocket upgrade, database, clock, broker), each a result with a
 * status and one line of detail. The CLI prints them and sets the exit status.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { configPasswordBytes } from '../../config/csms-security.js';
import { loadAgentConfig, type LoadedAgentConfig } from '../../config/index.js';
import { ConfigError } from '../../lib/errors.js';
import { tlsClientOptions } from '../../ocpp/tls.js';
import { migrations } from '../../store/migrations.js';

export type CheckResult = { name: string; status: 'ok' | 'warn' | 'fail'; detail: string };

const TIMEOUT_MS = 5_000;
/** Serial devices the config names (meters, boards, readers, touchscreen). */
function serialPorts(loaded: LoadedAgentConfig): string[] {
  const c = loaded.config;
  const ports = new Set<string>();
  for (const conn of c.connectors ?? []) for (const d of [conn.meter, conn.evse]) if (d?.driver === 'modbus-rtu') ports.add(d.port);
  for (const r of c.readers ?? []) ports.add(r.port);
  if (c.touchscreen) ports.add(c.touchscreen.port);
  return [...ports];
}

function portCheck(port: string): CheckResult {
  if (!existsSync(port)) return { name: `serial ${port}`, status: 'fail', detail: 'not present' };
  try {
    closeSync(openSync(port, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK));
    return { name: `serial ${port}`, status: 'ok', detail: 'present and openable' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { name: `serial ${port}`, status: 'fail', detail: `cannot open (${code})${code === 'EACCES' ? ': is the user in the dialout group?' : ''}` };
  }
}

/** The central system's TCP port answers; for wss, TLS as the agent does it (CA, version, suites) verifies. */
async function csmsCheck(loaded: LoadedAgentConfig): Promise<CheckResult> {
  const csms = loaded.config.csms;
  const url = new URL(csms.url);
  const tls = url.protocol === 'wss:';
  const port = Number(url.port || (tls ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((done) => {
    const finish = (r: CheckResult) => {
      socket.destroy();
      done(r);
    };
    const name = 'central system';
    let socket: ReturnType<typeof tcpConnect>;
    try {
      if (tls) {
        const opts = tlsClientOptions({ ca: csms.ca, ...(csms.securityProfile === 3 ? { cert: csms.cert, key: csms.key } : {}) }, loaded.file);
        const ip = /^[\d.]+$|:/.test(host);
        socket = tlsConnect({ host, port, ...opts, ...(ip ? {} : { servername: host }) }, () => {
          const s = socket as ReturnType<typeof tlsConnect>;
          const cert = s.getPeerCertificate();
          finish({ name, status: 'ok', detail: `${host}:${port} ${s.getProtocol()} ${s.getCipher().name}, certificate verified (${cert.subject?.CN ?? '?'}, valid to ${cert.valid_to})` });
        });
      } else {
        socket = tcpConnect({ host, port }, () => finish({
          name, status: csms.securityProfile >= 2 ? 'fail' : 'warn', detail: `${host}:${port} reachable, without TLS (security profile ${csms.securityProfile})`,
        }));
      }
    } catch (err) {
      done({ name, status: 'fail', detail: (err as Error).message });
      return;
    }
    socket.setTimeout(TIMEOUT_MS, () => finish({ name, status: 'fail', detail: `${host}:${port} did not answer within ${TIMEOUT_MS} ms` }));
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ name, status: 'fail', detail: `${host}:${port}: ${err.code ?? ''} ${err.message}`.trim() }));
  });
}

/**
 * The OCPP connection as the agent opens it: a WebSocket upgrade on <csms.url>/<chargePointId>
 * offering the configured OCPP versions (csms.ocppVersions, in their order), with Basic auth (the chargePointId and csms.authorizationKey) under security
 * profiles 1 and 2, and the client certificate under 3. The central system sees the charger
 * connect for a moment; the connection is closed at once.
 */
async function ocppCheck(loaded: LoadedAgentConfig): Promise<CheckResult> {
  const csms = loaded.config.csms;
  const name = 'central system (OCPP)';
  const profile = csms.securityProfile;
  const endpoint = `${csms.url.replace(/\/+$/, '')}/${encodeURIComponent(loaded.config.chargePointId)}`;
  const offered = [...csms.ocppVersions];
  const said = offered.join(', ');
  const shown = endpoint.replace(/\/\/[^/@]*@/, '//');
  const password = (profile === 1 || profile === 2) && csms.authorizationKey ? configPasswordBytes(csms.authorizationKey, csms.ocppVersions) : undefined;
  let tls = {};
  if (endpoint.startsWith('wss:')) {
    try {
      tls = tlsClientOptions({ ca: csms.ca, ...(profile === 3 ? { cert: csms.cert, key: csms.key } : {}) }, loaded.file);
    } catch (err) {
      return { name, status: 'fail', detail: (err as Error).message };
    }
  }
  const headers: Record<string, string> = password
    ? { authorization: `Basic ${Buffer.concat([Buffer.from(`${loaded.config.chargePointId}:`), password]).toString('base64')}` }
    : {};
  const auth = password ? `Basic auth accepted (security profile ${profile})` : profile === 3 ? 'client certificate accepted (security profile 3)' : `no authentication (security profile ${profile})`;
  return new Promise((done) => {
    let settled = false;
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(r);
    };
    const socket = new WebSocket(endpoint, offered, { headers, handshakeTimeout: TIMEOUT_MS, ...tls });
    const timer = setTimeout(() => {
      socket.terminate();
      finish({ name, status: 'fail', detail: `${shown}: no WebSocket upgrade within ${TIMEOUT_MS} ms` });
    }, TIMEOUT_MS + 1_000);
    socket.on('open', () => {
      const selected = socket.protocol;
      socket.close(1000, 'evse-edge doctor');
      if (!offered.includes(selected as never)) finish({ name, status: 'fail', detail: `${shown}: the central system selected the subprotocol "${selected}", not one offered (${said})` });
      else finish({ name, status: 'ok', detail: `${shown}: WebSocket upgrade, subprotocol ${selected} selected, ${auth}; offered ${said}` });
    });
    socket.on('unexpected-response', (_req, res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      socket.terminate();
      const why = code === 401 || code === 403
        ? password
          ? `the central system refused the Basic auth of ${loaded.config.chargePointId} (HTTP ${code}): check csms.authorizationKey, and that the central system knows this charger`
          : `the central system wants authentication (HTTP ${code}): security profile 1 or 2 with csms.authorizationKey`
        : code === 404
          ? `no such endpoint (HTTP 404): check csms.url (the agent connects to <url>/<chargePointId>)`
          : code === 400
            ? `the central system refused the upgrade (HTTP 400): does it speak ${said} on this URL (csms.ocppVersions)?`
            : `no WebSocket upgrade (HTTP ${code}): is this a central system's OCPP endpoint?`;
      finish({ name, status: 'fail', detail: `${shown}: ${why}` });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socket.terminate();
      const detail = /subprotocol/i.test(err.message)
        ? `the central system selected none of ${said} (${err.message}): check csms.ocppVersions`
        : `${err.code ? `${err.code} ` : ''}${err.message}`;
      finish({ name, status: 'fail', detail: `${shown}: ${detail}` });
    });
  });
}

function databaseCheck(loaded: LoadedAgentConfig): CheckResult {
  const path = resolve(loaded.config.store.path);
  if (!existsSync(path)) return { name: 'database', status: 'warn', detail: `${path} not created yet (the agent creates it at its first start)` };
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const integrity = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check).join('; ');
      const version = db.pragma('user_version', { simple: true }) as number;
      const journal = db.pragma('journal_mode', { simple: true }) as string;
      if (integrity !== 'ok') return { name: 'database', status: 'fail', detail: `${path}: ${integrity}` };
      if (version > migrations.length) return { name: 'database', status: 'fail', detail: `${path}: schema ${version} is newer than this program (${migrations.length})` };
      return { name: 'database', status: 'ok', detail: `${path}: integrity ok, schema ${version}/${migrations.length}, journal ${journal}` };
    } finally {
      db.close();
    }
  } catch (err) {
    return { name: 'database', status: 'fail', detail: `${path}: ${(err as Error).message}` };
  }
}

export function clockCheck(syncFile = '/run/systemd/timesync/synchronized'): CheckResult {
  try {
    const v = execFileSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: TIMEOUT_MS }).trim();
    if (v === 'yes') return { name: 'clock', status: 'ok', detail: 'synchronised (timedatectl)' };
    if (v === 'no') return { name: 'clock', status: 'fail', detail: 'not synchronised (timedatectl): enable NTP (systemd-timesyncd or chrony)' };
  } catch {
    // no timedatectl, or no systemd running
  }
  if (existsSync(syncFile)) return { name: 'clock', status: 'ok', detail: `synchronised (${syncFile})` };
  return { name: 'clock', status: 'warn', detail: 'cannot tell whether the clock is synchronised (no timedatectl answer, no timesync flag); the agent sets its clock from the central system' };
}

async function brokerCheck(loaded: LoadedAgentConfig): Promise<CheckResult | undefined> {
  const m = loaded.config.mqtt;
  if (!m) return undefined;
  if (m.url === 'embedded') {
    return { name: 'broker', status: 'ok', detail: `embedded, MQTT 3.1.1, started by the agent on mqtt://${m.embeddedHost}:${m.embeddedPort}${m.embeddedPort === 0 ? ' (any free port: see its log)' : ''}` };
  }
  const { connectAsync } = await import('mqtt');
  try {
    const client = await connectAsync(m.url, {
      username: m.username, password: m.password, protocolVersion: m.protocolVersion as 4 | 5, connectTimeout: TIMEOUT_MS, reconnectPeriod: 0,
      clientId: `evse-edge-doctor-${process.pid}`,
    });
    await client.endAsync();
    return { name: 'broker', status: 'ok', detail: `${m.url.replace(/\/\/[^/@]*@/, '//')} accepted the connection` };
  } catch (err) {
    return { name: 'broker', status: 'fail', detail: `${m.url.replace(/\/\/[^/@]*@/, '//')}: ${(err as Error).message}` };
  }
}

/** Every check of a controller's setup; the config first (the others need it). */
export async function runDoctor(configFile: string): Promise<CheckResult[]> {
  let loaded: LoadedAgentConfig;
  try {
    loaded = loadAgentConfig(configFile);
  } catch (err) {
    const detail = err instanceof ConfigError ? err.problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ') : (err as Error).message;
    return [{ name: 'config', status: 'fail', detail: `${configFile}: ${detail}` }, clockCheck()];
  }
  const results: CheckResult[] = [{ name: 'config', status: 'ok', detail: `${configFile} valid (charger ${loaded.charger.id}, security profile ${loaded.config.csms.securityProfile})` }];
  const ports = serialPorts(loaded);
  results.push(...(ports.length ? ports.map(portCheck) : [{ name: 'serial', status: 'ok' as const, detail: 'no serial devices configured' }]));
  const reachable = await csmsCheck(loaded);
  results.push(reachable);
  if (reachable.status !== 'fail' || loaded.config.csms.securityProfile >= 2) results.push(await ocppCheck(loaded));
  results.push(databaseCheck(loaded));
  results.push(clockCheck());
  const broker = await brokerCheck(loaded);
  if (broker) results.push(broker);
  return results;
}
