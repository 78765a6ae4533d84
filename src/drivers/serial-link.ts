import type { SerialPort } from 'serialport';
import type { Clock, ConnectorErrorCode, FaultReport, FaultSource, Timer } from '../core/ports.js';
import { EvseError } from '../lib/errors.js';
import { silentLog, type Log } from '../lib/log.js';

/**
 * A serial device that may be unplugged: opens the port, reopens it with back-off whenever it
 * fails or disappears (USB adapter pulled, cable cut), and never throws at its owner. Shared by
 * the RFID readers and the touchscreen.
 */
export class SerialLinkError extends EvseError {}

export interface ReopenBackoff {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export const defaultReopenBackoff: Readonly<ReopenBackoff> = Object.freeze({
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
});

export interface SerialLinkOptions {
  path: string;
  baudRate: number;
  reopen?: Partial<ReopenBackoff>;
  /** Timers for the back-off; the global timers (which keep the process alive) if absent. */
  clock?: Pick<Clock, 'setTimeout'>;
  log?: Log;
}

export type LinkEvent = { state: 'up' } | { state: 'down'; error: Error };

/** The process's own timers (they keep the process alive). */
export const processTimers: Pick<Clock, 'setTimeout'> = Object.freeze({
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
});

export class SerialLink {
  private readonly backoff: ReopenBackoff;
  private readonly clock: Pick<Clock, 'setTimeout'>;
  private readonly log: Log;
  private readonly dataListeners = new Set<(chunk: Buffer) => void>();
  private readonly stateListeners = new Set<(event: LinkEvent) => void>();
  private port: SerialPort | undefined;
  /** serialport, loaded by start(): only a charger with a serial device loads it. */
  private SerialPortClass: typeof SerialPort | undefined;
  private reopenTimer: Timer | undefined;
  private delayMs: number;
  private running = false;
  /** Whether the owner has been told the link is down (one 'down' per outage). */
  private reportedDown = false;

  constructor(private readonly opts: SerialLinkOptions) {
    this.backoff = { ...defaultReopenBackoff, ...opts.reopen };
    this.clock = opts.clock ?? processTimers;
    this.log = (opts.log ?? silentLog).child({ port: opts.path });
    this.delayMs = this.backoff.initialDelayMs;
  }

  get path(): string {
    return this.opts.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onState(listener: (event: LinkEvent) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Makes the first attempt to open. A failure is reported as 'down', never thrown. */
  async start(): Promise<void> {
    if (this.running) return;
    this.SerialPortClass ??= (await import('serialport')).SerialPort;
    if (this.running) return;
    this.running = true;
    this.delayMs = this.backoff.initialDelayMs;
    await this.open();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.reopenTimer?.cancel();
    this.reopenTimer = undefined;
    const port = this.port;
    this.port = undefined;
    if (port) await closeQuietly(port);
  }

  /** Writes bytes; rejects with ERR_SERIAL_NOT_OPEN while the device is away. */
  write(data: Buffer): Promise<void> {
    const port = this.port;
    if (!port || !port.isOpen) {
      return Promise.reject(new SerialLinkError('ERR_SERIAL_NOT_OPEN', `serial port ${this.opts.path} is not open`));
    }
    return new Promise((resolve, reject) => {
      port.write(data, (err) => {
        if (err) reject(new SerialLinkError('ERR_SERIAL_WRITE', `write to ${this.opts.path} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  private open(): Promise<void> {
    const port = new this.SerialPortClass!({ path: this.opts.path, baudRate: this.opts.baudRate, autoOpen: false });
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (this.port !== port) return;
      for (const l of this.dataListeners) {
        try {
          l(chunk);
        } catch (err) {
          this.log.error('serial data listener failed', { err });
        }
      }
    });
    // serialport emits 'error' for failed writes and reads; without a listener it would throw.
    port.on('error', (err: Error) => this.log.debug('serial port error', { err }));
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (this.port !== port) return;
      this.port = undefined;
      if (!this.running) return;
      this.lost(err ?? new SerialLinkError('ERR_SERIAL_CLOSED', `serial port ${this.opts.path} closed`));
    });
    return new Promise<void>((resolve) => {
      port.open((err) => {
        if (this.port !== port || !this.running) {
          // Stopped while opening.
          if (!err) void closeQuietly(port);
          resolve();
          return;
        }
        if (err) {
          this.port = undefined;
          port.removeAllListeners();
          this.lost(new SerialLinkError('ERR_SERIAL_OPEN', `cannot open ${this.opts.path}: ${err.message}`, { cause: err }));
        } else {
          this.delayMs = this.backoff.initialDelayMs;
          const wasDown = this.reportedDown;
          this.reportedDown = false;
          this.log.info(wasDown ? 'serial device back' : 'serial device open');
          this.emitState({ state: 'up' });
        }
        resolve();
      });
    });
  }

  private lost(error: Error): void {
    if (!this.reportedDown) {
      this.reportedDown = true;
      this.log.warn('serial device unavailable', { err: error });
      this.emitState({ state: 'down', error });
    }
    const delay = this.delayMs;
    this.delayMs = Math.min(this.backoff.maxDelayMs, Math.max(1, this.delayMs * this.backoff.factor));
    this.reopenTimer?.cancel();
    this.reopenTimer = this.clock.setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.running && !this.port) void this.open();
    }, delay);
  }

  private emitState(event: LinkEvent): void {
    for (const l of this.stateListeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error('serial state listener failed', { err });
      }
    }
  }
}

function closeQuietly(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      port.removeAllListeners();
      port.on('error', () => undefined);
      resolve();
      return;
    }
    port.close(() => {
      port.removeAllListeners();
      port.on('error', () => undefined);
      resolve();
    });
  });
}

/**
 * One driver's fault as a FaultSource: set with a reason, cleared with undefined. A listener
 * that subscribes while the fault is active is told at once, so start order does not matter.
 */
export class FaultState implements FaultSource {
  private readonly listeners = new Set<(fault: FaultReport) => void>();
  private current: FaultReport | undefined;

  constructor(
    private readonly source: string,
    private readonly errorCode: ConnectorErrorCode,
  ) {}

  get active(): FaultReport | undefined {
    return this.current;
  }

  onFault(listener: (fault: FaultReport) => void): () => void {
    this.listeners.add(listener);
    const now = this.current;
    if (now) queueMicrotask(() => { if (this.listeners.has(listener) && this.current === now) listener(now); });
    return () => this.listeners.delete(listener);
  }

  /** `info` is cut to 50 characters (OCPP StatusNotification.info is CiString50). */
  set(reason: string | undefined): void {
    const info = reason?.slice(0, 50);
    if (info === undefined) {
      if (!this.current) return;
      this.current = undefined;
      this.emit({ source: this.source, errorCode: this.errorCode, active: false });
      return;
    }
    if (this.current?.info === info) return;
    this.current = { source: this.source, errorCode: this.errorCode, info, active: true };
    this.emit(this.current);
  }

  private emit(fault: FaultReport): void {
    for (const l of this.listeners) l(fault);
  }
}
