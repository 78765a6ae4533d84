import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Log } from '../lib/log.js';
import { commands, DiagError, roleRank, type DiagnosticsContext, type Role } from './commands.js';
import { topicsFor, type ConnectorState, type DiagEvent, type Envelope } from './topics.js';

export interface MqttDiagnosticsOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** 5 (default) or 4 (MQTT 3.1.1, e.g. the embedded broker). */
  protocolVersion: 4 | 5;
  prefix: string;
  healthIntervalMs: number;
  /** Broker usernames → roles. Anyone not listed may only watch. */
  roles: Readonly<Record<string, Role>>;
  technicianWritable: readonly string[];
  adminCommands: boolean;
  /** Refuse requests whose user is only claimed (not under request/<login>/…). */
  requireLoginTopic?: boolean;
  rateLimit: { requests: number; perMs: number };
  /** A request older than this (by its sent-at) is refused as expired. */
  maxRequestAgeMs: number;
  ctx: DiagnosticsContext;
  source: { info(): Record<string, unknown>; health(): Record<string, unknown>; connectors(): ConnectorState[] };
  audit: { record(e: { at: number; username: string | null; role: string | null; command: string; status: 'ok' | 'error'; errorCode?: string; correlation: string | null }): void };
  log: Log;
  now?: () => number;
}

interface ParsedRequest {
  command: string;
  args: Record<string, unknown>;
  correlation: string | null;
  /** Who asks: the login in the topic, or else the user the request names. */
  user: string | null;
  /** Whether `user` is the broker login in the topic (bound by the broker), not a claim. */
  loginBound: boolean;
  /** The user the request names in a `user` property or field, if any. */
  claimedUser: string | null;
  responseTopic: string;
  v5: boolean;
  sentAt?: number;
  expirySeconds?: number;
  force: boolean;
}

/**
 * Diagnostics over MQTT: retained state (with the offline last will), info and connector
 * topics, periodic health, events, and request/response commands checked against roles,
 * correlation, expiry, replay and a per-user rate limit, each recorded in the audit table.
 * No idTag, password or key is ever published.
 */
export class MqttDiagnostics {
  private client?: MqttClient;
  private readonly topics;
  private healthTimer?: NodeJS.Timeout;
  private readonly seen = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lastConnectorPublish = new Map<number, number>();
  private readonly now: () => number;
  published = 0;

  constructor(private readonly o: MqttDiagnosticsOptions) {
    this.topics = topicsFor(o.prefix);
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    const t = this.topics;
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      protocolVersion: this.o.protocolVersion,
      username: this.o.username,
      password: this.o.password,
      reconnectPeriod: 2_000,
      connectTimeout: 10_000,
      clean: true,
      will: { topic: t.state, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(this.o.tls?.ca ? { ca: readFileSync(this.o.tls.ca) } : {}),
      ...(this.o.tls?.cert ? { cert: readFileSync(this.o.tls.cert) } : {}),
      ...(this.o.tls?.key ? { key: readFileSync(this.o.tls.key) } : {}),
      ...(this.o.tls ? { rejectUnauthorized: this.o.tls.rejectUnauthorized ?? true } : {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    client.on('connect', () => {
      // Answers and state are small packets: no Nagle delay on them.
      (client.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.o.log.info('diagnostics broker connected', { url: this.o.url.replace(/\/\/[^@]*@/, '//') });
      // Stopping (or the broker going away) while this runs rejects the subscription: a
      // warning, never an unhandled rejection that would end the agent.
      this.onConnect().catch((err: Error) => this.o.log.warn('diagnostics broker setup interrupted', { err: { message: err.message } }));
    });
    client.on('error', (err) => this.o.log.warn('diagnostics broker error', { err: { message: err.message, code: (err as { code?: unknown }).code } }));
    client.on('message', (topic, payload, packet) => {
      this.onMessage(topic, payload, packet).catch((err: Error) => this.o.log.error('diagnostics request not handled', { topic, err: { message: err.message } }));
    });
    this.healthTimer = setInterval(() => this.publishHealth(), this.o.healthIntervalMs);
    this.healthTimer.unref();
    await new Promise<void>((resolve) => {
      const done = () => {
        client.off('connect', done);
        client.off('error', done);
        resolve();
      };
      client.once('connect', done);
      client.once('error', done);
    });
  }

  private async onConnect(): Promise<void> {
    const t = this.topics;
    await this.publish(t.state, 'online', true);
    await this.publish(t.info, this.o.source.info(), true);
    for (const c of this.o.source.connectors()) await this.publish(t.connector(c.connectorId), c, true);
    this.publishHealth();
    await this.client!.subscribeAsync(t.requestFilter, { qos: 1 });
  }

  async stop(): Promise<void> {
    clearInterval(this.healthTimer);
    const c = this.client;
    if (!c) return;
    if (c.connected) await this.publish(this.topics.state, 'offline', true).catch(() => undefined);
    await c.endAsync();
    this.client = undefined;
  }

  publishEvent(e: DiagEvent): void {
    void this.publish(this.topics.event, e, false);
  }

  /** A connector's state changed; readings are throttled to one publication per second. */
  publishConnector(state: ConnectorState, force = false): void {
    const last = this.lastConnectorPublish.get(state.connectorId) ?? 0;
    if (!force && this.now() - last < 1_000) return;
    this.lastConnectorPublish.set(state.connectorId, this.now());
    void this.publish(this.topics.connector(state.connectorId), state, true);
  }

  publishHealth(): void {
    void this.publish(this.topics.health, { at: new Date(this.now()).toISOString(), ...this.o.source.health() }, false);
  }

  private async publish(topic: string, payload: unknown, retain: boolean, properties?: IPublishPacket['properties']): Promise<void> {
    const c = this.client;
    if (!c?.connected) return;
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    try {
      await c.publishAsync(topic, body, { qos: 1, retain, ...(properties && this.o.protocolVersion === 5 ? { properties } : {}) });
      this.published++;
    } catch (err) {
      this.o.log.warn('diagnostics publish failed', { topic, err: { message: (err as Error).message } });
    }
  }

  private parse(topic: string, payload: Buffer, packet: IPublishPacket): ParsedRequest | { error: DiagError; partial: Partial<ParsedRequest> } | undefined {
    const route = this.topics.parseRequest(topic);
    if (!route) return undefined;
    const props = packet.properties ?? {};
    const v5 = this.o.protocolVersion === 5 && (props.correlationData !== undefined || props.responseTopic !== undefined);
    let body: Record<string, unknown> = {};
    const partial: Partial<ParsedRequest> = {
      command: `${route.noun}/${route.verb}`,
      correlation: props.correlationData ? Buffer.from(props.correlationData).toString('utf8') : null,
      user: route.login,
      loginBound: route.login !== null,
      responseTopic: this.safeResponseTopic(props.responseTopic, route.login) ?? this.topics.response(route.login, route.noun, route.verb),
      v5,
    };
    if (payload.length) {
      try {
        const parsed = JSON.parse(payload.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
        else throw new Error('not an object');
      } catch {
        return { error: new DiagError('ERR_BAD_REQUEST', 'the request payload is not a JSON object'), partial };
      }
    }
    const userProps = (props.userProperties ?? {}) as Record<string, string | string[]>;
    const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const { correlation, user, sentAt, force, ...args } = body;
    const sent = first(userProps['sent-at']) ?? (typeof sentAt === 'string' ? sentAt : undefined);
    const claimedUser = first(userProps.user) ?? (typeof user === 'string' ? user : null);
    return {
      command: partial.command!,
      args,
      correlation: partial.correlation ?? (typeof correlation === 'string' && correlation ? correlation : null),
      user: route.login ?? claimedUser,
      loginBound: route.login !== null,
      claimedUser,
      responseTopic: partial.responseTopic!,
      v5,
      ...(sent ? { sentAt: Date.parse(sent) } : {}),
      ...(props.messageExpiryInterval !== undefined ? { expirySeconds: props.messageExpiryInterval } : {}),
      force: force === true,
    };
  }

  /**
   * A response topic must not let a requester overwrite our own state topics, nor answer into
   * another login's responses.
   */
  private safeResponseTopic(topic: string | undefined, login: string | null): string | undefined {
    if (!topic || /[+#]/.test(topic)) return undefined;
    const p = this.o.prefix.replace(/\/+$/, '');
    // A request without a login is only ever refused: its answer may go under response/.
    if (topic.startsWith(p + '/') && !topic.startsWith(login ? `${p}/response/${login}/` : `${p}/response/`)) return undefined;
    return topic;
  }

  private async onMessage(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const parsed = this.parse(topic, payload, packet);
    if (!parsed) return;
    if ('error' in parsed) {
      await this.answer(parsed.partial as ParsedRequest, null, null, parsed.error);
      return;
    }
    const req = parsed;
    const role = req.user ? this.o.roles[req.user] ?? null : null;
    try {
      const spec = commands[req.command];
      if (!req.correlation) throw new DiagError('ERR_NO_CORRELATION', 'a request needs Correlation Data (or a "correlation" field)');
      // Under request/<login>/…, who asks is that login, which the broker's ACL binds to the
      // connection; a name in the payload or a user property is only a claim.
      if (req.loginBound && req.claimedUser !== null && req.claimedUser !== req.user) {
        throw new DiagError('ERR_FORBIDDEN', `the request names user ${req.claimedUser} but came under the login ${req.user}`);
      }
      if (!req.loginBound && this.o.requireLoginTopic) {
        throw new DiagError('ERR_FORBIDDEN', `this charger answers requests under your broker login only: ${this.o.prefix.replace(/\/+$/, '')}/request/<login>/${req.command}`);
      }
      const now = this.now();
      if (req.sentAt !== undefined) {
        if (!Number.isFinite(req.sentAt)) throw new DiagError('ERR_BAD_REQUEST', 'sent-at is not a timestamp');
        const maxAgeMs = req.expirySeconds !== undefined ? Math.min(req.expirySeconds * 1000, this.o.maxRequestAgeMs) : this.o.maxRequestAgeMs;
        if (now - req.sentAt > maxAgeMs) throw new DiagError('ERR_EXPIRED', 'the request has expired');
      }
      this.pruneSeen(now);
      if (this.seen.has(req.correlation)) throw new DiagError('ERR_REPLAYED', 'this correlation was already used');
      this.seen.set(req.correlation, now);
      if (!spec) throw new DiagError('ERR_UNKNOWN_COMMAND', `no command ${req.command}`);
      if (!role || roleRank[role] < roleRank[spec.role]) {
        throw new DiagError('ERR_FORBIDDEN', `${req.command} needs the ${spec.role} role`);
      }
      if (spec.dangerous && !this.o.adminCommands) throw new DiagError('ERR_DISABLED', `${req.command} is not enabled on this charger`);
      if (!this.takeToken(req.user!, now)) throw new DiagError('ERR_RATE_LIMITED', 'too many requests; try again later');
      if (spec.refusedDuringSession && this.o.ctx.hasActiveSession() && !req.force) {
        throw new DiagError('ERR_SESSION_ACTIVE', `${req.command} is refused while a session is active (force to override)`);
      }
      const data = await spec.run(req.args, this.o.ctx, { technicianWritable: this.o.technicianWritable });
      await this.answer(req, role, data ?? null);
    } catch (err) {
      const e = err instanceof DiagError ? err : new DiagError('ERR_INTERNAL', (err as Error).message);
      if (!(err instanceof DiagError)) this.o.log.error('diagnostics command failed', { command: req.command, err });
      await this.answer(req, role, null, e);
    }
  }

  private async answer(req: ParsedRequest, role: Role | null, data: unknown, error?: DiagError): Promise<void> {
    const envelope: Envelope = {
      status: error ? 'error' : 'ok',
      ...(error ? { error: { code: error.code, message: error.message } } : { data }),
      correlation: req.correlation ?? null,
    };
    this.o.audit.record({
      at: this.now(), username: req.user ?? null, role, command: req.command ?? '?', status: envelope.status,
      ...(error ? { errorCode: error.code } : {}), correlation: req.correlation ?? null,
    });
    this.o.log.info('diagnostics command', { command: req.command, user: req.user ?? null, status: envelope.status, ...(error ? { code: error.code } : {}) });
    await this.publish(req.responseTopic, envelope, false, req.correlation ? { correlationData: Buffer.from(req.correlation) } : undefined);
  }

  private pruneSeen(now: number): void {
    if (this.seen.size < 1_000) return;
    for (const [k, at] of this.seen) if (now - at > 10 * this.o.maxRequestAgeMs) this.seen.delete(k);
  }

  private takeToken(user: string, now: number): boolean {
    const { requests, perMs } = this.o.rateLimit;
    const b = this.buckets.get(user) ?? { tokens: requests, at: now };
    b.tokens = Math.min(requests, b.tokens + ((now - b.at) / perMs) * requests);
    b.at = now;
    this.buckets.set(user, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
