import { Command } from 'commander';
import { Agent } from '../app/agent/controller.js';
import { loadAgentConfig } from '../config/index.js';
import { createLog, MemorySink, streamSink, teeSink } from '../lib/log.js';
import { createNotifier } from '../app/agent/sd-notify.js';
import { startService } from '../app/agent/service.js';
import { onShutdown } from './shutdown.js';

/** Well inside the unit's TimeoutStopSec (30 s). */
const STOP_DEADLINE_MS = 20_000;

export function agentCommand(): Command {
  return new Command('agent')
    .description('run the edge agent for one charger')
    .requiredOption('-c, --config <file>', 'the config file (JSON)')
    .option('--check', 'validate the config and its profiles, then exit')
    .action(async (opts: { config: string; check?: boolean }) => {
      const loaded = loadAgentConfig(opts.config);
      const stdout = streamSink(loaded.config.log.level);
      // The last lines stay in memory for the technicians' log/tail.
      const recent = new MemorySink('debug', 1_000);
      const log = createLog(teeSink(stdout, recent));
      const logControl = {
        tail: (n: number) => recent.records.slice(-n),
        setLevel: (level: typeof stdout.level) => { stdout.level = level; },
      };
      const agent = new Agent({ loaded, log, logControl, exitOnHardReset: Boolean(process.env.NOTIFY_SOCKET) });
      if (opts.check) {
        process.stdout.write(`${opts.config}: valid (charger ${loaded.charger.id}, ${loaded.charger.connectors.length} connectors)\n`);
        return;
      }
      // Under systemd (Type=notify): READY=1 once started, watchdog pings while healthy, STOPPING=1.
      const service = await startService({ agent, log, notifier: createNotifier(process.env, log), meterPollIntervalMs: loaded.config.session.meterPollIntervalMs, metricsListen: loaded.config.metrics?.listen });
      onShutdown(log, () => service.stop(), { deadlineMs: STOP_DEADLINE_MS, onDeadline: () => service.abort() });
    });
}
