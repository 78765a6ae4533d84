import { randomUUID } from 'node:crypto';
import { UsageError } from '../lib/errors.js';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { formatTable } from '../lib/table.js';
import { topicsFor } from '../diag/topics.js';

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

/** A broker that speaks only MQTT 3.1.1 refuses a v5 CONNECT with return code 1 (or reason 0x84 in v5). */
const unsupportedVersion = (err: unknown) => [1, 0x84].includes(Number((err as { code?: unknown }).code));

async function connect(o: BrokerOptions): Promise<MqttClient> {
  // Checked here, not by commander: `diag` and `diag watch` both take it, after their own names.
  if (!o.broker) throw new UsageError('--broker <url> is required');
  const opts: IClientOptions = {
    protocolVersion: o.mqttVersion === '4' ? 4 : 5, reconnectPeriod: 0, connectTimeout: o.timeout, clientId: `evse-diag-${randomUUID().slice(0, 8)}`,
    username: o.username, password: o.password ?? process.env.MQTT_PASSWORD,
    ...(o.ca ? { ca: readFileSync(o.ca) } : {}), ...(o.cert ? { cert: readFileSync(o.cert) } : {}), ...(o.key ? { key: readFileSync(o.key) } : {}),
  };
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(o.broker, opts);
  } catch (err) {
    if ((o.mqttVersion ?? 'auto') !== 'auto' || !unsupportedVersion(err)) throw err;
    // MQTT 3.1.1: no Response Topic nor Correlation Data; the agent answers on response/<login>/<noun>/<verb>.
    client = await mqtt.connectAsync(o.broker, { ...opts, protocolVersion: 4 });
  }
  noDelay(client);
  return client;
}

/** Small MQTT packets must not wait for Nagle's algorithm (40 ms delayed ACKs on loopback). */
export function noDelay(client: MqttClient): void {
  (client.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
}

/**
 * One request to one charger; resolves with the answer envelope. With `user`, the broker login
 * the client connected with, it goes under that login (request/<login>/<noun>/<verb>): the agent
 * takes who asks from that topic level, which the broker's ACL binds to the login.
 */
export async function diagRequest(client: MqttClient, o: { root: string; chargePointId: string; command: string; body: Record<string, unknown>; user?: string; timeoutMs: number }) {
  const prefix = `${o.root}/${o.chargePointId}`;
  const correlation = randomUUID();
  // MQTT 3.1.1 (e.g. the agent's embedded broker): the correlation and the time sent travel in
  // the payload, and the agent answers on response/<login>/<noun>/<verb>, shared by every request
  // of that login and command: the answer is the one carrying our correlation.
  const v5 = client.options.protocolVersion === 5;
  const topics = topicsFor(prefix);
  const [noun, verb] = o.command.split('/') as [string, string];
  const responseTopic = v5 ? `${prefix}/response/${o.user ?? 'anonymous'}/${correlation}` : topics.response(o.user ?? null, noun, verb);
  await client.subscribeAsync(responseTopic, { qos: 1 });
  const answer = new Promise<{ status: string; data?: unknown; error?: { code: string; message: string }; correlation: string | null }>((resolve, reject) => {
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== responseTopic) return;
      let envelope: { status: string; correlation: string | null };
      try {
        envelope = JSON.parse(payload.toString());
      } catch {
        return;
      }
      if (!v5 && envelope.correlation !== correlation) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(envelope as never);
    };
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no answer from ${o.chargePointId} within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    client.on('message', onMessage);
  });
  const requestTopic = `${prefix}/request/${o.user ? `${o.user}/` : ''}${o.command}`;
  if (v5) {
    await client.publishAsync(requestTopic, JSON.stringify(o.body), {
      qos: 1,
      properties: {
        responseTopic, correlationData: Buffer.from(correlation), messageExpiryInterval: Math.ceil(o.timeoutMs / 1000),
        userProperties: { 'sent-at': new Date().toISOString() },
      },
    });
  } else {
    await client.publishAsync(requestTopic, JSON.stringify({ ...o.body, correlation, sentAt: new Date().toISOString() }), { qos: 1 });
  }
  try {
    return await answer;
  } finally {
    await client.unsubscribeAsync(responseTopic).catch(() => undefined);
  }
}

interface ChargerView {
  state?: string;
  ocpp?: string;
  outbox?: number;
  deadLetters?: number;
  connectors: Map<number, { status: string; errorCode: string; powerW: number | null; sessionEnergyWh: number | null }>;
  lastEvent?: string;
  seenAt: number;
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
        const answer = await diagRequest(client, { root: o.root, chargePointId, command, body, user: o.username, timeoutMs: o.timeout });
        process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
        if (answer.status !== 'ok') process.exitCode = 1;
      } finally {
        await client.endAsync();
      }
    });

  brokerOptions(cmd.command('watch'))
    .description('live state of one charger, or of all (+), as a refreshing table (a plain log when not a terminal)')
    .argument('<chargePointId>', 'a charger id, or + for every charger')
    .action(async (target: string, o: BrokerOptions) => {
      const client = await connect(o);
      const views = new Map<string, ChargerView>();
      const tty = process.stdout.isTTY;
      const view = (id: string) => {
        let v = views.get(id);
        if (!v) views.set(id, (v = { connectors: new Map(), seenAt: Date.now() }));
        v.seenAt = Date.now();
        return v;
      };
      client.on('message', (topic, payload) => {
        const parts = topic.split('/');
        const id = parts[1]!;
        const kind = parts[2]!;
        const text = payload.toString();
        let data: Record<string, any> = {};
        try {
          data = kind === 'state' ? { state: text } : (JSON.parse(text) as Record<string, any>);
        } catch {
          return;
        }
        const v = view(id);
        if (kind === 'state') v.state = text;
        if (kind === 'health') {
          v.ocpp = data.ocpp?.state;
          v.outbox = data.outbox?.depth;
          v.deadLetters = data.outbox?.deadLetters;
        }
        if (kind === 'connector') v.connectors.set(Number(parts[3]), { status: data.status, errorCode: data.errorCode, powerW: data.powerW, sessionEnergyWh: data.sessionEnergyWh });
        if (kind === 'event') v.lastEvent = `${data.type}${data.connectorId ? ` c${data.connectorId}` : ''}`;
        if (!tty) process.stdout.write(`${new Date().toISOString()} ${id} ${kind}${parts[3] ? '/' + parts[3] : ''} ${kind === 'state' ? text : JSON.stringify(data)}\n`);
      });
      for (const t of ['state', 'health', 'connector/+', 'event']) await client.subscribeAsync(`${o.root}/${target}/${t}`, { qos: 1 });
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
      await client.endAsync();
    });
  return cmd;
}
