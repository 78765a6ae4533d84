import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const PREFIX = 'evse/CP-TEST-1';
const ID_TAG = 'SECRETTAG1';
const AGENT_PASSWORD = 'agent-pw-7c1e';

// The ACL the README gives: each login publishes requests, and reads answers, under its own name only.
const patterns = ['write evse/+/request/%u/#', 'read evse/+/response/%u/#'];
const users = [
  { name: 'agent', password: AGENT_PASSWORD, acl: ['topic readwrite evse/#'] },
  { name: 'tech', password: 'tech-pw', acl: ['topic read evse/+/state', 'topic read evse/+/info', 'topic read evse/+/health', 'topic read evse/+/connector/#', 'topic read evse/+/event',
    // The request/<noun>/<verb> form, with a claimed user, for one command (MQTT 3.1.1 test).
    'topic write evse/+/request/status/get', 'topic read evse/+/response/status/get'] },
  { name: 'boss', password: 'boss-pw', acl: ['topic read evse/+/state'] },
  // Allowed by the broker to publish requests, but only a viewer to the agent: the agent checks roles itself.
  { name: 'viewer', password: 'viewer-pw', acl: ['topic read evse/+/state', 'topic read evse/+/info', 'topic read evse/+/connector/#'] },
  { name: 'ratey', password: 'ratey-pw', acl: [] },
  { name: 'spy', password: 'spy-pw', acl: ['topic read #'] },
];

function connect(url: string, username: string, password: string, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
  return mqtt.connectAsync(url, { username, password, protocolVersion, reconnectPeriod: 0, clientId: `${username}-${randomUUID().slice(0, 8)}` });
}

interface Answer { status: string; data?: any; error?: { code: string; message: string }; correlation: string | null }

/**
 * An MQTT 5 request with Response Topic and Correlation Data, under the client's login `user`;
 * resolves with the envelope.
 */
async function request(c: MqttClient, user: string, command: string, body: Record<string, unknown> = {}, props: { correlation?: string | null; sentAt?: string; expiry?: number; claim?: string } = {}): Promise<Answer> {
  const responseTopic = `${PREFIX}/response/${user}/${randomUUID()}`;
  await c.subscribeAsync(responseTopic, { qos: 1 });
  const correlation = props.correlation === undefined ? randomUUID() : props.correlation;
  const answer = new Promise<Answer>((resolveAnswer) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== responseTopic) return;
      c.off('message', onMessage);
      resolveAnswer(JSON.parse(payload.toString()));
    };
    c.on('message', onMessage);
  });
  await c.publishAsync(`${PREFIX}/request/${user}/${command}`, JSON.stringify(body), {
    qos: 1,
    properties: {
      responseTopic,
      ...(correlation ? { correlationData: Buffer.from(correlation) } : {}),
      userProperties: { ...(props.claim ? { user: props.claim } : {}), 'sent-at': props.sentAt ?? new Date().toISOString() },
      ...(props.expiry ? { messageExpiryInterval: props.expiry } : {}),
    },
  });
  return answer;
}

describe('MQTT diagnostics against mosquitto', () => {
  let broker: Mosquitto;
  let csms: TestCsms;
  let t: TestAgent;
  let spy: MqttClient;
  const seen: { topic: string; payload: string }[] = [];
  let tech: MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto(users, { patterns });
    spy = await connect(broker.url, 'spy', 'spy-pw');
    spy.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await spy.subscribeAsync('#', { qos: 1 });
    csms = new TestCsms();
    const url = await csms.start();
    t = await startAgent(url, {
      mqtt: {
        url: broker.url, username: 'agent', password: AGENT_PASSWORD, healthIntervalS: 1, adminCommands: true,
        roles: { tech: 'technician', boss: 'admin', viewer: 'viewer', ratey: 'technician' },
        rateLimit: { requests: 20, perSeconds: 600 },
      },
    });
    tech = await connect(broker.url, 'tech', 'tech-pw');
    await waitFor(() => seen.some((m) => m.topic === `${PREFIX}/state` && m.payload === 'online'), 10_000, 'state online');
  });

  afterAll(async () => {
    await tech?.endAsync();
    await spy?.endAsync();
    await t?.cleanup();
    await csms?.stop();
    await broker?.stop();
  });

  it('publishes retained state, info and connectors, and periodic health', async () => {
    const viewer = await connect(broker.url, 'viewer', 'viewer-pw');
    const retained: Record<string, string> = {};
    viewer.on('message', (topic, payload) => (retained[topic] = payload.toString()));
    await viewer.subscribeAsync(`${PREFIX}/#`, { qos: 1 });
    await waitFor(() => retained[`${PREFIX}/info`] && retained[`${PREFIX}/connector/1`] && retained[`${PREFIX}/state`], 5_000, 'retained topics');
    expect(retained[`${PREFIX}/state`]).toBe('online');
    const info = JSON.parse(retained[`${PREFIX}/info`]!);
    expect(info.chargePointId).toBe('CP-TEST-1');
    expect(info.featureProfiles).toContain('Core');
    expect(info.config.mqtt.password).toBe('(redacted)');
    expect(JSON.parse(retained[`${PREFIX}/connector/1`]!)).toMatchObject({ connectorId: 1, status: 'Available' });
    await viewer.endAsync();
    const health = await waitFor(() => seen.filter((m) => m.topic === `${PREFIX}/health`).at(-1), 5_000, 'health');
    const h = JSON.parse(health.payload);
    expect(h.ocpp.state).toBe('accepted');
    expect(h.outbox).toMatchObject({ depth: expect.any(Number), deadLetters: 0 });
    expect(h.clock.trusted).toBe(true);
    expect(h).toHaveProperty('uptimeS');
    expect(h).toHaveProperty('memory.rssMiB');
    expect(h).toHaveProperty('eventLoopLagP99Ms');
    expect(h.hardware).toHaveLength(2);
  });

  it('answers a technician request on the Response Topic with the Correlation Data, and audits it', async () => {
    const correlation = randomUUID();
    const a = await request(tech, 'tech', 'status/get', {}, { correlation });
    expect(a.status).toBe('ok');
    expect(a.correlation).toBe(correlation);
    expect(a.data.connectors[1]).toMatchObject({ connectorId: 1, status: 'Available' });
    const db = new Database(join(t.dir, 'agent.db'), { readonly: true });
    const row = db.prepare(`SELECT username, role, command, status FROM audit_log WHERE correlation = ?`).get(correlation);
    db.close();
    expect(row).toEqual({ username: 'tech', role: 'technician', command: 'status/get', status: 'ok' });
  });

  it('sets only technician-writable configuration keys', async () => {
    const ok = await request(tech, 'tech', 'config/set', { key: 'MeterValueSampleInterval', value: 15 });
    expect(ok).toMatchObject({ status: 'ok', data: { key: 'MeterValueSampleInterval', status: 'Accepted' } });
    expect(t.agent.settings!.int('MeterValueSampleInterval')).toBe(15);
    // Keys are case-insensitive, as ChangeConfiguration takes them: the answer names the key as listed.
    const lower = await request(tech, 'tech', 'config/set', { key: 'metervaluesampleinterval', value: 20 });
    expect(lower).toMatchObject({ status: 'ok', data: { key: 'MeterValueSampleInterval', status: 'Accepted' } });
    expect(t.agent.settings!.int('MeterValueSampleInterval')).toBe(20);
    expect(await request(tech, 'tech', 'config/set', { key: 'METERVALUESAMPLEINTERVAL', value: 15 })).toMatchObject({ status: 'ok' });
    const refused = await request(tech, 'tech', 'config/set', { key: 'AuthorizeRemoteTxRequests', value: true });
    expect(refused).toMatchObject({ status: 'error', error: { code: 'ERR_NOT_WRITABLE' } });
    const bad = await request(tech, 'tech', 'config/set', { key: 'MeterValueSampleInterval', value: 'often' });
    expect(bad).toMatchObject({ status: 'error', error: { code: 'ERR_CONFIG_REJECTED' } });
    const cfg = await request(tech, 'tech', 'config/get');
    expect(cfg.data.ocpp.MeterValueSampleInterval).toBe('15');
    // Applied, not only stored: the same path as ChangeConfiguration (heartbeat rescheduled).
    const heartbeatsBefore = csms.callsOf('Heartbeat').length;
    expect(await request(tech, 'tech', 'config/set', { key: 'HeartbeatInterval', value: 1 })).toMatchObject({ status: 'ok' });
    await waitFor(() => csms.callsOf('Heartbeat').length > heartbeatsBefore, 10_000, 'a Heartbeat on the new interval');
    await request(tech, 'tech', 'config/set', { key: 'HeartbeatInterval', value: 300 });
  });

  it('refuses requests without correlation, replayed, expired, unknown, or beyond the role', async () => {
    expect(await request(tech, 'tech', 'status/get', {}, { correlation: null })).toMatchObject({ status: 'error', error: { code: 'ERR_NO_CORRELATION' } });
    const c = randomUUID();
    expect((await request(tech, 'tech', 'status/get', {}, { correlation: c })).status).toBe('ok');
    expect(await request(tech, 'tech', 'status/get', {}, { correlation: c })).toMatchObject({ status: 'error', error: { code: 'ERR_REPLAYED' } });
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    expect(await request(tech, 'tech', 'status/get', {}, { sentAt: old, expiry: 30 })).toMatchObject({ status: 'error', error: { code: 'ERR_EXPIRED' } });
    expect(await request(tech, 'tech', 'nothing/here')).toMatchObject({ status: 'error', error: { code: 'ERR_UNKNOWN_COMMAND' } });
    const viewer = await connect(broker.url, 'viewer', 'viewer-pw');
    expect(await request(viewer, 'viewer', 'status/get')).toMatchObject({ status: 'error', error: { code: 'ERR_FORBIDDEN' } });
    await viewer.endAsync();
    expect(await request(tech, 'tech', 'session/start', { connectorId: 1, idTag: ID_TAG })).toMatchObject({ status: 'error', error: { code: 'ERR_FORBIDDEN' } });
  });

  it('takes who asks from the broker login: the broker refuses another login\'s topic, the agent a claimed user', async () => {
    // tech tries to pass for boss (an admin) by publishing under boss's login: the broker's ACL
    // (pattern write evse/+/request/%u/#) refuses it, and the agent never sees it.
    const forged = randomUUID();
    const refusedByBroker = await tech.publishAsync(`${PREFIX}/request/boss/session/stop`, JSON.stringify({ connectorId: 1 }), {
      qos: 1, properties: { correlationData: Buffer.from(forged), responseTopic: `${PREFIX}/response/tech/${forged}`, userProperties: { 'sent-at': new Date().toISOString() } },
    }).then(() => 'acknowledged', (err: Error) => err.message);
    // mosquitto answers an MQTT 5 publish it refuses with PUBACK "Not authorized" (0x87).
    expect(refusedByBroker).toMatch(/not authori[sz]ed|135/i);
    // Naming boss in the request, under its own login, is only a claim: refused by the agent.
    const claimed = await request(tech, 'tech', 'status/get', {}, { claim: 'boss' });
    expect(claimed).toMatchObject({ status: 'error', error: { code: 'ERR_FORBIDDEN', message: expect.stringMatching(/names user boss but came under the login tech/) } });
    // An answer under another login's responses is not written for a requester either.
    const stray: string[] = [];
    spy.on('message', (topic) => topic.startsWith(`${PREFIX}/response/boss/`) && stray.push(topic));
    const c = randomUUID();
    await tech.publishAsync(`${PREFIX}/request/tech/status/get`, '{}', {
      qos: 1, properties: { correlationData: Buffer.from(c), responseTopic: `${PREFIX}/response/boss/${c}`, userProperties: { 'sent-at': new Date().toISOString() } },
    });
    // Ordered after the two above: once this one is answered, they were handled.
    expect((await request(tech, 'tech', 'status/get')).status).toBe('ok');
    expect(stray).toEqual([]);
    const db = new Database(join(t.dir, 'agent.db'), { readonly: true });
    const rows = db.prepare(`SELECT username, command, status FROM audit_log WHERE correlation IN (?, ?)`).all(forged, c);
    db.close();
    expect(rows).toEqual([{ username: 'tech', command: 'status/get', status: 'ok' }]); // the forged one never arrived
  });

  it('rate limits each user', async () => {
    const ratey = await connect(broker.url, 'ratey', 'ratey-pw');
    const answers: Answer[] = [];
    for (let i = 0; i < 22; i++) answers.push(await request(ratey, 'ratey', 'status/get'));
    await ratey.endAsync();
    expect(answers.slice(0, 20).every((a) => a.status === 'ok')).toBe(true);
    expect(answers[20]).toMatchObject({ status: 'error', error: { code: 'ERR_RATE_LIMITED' } });
  });

  it('runs admin commands only for admins, and refuses disruptive ones during a session unless forced', async () => {
    const boss = await connect(broker.url, 'boss', 'boss-pw');
    const start = await request(boss, 'boss', 'session/start', { connectorId: 1, idTag: ID_TAG });
    expect(start).toMatchObject({ status: 'ok', data: { accepted: true } });
    await waitFor(() => toV16Status(t.agent.chargePoint!.evseCondition(1)) === 'Charging', 10_000, 'charging');
    expect(await request(boss, 'boss', 'agent/reset', { type: 'Soft' })).toMatchObject({ status: 'error', error: { code: 'ERR_SESSION_ACTIVE' } });
    const sessions = await request(tech, 'tech', 'sessions/list');
    expect(sessions.data[0]).toMatchObject({ connectorId: 1, authMethod: 'app', customerRef: expect.stringMatching(/^c-[0-9a-f]{16}$/) });
    expect(await request(boss, 'boss', 'session/stop', { connectorId: 1 })).toMatchObject({ status: 'ok', data: { stopped: true } });
    await waitFor(() => seen.some((m) => m.topic === `${PREFIX}/event` && m.payload.includes('session-stopped')), 5_000, 'session-stopped event');
    const started = seen.find((m) => m.topic === `${PREFIX}/event` && m.payload.includes('session-started'))!;
    expect(JSON.parse(started.payload).customerRef).toMatch(/^c-[0-9a-f]{16}$/);
    const outbox = await request(tech, 'tech', 'outbox/list');
    expect(outbox.data.summary).toHaveProperty('depth');
    const tail = await request(tech, 'tech', 'log/tail', { lines: 5 });
    expect(tail.status).toBe('ok');
    await boss.endAsync();
  });

  it('answers MQTT 3.1.1 clients on the response topic with the correlation field, under their login or naming themselves', async () => {
    const old = await connect(broker.url, 'tech', 'tech-pw', 4);
    const answers = new Map<string, Answer>();
    old.on('message', (topic, payload) => answers.set(topic, JSON.parse(payload.toString())));
    await old.subscribeAsync([`${PREFIX}/response/tech/#`, `${PREFIX}/response/status/get`], { qos: 1 });
    // Under its login: answered on response/<login>/<noun>/<verb>.
    const bound = randomUUID();
    await old.publishAsync(`${PREFIX}/request/tech/status/get`, JSON.stringify({ correlation: bound, sentAt: new Date().toISOString() }), { qos: 1 });
    expect(await waitFor(() => answers.get(`${PREFIX}/response/tech/status/get`), 5_000, 'the answer under the login')).toMatchObject({ status: 'ok', correlation: bound });
    // request/<noun>/<verb>, naming itself in a user field: answered on response/<noun>/<verb>.
    const named = randomUUID();
    await old.publishAsync(`${PREFIX}/request/status/get`, JSON.stringify({ correlation: named, user: 'tech', sentAt: new Date().toISOString() }), { qos: 1 });
    expect(await waitFor(() => answers.get(`${PREFIX}/response/status/get`), 5_000, 'the answer')).toMatchObject({ status: 'ok', correlation: named });
    await old.endAsync();
  });

  it('the technician CLI sends a request and prints the answer, and watches live state', async () => {
    const cli = (args: string[], until?: (out: string) => boolean) => new Promise<{ code: number | null; out: string; err: string }>((res) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (until?.(out)) child.kill('SIGINT');
      });
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => (clearTimeout(timer), res({ code, out, err })));
    });
    const auth = ['--broker', broker.url, '--username', 'tech', '--password', 'tech-pw'];
    const ok = await cli(['diag', ...auth, 'CP-TEST-1', 'status/get']);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ status: 'ok', data: { connectors: expect.any(Array) } });
    // MQTT 3.1.1 on mosquitto (--mqtt-version 4): the correlation in the payload, the answer on response/<login>/<noun>/<verb>.
    const v4 = await cli(['diag', ...auth, '--mqtt-version', '4', 'CP-TEST-1', 'status/get']);
    expect(v4.code, v4.err).toBe(0);
    expect(JSON.parse(v4.out)).toMatchObject({ status: 'ok', correlation: expect.stringMatching(/^[0-9a-f-]{36}$/), data: { connectors: expect.any(Array) } });
    const refused = await cli(['diag', ...auth, 'CP-TEST-1', 'config/set', '{"key":"AuthorizeRemoteTxRequests","value":true}']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ status: 'error', error: { code: 'ERR_NOT_WRITABLE' } });
    const watch = await cli(['diag', 'watch', '+', ...auth], (out) => /CP-TEST-1 state online/.test(out) && /CP-TEST-1 connector\/1 /.test(out));
    expect(watch.out).toMatch(/CP-TEST-1 state online/);
    expect(watch.out).toMatch(/CP-TEST-1 connector\/1 \{"connectorId":1/);
  });

  it('never publishes an idTag, a password or a key', async () => {
    // The session above used ID_TAG; the agent's broker password is in its config.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBeGreaterThan(10);
    // What people publish (their requests) is theirs; everything the agent publishes is checked.
    for (const m of seen.filter((x) => !x.topic.startsWith(`${PREFIX}/request/`))) {
      for (const secret of [ID_TAG, AGENT_PASSWORD, 'tech-pw', 'boss-pw']) {
        expect(m.topic.includes(secret) || m.payload.includes(secret), `${secret} in ${m.topic}`).toBe(false);
      }
    }
  });

  it('publishes offline through the last will when the agent is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-will-'));
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({
      chargePointId: 'CP-WILL-1', csms: { url: `ws://127.0.0.1:${csms.port}/ocpp` }, store: { path: join(dir, 'agent.db') }, log: { level: 'warn' },
      mqtt: { url: broker.url, username: 'agent', password: AGENT_PASSWORD },
    }));
    const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: 'ignore' });
    try {
      await waitFor(() => seen.some((m) => m.topic === 'evse/CP-WILL-1/state' && m.payload === 'online'), 20_000, 'online');
      child.kill('SIGKILL');
      await waitFor(() => seen.some((m) => m.topic === 'evse/CP-WILL-1/state' && m.payload === 'offline'), 20_000, 'offline (last will)');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MQTT diagnostics over TLS', () => {
  it('connects with the operator CA and refuses a broker it cannot verify', async () => {
    const broker = await startMosquitto(users, { tls: true });
    const csms = new TestCsms();
    const url = await csms.start();
    const good = await startAgent(url, { mqtt: { url: broker.tlsUrl, username: 'agent', password: AGENT_PASSWORD, tls: { ca: broker.caFile } } });
    const spy = await connect(broker.url, 'spy', 'spy-pw');
    const states: string[] = [];
    spy.on('message', (_t, p) => states.push(p.toString()));
    await spy.subscribeAsync(`${PREFIX}/state`, { qos: 1 });
    try {
      await waitFor(() => states.includes('online'), 10_000, 'online over TLS');
      await good.cleanup();
      states.length = 0;
      // No CA given: the broker's certificate cannot be verified, so the agent must not connect.
      const bad = await startAgent(url, { mqtt: { url: broker.tlsUrl, username: 'agent', password: AGENT_PASSWORD, tls: {} } });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(states.filter((s) => s === 'online')).toHaveLength(0);
      await bad.cleanup();
    } finally {
      await spy.endAsync();
      await csms.stop();
      await broker.stop();
    }
  });
});
