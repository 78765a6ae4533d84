import { EventEmitter } from 'node:events';
import { RPCClient, type RPCClientOptions } from 'ocpp-rpc';
import { EvseError } from '../lib/errors.js';
import type { Log } from '../lib/log.js';


export interface ConnectionOptions {
  endpoint: string;
  identity: string;
  protocol: 'ocpp1.6';
  password?: string;
  wsOpts?: Record<string, unknown>;
  callTimeoutMs: number;
  pingIntervalMs: number;
  backoff: { initialDelayMs: number; maxDelayMs: number };
}

export const connectionDefaults = {
  callTimeoutMs: 30_000,
  pingIntervalMs: 60_000,
  backoff: { initialDelayMs: 1_000, maxDelayMs: 60_000 },
} as const;

/** How a failed call failed: the peer answered with an error, it did not answer, or the link dropped. */
export type CallFailure = 'callerror' | 'timeout' | 'disconnected' | 'invalid-request';

export class CallFailedError extends EvseError {
  constructor(readonly failure: CallFailure, readonly rpcErrorCode: string | undefined, message: string) {
    super(`ERR_OCPP_${failure.toUpperCase().replace('-', '_')}`, message);
  }
}

/** `rejectedLocally`: strict mode refused to send our own request (a bug of ours, not the peer's). */
export function classifyCallError(err: unknown, rejectedLocally = false): CallFailedError {
  if (err instanceof CallFailedError) return err;
  const e = err as { name?: string; message?: string; rpcErrorCode?: string; constructor?: { name?: string } };
  if (e?.constructor?.name === 'TimeoutError' || e?.name === 'TimeoutError') return new CallFailedError('timeout', undefined, 'call timed out');
  if (typeof e?.rpcErrorCode === 'string') {
    return new CallFailedError(rejectedLocally ? 'invalid-request' : 'callerror', e.rpcErrorCode, e.message || e.rpcErrorCode);
  }
  return new CallFailedError('disconnected', undefined, e?.message ?? String(err));
}

export interface ConnectionEvents {
  open: [];
  close: [{ code: number; reason: string }];
  /** Every message in and out, for traffic displays; payloads may hold idTags. */
  traffic: [{ direction: 'in' | 'out'; message: string }];
  'bad-message': [{ error: string }];
}

/**
 * The OCPP-J link to the central system: a typed facade over ocpp-rpc's RPCClient.
 * It connects with exponential back-off and full jitter until it succeeds, and reconnects the
 * same way when the link drops; WebSocket pings detect a silent partition.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class OcppConnection<Out extends Record<keyof Out, [any, any]>, In extends Record<keyof In, [any, any]>> extends EventEmitter<ConnectionEvents> {
  private readonly client: RPCClient;
  private stopped = false;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private isOpen = false;
  private outboundRejected = false;

  constructor(private readonly opts: ConnectionOptions, private readonly log: Log) {
    super();
    const rpcOpts: RPCClientOptions = {
      endpoint: opts.endpoint.replace(/\/+$/, ''),
      identity: opts.identity,
      protocols: [opts.protocol],
      strictMode: true,
      password: opts.password ?? null,
      callTimeoutMs: opts.callTimeoutMs,
      pingIntervalMs: opts.pingIntervalMs,
      respondWithDetailedErrors: false,
      callConcurrency: 1,
      // Reconnection is ours (jittered, unbounded); ocpp-rpc's only covers an established link.
      reconnect: false,
      // A connection accepted but never upgraded (a partition, a dead backend behind a proxy)
      // must not hang the reconnect loop for ever: give the handshake callTimeoutMs.
      wsOpts: { handshakeTimeout: opts.callTimeoutMs, ...opts.wsOpts },
    };
    this.client = new RPCClient(rpcOpts);
    this.client.on('open', () => {
      this.isOpen = true;
      this.attempt = 0;
      this.emit('open');
    });
    this.client.on('close', (e: { code: number; reason: string }) => {
      const wasOpen = this.isOpen;
      this.isOpen = false;
      if (wasOpen) this.emit('close', { code: e.code, reason: String(e.reason ?? '') });
      this.scheduleConnect();
    });
    this.client.on('message', (m: { message: unknown; outbound: boolean }) => {
      if (this.listenerCount('traffic') > 0) this.emit('traffic', { direction: m.outbound ? 'out' : 'in', message: String(m.message) });
    });
    this.client.on('badMessage', (e: { error: Error }) => this.emit('bad-message', { error: e.error?.message ?? String(e.error) }));
    this.client.on('strictValidationFailure', (e: { method: string; outbound: boolean; isCall: boolean; error: Error }) => {
      if (e.outbound && e.isCall) this.outboundRejected = true;
      this.log.warn('OCPP message failed schema validation', { action: e.method, outbound: e.outbound, isCall: e.isCall, error: e.error?.message });
    });
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Start connecting; resolves at once. Listen for 'open'. */
  start(): void {
    this.stopped = false;
    void this.connectOnce();
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.client.connect();
    } catch (err) {
      this.log.warn('cannot reach the central system', { endpoint: this.opts.endpoint, attempt: this.attempt, err });
      // 'close' follows a failed connect and schedules the next attempt.
      if (this.client.state === RPCClient.CLOSED) this.scheduleConnect();
    }
  }

  private scheduleConnect(): void {
    if (this.stopped || this.retryTimer) return;
    const { initialDelayMs, maxDelayMs } = this.opts.backoff;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.attempt, 20));
    // Full jitter: a thousand chargers that lost the same server come back spread out.
    const delay = Math.round(initialDelayMs / 2 + Math.random() * (ceiling - initialDelayMs / 2));
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connectOnce();
    }, delay);
  }

  /** Drop the link now and reconnect (a technician's request, or a new key). */
  async reconnect(): Promise<void> {
    this.attempt = 0;
    await this.client.close({ code: 1000, reason: 'reconnect', force: true });
  }

  reconfigure(opts: Partial<Pick<ConnectionOptions, 'password' | 'pingIntervalMs' | 'endpoint' | 'wsOpts'>>): void {
    Object.assign(this.opts, opts);
    const patch: Partial<RPCClientOptions> = {};
    if (opts.password !== undefined) patch.password = opts.password;
    if (opts.pingIntervalMs !== undefined) patch.pingIntervalMs = opts.pingIntervalMs;
    if (opts.endpoint !== undefined) patch.endpoint = opts.endpoint;
    if (opts.wsOpts !== undefined) patch.wsOpts = { handshakeTimeout: this.opts.callTimeoutMs, ...opts.wsOpts };
    this.client.reconfigure(patch);
  }

  async call<A extends keyof Out & string>(action: A, request: Out[A][0], options: { timeoutMs?: number } = {}): Promise<Out[A][1]> {
    if (!this.isOpen) throw new CallFailedError('disconnected', undefined, 'not connected');
    try {
      return (await this.client.call(action, request, { callTimeoutMs: options.timeoutMs ?? this.opts.callTimeoutMs })) as Out[A][1];
    } catch (err) {
      // Calls go one at a time (callConcurrency 1), so the flag belongs to this call.
      const local = this.outboundRejected;
      this.outboundRejected = false;
      throw classifyCallError(err, local);
    }
  }

  handle<A extends keyof In & string>(action: A, handler: (request: In[A][0]) => Promise<In[A][1]> | In[A][1]): void {
    this.client.handle(action, async ({ params }) => handler(params as In[A][0]));
  }

  /**
   * For actions we do not implement: answer NotImplemented. ocpp-rpc does so itself, before
   * strict validation, when no wildcard handler is set; a wildcard handler would make an action
   * unknown to OCPP fail validation first (no schema) and answer ProtocolError instead.
   */
  handleUnknown(): void {
    this.client.removeHandler();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.client.close({ code: 1000, reason: 'stopping', awaitPending: false });
  }
}
