import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRPCError } from 'ocpp-rpc';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/config/index.js';
import { decodeAuthorizationKey } from '../../src/config/csms-security.js';
import { ConfigError } from '../../src/lib/errors.js';
import { silentLog } from '../../src/lib/log.js';
import { migrate } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const KEY = 'evse-edge-key-0001';
const NEW_KEY = 'rotated-key-00000002';
const NEW_KEY_HEX = Buffer.from(NEW_KEY).toString('hex');
const basic = (password: string) => `Basic ${Buffer.from(`CP-TEST-1:${password}`).toString('base64')}`;

/** A central system that accepts the passwords in `allowed` and records every handshake. */
async function basicAuthCsms(allowed: Set<string>) {
  const csms = new TestCsms();
  const handshakes: { authorization?: string; password?: string }[] = [];
  csms.server.auth((accept, reject, hs) => {
    const password = hs.password?.toString('latin1');
    handshakes.push({ authorization: hs.headers.authorization, password });
    if (password !== undefined && allowed.has(password)) accept();
    else reject(401);
  });
  const url = await csms.start();
  return { csms, url, handshakes };
}

const csmsConfig = (url: string, extra: object) => ({ csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 300, ...extra } });

function secretsIn(t: TestAgent, secrets: string[]): string[] {
  const text = t.logs.records.map((r) => JSON.stringify(r)).join('\n');
  return secrets.filter((s) => text.includes(s));
}

describe('security profile 1: HTTP Basic auth and the AuthorizationKey', () => {
  it('TC_085_CS: sends Authorization: Basic base64(chargePointId:AuthorizationKey); the hex form is decoded to its bytes', async () => {
    const { csms, url, handshakes } = await basicAuthCsms(new Set([KEY]));
    const t = await startAgent(url, csmsConfig(url, { securityProfile: 1, authorizationKey: Buffer.from(KEY).toString('hex') }));
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification');
      expect(handshakes[0]).toEqual({ authorization: basic(KEY), password: KEY });
    } finally {
      await t.cleanup();
      await csms.stop();
    }
    expect(decodeAuthorizationKey('00ff'.repeat(8))).toEqual(Buffer.from('00ff'.repeat(8), 'hex'));
    expect(decodeAuthorizationKey('short')).toBeUndefined();
    expect(decodeAuthorizationKey('ab'.repeat(21))).toBeUndefined();
  });

  it('a refused password is recorded as FailedToAuthenticateAtCentralSystem and delivered once the key is right', async () => {
    const allowed = new Set<string>();
    const { csms, url } = await basicAuthCsms(allowed);
    const t = await startAgent(url, csmsConfig(url, { securityProfile: 1, authorizationKey: KEY }));
    try {
      await waitFor(() => t.logs.records.find((l) => l.securityEvent === 'FailedToAuthenticateAtCentralSystem'), 10_000, 'the security event');
      expect(csms.calls).toEqual([]);
      allowed.add(KEY);
      const delivered = await waitFor(() => csms.callsOf('SecurityEventNotification').find((c) => c.params.type === 'FailedToAuthenticateAtCentralSystem'), 10_000, 'delivery');
      expect(delivered.params.techInfo).toBe('HTTP 401');
      expect(csms.callsOf('SecurityEventNotification').map((c) => c.params.type)).toEqual(['StartupOfTheDevice', 'FailedToAuthenticateAtCentralSystem']);
      expect(csms.validationFailures).toEqual([]);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });

  it('TC_073_CS (two rotations, a restart between them): rotates the key by ChangeConfiguration: persisted, reconnects with it, survives a restart; never logged or returned', async () => {
    const allowed = new Set([KEY]);
    const { csms, url, handshakes } = await basicAuthCsms(allowed);
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-security-'));
    let t = await startAgent(url, csmsConfig(url, { securityProfile: 1, authorizationKey: KEY }), { dir });
    const allLogs: TestAgent['logs']['records'] = [];
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification');
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'too-short' })).toEqual({ status: 'Rejected' });
      allowed.add(NEW_KEY);
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'AuthorizationKey', value: NEW_KEY_HEX })).toEqual({ status: 'Accepted' });
      allowed.delete(KEY);
      await waitFor(() => handshakes.some((h) => h.password === NEW_KEY) && csms.clients.has('CP-TEST-1'), 10_000, 'a connection with the new key');
      expect(handshakes.at(-1)!.authorization).toBe(basic(NEW_KEY));
      await waitFor(() => csms.callsOf('SecurityEventNotification').find((c) => c.params.type === 'ReconfigurationOfSecurityParameters'), 10_000, 'ReconfigurationOfSecurityParameters');

      const all = await csms.call('CP-TEST-1', 'GetConfiguration', {});
      expect(all.configurationKey.map((k: { key: string }) => k.key)).not.toContain('AuthorizationKey');
      expect(all.configurationKey.find((k: { key: string }) => k.key === 'SecurityProfile')).toEqual({ key: 'SecurityProfile', readonly: false, value: '1' });
      const asked = await csms.call('CP-TEST-1', 'GetConfiguration', { key: ['AuthorizationKey'] });
      expect(asked).toEqual({ configurationKey: [], unknownKey: ['AuthorizationKey'] });
      expect(JSON.stringify([all, asked])).not.toContain(NEW_KEY_HEX);

      allLogs.push(...t.logs.records);
      await t.cleanup();
      const before = handshakes.length;
      t = await startAgent(url, csmsConfig(url, { securityProfile: 1, authorizationKey: KEY }), { dir });
      await waitFor(() => handshakes.length > before && csms.clients.has('CP-TEST-1'), 10_000, 'reconnection after a restart');
      expect(handshakes.slice(before).map((h) => h.password)).toEqual([NEW_KEY]);
      // TC_073_CS steps 4-6: a second rotation, the connection made again with it at once.
      const third = 'rotated-key-00000003';
      allowed.add(third);
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'AuthorizationKey', value: Buffer.from(third).toString('hex') })).toEqual({ status: 'Accepted' });
      allowed.delete(NEW_KEY);
      await waitFor(() => handshakes.some((h) => h.password === third) && csms.clients.has('CP-TEST-1'), 10_000, 'a connection with the second new key');
      expect(handshakes.at(-1)!.authorization).toBe(basic(third));
      allLogs.push(...t.logs.records);
      const text = allLogs.map((r) => JSON.stringify(r)).join('\n');
      for (const secret of [KEY, NEW_KEY, NEW_KEY_HEX, third, basic(KEY).slice(6), basic(NEW_KEY).slice(6), basic(third).slice(6)]) expect(text).not.toContain(secret);
      expect(secretsIn(t, [NEW_KEY])).toEqual([]);
    } finally {
      await t.cleanup();
      await csms.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('TC_084_CS\'s rule from profile 1 (tls.test.ts has it from 2): SecurityProfile can be raised over OCPP, never lowered; a raise the charger cannot honour is rejected', async () => {
    const { csms, url, handshakes } = await basicAuthCsms(new Set([KEY]));
    csms.server.auth((accept, _reject, hs) => {
      handshakes.push({ authorization: hs.headers.authorization, password: hs.password?.toString() });
      accept();
    });
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-security-'));
    let t = await startAgent(url, csmsConfig(url, { securityProfile: 0, authorizationKey: KEY }), { dir });
    try {
      await waitFor(() => csms.callsOf('BootNotification').length > 0, 10_000, 'BootNotification');
      expect(handshakes).toEqual([{ authorization: undefined, password: undefined }]);
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'SecurityProfile', value: '2' })).toEqual({ status: 'Rejected' }); // ws:// URL
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'SecurityProfile', value: '1' })).toEqual({ status: 'Accepted' });
      await waitFor(() => handshakes.length === 2 && csms.clients.has('CP-TEST-1'), 10_000, 'a connection with Basic auth');
      expect(handshakes[1]).toEqual({ authorization: basic(KEY), password: KEY });
      expect(await csms.call('CP-TEST-1', 'ChangeConfiguration', { key: 'SecurityProfile', value: '0' })).toEqual({ status: 'Rejected' });
      await t.cleanup();
      t = await startAgent(url, csmsConfig(url, { securityProfile: 0, authorizationKey: KEY }), { dir });
      await waitFor(() => handshakes.length === 3, 10_000, 'reconnection after a restart');
      expect(handshakes[2]!.password).toBe(KEY);
    } finally {
      await t.cleanup();
      await csms.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a central system without the security extension (NotImplemented) does not hold back transaction messages', async () => {
    const csms = new TestCsms().on('SecurityEventNotification', () => {
      throw createRPCError('NotImplemented', 'no security extension');
    });
    const url = await csms.start();
    const t = await startAgent(url);
    try {
      await waitFor(() => t.agent.outbox!.deadLetters().find((d) => d.kind === 'security'), 10_000, 'the refused event set aside');
      expect(await csms.call('CP-TEST-1', 'RemoteStartTransaction', { connectorId: 1, idTag: 'APPUSER1' })).toEqual({ status: 'Accepted' });
      await waitFor(() => csms.callsOf('StartTransaction').length === 1, 15_000, 'StartTransaction');
      expect(t.logs.records.filter((l) => l.alarm === 'dead-letter')).toEqual([]);
    } finally {
      await t.cleanup();
      await csms.stop();
    }
  });
});

describe('security config', () => {
  const base = { chargePointId: 'CP-1', store: { path: ':memory:' } };
  const problems = (csms: object) => {
    try {
      parseAgentConfig({ ...base, csms });
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  it('checks what each profile needs, at the field paths', () => {
    expect(problems({ url: 'ws://h/ocpp', securityProfile: 1 })).toEqual(['csms.authorizationKey: security profile 1 needs an AuthorizationKey (HTTP Basic auth)']);
    expect(problems({ url: 'ws://h/ocpp', securityProfile: 2, authorizationKey: KEY })).toEqual(['csms.url: security profile 2 needs a wss:// URL (TLS)']);
    expect(problems({ url: 'wss://h/ocpp', securityProfile: 3 })).toEqual([
      'csms.cert: security profile 3 needs a client certificate (PEM file)',
      'csms.key: security profile 3 needs the client certificate\'s private key (PEM file)',
    ]);
    expect(problems({ url: 'ws://h/ocpp', securityProfile: 1, authorizationKey: 'short' })[0]).toMatch(/^csms.authorizationKey: expected 16-20 characters, or 32-40 hex digits/);
    expect(problems({ url: 'ws://h/ocpp', securityProfile: 4 })[0]).toMatch(/^csms.securityProfile: expected ≤ 3/);
    expect(problems({ url: 'ws://h/ocpp', securityProfile: 1, authorizationKey: 'ab'.repeat(20) })).toEqual([]);
    expect(problems({ url: 'wss://h/ocpp', securityProfile: 2, authorizationKey: KEY, ca: '/etc/evse-edge/ca.pem' })).toEqual([]);
  });
});

describe('the outbox migration for security events', () => {
  it('rebuilds the outbox keeping every row, the sequence and the indexes', () => {
    const db = new Database(':memory:');
    const index = migrations.findIndex((m) => m.includes("'security'"));
    expect(index).toBeGreaterThan(1);
    for (let v = 0; v < index; v++) db.exec(migrations[v]!);
    db.pragma(`user_version = ${index}`);
    const insert = db.prepare(`INSERT INTO outbox (seq, charge_point_id, kind, local_id, created_at, payload, state) VALUES (?, 'CP', ?, ?, 1, ?, ?)`);
    insert.run(40, 'start', 'S1', null, 'acked');
    insert.run(41, 'meter', 'S1', '{"x":1}', 'queued');
    db.prepare(`DELETE FROM outbox WHERE seq = 41`).run();
    insert.run(41, 'meter', 'S1', '{"x":1}', 'queued');
    insert.run(42, 'stop', 'S1', '{"y":2}', 'dead');
    db.prepare(`DELETE FROM outbox WHERE seq = 42`).run(); // the sequence stays at 42
    migrate(db, silentLog);
    expect(db.prepare(`SELECT seq, kind, payload, state FROM outbox ORDER BY seq`).all()).toEqual([
      { seq: 40, kind: 'start', payload: null, state: 'acked' },
      { seq: 41, kind: 'meter', payload: '{"x":1}', state: 'queued' },
    ]);
    const next = db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at, payload) VALUES ('CP', 'security', 'sec-1', 2, '{}')`).run();
    expect(Number(next.lastInsertRowid)).toBe(43);
    expect(() => db.prepare(`INSERT INTO outbox (charge_point_id, kind, local_id, created_at) VALUES ('CP', 'bogus', 'x', 1)`).run()).toThrow(/CHECK/);
    expect(() => insert.run(50, 'start', 'S1', null, 'queued')).toThrow(/UNIQUE/);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM dead_letters`).get()).toEqual({ n: 0 });
    db.close();
  });
});
