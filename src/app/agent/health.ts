import { probeWritable } from '../../store/index.js';
import type { Agent } from './controller.js';
import type { HealthCheck } from './watchdog.js';

/**
 * What "healthy" means for the watchdog: the database takes a write, the OCPP connect loop is
 * alive (connected, connecting or waiting to retry: a central system that is down is not our
 * fault and a restart would not help), and every session's meter is being polled (a reading or
 * a read error within `meterStallMs`).
 */
export function agentHealthChecks(agent: Agent, opts: { meterStallMs: number; now?: () => number }): HealthCheck[] {
  const now = opts.now ?? (() => performance.now());
  const progress = new Map<number, { mark: string; since: number }>();
  return [
    {
      name: 'database',
      check: () => {
        if (!agent.db?.open) return 'not open';
        const probe = probeWritable(agent.db, Date.now());
        return probe.ok ? undefined : `not writable (${probe.error})`;
      },
    },
    {
      name: 'ocpp',
      check: () => (agent.connection?.looping ? undefined : 'the connection loop has stopped'),
    },
    {
      name: 'meter polling',
      check: () => {
        const cp = agent.chargePoint;
        if (!cp) return 'no charge point';
        const t = now();
        const stalled: number[] = [];
        for (const h of cp.hardwareHealth()) {
          const session = cp.session(h.evseId);
          if (!session) {
            progress.delete(h.evseId);
            continue;
          }
          const mark = `${h.lastReadingAt}/${h.meterErrors}/${h.faults.length}`;
          const seen = progress.get(h.evseId);
          if (!seen || seen.mark !== mark) progress.set(h.evseId, { mark, since: t });
          else if (t - seen.since > opts.meterStallMs) stalled.push(h.evseId);
        }
        return stalled.length ? `no meter reading or error for connector(s) ${stalled.join(', ')}` : undefined;
      },
    },
  ];
}
