import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentHealthChecks } from '../../src/app/agent/health.js';
import { createNotifier } from '../../src/app/agent/sd-notify.js';
import { HealthWatchdog } from '../../src/app/agent/watchdog.js';
import { migrations } from '../../src/store/migrations.js';
import { startAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dgram = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(type: 'unix_dgram', onMessage: (buf: Buffer) => void): { bind(path: string): void; close(): void; on(e: string, f: (err: Error) => void): void };
};

/** What a service manager sees: the datagrams on NOTIFY_SOCKET, in order. */
class NotifySocket {
  readonly messages: string[] = [];
  readonly path: string;
  private readonly socket;
  constructor(dir: string) {
    this.path = join(dir, 'notify.sock');
    this.socket = dgram.createSocket('unix_dgram', (buf) => this.messages.push(buf.toString()));
    this.socket.on('error', () => undefined);
    this.socket.bind(this.path);
  }
  count(prefix: string): number {
    return this.messages.filter((m) => m.split('\n').some((l) => l.startsWith(prefix))).length;
  }
  close(): void {
    this.socket.close();
  }
}

interface Child {
  proc: ChildProcess;
  out: string[];
  exit: Promise<number | null>;
}

function spawnAgent(script: string, config: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [script, 'agent', '--config', config], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  proc.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out, exit };
}

describe('systemd notify protocol (a unix datagram socket the test listens on)', () => {
  let dir: string;
  let csms: TestCsms;
  let url: string;
  let sock: NotifySocket;
  let child: Child | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'evse-edge-notify-'));
    csms = new TestCsms();
    url = await csms.start();
    sock = new NotifySocket(dir);
  });
  afterEach(async () => {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill('SIGKILL');
      await child.exit;
    }
    child = undefined;
    sock.close();
    await csms.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = (store: string) => {
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({
      chargePointId: 'CP-SD-1', csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 }, store: { path: store }, log: { level: 'info' },
    }));
    return file;
  };

  it('READY=1 once the database is migrated and the agent started, WATCHDOG=1 pings, STOPPING=1 on SIGTERM, database closed cleanly', async () => {
    const store = join(dir, 'var', 'agent.db');
    child = spawnAgent(join(ROOT, 'bin/evse-edge.js'), writeConfig(store), { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000' });
    await waitFor(() => sock.count('READY=1') > 0, 30_000, 'READY=1');
    const ready = sock.messages.find((m) => m.startsWith('READY=1'))!;
    expect(ready).toContain(`MAINPID=${child.proc.pid}`);
    expect(ready).toContain(`STATUS=running: database schema ${migrations.length}`);
    // READY follows the start (STATUS=starting) and carries the migrated schema version.
    expect(sock.messages.indexOf(ready)).toBeGreaterThan(sock.messages.findIndex((m) => m === 'STATUS=starting'));
    const db = new Database(store, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    db.close();
    await waitFor(() => sock.count('WATCHDOG=1') >= 3, 20_000, 'watchdog pings');
    await waitFor(() => csms.callsOf('BootNotification').length > 0, 20_000, 'BootNotification');
    child.proc.kill('SIGTERM');
    expect(await child.exit).toBe(0);
    expect(sock.messages.some((m) => m.startsWith('STOPPING=1'))).toBe(true);
    expect(sock.messages.findIndex((m) => m.startsWith('STOPPING=1'))).toBeGreaterThan(sock.messages.indexOf(ready));
    // A clean close checkpoints the WAL and removes it.
    expect(existsSync(`${store}-wal`)).toBe(false);
    expect(child.out.some((l) => l.includes('"agent stopped"'))).toBe(true);
  });

  it('no READY=1 when the database cannot be opened', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    child = spawnAgent(join(ROOT, 'bin/evse-edge.js'), writeConfig(join(blocker, 'agent.db')), { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000' });
    expect(await child.exit).not.toBe(0);
    expect(sock.count('READY=1')).toBe(0);
    expect(sock.count('WATCHDOG=1')).toBe(0);
  });

  it('WATCHDOG=1 pings stop when the event loop is blocked', async () => {
    child = spawnAgent(join(ROOT, 'test/helpers/blocking-agent.mjs'), writeConfig(join(dir, 'agent.db')), { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '200000' });
    await waitFor(() => sock.count('WATCHDOG=1') >= 3, 30_000, 'watchdog pings');
    child.proc.kill('SIGUSR2');
    await waitFor(() => child!.out.some((l) => l.includes('blocking the event loop')), 10_000, 'the loop blocked');
    // Pings sent before the block arrive within one interval; after that, none.
    await new Promise((r) => setTimeout(r, 300));
    const atBlock = sock.count('WATCHDOG=1');
    await new Promise((r) => setTimeout(r, 1_500)); // 15 ping intervals
    expect(sock.count('WATCHDOG=1')).toBe(atBlock);
    expect(child.proc.exitCode).toBe(null);
  });
});

describe('the watchdog pings only while the agent is healthy', () => {
  it('withholds pings while the OCPP loop is stopped or the database is closed, and resumes when healthy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-watchdog-'));
    const csms = new TestCsms();
    const url = await csms.start();
    const sock = new NotifySocket(dir);
    const t = await startAgent(url);
    const notifier = createNotifier({ NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000' }, t.agent.log);
    const watchdog = new HealthWatchdog({ notifier, intervalMs: notifier.watchdogIntervalMs!, log: t.agent.log, checks: agentHealthChecks(t.agent, { meterStallMs: 30_000 }) });
    try {
      expect(notifier.watchdogIntervalMs).toBe(50);
      watchdog.start();
      await waitFor(() => sock.count('WATCHDOG=1') >= 3, 10_000, 'pings');
      await t.agent.connection!.stop();
      await waitFor(() => sock.messages.at(-1)?.startsWith('STATUS=unhealthy: ocpp'), 10_000, 'unhealthy status');
      const withheld = sock.count('WATCHDOG=1');
      await waitFor(() => t.logs.records.some((l) => l.msg === 'unhealthy: watchdog pings withheld'), 10_000, 'log');
      await new Promise((r) => setTimeout(r, 300));
      expect(sock.count('WATCHDOG=1')).toBe(withheld);
      t.agent.connection!.start();
      await waitFor(() => sock.count('WATCHDOG=1') > withheld + 2, 10_000, 'pings resumed');
      expect(sock.messages).toContain('STATUS=running');
      t.agent.db!.close();
      await waitFor(() => sock.messages.some((m) => m.startsWith('STATUS=unhealthy: database: not open')), 10_000, 'database unhealthy');
    } finally {
      watchdog.stop();
      notifier.close();
      await t.cleanup();
      sock.close();
      await csms.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
