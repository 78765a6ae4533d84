import { createRequire } from 'node:module';
import type { Log } from '../../lib/log.js';

/**
 * The service manager's notification protocol (sd_notify): READY=1, WATCHDOG=1, STOPPING=1,
 * STATUS=. Under systemd (Type=notify) NOTIFY_SOCKET names a unix datagram socket; elsewhere
 * every method is a no-op. Node has no unix datagram sockets: the unix-dgram addon sends them
 * (synchronously, so a STOPPING=1 sent just before exit is not lost).
 */
export interface ServiceNotifier {
  /** Whether a service manager listens. */
  readonly active: boolean;
  /** Half of WatchdogSec (WATCHDOG_USEC), when the manager expects pings from this process. */
  readonly watchdogIntervalMs: number | undefined;
  ready(status?: string): void;
  watchdog(): void;
  stopping(status?: string): void;
  status(text: string): void;
  close(): void;
}

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}

const noop: ServiceNotifier = {
  active: false, watchdogIntervalMs: undefined,
  ready() {}, watchdog() {}, stopping() {}, status() {}, close() {},
};

/** The watchdog interval this process should ping at, from WATCHDOG_USEC and WATCHDOG_PID. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2_000));
}

export function createNotifier(env: NodeJS.ProcessEnv, log: Log): ServiceNotifier {
  const path = env.NOTIFY_SOCKET;
  if (!path) return noop;
  if (path.startsWith('@')) {
    log.warn('NOTIFY_SOCKET is an abstract socket, which unix-dgram cannot address: not notifying', { notifySocket: path });
    return noop;
  }
  let socket: DgramSocket;
  try {
    const dgram = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };
    socket = dgram.createSocket('unix_dgram');
  } catch (err) {
    log.error('cannot load unix-dgram: not notifying the service manager', { err });
    return noop;
  }
  socket.on('error', (err) => log.warn('service manager notification failed', { err }));
  let closed = false;
  const send = (message: string) => {
    if (closed) return;
    const buf = Buffer.from(message);
    socket.send(buf, 0, buf.length, path, (err) => {
      if (err) log.warn('service manager notification failed', { err, notifySocket: path });
    });
  };
  const line = (text?: string) => (text ? `\nSTATUS=${text.replace(/\n/g, ' ')}` : '');
  return {
    active: true,
    watchdogIntervalMs: watchdogIntervalMs(env),
    ready: (status) => send(`READY=1\nMAINPID=${process.pid}${line(status)}`),
    watchdog: () => send('WATCHDOG=1'),
    stopping: (status) => send(`STOPPING=1${line(status)}`),
    status: (text) => send(`STATUS=${text.replace(/\n/g, ' ')}`),
    close: () => {
      if (closed) return;
      closed = true;
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}
