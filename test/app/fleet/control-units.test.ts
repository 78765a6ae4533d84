import { describe, expect, it } from 'vitest';
import { fanOut, mergeAnswers, type ControlAnswer, type ControlTarget } from '../../../src/app/fleet/control/protocol.js';
import { FrameTrace } from '../../../src/app/fleet/control/trace.js';
import { cumulativeBuckets } from '../../../src/app/fleet/control/prometheus.js';
import { isLoopback, parseAction, parseListen, parseSelection } from '../../../src/app/fleet/control/server.js';
import { Histogram } from '../../../src/app/fleet/histogram.js';

describe('control requests across shards', () => {
  it('merges the shards\' answers; a shard that fails or stays silent is counted, not waited for', async () => {
    const holds = (ids: string[]): ControlTarget => ({
      control: async () => ({ op: 'list', chargers: ids.map((id) => ({ id, version: 'ocpp1.6', state: 'available', link: 'accepted', network: 'up' })) }),
    });
    const silent: ControlTarget = { control: () => new Promise<ControlAnswer>(() => {}) };
    const failing: ControlTarget = { control: async () => { throw new Error('gone'); } };
    const a = await fanOut([holds(['B']), holds(['A']), silent, failing], { op: 'list', selection: {} }, 100);
    expect(a.op === 'list' && a.chargers.map((c) => c.id)).toEqual(['A', 'B']);
    expect(a.unanswered).toBe(2);
    const get = mergeAnswers({ op: 'get', id: 'X' }, [{ op: 'get' }, { op: 'list', chargers: [] }]);
    expect(get).toEqual({ op: 'get' });
  });
});

describe('FrameTrace', () => {
  it('keeps the last N frames in order and the latency of each answer to its CALL, whichever side called', () => {
    const t = new FrameTrace(3);
    t.record('out', '[2,"a","Heartbeat",{}]', 1_000);
    t.record('in', '[2,"b","Reset",{"type":"Soft"}]', 1_010);
    t.record('in', '[3,"a",{"currentTime":"x"}]', 1_050);
    t.record('out', '[4,"b","NotImplemented","",{}]', 1_070);
    const frames = t.frames();
    expect(frames).toHaveLength(3);
    expect(frames.map((f) => (f.frame as unknown[])[1])).toEqual(['b', 'a', 'b']);
    expect(frames[1]!.latencyMs).toBe(50);
    expect(frames[2]!.latencyMs).toBe(60);
    expect(frames[0]!.latencyMs).toBeUndefined();
    t.record('in', 'not json', 1_100);
    expect(t.frames()[2]!.frame).toBe('not json');
  });
});

describe('Prometheus buckets from the fleet histogram', () => {
  it('are cumulative, and every value counts under a bound at or above it', () => {
    const h = new Histogram();
    for (const ms of [0.5, 3, 3, 40, 700, 70_000]) h.recordMs(ms);
    const b = cumulativeBuckets(h.toJSON(), [0.001, 0.005, 0.05, 1, 60]);
    expect(b).toEqual([1, 3, 4, 5, 5]);
  });
});

describe('control API arguments', () => {
  it('parses listen addresses and knows loopback', () => {
    expect(parseListen('127.0.0.1:9400')).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9400')).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(() => parseListen('nowhere')).toThrow(/HOST:PORT/);
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && !isLoopback('0.0.0.0')).toBe(true);
  });

  it('refuses bad actions and selections with the reason', () => {
    expect(parseAction('present', { token: 'T1', method: 'pin', connectorId: 2 })).toEqual({ do: 'present', token: 'T1', method: 'pin', connectorId: 2 });
    expect(parseAction('cut-network', {})).toEqual({ do: 'network', cut: 'close' });
    expect(() => parseAction('present', {})).toThrow(/token/);
    expect(() => parseAction('cut-network', { mode: 'unplug-router' })).toThrow(/close, refuse, black-hole/);
    expect(() => parseAction('plug', { connectorId: -1 })).toThrow(/connectorId/);
    expect(parseSelection({ ids: 'A,B', state: 'charging' })).toEqual({ ids: ['A', 'B'], state: 'charging' });
    expect(() => parseSelection({ link: 'up' })).toThrow(/disconnected, booting, accepted/);
  });
});
