import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallFailedError, OcppConnection, type CallOutcome } from '../../src/ocpp/connection.js';
import type { CentralSystemCalls, ChargePointCalls } from '../../src/ocpp/v16/messages.js';
import { silentLog } from '../../src/lib/log.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

describe('OcppConnection calls against a real central system (ocpp-rpc, strict)', () => {
  let csms: TestCsms;
  let conn: OcppConnection<ChargePointCalls, CentralSystemCalls>;
  const outcomes: CallOutcome[] = [];

  beforeEach(async () => {
    csms = new TestCsms();
    const url = await csms.start();
    outcomes.length = 0;
    conn = new OcppConnection<ChargePointCalls, CentralSystemCalls>({
      endpoint: url, identity: 'CP-CONN-1', protocol: 'ocpp1.6', callTimeoutMs: 400, pingIntervalMs: 0,
      backoff: { initialDelayMs: 100, maxDelayMs: 200 },
    }, silentLog);
    conn.onCallEnded = (o) => outcomes.push(o);
    const opened = once(conn, 'open');
    conn.start();
    await opened;
  });

  afterEach(async () => {
    await conn.stop();
    await csms.stop();
  });

  it('an unanswered CALL times out on its own: the link stays up and the next CALL goes through', async () => {
    let answered = 0;
    // The first Heartbeat is answered only after the caller's timeout; the others at once.
    csms.on('Heartbeat', async () => {
      if (answered++ === 0) await new Promise((r) => setTimeout(r, 800));
      return { currentTime: new Date().toISOString() };
    });
    let closed = false;
    conn.on('close', () => (closed = true));

    const late = conn.call('Heartbeat', {}).then(() => 'answered', (e: unknown) => e);
    expect(conn.inFlight).toBe(1);
    const queued = conn.call('Heartbeat', {});
    expect(conn.inFlight).toBe(2);
    const err = await late;
    expect(err).toBeInstanceOf(CallFailedError);
    expect((err as CallFailedError).failure).toBe('timeout');
    // The queued CALL waited its turn, then went out and was answered.
    await expect(queued).resolves.toHaveProperty('currentTime');
    expect(conn.inFlight).toBe(0);
    // The late answer to the first CALL arrives and is dropped; a third CALL still works.
    await waitFor(() => answered === 2, 5_000, 'both Heartbeats received');
    await new Promise((r) => setTimeout(r, 600));
    await expect(conn.call('Heartbeat', {})).resolves.toHaveProperty('currentTime');
    expect(closed).toBe(false);
    expect(conn.open).toBe(true);
    expect(outcomes.map((o) => o.result)).toEqual(['timeout', 'ok', 'ok']);
    expect(outcomes[0]!.latencyMs).toBeGreaterThanOrEqual(390);
    expect(csms.callsOf('Heartbeat')).toHaveLength(3);
  });

  it('a per-call timeout overrides the default; a CALLERROR is not a timeout', async () => {
    csms.on('Heartbeat', () => new Promise(() => {}));
    csms.on('DataTransfer', () => {
      throw Object.assign(new Error('refused'), { rpcErrorCode: 'NotSupported' });
    });
    const t0 = Date.now();
    await expect(conn.call('Heartbeat', {}, { timeoutMs: 150 })).rejects.toMatchObject({ failure: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(400);
    await expect(conn.call('DataTransfer', { vendorId: 'x' })).rejects.toMatchObject({ failure: 'callerror', rpcErrorCode: 'NotSupported' });
    expect(outcomes.map((o) => [o.action, o.result, o.errorCode])).toEqual([['Heartbeat', 'timeout', undefined], ['DataTransfer', 'callerror', 'NotSupported']]);
  });
});

describe('OcppConnection WebSocket pings', () => {
  it('pings after pingIntervalMs of silence from the central system, and not while messages flow', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    const conn = new OcppConnection<ChargePointCalls, CentralSystemCalls>({
      endpoint: url, identity: 'CP-PING-1', protocol: 'ocpp1.6', callTimeoutMs: 5_000, pingIntervalMs: 200,
      backoff: { initialDelayMs: 100, maxDelayMs: 200 },
    }, silentLog);
    const pongs: number[] = [];
    conn.on('pong', () => pongs.push(Date.now()));
    try {
      const opened = once(conn, 'open');
      conn.start();
      await opened;
      // Idle: a ping every interval (waited for, not timed: a busy machine only delays them).
      const idleDeadline = Date.now() + 10_000;
      while (pongs.length < 3 && Date.now() < idleDeadline) await new Promise((r) => setTimeout(r, 20));
      expect(pongs.length).toBeGreaterThanOrEqual(3);
      // Busy: an answer every 50 ms keeps deferring the next ping.
      const busyFrom = Date.now();
      const answers: number[] = [busyFrom];
      while (Date.now() - busyFrom < 1_000) {
        await conn.call('Heartbeat', {});
        answers.push(Date.now());
        await new Promise((r) => setTimeout(r, 50));
      }
      // One ping may have been in flight when the traffic began. After that, a ping only follows
      // a silence of a whole interval, which the traffic leaves only when this machine stalls
      // (an answer or a timer late by 150 ms): as many pongs as such silences at most; on a
      // machine that keeps up, none.
      const silences = answers.slice(1).filter((t, i) => t - answers[i]! >= 200).length;
      expect(pongs.filter((t) => t > busyFrom + 100).length).toBeLessThanOrEqual(silences);
      expect(csms.callsOf('Heartbeat').length).toBeGreaterThan(10);
    } finally {
      await conn.stop();
      await csms.stop();
    }
  });

  it('a ping left unanswered for an interval ends the socket, and the connection reconnects', async () => {
    // A peer that accepts the upgrade and never answers a ping (ws's autoPong off): a silent partition.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false, handleProtocols: (p) => (p.has('ocpp1.6') ? 'ocpp1.6' : false) });
    await once(server, 'listening');
    const pingsSeen: number[] = [];
    let upgrades = 0;
    server.on('connection', (ws) => {
      upgrades++;
      ws.on('ping', () => pingsSeen.push(upgrades));
    });
    const conn = new OcppConnection<ChargePointCalls, CentralSystemCalls>({
      endpoint: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, identity: 'CP-PING-2', protocol: 'ocpp1.6', callTimeoutMs: 5_000, pingIntervalMs: 200,
      backoff: { initialDelayMs: 50, maxDelayMs: 100 },
    }, silentLog);
    const closes: number[] = [];
    conn.on('close', ({ code }) => closes.push(code));
    try {
      const opened = once(conn, 'open');
      conn.start();
      await opened;
      await waitFor(() => closes.length >= 1, 10_000, 'the link closed after an unanswered ping');
      // The first ping went out on the first socket; no second one followed on it (the socket ended instead).
      expect(pingsSeen.filter((u) => u === 1)).toEqual([1]);
      expect(closes[0]).toBe(1006);
      await waitFor(() => upgrades >= 2 && conn.open, 10_000, 'reconnected');
    } finally {
      await conn.stop();
      server.close();
    }
  });
});
