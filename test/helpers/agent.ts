import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/app/agent/controller.js';
import { parseAgentConfig } from '../../src/config/index.js';
import { createLog, MemorySink } from '../../src/lib/log.js';

export interface TestAgent {
  agent: Agent;
  logs: MemorySink;
  dir: string;
  cleanup(): Promise<void>;
}

/** An in-process agent with simulated hardware and a real SQLite file in a temp dir. */
export async function startAgent(url: string, overrides: Record<string, unknown> = {}, opts: { start?: boolean; dir?: string } = {}): Promise<TestAgent> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'evse-edge-test-'));
  const { ocpp, simulation, session, ...rest } = overrides as { ocpp?: object; simulation?: object; session?: object };
  const loaded = parseAgentConfig({
    chargePointId: 'CP-TEST-1',
    csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 },
    store: { path: join(dir, 'agent.db') },
    ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...ocpp },
    simulation: { arrivalDelayMs: 50, departureDelayMs: 0, seed: 1, ...simulation },
    session: { meterPollIntervalMs: 200, checkpointIntervalMs: 1000, ...session },
    ...rest,
  });
  const logs = new MemorySink('debug');
  const logControl = { tail: (n: number) => logs.records.slice(-n), setLevel: () => undefined };
  const agent = new Agent({ loaded, log: createLog(logs), logControl, linkTiming: { bootRetryMs: 200, authorizeTimeoutMs: 2_000 } });
  if (opts.start ?? true) await agent.start();
  return {
    agent,
    logs,
    dir,
    async cleanup() {
      await agent.stop().catch(() => undefined);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
