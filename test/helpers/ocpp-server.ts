import type { AddressInfo } from 'node:net';
import { RPCServer, type ServerClient } from 'ocpp-rpc';

export interface RecordedCall {
  chargePointId: string;
  action: string;
  params: any;
  at: number;
}

type Handler = (params: any, client: ServerClient) => unknown;

export type TestProtocol = 'ocpp1.6' | 'ocpp2.0.1';

/** Default answers to the calls a charging station makes, per protocol: each accepts. */
function defaultAnswers(protocol: TestProtocol, nextTx: () => number): Record<string, Handler> {
  const now = () => new Date().toISOString();
  if (protocol === 'ocpp2.0.1') {
    return {
      BootNotification: () => ({ status: 'Accepted', currentTime: now(), interval: 300 }),
      Heartbeat: () => ({ currentTime: now() }),
      Authorize: () => ({ idTokenInfo: { status: 'Accepted' } }),
      TransactionEvent: (p: { idToken?: unknown }) => (p.idToken ? { idTokenInfo: { status: 'Accepted' } } : {}),
      MeterValues: () => ({}),
      StatusNotification: () => ({}),
      NotifyReport: () => ({}),
      NotifyEvent: () => ({}),
      SecurityEventNotification: () => ({}),
      FirmwareStatusNotification: () => ({}),
      LogStatusNotification: () => ({}),
      SignCertificate: () => ({ status: 'Accepted' }),
      DataTransfer: () => ({ status: 'UnknownVendorId' }),
    };
  }
  return {
    BootNotification: () => ({ status: 'Accepted', currentTime: now(), interval: 300 }),
    Heartbeat: () => ({ currentTime: now() }),
    Authorize: () => ({ idTagInfo: { status: 'Accepted' } }),
    StartTransaction: () => ({ transactionId: nextTx(), idTagInfo: { status: 'Accepted' } }),
    StopTransaction: () => ({}),
    MeterValues: () => ({}),
    StatusNotification: () => ({}),
    DataTransfer: () => ({ status: 'UnknownVendorId' }),
    DiagnosticsStatusNotification: () => ({}),
    FirmwareStatusNotification: () => ({}),
    SecurityEventNotification: () => ({}),
    // The security whitepaper's (ocpp-rpc's ocpp1.6 schemas hold them).
    SignCertificate: () => ({ status: 'Accepted' }),
    SignedFirmwareStatusNotification: () => ({}),
    LogStatusNotification: () => ({}),
  };
}

/**
 * A real OCPP central system for tests: ocpp-rpc's RPCServer in strict mode on port 0, speaking
 * OCPP 1.6J (the default) or, with `{protocol: 'ocpp2.0.1'}`, OCPP 2.0.1.
 * Default answers accept everything; a test overrides any action with `on(action, fn)`.
 * Every call received is recorded in order.
 */
export class TestCsms {
  readonly protocol: TestProtocol;
  readonly server: RPCServer;
  readonly calls: RecordedCall[] = [];
  readonly clients = new Map<string, ServerClient>();
  readonly validationFailures: unknown[] = [];
  port = 0;
  /** The transactionId the next StartTransaction gets. */
  nextTx = 1;
  /** How long to hold each answer (ms); 0 answers at once. */
  answerDelayMs: () => number = () => 0;
  /** Per charge point, the most CALLs it had outstanding (received, not yet answered) at once. */
  readonly maxOutstanding = new Map<string, number>();
  private readonly outstanding = new Map<string, number>();
  private readonly overrides = new Map<string, Handler>();
  private readonly defaults: Record<string, Handler>;

  constructor(opts: { protocol?: TestProtocol } = {}) {
    this.protocol = opts.protocol ?? 'ocpp1.6';
    this.server = new RPCServer({ protocols: [this.protocol], strictMode: true, pingIntervalMs: 0 } as any);
    this.defaults = defaultAnswers(this.protocol, () => this.nextTx++);
  }

  on(action: string, handler: Handler): this {
    this.overrides.set(action, handler);
    return this;
  }

  /** Listen on `port` (0: a free one). A test restarting the central system passes the old port. */
  async start(port = 0): Promise<string> {
    this.server.on('client', (client: ServerClient) => {
      this.clients.set(client.identity, client);
      client.on('close', () => {
        if (this.clients.get(client.identity) === client) this.clients.delete(client.identity);
      });
      client.on('strictValidationFailure', (e: unknown) => this.validationFailures.push(e));
      client.handle(async ({ method, params }: { method: string; params: unknown }) => {
        const id = client.identity;
        this.calls.push({ chargePointId: id, action: method, params, at: Date.now() });
        const now = (this.outstanding.get(id) ?? 0) + 1;
        this.outstanding.set(id, now);
        if (now > (this.maxOutstanding.get(id) ?? 0)) this.maxOutstanding.set(id, now);
        try {
          const delay = this.answerDelayMs();
          if (delay > 0) await new Promise((r) => setTimeout(r, delay));
          const h = this.overrides.get(method) ?? this.defaults[method];
          if (!h) throw new Error(`no handler for ${method}`);
          return await h(params, client);
        } finally {
          // Still before the answer is written: the charge point cannot have sent its next CALL.
          this.outstanding.set(id, this.outstanding.get(id)! - 1);
        }
      });
    });
    const http = await this.server.listen(port, '127.0.0.1');
    this.port = (http.address() as AddressInfo).port;
    return `ws://127.0.0.1:${this.port}/ocpp`;
  }

  client(id: string): ServerClient {
    const c = this.clients.get(id);
    if (!c) throw new Error(`${id} is not connected`);
    return c;
  }

  /** Call the charge point. */
  call(id: string, action: string, params: unknown): Promise<any> {
    return this.client(id).call(action, params);
  }

  callsOf(action: string, id?: string): RecordedCall[] {
    return this.calls.filter((c) => c.action === action && (!id || c.chargePointId === id));
  }

  async stop(): Promise<void> {
    await this.server.close({ force: true, awaitPending: false } as any);
  }
}

/**
 * Polls `fn` until it gives a truthy value (returned), or throws after `timeoutMs`. An async
 * condition is awaited: a pending promise is not a truthy answer.
 */
export async function waitFor<T>(fn: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
