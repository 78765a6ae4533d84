import type { Log } from '../../lib/log.js';
import type { Agent } from './controller.js';
import { agentHealthChecks } from './health.js';
import { AgentMetrics } from './metrics.js';
import type { ServiceNotifier } from './sd-notify.js';
import { HealthWatchdog } from './watchdog.js';

export interface ServiceHandle {
  watchdog?: HealthWatchdog;
  /** STOPPING=1, stop the watchdog and the agent (the database closes last). */
  stop(): Promise<void>;
  /** When a stop hangs: close the database at least (SQLite's WAL keeps what was committed). */
  abort(): void;
}

/**
 * Start the agent as a service: READY=1 only once the database is open and migrated and the
 * agent has started; then watchdog pings while it is healthy.
 */
export async function startService(o: { agent: Agent; notifier: ServiceNotifier; log: Log; meterPollIntervalMs: number; metricsListen?: string }): Promise<ServiceHandle> {
  const { agent, notifier, log } = o;
  notifier.status('starting');
  await agent.start();
  const schema = agent.db?.pragma('user_version', { simple: true });
  let metrics: AgentMetrics | undefined;
  if (o.metricsListen) {
    metrics = new AgentMetrics(agent);
    const url = await metrics.start(o.metricsListen);
    log.info('Prometheus metrics served', { url });
  }
  notifier.ready(`running: database schema ${schema}, OCPP security profile ${agent.security.profile()}`);
  let watchdog: HealthWatchdog | undefined;
  const intervalMs = notifier.watchdogIntervalMs;
  if (intervalMs) {
    const pollMs = o.meterPollIntervalMs;
    watchdog = new HealthWatchdog({
      notifier, intervalMs, log: log.child({ component: 'watchdog' }),
      checks: agentHealthChecks(agent, { meterStallMs: Math.max(30_000, 10 * pollMs, 4 * intervalMs) }),
    });
    watchdog.start();
  }
  let stopped: Promise<void> | undefined;
  return {
    watchdog,
    stop: () => {
      stopped ??= (async () => {
        notifier.stopping('stopping');
        watchdog?.stop();
        await metrics?.stop();
        try {
          await agent.stop();
        } finally {
          notifier.close();
        }
      })();
      return stopped;
    },
    abort: () => {
      watchdog?.stop();
      try {
        agent.db?.close();
      } catch {
        // closing is all that is left to try
      }
    },
  };
}
