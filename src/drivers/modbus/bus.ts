/**
 * One Modbus bus (an RS-485 port or a TCP connection) shared by several devices: one request
 * at a time, each with its device's timeout and retries. The port is opened on the first
 * request and reopened after it closes (an unplugged adapter, a dropped connection).
 */
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { ModbusError, toModbusError } from './errors.js';

export type BusOptions =
  | {
      kind: 'rtu';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits?: 7 | 8;
      stopBits?: 1 | 2;
    }
  | { kind: 'tcp'; host: string; port: number; connectTimeoutMs?: number };

export interface RequestOptions {
  /** Device (slave) address, 1..247. */
  unitId: number;
  timeoutMs: number;
  /** Further attempts after the first fails with a transport error (never after an exception response). */
  retries: number;
}

export interface BusStats {
  requests: number;
  failures: number;
  retries: number;
  reopens: number;
}

const DEFAULTS = {
  /** Silence kept after a failed request so late or corrupt bytes do not meet the next request. */
  settleAfterErrorMs: 20,
  connectTimeoutMs: 2000,
};

/**
 * modbus-serial (and serialport under it), loaded when a bus first opens: a charger without a
 * Modbus device, and every command but the agent, never load it. It is CommonJS: its
 * constructor is module.exports (typed as the default export).
 */
async function modbusRtu(): Promise<new () => Client> {
  const m = await import('modbus-serial');
  return ((m as unknown as { default?: unknown }).default ?? m) as unknown as new () => Client;
}

export class ModbusBus {
  private client: Client | undefined;
  private opening: Promise<Client> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private stopped = false;
  readonly stats: BusStats = { requests: 0, failures: 0, retries: 0, reopens: 0 };

  constructor(readonly options: BusOptions, private readonly tuning: Partial<typeof DEFAULTS> = {}) {}

  /** A human-readable name for logs and fault info. */
  get name(): string {
    return this.options.kind === 'rtu' ? this.options.path : `${this.options.host}:${this.options.port}`;
  }

  readHolding(opts: RequestOptions, address: number, count: number): Promise<Buffer> {
    return this.read(opts, 3, address, count);
  }

  readInput(opts: RequestOptions, address: number, count: number): Promise<Buffer> {
    return this.read(opts, 4, address, count);
  }

  /** Read `count` registers with function 3 or 4; resolves to their bytes as on the wire. */
  read(opts: RequestOptions, functionCode: 3 | 4, address: number, count: number): Promise<Buffer> {
    return this.request(opts, (c, done) => {
      const cb = (err: unknown, res?: { buffer: Buffer; data: number[] }) => {
        if (err) return done(err);
        if (!res || res.buffer.length !== count * 2)
          return done(new ModbusError('ERR_MODBUS_SHORT', `asked ${count} registers, got ${res ? res.buffer.length / 2 : 0}`));
        done(undefined, Buffer.from(res.buffer));
      };
      if (functionCode === 3) c.writeFC3(opts.unitId, address, count, cb as never);
      else c.writeFC4(opts.unitId, address, count, cb as never);
    });
  }

  /** Write holding registers with function 6 (one register) or 16. */
  write(opts: RequestOptions, functionCode: 6 | 16, address: number, values: number[]): Promise<void> {
    return this.request(opts, (c, done) => {
      const cb = (err: unknown) => done(err);
      if (functionCode === 6) {
        if (values.length !== 1) return done(new ModbusError('ERR_MODBUS_UNEXPECTED', 'function 6 writes exactly one register'));
        c.writeFC6(opts.unitId, address, values[0]!, cb as never);
      } else c.writeFC16(opts.unitId, address, values, cb as never);
    });
  }

  /** Close the port; pending and later requests fail with ERR_MODBUS_STOPPED. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.tail.catch(() => undefined);
    await this.closeClient();
  }

  private request<T>(opts: RequestOptions, op: (c: Client, done: (err: unknown, value?: T) => void) => void): Promise<T> {
    const run = async (): Promise<T> => {
      let lastErr: ModbusError | undefined;
      for (let attempt = 0; attempt <= opts.retries; attempt++) {
        if (this.stopped) throw new ModbusError('ERR_MODBUS_STOPPED', 'bus stopped');
        if (attempt > 0) this.stats.retries++;
        this.stats.requests++;
        try {
          const c = await this.open();
          c.setTimeout(opts.timeoutMs);
          return await new Promise<T>((resolve, reject) => op(c, (err, value) => (err ? reject(err) : resolve(value as T))));
        } catch (err) {
          lastErr = toModbusError(err);
          this.stats.failures++;
          if (lastErr.code === 'ERR_MODBUS_EXCEPTION') break;
          if (lastErr.code === 'ERR_MODBUS_PORT') await this.closeClient();
          await sleep(this.tuning.settleAfterErrorMs ?? DEFAULTS.settleAfterErrorMs);
        }
      }
      throw lastErr!;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async open(): Promise<Client> {
    if (this.client?.isOpen) return this.client;
    if (this.client) await this.closeClient();
    this.opening ??= this.connect().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async connect(): Promise<Client> {
    const c = new (await modbusRtu())();
    // An unhandled 'error' from the port would crash the process; the request sees it instead.
    c.on('error', () => undefined);
    try {
      if (this.options.kind === 'rtu') {
        const o = this.options;
        await c.connectRTUBuffered(o.path, { baudRate: o.baudRate, parity: o.parity, dataBits: o.dataBits ?? 8, stopBits: o.stopBits ?? 1 });
      } else {
        const o = this.options;
        await c.connectTCP(o.host, { port: o.port, timeout: o.connectTimeoutMs ?? this.tuning.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs });
      }
    } catch (err) {
      try {
        c.close(() => undefined);
      } catch {
        /* never opened */
      }
      throw new ModbusError('ERR_MODBUS_PORT', `cannot open ${this.name}: ${(err as Error).message}`, { cause: err });
    }
    if (this.client === undefined && this.stats.requests > 1) this.stats.reopens++;
    this.client = c;
    return c;
  }

  private closeClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        if (c.isOpen) c.close(() => resolve());
        else {
          c.destroy?.(() => undefined);
          resolve();
        }
      } catch {
        resolve();
      }
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
