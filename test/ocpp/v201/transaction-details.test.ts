import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { freePort } from '../../helpers/mosquitto.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

/**
 * 2.0.1 transaction details against the strict 2.0.1 central system: stoppedReason, the boot
 * guard of remote starts, timestamps of events recorded before the clock was set.
 */
const CP = 'CP-TEST-1';
const TWO_HOURS = 2 * 3_600_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function server(): Promise<{ csms: TestCsms; url: string }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  return { csms, url };
}

async function agentOn(url: string, ocpp: Record<string, unknown> = {}, ocppVersions: string[] = ['ocpp2.0.1']): Promise<TestAgent> {
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions }, ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp } });
  cleanups.push(() => t.cleanup());
  return t;
}

const present = (t: TestAgent, id: string) => t.agent.sim.reader.present({ token: { id, type: 'ISO14443' }, method: 'rfid', evseId: 1 });
const txEvents = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP);
const token = (idToken: string) => ({ idToken, type: 'Central' });

describe('OCPP 2.0.1 transaction details', () => {
  it('a local stop: Ended with triggerReason StopAuthorized and no stoppedReason (Local is the default, E06)', async () => {
    const { csms, url } = await server();
    const t = await agentOn(url);
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    present(t, 'CARD-LOCAL');
    await waitFor(() => txEvents(csms).some((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    present(t, 'CARD-LOCAL');
    const ended = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Ended'), 10_000, 'Ended');
    expect(ended.params.triggerReason).toBe('StopAuthorized');
    expect(ended.params.transactionInfo).not.toHaveProperty('stoppedReason');
    expect(csms.validationFailures).toEqual([]);
  });

  it('RequestStartTransaction while the BootNotification is still unanswered: Rejected, no transaction; Accepted once the boot is (B02.FR.05)', async () => {
    const { csms, url } = await server();
    let answerBoot!: () => void;
    const bootAnswered = new Promise<void>((r) => (answerBoot = r));
    csms.on('BootNotification', async () => {
      await bootAnswered;
      return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
    });
    const t = await agentOn(url);
    await waitFor(() => csms.callsOf('BootNotification', CP).length === 1 && csms.clients.has(CP), 10_000, 'the boot received');
    expect(t.agent.link!.state).toBe('booting');
    expect(await csms.call(CP, 'RequestStartTransaction', { idToken: token('EARLY'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'RequestStopTransaction', { transactionId: 'any' })).toEqual({ status: 'Rejected' });
    expect(t.agent.chargePoint!.session(1)).toBeUndefined();
    answerBoot();
    await waitFor(() => t.agent.link!.state === 'accepted', 10_000, 'Accepted');
    expect(await csms.call(CP, 'RequestStartTransaction', { idToken: token('LATER'), evseId: 1, remoteStartId: 2 })).toEqual({ status: 'Accepted' });
    const started = await waitFor(() => txEvents(csms).find((c) => c.params.eventType === 'Started'), 10_000, 'Started');
    expect(started.params.transactionInfo).toMatchObject({ remoteStartId: 2 });
    expect(txEvents(csms).filter((c) => c.params.eventType === 'Started')).toHaveLength(1);
    expect(csms.validationFailures).toEqual([]);
  });

  // With several versions offered the 2.0.1 link is created only at the first connection: the events queued before it are this run's all the same.
  it.each([[['ocpp2.0.1']], [['ocpp2.0.1', 'ocpp1.6']]])('re-times events recorded on an untrusted clock once the central system sets it, keeping their order (as 1.6); versions offered %j', async (versions) => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/ocpp`;
    // The central system is not there yet: the agent starts with a clock nobody has confirmed.
    const t = await agentOn(url, { AllowOfflineTxForUnknownId: true }, versions);
    const cp = t.agent.chargePoint!;
    expect(t.agent.clock.trusted()).toBe(false);
    const startedLocal = Date.now();
    present(t, 'EARLY-CARD');
    await waitFor(() => cp.session(1), 10_000, 'charging offline');
    await waitFor(() => t.agent.outbox!.summary().depth >= 3, 10_000, 'Started and samples queued');
    present(t, 'EARLY-CARD');
    await waitFor(() => !cp.session(1), 10_000, 'stopped');
    const stoppedLocal = Date.now();

    // The central system's time is two hours ahead of this machine's.
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    const now = () => new Date(Date.now() + TWO_HOURS).toISOString();
    csms.on('BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: 300 }));
    csms.on('Heartbeat', () => ({ currentTime: now() }));
    await csms.start(port);
    cleanups.push(() => csms.stop());
    await waitFor(() => txEvents(csms).some((c) => c.params.eventType === 'Ended') && t.agent.outbox!.summary().depth === 0, 20_000, 'the offline transaction delivered');
    expect(t.agent.clock.trusted()).toBe(true);

    const events = txEvents(csms).map((c) => c.params);
    expect(events.map((e) => e.seqNo)).toEqual(events.map((_e, i) => i));
    const times = events.map((e) => Date.parse(e.timestamp));
    // Each event carries its own time on the central system's clock, not this machine's.
    expect(times[0]).toBeGreaterThanOrEqual(startedLocal + TWO_HOURS - 1_000);
    expect(times.at(-1)).toBeLessThanOrEqual(stoppedLocal + TWO_HOURS + 1_000);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
    for (const e of events) for (const mv of e.meterValue ?? []) expect(Math.abs(Date.parse(mv.timestamp) - startedLocal - TWO_HOURS)).toBeLessThan(stoppedLocal - startedLocal + 2_000);
    expect(events.every((e) => e.offline === true)).toBe(true);
    expect(csms.validationFailures).toEqual([]);
  });
});
