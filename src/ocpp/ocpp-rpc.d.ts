// Minimal typings for the parts of ocpp-rpc we use; its bundled ones are loose.
declare module 'ocpp-rpc' {
  import { EventEmitter } from 'node:events';
  export interface RPCClientOptions {
    endpoint: string;
    identity: string;
    protocols?: string[];
    strictMode?: boolean | string[];
    password?: string | Buffer | null;
    callTimeoutMs?: number;
    pingIntervalMs?: number;
    deferPingsOnActivity?: boolean;
    respondWithDetailedErrors?: boolean;
    callConcurrency?: number;
    maxBadMessages?: number;
    reconnect?: boolean;
    maxReconnects?: number;
    headers?: Record<string, string>;
    wsOpts?: Record<string, unknown>;
    backoff?: { initialDelay?: number; maxDelay?: number; factor?: number; randomisationFactor?: number };
    /** Validators that replace ocpp-rpc's own for their subprotocol in strict mode. */
    strictModeValidators?: Validator[];
  }
  export interface HandlerContext<P = unknown> {
    method: string;
    params: P;
    messageId: string;
    signal: AbortSignal;
  }
  export class RPCClient extends EventEmitter {
    constructor(options: RPCClientOptions);
    readonly identity: string;
    readonly protocol: string | undefined;
    readonly state: number;
    static OPEN: number;
    static CONNECTING: number;
    static CLOSING: number;
    static CLOSED: number;
    connect(): Promise<unknown>;
    call(method: string, params?: unknown, options?: { callTimeoutMs?: number; signal?: AbortSignal; noReply?: boolean }): Promise<any>;
    handle(method: string, handler: (ctx: HandlerContext<any>) => unknown): void;
    handle(handler: (ctx: HandlerContext<any>) => unknown): void;
    removeHandler(method?: string): void;
    close(options?: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<{ code: number; reason: string }>;
    reconfigure(options: Partial<RPCClientOptions>): void;
    sendRaw(message: string): void;
  }
  export interface RPCServerOptions {
    protocols?: string[];
    strictMode?: boolean | string[];
    callTimeoutMs?: number;
    pingIntervalMs?: number;
    deferPingsOnActivity?: boolean;
    respondWithDetailedErrors?: boolean;
    callConcurrency?: number;
    maxBadMessages?: number;
    wssOptions?: Record<string, unknown>;
    /** Validators that replace ocpp-rpc's own for their subprotocol in strict mode. */
    strictModeValidators?: Validator[];
  }
  export interface ServerClient extends RPCClient {
    readonly session: Record<string, unknown>;
    readonly handshake: { identity: string; password?: Buffer; remoteAddress: string; headers: Record<string, string> };
  }
  export class RPCServer extends EventEmitter {
    constructor(options?: RPCServerOptions);
    listen(port: number, host?: string, options?: { signal?: AbortSignal }): Promise<import('node:net').Server>;
    close(options?: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<void>;
    auth(cb: (accept: (session?: unknown, protocol?: string) => void, reject: (code?: number, message?: string) => void, handshake: ServerClient['handshake']) => void): void;
    handleUpgrade: (request: unknown, socket: unknown, head: unknown) => void;
    on(event: 'client', listener: (client: ServerClient) => void): this;
    on(event: string, listener: (...args: any[]) => void): this;
  }
  export class RPCError extends Error {
    rpcErrorCode: string;
    rpcErrorMessage: string;
    details?: unknown;
  }
  export class TimeoutError extends Error {}
  /** Validates one subprotocol's messages against its JSON schemas (ids `urn:<Action>.req` / `.conf`); throws an RPCError. */
  export interface Validator {
    readonly subprotocol: string;
    validate(schemaId: string, params: unknown): boolean;
  }
  export function createValidator(subprotocol: string, schemas: unknown): Validator;
  export function createRPCError(type: string, message?: string, details?: unknown): RPCError;
  /** A handler's result that makes ocpp-rpc send no CALLRESULT (and no CALLERROR). */
  export const NOREPLY: unique symbol;
  export const errors: Record<string, new (...args: any[]) => Error>;
}
