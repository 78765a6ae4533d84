import { UsageError } from '../lib/errors.js';
import { Command, Option } from 'commander';
import { formatTable } from '../lib/table.js';
import { DiagClient, type ChargerView } from '../app/tools/diag-client.js';

interface BrokerOptions {
  broker: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  root: string;
  timeout: number;
  mqttVersion: 'auto' | '4' | '5';
}

/** The broker connection of the parsed options (--broker is checked here, not by commander: `diag` and `diag watch` both take it, after their own names). */
function connect(o: BrokerOptions): Promise<DiagClient> {
  if (!o.broker) throw new UsageError('--broker <url> is required');
  return DiagClient.connect({ broker: o.broker, username: o.username, password: o.password, ca: o.ca, cert: o.cert, key: o.key, timeoutMs: o.timeout, mqttVersion: o.mqttVersion });
}

function brokerOptions(c: Command): Command {
  return c
    .option('--broker <url>', 'the MQTT broker, e.g. mqtt://broker:1883 or mqtts://… (required)')
    .option('--username <name>', 'your broker login: requests go under it, and the agent checks its role')
    .option('--password <password>', 'your broker password (or MQTT_PASSWORD in the environment)')
    .option('--ca <file>', 'CA certificate for mqtts')
    .option('--cert <file>', 'client certificate')
    .option('--key <file>', 'client key')
    .option('--root <topic>', 'topic root of the chargers', 'evse')
    .option('--timeout <ms>', 'how long to wait for an answer', (v) => Number(v), 10_000)
    .addOption(new Option('--mqtt-version <v>', 'MQTT 5, 3.1.1 (4), or auto: 5, else 3.1.1 when the broker refuses 5 (the embedded broker)').choices(['auto', '4', '5']).default('auto'));
}

/** The technician's tool: one request and its answer, or live state of one charger or a fleet. */
export function diagCommand(): Command {
  // Options after `watch` belong to it (both commands take the broker options).
  const cmd = brokerOptions(new Command('diag').enablePositionalOptions())
    .description('send a diagnostics request to a charger over MQTT and print the answer')
    .argument('<chargePointId>', 'the charger')
    .argument('<command>', 'noun/verb, e.g. status/get, meter/read, outbox/list')
    .argument('[json]', 'arguments as a JSON object, e.g. \'{"connectorId":1}\'')
    .action(async (chargePointId: string, command: string, json: string | undefined, o: BrokerOptions) => {
      if (!/^[a-z]+\/[a-z]+$/.test(command)) throw new UsageError('command must be noun/verb, e.g. status/get');
      let body: Record<string, unknown> = {};
      if (json) {
        try {
          body = JSON.parse(json) as Record<string, unknown>;
        } catch {
          throw new UsageError('arguments must be a JSON object');
        }
      }
      if (o.username && /[/+#]/.test(o.username)) throw new UsageError('--username: a broker login has no /, + or #');
      const client = await connect(o);
      try {
        const answer = await client.request({ root: o.root, chargePointId, command, body, user: o.username, timeoutMs: o.timeout });
        process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
        if (answer.status !== 'ok') process.exitCode = 1;
      } finally {
        await client.end();
      }
    });

  brokerOptions(cmd.command('watch'))
    .description('live state of one charger, or of all (+), as a refreshing table (a plain log when not a terminal)')
    .argument('<chargePointId>', 'a charger id, or + for every charger')
    .action(async (target: string, o: BrokerOptions) => {
      const client = await connect(o);
      const views = new Map<string, ChargerView>();
      const tty = process.stdout.isTTY;
      await client.watch({
        root: o.root, target, views,
        onMessage: (m) => {
          if (!tty) process.stdout.write(`${new Date().toISOString()} ${m.chargePointId} ${m.kind}${m.sub ? '/' + m.sub : ''} ${m.kind === 'state' ? m.text : JSON.stringify(m.data)}\n`);
        },
      });
      let timer: NodeJS.Timeout | undefined;
      if (tty) {
        timer = setInterval(() => {
          const rows = [...views.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, v]) => [
            id, v.state ?? '?', v.ocpp ?? '?', v.outbox ?? '', v.deadLetters ?? '',
            [...v.connectors.entries()].sort(([a], [b]) => a - b).map(([n, c]) => `${n}:${c.status}${c.errorCode !== 'NoError' ? `(${c.errorCode})` : ''}${c.powerW ? ` ${(c.powerW / 1000).toFixed(1)}kW` : ''}`).join(' '),
            v.lastEvent ?? '',
          ]);
          process.stdout.write('\x1b[2J\x1b[H' + formatTable(['charger', 'mqtt', 'ocpp', 'queued', 'dead', 'connectors', 'last event'], rows) + '\n');
        }, 1_000);
      }
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      clearInterval(timer);
      await client.end();
    });
  return cmd;
}
