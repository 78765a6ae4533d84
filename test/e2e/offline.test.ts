/**
 * Offline-first (issue 3), against real peers: a real ocpp-rpc RPCServer in strict mode, a TCP
 * fault proxy between it and the agent, real SQLite files. DOMAIN.md §3 R1, R3, R5.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import mqtt from 'mqtt';
import { createRPCError } from 'ocpp-rpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/app/agent/controller.js';
import type { LinkState, SessionUnsynced } from '../../src/ocpp/v16/link.js';
import { LEVELS } from '../../src/lib/log.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { TestCsms, waitFor, type RecordedCall } from '../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const TX_ACTIONS = new Set(['StartTransaction', 'MeterValues', 'StopTransaction']);

interface Rig {
  csms: TestCsms;
  proxy: FaultProxy;
  t: TestAgent;
  agent: Agent;
  /** transactionIds the central system handed out, in order. */
  txIds: number[];
  /** Every link state the agent went through, with the time. */
  states: { state: LinkState; at: number }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function rig(ocpp: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Rig> {
  const csms = new TestCsms();
  await csms.start();
  cleanups.push(() => csms.stop());
  const txIds: number[] = [];
  let nextTx = 1000;
  csms.on('StartTransaction', () => {
    const transactionId = nextTx++;
    txIds.push(transactionId);
    return { transactionId, idTagInfo: { status: 'Accepted' } };
  });
  const proxy = await new FaultProxy({ host: '127.0.0.1', port: csms.port }).start();
  cleanups.push(() => proxy.stop());
  const { csms: csmsConfig, ...rest } = extra as { csms?: object };
  const t = await startAgent(proxy.url(), {
    ocpp: { WebSocketPingInterval: 1, ...ocpp },
    csms: { url: proxy.url(), reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ...csmsConfig },
    ...rest,
  }, { start: false });
  cleanups.push(() => t.cleanup());
  const states: Rig['states'] = [];
  await t.agent.start();
  t.agent.link!.on('state', (state) => states.push({ state, at: Date.now() }));
  await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'BootNotification accepted');
  return { csms, proxy, t, agent: t.agent, txIds, states };
}

function txCalls(csms: TestCsms): RecordedCall[] {
  return csms.calls.filter((c) => c.chargePointId === CP && TX_ACTIONS.has(c.action));
}

interface MeterEntry {
  /** When the central system received it. */
  at: number;
  /** The sample's own timestamp. */
  time: number;
  transactionId: number;
}

/** Every meterValue received, in order: a backlog may travel several to a MeterValues call. */
function meterEntries(calls: RecordedCall[]): MeterEntry[] {
  return calls.flatMap((c) => (c.params.meterValue as { timestamp: string }[]).map((mv) => ({ at: c.at, time: Date.parse(mv.timestamp), transactionId: c.params.transactionId })));
}

function readOnly(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true });
}

async function remoteStart(r: Rig, connectorId: number, idTag = 'APP-USER-1'): Promise<number> {
  const before = r.txIds.length;
  const res = await r.csms.call(CP, 'RemoteStartTransaction', { idTag, connectorId });
  expect(res.status).toBe('Accepted');
  await waitFor(() => r.txIds.length > before && r.agent.outbox!.summary().depth === 0, 10_000, 'StartTransaction delivered');
  return r.txIds[before]!;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Cut the link silently until the agent has noticed and queued four MeterValues, then heal it. */
async function queueBacklogThroughPartition(r: Rig): Promise<void> {
  r.proxy.blackhole();
  await waitFor(() => r.agent.link!.state === 'offline', 10_000, 'the partition noticed');
  await waitFor(() => r.agent.outbox!.summary().depth >= 4, 15_000, 'a backlog');
  r.proxy.pass();
}

describe('offline-first (issue 3)', () => {
  it('queues MeterValues through a silent partition and delivers them in order with the real transactionId', async () => {
    const r = await rig({ MeterValueSampleInterval: 1 });
    const txId = await remoteStart(r, 1);
    await waitFor(() => r.csms.callsOf('MeterValues', CP).length >= 1, 5_000, 'a first MeterValues');

    r.proxy.blackhole();
    const cutAt = Date.now();
    await waitFor(() => r.agent.link!.state === 'offline', 10_000, 'the agent to notice the partition');
    // Several MeterValueSampleInterval periods offline; the samples pile up in the outbox.
    await waitFor(() => r.agent.outbox!.summary().depth >= 4, 15_000, 'four queued MeterValues');
    const queuedWhileOffline = r.agent.outbox!.summary().depth;
    const receivedBeforeHeal = meterEntries(r.csms.callsOf('MeterValues', CP)).length;

    r.proxy.pass();
    const healAt = Date.now();
    await waitFor(() => r.agent.link!.state === 'accepted', 10_000, 'reconnection');
    // Queue drained and fresh samples flowing again.
    await waitFor(
      () => r.agent.outbox!.summary().depth === 0 && meterEntries(r.csms.callsOf('MeterValues', CP)).filter((m) => m.time > healAt).length >= 2,
      15_000, 'the backlog and two fresh MeterValues',
    );
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => r.csms.callsOf('StopTransaction', CP).length === 1 && r.agent.outbox!.summary().depth === 0, 10_000, 'StopTransaction');

    const meters = meterEntries(r.csms.callsOf('MeterValues', CP));
    expect(queuedWhileOffline).toBeGreaterThanOrEqual(4);
    expect(meters.length).toBeGreaterThan(receivedBeforeHeal + queuedWhileOffline - 1);
    // Every one carries the central system's transactionId: never -1, never missing.
    for (const m of meters) expect(m.transactionId).toBe(txId);
    expect(r.csms.callsOf('StopTransaction', CP)[0]!.params.transactionId).toBe(txId);
    // In timestamp order as received: the backlog (taken during the cut) before any new one.
    const times = meters.map((m) => m.time);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    const backlog = meters.filter((m) => m.time >= cutAt && m.time < healAt);
    const fresh = meters.filter((m) => m.time > healAt);
    // The backlog travelled in fewer calls than samples (several meterValues per MeterValues).
    expect(new Set(backlog.map((m) => m.at)).size).toBeLessThan(backlog.length);
    expect(backlog.length).toBeGreaterThanOrEqual(queuedWhileOffline - 1);
    expect(Math.max(...backlog.map((m) => m.at))).toBeLessThanOrEqual(Math.min(...fresh.map((m) => m.at)));
    // Nothing thinned or dropped: the central system has exactly the periodic samples of the
    // ledger (an identical redelivery after a cut is tolerated: at-least-once).
    const db = readOnly(r.agent.storePath);
    const ledgerTimes = (db.prepare(`SELECT taken_at FROM meter_samples WHERE context = 'Sample.Periodic' ORDER BY taken_at`).all() as { taken_at: number }[]).map((x) => x.taken_at);
    // The session's event log: numbered from 0 without a gap (2.0.1's seqNo), and the events the
    // charger recorded while it knew the link was down say so (2.0.1's `offline`).
    const events = db.prepare(`SELECT kind, tx_seq AS txSeq, offline, created_at AS at FROM outbox WHERE kind != 'security' ORDER BY seq`).all() as { kind: string; txSeq: number; offline: number; at: number }[];
    db.close();
    expect(events.map((e) => e.txSeq)).toEqual(events.map((_, i) => i));
    expect([events[0]!.kind, events[0]!.offline, events.at(-1)!.kind, events.at(-1)!.offline]).toEqual(['start', 0, 'stop', 0]);
    const offline = events.filter((e) => e.offline === 1);
    expect(offline.length).toBeGreaterThanOrEqual(1);
    for (const e of offline) expect(e.kind === 'meter' && e.at >= cutAt && e.at <= healAt).toBe(true);
    expect([...new Set(times)]).toEqual(ledgerTimes);
    expect(r.csms.callsOf('BootNotification', CP)).toHaveLength(1); // a reconnect, not a reboot
  });

  it('sends a backlog one sample per MeterValues when the central system refuses several in one', async () => {
    const r = await rig({ MeterValueSampleInterval: 1 });
    let refusedBatches = 0;
    r.csms.on('MeterValues', (p: { meterValue: unknown[] }) => {
      if (p.meterValue.length > 1) {
        refusedBatches++;
        throw createRPCError('OccurenceConstraintViolation', 'one meterValue per request, please');
      }
      return {};
    });
    const txId = await remoteStart(r, 1);
    await queueBacklogThroughPartition(r);
    await waitFor(() => r.agent.link!.state === 'accepted' && r.agent.outbox!.summary().depth === 0, 20_000, 'the backlog delivered');
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => r.csms.callsOf('StopTransaction', CP).length === 1 && r.agent.outbox!.summary().depth === 0, 10_000, 'StopTransaction');
    expect(refusedBatches).toBeGreaterThanOrEqual(1);
    expect(r.agent.outbox!.summary().deadLetters).toBe(0);
    const accepted = r.csms.callsOf('MeterValues', CP).filter((c) => c.params.meterValue.length === 1);
    const times = meterEntries(accepted).map((m) => m.time);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    const db = readOnly(r.agent.storePath);
    const ledgerTimes = (db.prepare(`SELECT taken_at FROM meter_samples WHERE context = 'Sample.Periodic' ORDER BY taken_at`).all() as { taken_at: number }[]).map((x) => x.taken_at);
    db.close();
    expect([...new Set(times)]).toEqual(ledgerTimes);
  });

  it('sends a backlog one sample per MeterValues when the central system never answers several in one, and keeps the link', async () => {
    const r = await rig({ MeterValueSampleInterval: 1 }, { csms: { callTimeoutMs: 1_000 } });
    let unanswered = 0;
    r.csms.on('MeterValues', (p: { meterValue: unknown[] }) => {
      if (p.meterValue.length > 1) {
        unanswered++;
        return new Promise(() => undefined);
      }
      return {};
    });
    const txId = await remoteStart(r, 1);
    await queueBacklogThroughPartition(r);
    await waitFor(() => r.agent.link!.state === 'accepted', 10_000, 'reconnected');
    const statesBefore = r.states.length;
    await waitFor(() => r.agent.outbox!.summary().depth === 0 && unanswered >= 1, 20_000, 'the backlog delivered one by one');
    expect(r.states.slice(statesBefore)).toEqual([]); // a Heartbeat was answered: no reconnect
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => r.csms.callsOf('StopTransaction', CP).length === 1 && r.agent.outbox!.summary().depth === 0, 10_000, 'StopTransaction');
    expect(unanswered).toBe(1);
    expect(r.agent.outbox!.summary().deadLetters).toBe(0);
    const db = readOnly(r.agent.storePath);
    const ledgerTimes = (db.prepare(`SELECT taken_at FROM meter_samples WHERE context = 'Sample.Periodic' ORDER BY taken_at`).all() as { taken_at: number }[]).map((x) => x.taken_at);
    db.close();
    const delivered = meterEntries(r.csms.callsOf('MeterValues', CP).filter((c) => c.params.meterValue.length === 1)).map((m) => m.time);
    for (let i = 1; i < delivered.length; i++) expect(delivered[i]!).toBeGreaterThanOrEqual(delivered[i - 1]!);
    expect([...new Set(delivered)]).toEqual(ledgerTimes);
  });

  it('stops batching when the central system drops the link on large MeterValues (a frame size limit)', async () => {
    const r = await rig({ MeterValueSampleInterval: 1 });
    let drops = 0;
    r.csms.on('MeterValues', (p: { meterValue: unknown[] }, client: { close(o: object): Promise<unknown> }) => {
      if (p.meterValue.length > 1) {
        drops++;
        void client.close({ code: 1009, reason: 'message too big', force: true });
        return new Promise(() => undefined); // never answered: the link is gone
      }
      return {};
    });
    const txId = await remoteStart(r, 1);
    await queueBacklogThroughPartition(r);
    await waitFor(() => r.agent.link!.state === 'accepted' && r.agent.outbox!.summary().depth === 0, 30_000, 'the backlog delivered one by one');
    expect(drops).toBe(2);
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => r.csms.callsOf('StopTransaction', CP).length === 1 && r.agent.outbox!.summary().depth === 0, 10_000, 'StopTransaction');
    const db = readOnly(r.agent.storePath);
    const ledgerTimes = (db.prepare(`SELECT taken_at FROM meter_samples WHERE context = 'Sample.Periodic' ORDER BY taken_at`).all() as { taken_at: number }[]).map((x) => x.taken_at);
    db.close();
    const delivered = meterEntries(r.csms.callsOf('MeterValues', CP).filter((c) => c.params.meterValue.length === 1)).map((m) => m.time);
    expect([...new Set(delivered)]).toEqual(ledgerTimes);
    expect(r.agent.outbox!.summary().deadLetters).toBe(0);
  });

  for (const outage of ['blackhole', 'server down'] as const) {
    it(`delivers a whole transaction made offline (${outage}): Start, MeterValues, Stop in order, one transaction`, async () => {
      const r = await rig({ AllowOfflineTxForUnknownId: true, MeterValueSampleInterval: 1 });
      let csms = r.csms;
      if (outage === 'blackhole') {
        r.proxy.blackhole();
      } else {
        // The central system goes away: its port closes, the proxy finds nothing behind it.
        await r.csms.stop();
        r.proxy.retarget({ host: '127.0.0.1', port: r.csms.port });
        r.proxy.reset();
        r.proxy.pass();
      }
      await waitFor(() => r.agent.link!.state === 'offline', 10_000, 'the agent to be offline');
      const txBefore = txCalls(csms).length;

      const started = new Promise<{ localId: string }>((res) => r.agent.chargePoint!.once('session-started', res));
      r.agent.sim.reader.present({ token: { id: 'UNKNOWN-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      const { localId } = await started;
      // Transaction messages only: a security event (e.g. StartupOfTheDevice) may share the queue.
      await waitFor(() => r.agent.outbox!.head(50).filter((e) => e.kind !== 'security').length >= 4, 15_000, 'three queued MeterValues');
      const stopped = new Promise((res) => r.agent.chargePoint!.once('session-stopped', res));
      r.agent.sim.reader.present({ token: { id: 'UNKNOWN-CARD', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
      await stopped;
      expect(txCalls(csms).length).toBe(txBefore); // nothing got through
      expect(r.agent.ledger!.get(localId)!.transactionId).toBeNull();

      if (outage === 'blackhole') {
        r.proxy.pass();
      } else {
        // A new central system process (another port): the same proxy address for the agent.
        const txIds = r.txIds;
        let nextTx = 5000;
        csms = new TestCsms().on('StartTransaction', () => {
          txIds.push(nextTx);
          return { transactionId: nextTx++, idTagInfo: { status: 'Accepted' } };
        });
        await csms.start();
        cleanups.push(() => csms.stop());
        r.proxy.retarget({ host: '127.0.0.1', port: csms.port });
      }
      await waitFor(() => csms.callsOf('StopTransaction', CP).length >= 1 && r.agent.outbox!.summary().depth === 0, 20_000, 'the offline transaction delivered');

      const tx = txCalls(csms).slice(outage === 'blackhole' ? txBefore : 0);
      expect(tx[0]!.action).toBe('StartTransaction');
      expect(tx.at(-1)!.action).toBe('StopTransaction');
      expect(tx.filter((c) => c.action === 'StartTransaction')).toHaveLength(1);
      expect(tx.filter((c) => c.action === 'StopTransaction')).toHaveLength(1);
      const meters = meterEntries(tx.filter((c) => c.action === 'MeterValues'));
      expect(meters.length).toBeGreaterThanOrEqual(3);
      const transactionId = r.txIds.at(-1)!;
      for (const c of tx.slice(1)) expect(c.params.transactionId).toBe(transactionId);
      // Chronological: the Start's timestamp, then the samples, then the Stop's.
      const times = [Date.parse(tx[0]!.params.timestamp), ...meters.map((m) => m.time), Date.parse(tx.at(-1)!.params.timestamp)];
      for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
      expect(tx[0]!.params.idTag).toBe('UNKNOWN-CARD');
      // Original timestamps kept: the Start was taken while offline, long before delivery.
      expect(Date.parse(tx[0]!.params.timestamp)).toBeLessThan(tx[0]!.at - 2_000);
      // The ledger has the mapping, and its energy matches what the central system billed.
      const rec = r.agent.ledger!.get(localId)!;
      expect(rec.transactionId).toBe(transactionId);
      const stop = tx.at(-1)!.params;
      expect(stop.meterStop - tx[0]!.params.meterStart).toBe(rec.meterStopWh! - rec.meterStartWh);
      expect(stop.meterStop - tx[0]!.params.meterStart).toBeGreaterThan(0);
    });
  }

  it('dead-letters a StopTransaction the central system keeps refusing, after exactly TransactionMessageAttempts tries, and keeps delivering', async () => {
    const r = await rig({ TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1, MeterValueSampleInterval: 0 });
    r.csms.on('StopTransaction', () => {
      throw createRPCError('InternalError', 'billing backend down');
    });
    const deadLetters: { kind: string }[] = [];
    r.agent.link!.on('dead-letter', (d) => deadLetters.push(d));
    const txId = await remoteStart(r, 1);
    await sleep(300);
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => deadLetters.length === 1, 15_000, 'the dead letter');

    const stops = r.csms.callsOf('StopTransaction', CP);
    expect(stops).toHaveLength(3);
    for (const s of stops) expect(s.params.transactionId).toBe(txId);
    // wait = interval × attempt: 1 s, then 2 s.
    expect(stops[1]!.at - stops[0]!.at).toBeGreaterThanOrEqual(950);
    expect(stops[2]!.at - stops[1]!.at).toBeGreaterThanOrEqual(1950);

    const db = readOnly(r.agent.storePath);
    const dead = db.prepare(`SELECT kind, attempts, last_error, payload FROM dead_letters`).all() as { kind: string; attempts: number; last_error: string; payload: string }[];
    db.close();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.kind).toBe('stop');
    expect(dead[0]!.attempts).toBe(3);
    expect(dead[0]!.last_error).toMatch(/InternalError/);
    expect(JSON.parse(dead[0]!.payload).meterStopWh).toBeGreaterThan(0); // billing data kept
    expect(r.t.logs.records.some((l) => l.level === LEVELS.error && l.alarm === 'dead-letter')).toBe(true);

    // Later messages keep flowing: a second session on the other connector.
    const stopsBefore = r.csms.callsOf('StopTransaction', CP).length;
    const tx2 = await remoteStart(r, 2, 'APP-USER-2');
    expect(tx2).not.toBe(txId);
    expect(r.csms.callsOf('StartTransaction', CP).at(-1)!.params.connectorId).toBe(2);
    expect(r.csms.callsOf('StopTransaction', CP)).toHaveLength(stopsBefore); // the dead one is not retried
    expect(r.agent.outbox!.summary()).toMatchObject({ depth: 0, deadLetters: 1 });
  });

  it('a session whose StartTransaction was dead-lettered: stays unsynced with its energy, raises an alarm, shows UNSYNCED in `evse-edge sessions`, and is delivered once requeued', async () => {
    const r = await rig({ TransactionMessageAttempts: 2, TransactionMessageRetryInterval: 1, MeterValueSampleInterval: 1 },
      { mqtt: { url: 'embedded', roles: { laptop: 'technician' } } });
    // A technician's MQTT client on the diagnostics broker.
    const started = await waitFor(() => r.t.logs.records.find((l) => l.msg === 'embedded MQTT broker started'), 10_000, 'the broker');
    const client = await mqtt.connectAsync(String(started.url), { protocolVersion: 4, reconnectPeriod: 0 });
    cleanups.push(() => client.endAsync());
    const seen: { topic: string; payload: string }[] = [];
    client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await client.subscribeAsync('evse/CP-TEST-1/#', { qos: 1 });
    let refuse = true;
    let nextTx = 500;
    r.csms.on('StartTransaction', () => {
      if (refuse) throw createRPCError('InternalError', 'billing backend down');
      return { transactionId: nextTx++, idTagInfo: { status: 'Accepted' } };
    });
    const unsynced: SessionUnsynced[] = [];
    r.agent.link!.on('session-unsynced', (e) => unsynced.push(e));
    expect((await r.csms.call(CP, 'RemoteStartTransaction', { idTag: 'APP-USER-1', connectorId: 1 })).status).toBe('Accepted');
    await waitFor(() => r.agent.outbox!.deadLetters().some((d) => d.kind === 'start'), 15_000, 'the StartTransaction dead-lettered');
    const cp = r.agent.chargePoint!;
    await waitFor(() => (cp.session(1)?.energyWh ?? 0) > 0, 15_000, 'energy drawn');
    // No transactionId: the central system cannot stop it; the driver does.
    expect(await cp.stopEvse(1, 'Local')).toBe(true);
    await waitFor(() => unsynced.length === 1, 15_000, 'the session reported unsynced');
    expect(unsynced[0]).toMatchObject({ evseId: 1, noTransactionId: true });
    expect(unsynced[0]!.energyWh).toBeGreaterThan(0);
    expect(unsynced[0]!.meterStopWh! - unsynced[0]!.meterStartWh).toBe(unsynced[0]!.energyWh);
    expect(r.t.logs.records.some((l) => l.level === LEVELS.error && l.alarm === 'session-unsynced' && l.energyWh === unsynced[0]!.energyWh)).toBe(true);
    const event = await waitFor(() => seen.find((m) => m.topic === 'evse/CP-TEST-1/event' && JSON.parse(m.payload).type === 'session-unsynced'), 10_000, 'the MQTT event');
    expect(JSON.parse(event.payload)).toMatchObject({ type: 'session-unsynced', connectorId: 1, localId: unsynced[0]!.localId, energyWh: unsynced[0]!.energyWh, noTransactionId: true });
    // Nothing went with a made-up transactionId.
    expect(r.csms.callsOf('MeterValues', CP).filter((c) => c.params.transactionId !== undefined)).toHaveLength(0);
    expect(r.csms.callsOf('StopTransaction', CP)).toHaveLength(0);

    // The station owner's report says so.
    const cli = spawnSync(process.execPath, [resolve(import.meta.dirname, '../../bin/evse-edge.js'), 'sessions', 'list', '--db', r.agent.storePath], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/UNSYNCED/);
    expect(cli.stderr).toMatch(/1 session\(s\) UNSYNCED/);

    // The cause fixed, a technician requeues the dead letters (MQTT outbox/retry): Start, then the
    // Stop with the transactionId the Start got.
    refuse = false;
    await client.publishAsync('evse/CP-TEST-1/request/laptop/outbox/retry', JSON.stringify({ correlation: 'r-1', sentAt: new Date().toISOString() }), { qos: 1 });
    const answer = await waitFor(() => seen.find((m) => m.topic === 'evse/CP-TEST-1/response/laptop/outbox/retry'), 10_000, 'the retry answer');
    expect(JSON.parse(answer.payload)).toMatchObject({ status: 'ok', correlation: 'r-1' });
    expect(JSON.parse(answer.payload).data.requeued).toBeGreaterThanOrEqual(2);
    const stop = await waitFor(() => r.csms.callsOf('StopTransaction', CP)[0], 15_000, 'the StopTransaction after the requeue');
    expect(stop.params.transactionId).toBe(500);
    expect(stop.params.meterStop).toBe(unsynced[0]!.meterStopWh);
    await waitFor(() => r.agent.outbox!.summary().depth === 0, 10_000, 'the outbox drained');
    const after = spawnSync(process.execPath, [resolve(import.meta.dirname, '../../bin/evse-edge.js'), 'sessions', 'list', '--db', r.agent.storePath, '--format', 'json'], { encoding: 'utf8' });
    expect(JSON.parse(after.stdout)).toEqual([expect.objectContaining({ transactionId: 500, synced: true, unsynced: false })]);
  });

  it('counts a StopTransaction the central system never answers, while it answers Heartbeat, as an attempt: dead-lettered, and the next messages go', async () => {
    const r = await rig(
      { WebSocketPingInterval: 0, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1, MeterValueSampleInterval: 0 },
      { csms: { callTimeoutMs: 1_000 } },
    );
    // A central system that takes the StopTransaction and never answers it (a poison message).
    r.csms.on('StopTransaction', () => new Promise(() => undefined));
    const deadLetters: { kind: string }[] = [];
    r.agent.link!.on('dead-letter', (d) => deadLetters.push(d));
    const txId = await remoteStart(r, 1);
    const statesBefore = r.states.length;
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => deadLetters.length === 1, 20_000, 'the dead letter');

    const stops = r.csms.callsOf('StopTransaction', CP);
    expect(stops).toHaveLength(3);
    // Between two tries, a Heartbeat the central system answered: the link was alive.
    for (let i = 1; i < stops.length; i++) {
      expect(r.csms.callsOf('Heartbeat', CP).some((h) => h.at > stops[i - 1]!.at && h.at < stops[i]!.at)).toBe(true);
      // wait = timeout, then interval × attempt (1 s, then 2 s).
      expect(stops[i]!.at - stops[i - 1]!.at).toBeGreaterThanOrEqual(1_000 + 950 * i);
    }
    // No reconnect: a link that answers is not dropped for one unanswered message.
    expect(r.states.slice(statesBefore)).toEqual([]);
    const db = readOnly(r.agent.storePath);
    const dead = db.prepare(`SELECT kind, attempts, last_error, payload FROM dead_letters`).all() as { kind: string; attempts: number; last_error: string; payload: string }[];
    db.close();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ kind: 'stop', attempts: 3 });
    expect(dead[0]!.last_error).toMatch(/timeout/i);
    expect(JSON.parse(dead[0]!.payload).meterStopWh).toBeGreaterThanOrEqual(0);
    expect(r.t.logs.records.some((l) => l.level === LEVELS.error && l.alarm === 'dead-letter')).toBe(true);

    // The queue is not held back: a second session goes through.
    const tx2 = await remoteStart(r, 2, 'APP-USER-2');
    expect(tx2).not.toBe(txId);
    expect(r.agent.outbox!.summary()).toMatchObject({ depth: 0, deadLetters: 1 });
  });

  it('does not count call timeouts in a partition as refusals: nothing is dead-lettered, nothing lost', async () => {
    // Pings off and short call timeouts: the partition shows only as unanswered calls.
    const r = await rig(
      { WebSocketPingInterval: 0, TransactionMessageAttempts: 3, TransactionMessageRetryInterval: 1, MeterValueSampleInterval: 1 },
      { csms: { callTimeoutMs: 1_000 } },
    );
    const txId = await remoteStart(r, 1);
    await waitFor(() => r.csms.callsOf('MeterValues', CP).length >= 1, 5_000, 'a first MeterValues');
    r.proxy.blackhole();
    // Long enough for TransactionMessageAttempts timeouts and their retry intervals (1 + 1 + 1 + 2 + 1 s).
    await sleep(8_000);
    r.proxy.pass();
    await waitFor(() => r.agent.link!.state === 'accepted' && r.agent.outbox!.summary().depth === 0, 20_000, 'the backlog delivered');
    await r.csms.call(CP, 'RemoteStopTransaction', { transactionId: txId });
    await waitFor(() => r.csms.callsOf('StopTransaction', CP).length >= 1 && r.agent.outbox!.summary().depth === 0, 10_000, 'StopTransaction');

    expect(r.agent.outbox!.summary().deadLetters).toBe(0);
    const meters = meterEntries(r.csms.callsOf('MeterValues', CP));
    for (const m of meters) expect(m.transactionId).toBe(txId);
    const times = meters.map((m) => m.time);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    const db = readOnly(r.agent.storePath);
    const ledgerTimes = (db.prepare(`SELECT taken_at FROM meter_samples WHERE context = 'Sample.Periodic' ORDER BY taken_at`).all() as { taken_at: number }[]).map((x) => x.taken_at);
    db.close();
    expect([...new Set(times)]).toEqual(ledgerTimes);
  });

  it('keeps trying to connect through a partition: a connection attempt that is never answered is given up', async () => {
    const r = await rig({ WebSocketPingInterval: 1 }, { csms: { callTimeoutMs: 1_000 } });
    r.proxy.blackhole();
    await waitFor(() => r.agent.link!.state === 'offline', 10_000, 'the partition to be detected');
    const attemptsBefore = r.proxy.accepted;
    // The TCP connections are accepted, the WebSocket handshakes never answered.
    await waitFor(() => r.proxy.accepted >= attemptsBefore + 3, 15_000, 'three more connection attempts');
    r.proxy.reset(); // the hung attempts are forgotten by the network
    r.proxy.pass();
    await waitFor(() => r.agent.link!.state === 'accepted', 15_000, 'reconnection');
    expect(r.csms.callsOf('BootNotification', CP)).toHaveLength(1);
  });

  it('detects a silent partition with WebSocket pings within two intervals and reconnects', async () => {
    const pingS = 2;
    // Nothing else could notice: no call outstanding, heartbeats far away, calls time out late.
    const r = await rig({ WebSocketPingInterval: pingS, HeartbeatInterval: 3600 }, { csms: { callTimeoutMs: 120_000 } });
    const statusesBefore = r.csms.callsOf('StatusNotification', CP).length;
    const serverClient = r.csms.client(CP);

    r.proxy.blackhole();
    const cutAt = Date.now();
    await waitFor(() => r.agent.link!.state === 'offline', 20_000, 'the partition to be detected');
    const detectedMs = Date.now() - cutAt;
    // Two intervals (plus timer slack on a loaded machine); far below any other mechanism.
    expect(detectedMs).toBeLessThan(2 * pingS * 1000 + 1_500);
    console.info(`silent partition detected after ${detectedMs} ms (WebSocketPingInterval ${pingS} s)`);

    r.proxy.pass();
    await waitFor(() => r.agent.link!.state === 'accepted', 15_000, 'reconnection');
    await waitFor(() => r.csms.clients.get(CP) !== undefined && r.csms.clients.get(CP) !== serverClient, 5_000, 'a new server-side connection');
    // A reconnect: the current status of each connector again, no second BootNotification.
    await waitFor(() => r.csms.callsOf('StatusNotification', CP).length >= statusesBefore + 3, 5_000, 'statuses after reconnecting');
    expect(r.csms.callsOf('BootNotification', CP)).toHaveLength(1);
    const res = await r.csms.call(CP, 'GetConfiguration', { key: ['WebSocketPingInterval'] });
    expect(res.configurationKey[0].value).toBe(String(pingS));
  });
});
