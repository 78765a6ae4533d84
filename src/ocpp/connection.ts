import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { NOREPLY, RPCClient, type RPCClientOptions, type Validator } from './rpc.js';
import { EvseError } from '../lib/errors.js';
import type { Log } from '../lib/log.js';


export interface ConnectionOptions {
  endpoint: string;
  identity: string;
  /** The one subprotocol to offer (kept for callers that speak one version). */
  protocol?: string;
  /**
   * The subprotocols to offer, in preference order: the central system selects one, and
   * ocpp-rpc keeps offering only that one on every reconnect (`protocol` tells which).
   */
  protocols?: readonly string[];
  /** Strict-mode validators replacing ocpp-rpc's own for their subprotocol (2.0.1's error-code remap). */
  strictModeValidators?: Validator[];
  /** HTTP Basic auth password (security profiles 1 and 2): the AuthorizationKey's bytes. */
  password?: string | Buffer | null;
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


/**
 * RPCClient that can keep quiet: while `silent`, no CALLRESULT or CALLERROR leaves, including
 * the CALLERRORs ocpp-rpc itself sends for an unknown action, a schema-invalid call or a frame
 * it cannot parse (every frame goes out through sendRaw). Our own CALLs still go.
 */
class QuietableClient extends RPCClient {
  silent = false;
  /** What answers which action, in place of ocpp-rpc's per-client Map (see HandlerLookup). */
  readonly handlers = new HandlerLookup(this);

  constructor(options: RPCClientOptions) {
    super(options);
    (this as unknown as RpcClientInternals)._handlers = this.handlers;
  }

  override sendRaw(message: string): void {
    // JSON.stringify of an OCPP-J frame starts with its message type: 3 CALLRESULT, 4 CALLERROR.
    if (this.silent && (message.startsWith('[3,') || message.startsWith('[4,'))) return;
    super.sendRaw(message);
  }

  /**
   * ocpp-rpc's keep-alive, at a fleet's cost: the same pings (one each pingIntervalMs, put off by
   * any traffic with deferPingsOnActivity; an unanswered ping by the next one ends the socket),
   * from one timer. ocpp-rpc's own waits on an EventEmitter through events.once with an
   * AbortController, an async loop holding some 1.5 KB per connection.
   */
  _keepAlive(): void {
    const self = this as unknown as RpcClientInternals;
    if (self._nextPingTimeout) clearTimeout(self._nextPingTimeout);
    self._nextPingTimeout = undefined;
    const intervalMs = self._options.pingIntervalMs ?? 0;
    if (self._state !== OPEN_STATE || !(intervalMs > 0 && intervalMs <= 2_147_483_647)) return;
    // ocpp-rpc aborts it on a disconnect.
    self._keepAliveAbortController = this.handlers;
    self._nextPingTimeout = setTimeout(pingDue, intervalMs, this);
  }
}

/** ocpp-rpc 2.x internals the client above reads and writes (the pings and handlers tests in test/ocpp/ exercise them against real peers). */
interface RpcClientInternals {
  _handlers: unknown;
  _options: { pingIntervalMs?: number };
  _state: number;
  _ws?: { ping(): void; terminate(): void };
  _nextPingTimeout?: NodeJS.Timeout;
  _keepAliveAbortController?: { abort(): void };
  _pendingPingResponse: boolean;
  _lastPingTime: number;
}

/** ocpp-rpc's OPEN state (RPCClient.OPEN, as WebSocket's). */
const OPEN_STATE = 1;

function pingDue(client: QuietableClient): void {
  const self = client as unknown as RpcClientInternals;
  if (self._state !== OPEN_STATE || !self._ws) return;
  if (self._pendingPingResponse) {
    // The last ping went unanswered for a whole interval.
    self._ws.terminate();
    return;
  }
  self._lastPingTime = Date.now();
  self._pendingPingResponse = true;
  try {
    self._ws.ping();
  } catch {
    self._ws.terminate();
    return;
  }
  self._nextPingTimeout?.refresh();
}

type RpcHandler = (call: { method: string; params: unknown }) => unknown;

/**
 * ocpp-rpc looks a CALL's handler up with `_handlers.get(method)`. A connection answers most
 * actions through one shared table and one dispatch function, so this answers from that table
 * instead of a Map of some 25 entries per connection (1 KB each of a fleet's chargers); actions
 * set one by one (`handle`) are kept apart. Also stands for the keep-alive's abort: ocpp-rpc
 * calls abort() on a disconnect, which stops the ping timer.
 */
class HandlerLookup {
  private explicit?: Map<string, RpcHandler>;
  /** The actions answered by `tableHandler`. */
  table?: { has(action: string): boolean };
  tableHandler?: RpcHandler;

  /** `client`: the one whose ping timer abort() stops. */
  constructor(private readonly client: QuietableClient) {}

  get(method: string): RpcHandler | undefined {
    return this.explicit?.get(method) ?? (this.table?.has(method) ? this.tableHandler : undefined);
  }

  set(method: string, handler: RpcHandler): this {
    (this.explicit ??= new Map()).set(method, handler);
    return this;
  }

  delete(method: string): boolean {
    return this.explicit?.delete(method) ?? false;
  }

  clear(): void {
    this.explicit = undefined;
    this.table = undefined;
    this.tableHandler = undefined;
  }

  abort(): void {
    const self = this.client as unknown as RpcClientInternals;
    if (self._nextPingTimeout) clearTimeout(self._nextPingTimeout);
  }
}

/** ocpp-rpc's call options when the timeout is ours (one object for every call; ocpp-rpc only reads it). */
const NO_RPC_TIMEOUT = Object.freeze({ callTimeoutMs: Infinity });

/** ocpp-rpc's outstanding calls (a private field of RPCClient 2.x), if it is where expected. */
function pendingCallsOf(client: RPCClient): Map<string, { abort?: (reason: string) => void }> | undefined {
  const pending = (client as unknown as { _pendingCalls?: unknown })._pendingCalls;
  return pending instanceof Map ? pending : undefined;
}

/** How one CALL to the peer ended, for metrics. */
export interface CallOutcome {
  action: string;
  /** Wall-clock round trip from when the CALL was sent, ms (also for failures). */
  latencyMs: number;
  result: 'ok' | CallFailure;
  /** The OCPP-J error code of a CALLERROR. */
  errorCode?: string;
  /** The answer of a CALL that succeeded (what the peer said, e.g. its status). */
  response?: unknown;
}

export interface ConnectionEvents {
  open: [];
  close: [{ code: number; reason: string }];
  /** Every message in and out, for traffic displays; payloads may hold idTags. */
  traffic: [{ direction: 'in' | 'out'; message: string }];
  'bad-message': [{ error: string }];
  /** The peer sent a call or response that failed schema validation. */
  'invalid-message': [{ action: string; error: string }];
  /** A WebSocket ping we sent was answered: the link is alive, with this round trip. */
  pong: [{ rttMs: number }];
  /** A connection attempt failed (TLS, HTTP status, network): `error.code` says why. */
  'connect-failed': [{ error: Error & { code?: string | number } }];
}

/** A connection whatever its version's message map (what version-neutral code holds). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConnection = OcppConnection<any, any>;

/**
 * The OCPP-J link to the central system: a typed facade over ocpp-rpc's RPCClient.
 * It connects with exponential back-off and full jitter until it succeeds, and reconnects the
 * same way when the link drops; WebSocket pings detect a silent partition.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class OcppConnection<Out extends Record<keyof Out, [any, any]>, In extends Record<keyof In, [any, any]>> extends EventEmitter<ConnectionEvents> {
  private readonly client: QuietableClient;
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
      protocols: [...(opts.protocols ?? (opts.protocol ? [opts.protocol] : []))],
      strictMode: true,
      ...(opts.strictModeValidators?.length ? { strictModeValidators: opts.strictModeValidators } : {}),
      password: opts.password ?? null,
      callTimeoutMs: opts.callTimeoutMs,
      pingIntervalMs: opts.pingIntervalMs,
      // A ping only after WebSocketPingInterval without a message from the central system: any
      // message proves the link alive, so a busy link carries no pings, and a silent partition
      // is still found within two intervals of the last message.
      deferPingsOnActivity: true,
      respondWithDetailedErrors: false,
      callConcurrency: 1,
      // Reconnection is ours (jittered, unbounded); ocpp-rpc's only covers an established link.
      reconnect: false,
      // A connection accepted but never upgraded (a partition, a dead backend behind a proxy)
      // must not hang the reconnect loop for ever: give the handshake callTimeoutMs.
      wsOpts: { handshakeTimeout: opts.callTimeoutMs, ...opts.wsOpts },
    };
    this.client = new QuietableClient(rpcOpts);
    this.pendingCalls = pendingCallsOf(this.client);
    this.client.on('open', () => {
      // ocpp-rpc's connect() offers every protocol again: offer only the one selected from now on
      // (the charger runs that version's binding until it restarts).
      const selected = this.client.protocol;
      if (selected && (this.opts.protocols?.length ?? 0) > 1) {
        this.opts.protocols = [selected];
        this.client.reconfigure({ protocols: [selected] });
      }
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
    this.client.on('ping', (e: { rtt: number }) => this.emit('pong', { rttMs: e.rtt }));
    this.client.on('badMessage', (e: { error: Error }) => this.emit('bad-message', { error: e.error?.message ?? String(e.error) }));
    this.client.on('strictValidationFailure', (e: { method: string; outbound: boolean; isCall: boolean; error: Error }) => {
      if (e.outbound && e.isCall) this.outboundRejected = true;
      if (!e.outbound) this.emit('invalid-message', { action: e.method, error: e.error?.message ?? String(e.error) });
      this.log.warn('OCPP message failed schema validation', { action: e.method, outbound: e.outbound, isCall: e.isCall, error: e.error?.message });
    });
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** The subprotocol the central system selected, once connected (then the only one offered). */
  get protocol(): string | undefined {
    return this.client.protocol;
  }

  /**
   * While true, calls from the peer get no answer at all: no handler runs, and no CALLRESULT or
   * CALLERROR is sent (OCPP 1.6 §4.2: a charge point whose boot was Rejected does not respond to
   * the central system). Our own CALLs are not affected.
   */
  get silent(): boolean {
    return this.client.silent;
  }

  set silent(value: boolean) {
    if (value !== this.client.silent) this.log.info(value ? 'not answering the central system' : 'answering the central system again', {});
    this.client.silent = value;
  }

  /** Start connecting; resolves at once. Listen for 'open'. */
  start(): void {
    this.stopped = false;
    // Already connected (a binding started once its version was negotiated): connecting again would make ocpp-rpc forget the protocol.
    if (this.isOpen) return;
    void this.connectOnce();
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.client.connect();
    } catch (err) {
      this.log.warn('cannot reach the central system', { endpoint: this.opts.endpoint, attempt: this.attempt, err });
      this.emit('connect-failed', { error: err as Error });
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

  /**
   * Drop the link now and reconnect (a technician's request, or a new key). `graceful` first
   * sends the answers still pending (e.g. to the ChangeConfiguration that set the new key).
   */
  async reconnect(opts: { graceful?: boolean } = {}): Promise<void> {
    this.attempt = 0;
    await this.client.close({ code: 1000, reason: 'reconnect', force: !opts.graceful });
  }

  /** Whether the connect loop is alive: open, connecting, or a retry scheduled. */
  get looping(): boolean {
    return !this.stopped && (this.isOpen || this.retryTimer !== undefined || this.client.state !== RPCClient.CLOSED);
  }

  /** The endpoint it connects to now. */
  get endpoint(): string {
    return this.opts.endpoint;
  }

  /**
   * A black hole (a simulated partition): the socket stays open but nothing passes either way
   * (reads paused, writes held) until released. Returns whether there was a socket to hold.
   */
  holdSocket(): boolean {
    const socket = this.socket();
    if (!socket || this.held) return false;
    socket.pause();
    socket.cork();
    this.held = socket;
    return true;
  }

  /** Let a held socket's frames pass again (those held are sent now). */
  releaseSocket(): void {
    const socket = this.held;
    this.held = undefined;
    if (!socket || socket.destroyed) return;
    socket.uncork();
    socket.resume();
  }

  private held?: import('node:net').Socket;

  private socket(): import('node:net').Socket | undefined {
    const ws = (this.client as unknown as { _ws?: { _socket?: import('node:net').Socket } })._ws;
    return ws?._socket;
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
    // One CALL at a time (OCPP-J), queued here so that its timeout runs from when it is sent.
    if (this.calling) {
      await new Promise<void>((resolve) => this.callWaiters.push(resolve));
      if (!this.isOpen) {
        this.nextCall();
        throw new CallFailedError('disconnected', undefined, 'not connected');
      }
    }
    this.calling = true;
    const t0 = this.onCallEnded ? performance.now() : 0;
    // The timeout is ours: ocpp-rpc's costs a timers/promises timer, an AbortController, an
    // error with a stack and a DOMException on every call (about a tenth of a fleet's CPU).
    const timeoutMs = options.timeoutMs ?? this.opts.callTimeoutMs;
    // Calls go one at a time, so the timeout's state is the connection's (no closure per call).
    this.callTimedOut = false;
    this.callAbort = undefined;
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs > 0 && timeoutMs < 2 ** 31) {
      // With one CALL at a time, ocpp-rpc's only pending call is this one: on timeout, reject it
      // through its own abort, which spares every call an AbortController and an 'abort'
      // listener (a fleet makes thousands of calls a second). A signal where that is unknown.
      if (!this.pendingCalls) this.callAbort = new AbortController();
      timer = setTimeout(this.callTimeout, timeoutMs);
    }
    const abort = this.callAbort;
    try {
      const res = (await this.client.call(action, request, abort ? { callTimeoutMs: Infinity, signal: abort.signal } : NO_RPC_TIMEOUT)) as Out[A][1];
      this.onCallEnded?.({ action, latencyMs: performance.now() - t0, result: 'ok', response: res });
      return res;
    } catch (err) {
      // Calls go one at a time, so the flag belongs to this call.
      const local = this.outboundRejected;
      this.outboundRejected = false;
      const failure = this.callTimedOut ? new CallFailedError('timeout', undefined, 'call timed out') : classifyCallError(err, local);
      this.onCallEnded?.({ action, latencyMs: performance.now() - t0, result: failure.failure, errorCode: failure.rpcErrorCode });
      throw failure;
    } finally {
      clearTimeout(timer);
      this.nextCall();
    }
  }

  /**
   * ocpp-rpc's table of its outstanding CALLs (message id → the call, with an `abort`), where
   * this version of ocpp-rpc has one; undefined otherwise, and call timeouts use a signal.
   */
  private readonly pendingCalls: ReturnType<typeof pendingCallsOf>;

  /** The outstanding CALL's timeout fired. */
  private callTimedOut = false;
  /** The outstanding CALL's signal, where ocpp-rpc's pending calls are not reachable. */
  private callAbort?: AbortController;

  private readonly callTimeout = (): void => {
    this.callTimedOut = true;
    if (this.callAbort) this.callAbort.abort();
    else for (const call of this.pendingCalls!.values()) call.abort?.('call timed out');
  };

  private calling = false;
  private readonly callWaiters: (() => void)[] = [];

  /** Told of every CALL this side sent, once it has ended (metrics). Keep it cheap. */
  onCallEnded?: (outcome: CallOutcome) => void;

  /** CALLs started and not yet ended: the one outstanding and those waiting for their turn. */
  get inFlight(): number {
    return (this.calling ? 1 : 0) + this.callWaiters.length;
  }

  private nextCall(): void {
    const next = this.callWaiters.shift();
    if (next) next();
    else this.calling = false;
  }

  handle<A extends keyof In & string>(action: A, handler: (request: In[A][0]) => Promise<In[A][1]> | In[A][1]): void {
    (this.own ??= new Map()).set(action, handler as (request: unknown) => unknown);
    this.client.handle(action, this.dispatch);
  }

  /**
   * Answer every action of `table` with its handler, given this connection's `context`. The
   * table is meant to be shared by every connection of a process: a fleet holds thousands of
   * connections, and a closure per action and connection would cost kilobytes each.
   */
  handleTable<C>(table: ReadonlyMap<string, (request: unknown, context: C) => unknown>, context: C): void {
    this.table = table as ReadonlyMap<string, (request: unknown, context: unknown) => unknown>;
    this.tableContext = context;
    this.client.handlers.table = table;
    this.client.handlers.tableHandler = this.dispatch;
  }

  /** Told of every CALL from the peer once a handler has answered it: its result, or undefined for a CALLERROR; and its request. */
  onAnswered?: (action: string, result: unknown, request: unknown) => void;

  private own?: Map<string, (request: unknown) => unknown>;
  private table?: ReadonlyMap<string, (request: unknown, context: unknown) => unknown>;
  private tableContext: unknown;
  /** The one function this connection registers with ocpp-rpc, for every action it handles. */
  private readonly dispatch = async ({ method, params }: { method: string; params: unknown }): Promise<unknown> => {
    // Not answered, and not acted on either.
    if (this.client.silent) return NOREPLY;
    let result: unknown;
    try {
      const own = this.own?.get(method);
      result = await (own ? own(params) : this.table!.get(method)!(params, this.tableContext));
      return result;
    } finally {
      this.onAnswered?.(method, result, params);
    }
  };

  /**
   * For actions we do not implement: answer NotImplemented. ocpp-rpc does so itself, before
   * strict validation, when no wildcard handler is set; a wildcard handler would make an action
   * unknown to OCPP fail validation first (no schema) and answer ProtocolError instead.
   */
  handleUnknown(): void {
    this.client.removeHandler();
  }

  /**
   * Close the link and stop reconnecting. `force`: drop the socket now, without the WebSocket
   * closing handshake (whose answer a busy or partitioned peer may hold for ws's 30 s close
   * timeout): a fleet stopping on SIGTERM closes thousands of links at once.
   */
  async stop(opts: { force?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.client.close({ code: 1000, reason: 'stopping', awaitPending: false, force: opts.force ?? false });
  }
}
