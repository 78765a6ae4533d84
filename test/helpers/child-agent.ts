import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(REPO_ROOT, 'bin/evse-edge.js');

export interface ChildAgentOptions {
  url: string;
  chargePointId?: string;
  /** Directory for the config file (and, unless storePath is given, the store). A temp dir by default. */
  dir?: string;
  /** Where the SQLite store lives (default <dir>/agent.db). */
  storePath?: string;
  ocpp?: Record<string, string | number | boolean>;
  session?: Record<string, unknown>;
  simulation?: Record<string, unknown>;
  csms?: Record<string, unknown>;
  /**
   * Run the agent through this shell prefix, e.g. to give it its own mount namespace:
   * `(cmd) => ['unshare', '-m', 'sh', '-c', `mount ... && exec ${cmd}`]`. The shell must exec
   * node so that the child's pid is the agent's.
   */
  wrap?: (command: string) => string[];
}

/** A pino record from the agent's stdout; a line that is not JSON has level 'raw'. */
export interface LogLine {
  level: number | 'raw';
  time?: number;
  msg: string;
  [k: string]: unknown;
}

/**
 * The agent as a real child process: `node bin/evse-edge.js agent --config <file>`, its JSON
 * log lines captured from stdout. It can be killed with SIGKILL and started again on the same
 * store.
 */
export class ChildAgent {
  readonly dir: string;
  readonly configFile: string;
  readonly storePath: string;
  readonly chargePointId: string;
  /** Log lines of every run, in order; `run` numbers the runs from 1. */
  readonly logs: (LogLine & { run: number })[] = [];
  /** stderr of every run (tsx/Node failures show here). */
  stderr = '';
  runs = 0;
  private proc?: ChildProcess;
  private exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly ownsDir: boolean;

  constructor(private readonly o: ChildAgentOptions) {
    this.ownsDir = !o.dir;
    this.dir = o.dir ?? mkdtempSync(join(tmpdir(), 'evse-edge-child-'));
    mkdirSync(this.dir, { recursive: true });
    this.chargePointId = o.chargePointId ?? 'CP-CHILD-1';
    this.storePath = o.storePath ?? join(this.dir, 'agent.db');
    this.configFile = join(this.dir, 'agent.json');
    this.writeConfig();
  }

  writeConfig(patch: Partial<ChildAgentOptions> = {}): void {
    Object.assign(this.o, patch);
    const o = this.o;
    const config = {
      chargePointId: this.chargePointId,
      csms: { url: o.url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ...o.csms },
      store: { path: this.storePath },
      log: { level: 'info' },
      ocpp: { MeterValueSampleInterval: 1, HeartbeatInterval: 300, ...o.ocpp },
      session: { meterPollIntervalMs: 200, checkpointIntervalMs: 1000, ...o.session },
      simulation: { arrivalDelayMs: 50, departureDelayMs: 0, seed: 1, ...o.simulation },
    };
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Lines of the current (or last) run. */
  currentLogs(): LogLine[] {
    return this.logs.filter((l) => l.run === this.runs);
  }

  start(): this {
    if (this.running) throw new Error('the child agent is already running');
    const command = ['node', BIN, 'agent', '--config', this.configFile];
    const argv = this.o.wrap ? this.o.wrap(command.map(shellQuote).join(' ')) : command;
    const run = ++this.runs;
    const proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    this.proc = proc;
    let buffered = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          this.logs.push({ ...(JSON.parse(line) as LogLine), run });
        } catch {
          this.logs.push({ level: 'raw', msg: line, run });
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    return this;
  }

  /** Wait for a log line of the current run matching `pred`. */
  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000, what = 'a log line'): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.currentLogs().find(pred);
      if (hit) return hit;
      if (!this.running) throw new Error(`child agent exited while waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILL: no shutdown code runs, as in a power cut of the controller. */
  async kill9(): Promise<void> {
    if (!this.proc || !this.exited) return;
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for a clean exit (SIGKILL after `timeoutMs`). Returns the exit code. */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (!this.proc || !this.exited) return null;
    if (!this.running) return (await this.exited).code;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Kill -9 (if running) and start again on the same store and config. */
  async restart(): Promise<this> {
    await this.kill9();
    return this.start();
  }

  async cleanup(): Promise<void> {
    await this.kill9();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function shellQuote(s: string): string {
  return /^[\w./:=@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
