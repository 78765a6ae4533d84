import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

/**
 * A virtual serial cable: a socat pty pair with stable link paths (TESTING.md).
 * `device` is the end a test opens to play the reader or screen; `host` is the end the driver
 * opens. `unplug()` kills socat (the driver sees `close` with `err.disconnected`); `plug()`
 * starts a new socat on the same link paths.
 */
export interface PtyPair {
  readonly dir: string;
  readonly device: string;
  readonly host: string;
  plugged(): boolean;
  plug(): Promise<void>;
  unplug(): Promise<void>;
  /** The device end as a SerialPort (opened; closed by unplug/cleanup). */
  openDevice(): Promise<SerialPort>;
  /** Unplug and remove the directory. */
  cleanup(): Promise<void>;
}

export async function startPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-pty-'));
  const device = join(dir, 'device');
  const host = join(dir, 'host');
  let child: ChildProcess | undefined;
  const devicePorts = new Set<SerialPort>();

  async function plug(): Promise<void> {
    if (child) throw new Error('already plugged');
    const proc = spawn('socat', [
      '-d', '-d',
      `pty,raw,echo=0,link=${device}`,
      `pty,raw,echo=0,link=${host}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const onData = (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('starting data transfer loop') && existsSync(device) && existsSync(host)) done();
      };
      const onExit = (code: number | null) => { cleanupListeners(); reject(new Error(`socat exited ${code}: ${stderr}`)); };
      const done = () => { cleanupListeners(); resolve(); };
      const cleanupListeners = () => { proc.stderr?.off('data', onData); proc.off('exit', onExit); };
      proc.stderr?.on('data', onData);
      proc.on('exit', onExit);
    });
    proc.stderr?.resume();
  }

  async function unplug(): Promise<void> {
    const proc = child;
    if (!proc) return;
    child = undefined;
    for (const p of devicePorts) if (p.isOpen) await new Promise<void>((r) => p.close(() => r()));
    devicePorts.clear();
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await exited;
    }
  }

  async function openDevice(): Promise<SerialPort> {
    const port = new SerialPort({ path: device, baudRate: 9600, autoOpen: false });
    port.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    devicePorts.add(port);
    return port;
  }

  await plug();
  return {
    dir, device, host,
    plugged: () => child !== undefined,
    plug, unplug, openDevice,
    async cleanup() {
      await unplug();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes to a SerialPort and waits until the bytes are handed to the OS. */
export function writeAll(port: SerialPort, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    port.write(data, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
  });
}

/** Polls `predicate` until it holds (a behaviour wait, not a timing assertion). */
export async function waitFor<T>(predicate: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
