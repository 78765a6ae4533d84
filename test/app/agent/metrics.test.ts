import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../src/app/agent/metrics.js';
import { parseAgentConfig } from '../../../src/config/index.js';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';
import { parsePrometheus, sample } from '../fleet/control-helpers.js';

const WAIT_MS = 60_000;
let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function scrape(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parsePrometheus(await res.text());
}

describe('agent /metrics', () => {
  it('shows the link, the outbox depth and age, sessions, meter read errors and faults', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => (release = r));
    csms.on('StartTransaction', async () => {
      await held;
      return { transactionId: 41, idTagInfo: { status: 'Accepted' } };
    });
    const t: TestAgent = await startAgent(url);
    cleanups.push(() => t.cleanup());
    const metrics = new AgentMetrics(t.agent);
    const endpoint = await metrics.start('127.0.0.1:0');
    cleanups.push(() => metrics.stop());
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    let s = await waitFor(async () => {
      const x = await scrape(endpoint);
      // Accepted, and what the boot queued delivered.
      return sample(x, 'evse_agent_link_state', { state: 'accepted' }) === 1 && sample(x, 'evse_agent_outbox_depth') === 0 ? x : undefined;
    }, WAIT_MS, 'accepted');
    expect(sample(s, 'evse_agent_link_state', { state: 'offline' })).toBe(0);
    expect(sample(s, 'evse_agent_connected')).toBe(1);
    expect(sample(s, 'evse_agent_sessions_open')).toBe(0);
    expect(sample(s, 'evse_agent_outbox_oldest_age_seconds')).toBe(0);

    // A session whose StartTransaction the central system holds: queued until answered.
    t.agent.sim.connectors.get(1)!.plug();
    t.agent.sim.reader.present({ token: { id: 'TAG-1', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    s = await waitFor(async () => {
      const x = await scrape(endpoint);
      return sample(x, 'evse_agent_outbox_depth') >= 1 && sample(x, 'evse_agent_sessions_open') === 1 ? x : undefined;
    }, WAIT_MS, 'a queued StartTransaction');
    await waitFor(async () => sample(await scrape(endpoint), 'evse_agent_outbox_oldest_age_seconds') > 0, WAIT_MS, 'an age');
    release!();
    await waitFor(async () => sample(await scrape(endpoint), 'evse_agent_outbox_depth') === 0, WAIT_MS, 'delivered');

    // A meter that stops answering: read errors counted, the fault shown.
    t.agent.sim.connectors.get(1)!.failReads(1_000);
    s = await waitFor(async () => {
      const x = await scrape(endpoint);
      return sample(x, 'evse_agent_meter_read_errors', { evse: '1' }) >= 3 ? x : undefined;
    }, WAIT_MS, 'meter read errors');
    expect(sample(s, 'evse_agent_meter_read_errors', { evse: '2' })).toBe(0);
    // Failed reads alone raise no fault (the core raises one for implausible or stale readings).
    expect(s.filter((x) => x.name === 'evse_agent_faults_active')).toEqual([]);
    t.agent.sim.connectors.get(1)!.failReads(0);

    // The central system goes away: the link says so.
    await csms.stop();
    await waitFor(async () => sample(await scrape(endpoint), 'evse_agent_connected') === 0, WAIT_MS, 'disconnected');
    expect((await fetch(endpoint.replace('/metrics', '/other'))).status).toBe(404);
  }, 120_000);

  it('counts active faults by EVSE (0: the station) and error code (unit test of the aggregation)', async () => {
    const fault = (errorCode: string) => ({ source: 's', errorCode, active: true });
    const chargePoint = {
      evseIds: [1, 2],
      session: (id: number) => (id === 2 ? {} : undefined),
      stationFaults: () => [fault('ReaderFailure')],
      hardwareHealth: () => [
        { evseId: 1, faults: [fault('GroundFailure'), fault('PowerMeterFailure'), fault('PowerMeterFailure')], meterErrors: 7, lastReadingAt: null },
        { evseId: 2, faults: [], meterErrors: 0, lastReadingAt: null },
      ],
    };
    const metrics = new AgentMetrics({ chargePoint } as unknown as ConstructorParameters<typeof AgentMetrics>[0]);
    const s = parsePrometheus(await metrics.registry.metrics());
    expect(sample(s, 'evse_agent_faults_active', { evse: '0', code: 'ReaderFailure' })).toBe(1);
    expect(sample(s, 'evse_agent_faults_active', { evse: '1', code: 'GroundFailure' })).toBe(1);
    expect(sample(s, 'evse_agent_faults_active', { evse: '1', code: 'PowerMeterFailure' })).toBe(2);
    expect(s.filter((x) => x.name === 'evse_agent_faults_active')).toHaveLength(3);
    expect(sample(s, 'evse_agent_meter_read_errors', { evse: '1' })).toBe(7);
    expect(sample(s, 'evse_agent_sessions_open')).toBe(1);
    expect(sample(s, 'evse_agent_link_state', { state: 'offline' })).toBe(1);
  });

  it('metrics.listen is validated with the rest of the config; loopback by default', () => {
    const base = { chargePointId: 'CP-1', csms: { url: 'ws://127.0.0.1:9/ocpp' } };
    expect(parseAgentConfig({ ...base, metrics: {} }).config.metrics?.listen).toBe('127.0.0.1:9464');
    expect(parseAgentConfig(base).config.metrics).toBeUndefined();
    expect(() => parseAgentConfig({ ...base, metrics: { listen: 'everywhere' } })).toThrow(/metrics\.listen[\s\S]*HOST:PORT/);
    expect(() => parseAgentConfig({ ...base, metrics: { listen: '127.0.0.1:9464', extra: 1 } })).toThrow(/metrics/);
  });
});
