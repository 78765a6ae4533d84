/**
 * Logs are pino records: numeric levels, epoch-ms time, pid and hostname, errors with their
 * stack; the agent's stdout is read by pino-pretty's command line; a normal start logs no
 * warnings (StartupOfTheDevice and the re-timing of queued messages are routine).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EvseError } from '../../src/lib/errors.js';
import { createLog, LEVELS, levelName, MemorySink, teeSink } from '../../src/lib/log.js';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { ChildAgent, REPO_ROOT, type LogLine } from '../helpers/child-agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

const PINO_PRETTY = join(REPO_ROOT, 'node_modules/.bin/pino-pretty');

function expectPinoRecord(r: Record<string, unknown>, startedAt: number): void {
  expect(r).toMatchObject({ pid: expect.any(Number), hostname: hostname(), msg: expect.any(String) });
  expect([LEVELS.debug, LEVELS.info, LEVELS.warn, LEVELS.error]).toContain(r.level);
  expect(typeof r.time).toBe('number');
  expect(r.time as number).toBeGreaterThanOrEqual(startedAt - 1_000);
  expect(r.time as number).toBeLessThanOrEqual(Date.now() + 1_000);
}

describe('log records', () => {
  it('are pino records, with (msg, fields) call sites, child bindings and errors with their stack', () => {
    const started = Date.now();
    const memory = new MemorySink('debug');
    const log = createLog(memory, { app: 'evse-edge' });
    log.child({ cp: 'CP-1' }).error('store failed', { err: new EvseError('ERR_STORE_FULL' as never, 'disk full'), attempt: 2 });
    log.debug('detail');
    const [error, debug] = memory.records;
    expectPinoRecord(error!, started);
    expect(error).toMatchObject({ level: 50, app: 'evse-edge', cp: 'CP-1', attempt: 2, msg: 'store failed' });
    expect(error!.err).toMatchObject({ type: 'EvseError', message: 'disk full', code: 'ERR_STORE_FULL', stack: expect.stringMatching(/^EvseError: disk full\n\s+at /) });
    expect(debug).toMatchObject({ level: 20, msg: 'detail', app: 'evse-edge' });
    expect(levelName(error!.level)).toBe('error');
  });

  it('from a child below its level are not written, and a child\'s child carries both bindings', () => {
    const memory = new MemorySink('warn');
    const log = createLog(memory, { app: 'evse-edge' });
    const child = log.child({ cp: 'CP-1' });
    child.debug('hidden');
    child.info('hidden');
    expect(child.isLevelEnabled('info')).toBe(false);
    expect(child.isLevelEnabled('warn')).toBe(true);
    child.warn('shown', { attempt: 1 });
    child.child({ connectorId: 2 }).error('deeper');
    child.info('still hidden');
    expect(memory.records.map((r) => r.msg)).toEqual(['shown', 'deeper']);
    expect(memory.records[0]).toMatchObject({ level: 40, app: 'evse-edge', cp: 'CP-1', attempt: 1 });
    expect(memory.records[1]).toMatchObject({ level: 50, app: 'evse-edge', cp: 'CP-1', connectorId: 2 });
    // Children of a child that never wrote (a fleet charger's parts): each line carries every
    // binding above it, whichever of them writes first.
    const quiet = log.child({ cp: 'CP-2' });
    const meter = quiet.child({ component: 'meter' });
    const evse = quiet.child({ component: 'evse' });
    evse.info('hidden');
    expect(meter.isLevelEnabled('info')).toBe(false);
    meter.warn('from a part', { n: 1 });
    quiet.warn('from the charger');
    evse.child({ connectorId: 1 }).error('from a part\'s child');
    expect(memory.records.slice(2).map((r) => [r.msg, r.cp, r.component, r.connectorId])).toEqual([
      ['from a part', 'CP-2', 'meter', undefined], ['from the charger', 'CP-2', undefined, undefined], ['from a part\'s child', 'CP-2', 'evse', 1],
    ]);
    expect(memory.records[2]).toMatchObject({ level: 40, app: 'evse-edge', n: 1 });
  });

  it('go to each sink at its level, and a level changed at run time applies', () => {
    const quiet = new MemorySink('warn');
    const all = new MemorySink('debug');
    const log = createLog(teeSink(quiet, all));
    log.info('one');
    quiet.level = 'info';
    log.info('two');
    log.warn('three');
    expect(quiet.records.map((r) => r.msg)).toEqual(['two', 'three']);
    expect(all.records.map((r) => r.msg)).toEqual(['one', 'two', 'three']);
    expect(createLog(new MemorySink('silent')).isLevelEnabled('error')).toBe(false);
  });
});

describe('the agent\'s logs', () => {
  let csms: TestCsms | undefined;
  let child: ChildAgent | undefined;
  let t: TestAgent | undefined;
  afterEach(async () => {
    await child?.cleanup();
    await t?.cleanup();
    await csms?.stop();
    child = t = csms = undefined;
  });

  it('on stdout parse as pino records, a connection error carries its stack, and pino-pretty formats them', async () => {
    const started = Date.now();
    // Nobody listens on the central system's port: the agent warns with the error.
    const dead = new TestCsms();
    const url = await dead.start();
    await dead.stop();
    child = new ChildAgent({ url }).start();
    const failure = await child.waitForLog((l) => l.level === LEVELS.warn && typeof l.err === 'object', 20_000, 'a warning with an error');
    await child.waitForLog((l) => l.msg === 'agent started', 20_000, 'agent started');
    expect(await child.stop()).toBe(0);
    const lines = child.logs;
    expect(lines.filter((l) => l.level === 'raw')).toEqual([]);
    for (const l of lines) expectPinoRecord(l, started);
    expect(lines.every((l) => l.pid === child!.logs[0]!.pid)).toBe(true);
    expect(failure.err).toMatchObject({ type: expect.any(String), message: expect.stringMatching(/ECONNREFUSED/), stack: expect.stringMatching(/ECONNREFUSED[^\n]*\n\s+at /) });

    // pino-pretty's command line reads the same lines.
    const input = lines.map(({ run: _run, ...l }: LogLine & { run?: number }) => JSON.stringify(l)).join('\n') + '\n';
    const pretty = spawnSync(PINO_PRETTY, ['--colorize', 'false'], { input, encoding: 'utf8', timeout: 30_000 });
    expect(pretty.status).toBe(0);
    expect(pretty.stdout).toMatch(/\] INFO \(\d+(?: on [^)]+)?\): agent started/);
    expect(pretty.stdout).toMatch(/\] WARN \(\d+(?: on [^)]+)?\): /);
    expect(pretty.stdout).toMatch(/ECONNREFUSED[^\n]*\n\s+at /);
  });

  it('on a normal start hold no warning: StartupOfTheDevice and the re-timing of queued messages are info', async () => {
    csms = new TestCsms();
    const url = await csms.start();
    t = await startAgent(url);
    await waitFor(() => csms!.callsOf('StatusNotification').length > 0 && csms!.callsOf('SecurityEventNotification').length > 0, 15_000, 'boot, statuses and the startup event');
    const records = t.logs.records;
    expect(records.find((r) => r.msg === 'security event' && r.securityEvent === 'StartupOfTheDevice')).toMatchObject({ level: LEVELS.info });
    expect(records.filter((r) => r.level >= LEVELS.warn).map((r) => r.msg)).toEqual([]);
  });

  it('on a terminal are formatted by pino-pretty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-edge-tty-'));
    const dead = new TestCsms();
    const url = await dead.start();
    await dead.stop();
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ chargePointId: 'CP-TTY-1', csms: { url }, store: { path: join(dir, 'agent.db') } }));
    // script(1) runs the agent with a pty as its stdout.
    const proc = spawn('script', ['-qfec', `node bin/evse-edge.js agent --config ${config}`, '/dev/null'], { cwd: REPO_ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    try {
      await waitFor(() => /agent started/.test(out), 20_000, 'agent started on the terminal');
      // eslint-disable-next-line no-control-regex
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO[^\n]*: agent started\r?\n\s+cp: "CP-TTY-1"/m);
      expect(plain).not.toMatch(/"level":/);
    } finally {
      process.kill(-proc.pid!, 'SIGTERM');
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(undefined) : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
