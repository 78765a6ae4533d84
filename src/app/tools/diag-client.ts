/**
 * The technician's side of the MQTT diagnostics (`evse-edge diag`): a connection to the broker
 * (MQTT 5, or 3.1.1 when the broker refuses 5), one request to one charger and its answer
 * envelope, and the live state one charger or a fleet publishes. The CLI parses the arguments
 * and prints the answer or the table.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { topicsFor } from '../../diag/topics.js';

export interface BrokerOptions {
  /** e.g. mqtt://broker:1883 or mqtts://… */
  broker: string;
  username?: string;
  /** Default: MQTT_PASSWORD in the environment. */
  password?: string;
  /** PEM files: CA certificate for mqtts, client certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs: number;
  /** MQTT 5, 3.1.1 (4), or auto: 5, else 3.1.1 when the broker refuses 5 (the embedded broker). */
  mqttVersion: 'auto' | '4' | '5';
}

/** The answer to a request: the agent's response envelope. */
export interface DiagAnswer {
  status: string;
  data?: unknown;
  error?: { code: string; message: string };
  correlation: string | null;
}

/** A broker that speaks only MQTT 3.1.1 refuses a v5 CONNECT with return code 1 (or reason 0x84 in v5). */
const unsupportedVersion = (err: unknown) => [1, 0x84].includes(Number((err as { code?: unknown }).code));

async function connect(o: BrokerOptions): Promise<MqttClient> {
  const opts: IClientOptions = {
    protocolVersion: o.mqttVersion === '4' ? 4 : 5, reconnectPeriod: 0, connectTimeout: o.timeoutMs, clientId: `evse-diag-${randomUUID().slice(0, 8)}`,
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
export async function diagRequest(client: MqttClient, o: { root: string; chargePointId: string; command: string; body: Record<string, unknown>; user?: string; timeoutMs: number }): Promise<DiagAnswer> {
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
  const answer = new Promise<DiagAnswer>((resolve, reject) => {
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

/** One charger's live state as its retained and event topics tell it. */
export interface ChargerView {
  state?: string;
  ocpp?: string;
  outbox?: number;
  deadLetters?: number;
  connectors: Map<number, { status: string; errorCode: string; powerW: number | null; sessionEnergyWh: number | null }>;
  lastEvent?: string;
  seenAt: number;
}

/** One message of a watched charger: its topic's kind (state, health, connector, event) and what it carried. */
export interface WatchedMessage {
  chargePointId: string;
  kind: string;
  /** The connector of a connector topic. */
  sub?: string;
  text: string;
  data: Record<string, any>;
}

/** A connection to the broker for one request or a watch; end() closes it. */
export class DiagClient {
  private constructor(private readonly client: MqttClient) {}

  static async connect(o: BrokerOptions): Promise<DiagClient> {
    return new DiagClient(await connect(o));
  }

  request(o: { root: string; chargePointId: string; command: string; body: Record<string, unknown>; user?: string; timeoutMs: number }): Promise<DiagAnswer> {
    return diagRequest(this.client, o);
  }

  /**
   * The live state of one charger, or of all (`+`): `views` (by charger id) is kept up to date
   * and `onMessage` told of each message once applied.
   */
  async watch(o: { root: string; target: string; views: Map<string, ChargerView>; onMessage?: (m: WatchedMessage) => void }): Promise<void> {
    const view = (id: string) => {
      let v = o.views.get(id);
      if (!v) o.views.set(id, (v = { connectors: new Map(), seenAt: Date.now() }));
      v.seenAt = Date.now();
      return v;
    };
    this.client.on('message', (topic, payload) => {
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
      o.onMessage?.({ chargePointId: id, kind, ...(parts[3] ? { sub: parts[3] } : {}), text, data });
    });
    for (const t of ['state', 'health', 'connector/+', 'event']) await this.client.subscribeAsync(`${o.root}/${o.target}/${t}`, { qos: 1 });
  }

  end(): Promise<void> {
    return this.client.endAsync();
  }
}
