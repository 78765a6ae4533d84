/**
 * Test peers for the Modbus drivers: socat pty pairs (a virtual RS-485 line), a pymodbus slave
 * (test/helpers/modbus-slave.py) and a relay that paces, corrupts or drops responses. Every
 * process is stopped by its pid; nothing listens on a fixed port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const SLAVE_PY = join(dirname(fileURLToPath(import.meta.url)), 'modbus-slave.py');
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/modbus');

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'evse-modbus-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}

export interface PtyPair {
  a: string;
  b: string;
  /** Kill socat: an unplugged cable. */
  stop(): Promise<void>;
}

/** `socat pty,link=a pty,link=b`; resolves once both links exist. */
export async function ptyPair(dir: string, a: string, b: string): Promise<PtyPair> {
  const pa = join(dir, a);
  const pb = join(dir, b);
  const child = spawn('socat', [`pty,raw,echo=0,link=${pa}`, `pty,raw,echo=0,link=${pb}`], { stdio: 'ignore' });
  await waitFor(() => existsSync(pa) && existsSync(pb), 'socat ptys');
  return { a: pa, b: pb, stop: () => kill(child) };
}

export interface PyPeer {
  /** TCP port, for `serve --tcp`. */
  port: number;
  /** Send one stdin command, resolve with its answer line. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

async function startPy(args: string[]): Promise<PyPeer> {
  const child = spawn('/usr/bin/python3', [SLAVE_PY, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((l: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else early.push(l);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const l = early.shift();
      if (l !== undefined) return resolve(l);
      const t = setTimeout(() => reject(new Error(`modbus-slave.py did not answer; stderr: ${stderr}`)), 10_000);
      waiting.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  const ready = await next();
  if (!ready.startsWith('READY')) throw new Error(`modbus-slave.py: ${ready} ${stderr}`);
  return {
    port: Number(ready.split(' ')[1] ?? 0),
    command: async (line) => {
      child.stdin!.write(line + '\n');
      return next();
    },
    stop: async () => {
      lines.close();
      await kill(child);
    },
  };
}

export interface UnitSpec {
  unitId: number;
  profileFile: string;
  valuesFile?: string;
  /** A signing meter's private key (PEM): the unit signs as its profile's `signing` says. */
  signingKeyFile?: string;
}

const unitArgs = (units: UnitSpec[]) => units.flatMap((u) => ['--unit', `${u.unitId}:${u.profileFile}:${u.valuesFile ?? ''}${u.signingKeyFile ? `:${u.signingKeyFile}` : ''}`]);

export function startRtuSlave(tty: string, units: UnitSpec[]): Promise<PyPeer> {
  return startPy(['serve', '--rtu', tty, ...unitArgs(units)]);
}

export function startTcpSlave(units: UnitSpec[]): Promise<PyPeer> {
  return startPy(['serve', '--tcp', ...unitArgs(units)]);
}

/** Relay between the agent's pty and the slave's pty; `baud` 0 copies at memory speed. */
export function startRelay(agentSide: string, slaveSide: string, baud = 0): Promise<PyPeer> {
  return startPy(['relay', '--agent', agentSide, '--slave', slaveSide, '--baud', String(baud)]);
}

/** An RS-485 line with a relay in the middle: agent opens `agentTty`, the slave `slaveTty`. */
export async function relayedLine(dir: string, baud = 0) {
  const agentPair = await ptyPair(dir, 'agent', 'agent-relay');
  const slavePair = await ptyPair(dir, 'slave', 'slave-relay');
  const relay = await startRelay(agentPair.b, slavePair.b, baud);
  return {
    agentTty: agentPair.a,
    slaveTty: slavePair.a,
    relay,
    stop: async () => {
      await relay.stop();
      await agentPair.stop();
      await slavePair.stop();
    },
  };
}
