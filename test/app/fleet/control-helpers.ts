import WebSocket from 'ws';
import { loadScenario, type Scenario } from '../../../src/sim/scenario.js';
import type { ControlEvent } from '../../../src/app/fleet/control/protocol.js';

/** A scenario where nothing happens by itself: no arrivals, flaps or storms; quick reconnects. */
export function quietScenario(): Scenario {
  const smoke = loadScenario('smoke');
  return {
    ...smoke,
    arrivals: { ...smoke.arrivals, ratePerHour: Array.from({ length: 24 }, () => 0) },
    ocpp: { ...smoke.ocpp, HeartbeatInterval: 3600, MeterValueSampleInterval: 0 },
    csms: { ...smoke.csms, reconnectInitialDelayMs: 200, reconnectMaxDelayMs: 1_000, callTimeoutMs: 5_000 },
  } as Scenario;
}

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
}

/** One request to the control API. */
export async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined || method === 'DELETE' ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** A client of the event stream that keeps every event. */
export async function eventStream(base: string, query = ''): Promise<{ events: ControlEvent[]; close: () => void }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/events${query}`);
  const events: ControlEvent[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const e = JSON.parse(String(data)) as ControlEvent | { type: 'hello' };
      if (e.type === 'hello') resolve();
      else events.push(e as ControlEvent);
    });
    ws.on('error', reject);
  });
  return { events, close: () => ws.terminate() };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser of Prometheus's text exposition format (0.0.4): samples, comments skipped. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[2]))) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** The value of one sample (0 when absent). */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}
