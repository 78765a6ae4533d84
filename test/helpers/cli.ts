import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

/**
 * `evse-edge <args>` as a child process; resolves when it exits (SIGKILL after `timeoutMs`:
 * a hang shows as signal SIGKILL, never as a passing test).
 */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((res) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...opts.env }, cwd: opts.cwd });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, out, err, ms: Date.now() - started });
    });
  });
}

/** A long-running `evse-edge <args>`: its output so far, a wait for a condition on it, and its exit. */
export class CliProcess {
  out = '';
  err = '';
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...opts.env }, cwd: opts.cwd });
    this.proc.stdout!.on('data', (d) => (this.out += d));
    this.proc.stderr!.on('data', (d) => (this.err += d));
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Wait until `pred(stdout, stderr)` holds (or the process exits, or the deadline passes). */
  async waitFor<T>(pred: (out: string, err: string) => T | undefined | false | null, timeoutMs = 30_000, what = 'output'): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred(this.out, this.err);
      if (v) return v;
      if (!this.running) throw new Error(`process exited while waiting for ${what}; stdout: ${this.out.slice(-2000)} stderr: ${this.err.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stdout: ${this.out.slice(-2000)} stderr: ${this.err.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Send a signal; wait for the exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

/** JSON log lines in a process's stdout. */
export function logLines(out: string): { level: string; msg: string; [k: string]: unknown }[] {
  return out.split('\n').flatMap((l) => {
    try {
      const v = JSON.parse(l) as unknown;
      return v && typeof v === 'object' && 'msg' in v ? [v as { level: string; msg: string }] : [];
    } catch {
      return [];
    }
  });
}
