import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRampPerSec } from '../../src/app/fleet/runner.js';
import { CliProcess, runCli } from '../helpers/cli.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-signals-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A small fleet against the embedded central system, asked for two simulated hours. */
function startSim(report: string): CliProcess {
  const sim = new CliProcess(['sim', '--count', '3', '--scenario', 'smoke', '--duration', '2h', '--report', report, '--status-interval', '0.5', '--workers', '0']);
  cleanups.push(() => sim.stop('SIGKILL'));
  return sim;
}

describe('signals and exit statuses of the commands', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`sim: ${signal} ends the run, writes the report marked interrupted (requested and actual duration), exit ${code}`, async () => {
      const dir = tempDir();
      const reportFile = join(dir, 'report.json');
      const sim = startSim(reportFile);
      await sim.waitFor((_o, err) => /accepted=3/.test(err), 60_000, 'all chargers accepted');
      // No --ramp: the default ramp for this machine's cores, said at start.
      expect(sim.err).toContain(`ramp: ${defaultRampPerSec()} chargers/s, the default for ${availableParallelism()} cores`);
      const sentAt = Date.now();
      const exit = await sim.stop(signal, 20_000);
      expect(exit.signal, sim.err.slice(-2000)).toBeNull();
      expect(exit.code, sim.err.slice(-2000)).toBe(code);
      expect(Date.now() - sentAt).toBeLessThan(15_000);
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { interrupted?: { signal: string; requestedDurationMs: number | null; simulatedMs: number; wallMs: number }; simulatedMs: number };
      expect(report.interrupted).toMatchObject({ signal, requestedDurationMs: 7_200_000 });
      expect(report.interrupted!.simulatedMs).toBeGreaterThan(0);
      expect(report.interrupted!.simulatedMs).toBeLessThan(7_200_000);
      expect(report.interrupted!.simulatedMs).toBe(report.simulatedMs);
      expect(sim.out).toMatch(/interrupted by SIGINT|interrupted by SIGTERM/);
    });
  }

  it('demo: Ctrl-C removes its temporary directory and exits 130', async () => {
    const tmp = tempDir();
    const demo = new CliProcess(['demo', '--charge-seconds', '60'], { env: { TMPDIR: tmp } });
    cleanups.push(() => demo.stop('SIGKILL'));
    await demo.waitFor((out) => /Charging/.test(out), 60_000, 'a connector charging');
    expect(readdirSync(tmp).filter((f) => f.startsWith('evse-edge-demo-'))).toHaveLength(1);
    const exit = await demo.stop('SIGINT', 20_000);
    expect(exit.code, demo.err).toBe(130);
    expect(readdirSync(tmp).filter((f) => f.startsWith('evse-edge-demo-'))).toEqual([]);
  });

  it('usage errors exit 2 for every command, commander\'s own included; help exits 0', async () => {
    const cases: string[][] = [
      ['no-such-command'],
      ['agent'],
      ['agent', '--config'],
      ['agent', '--config', 'x.json', '--no-such-option'],
      ['csms', '--port', 'eighty'],
      ['csms', 'call'],
      ['csms', 'sessions', '--bogus'],
      ['demo', '--bogus'],
      ['diag'],
      ['diag', 'watch', '--bogus'],
      ['sim', '--count', 'many'],
      ['sim', '--fail-on', 'p95<<x'],
      ['sim', '--shard', '5/2'],
      ['sim', '--log-level', 'loud'],
      ['csms', '--log-level', 'loud'],
      ['sim', 'merge'],
      ['sim', 'idtags', 'a', 'b'],
      ['modbus', 'read', '--bogus'],
      ['rfid', 'watch', '--bogus'],
      ['sessions', 'list', '--bogus'],
      ['schemas', '--bogus'],
      ['install', '--bogus'],
      ['doctor', '--bogus'],
    ];
    // Two at a time: the machine is shared.
    const results: { args: string[]; r: Awaited<ReturnType<typeof runCli>> }[] = [];
    for (let i = 0; i < cases.length; i += 2) {
      results.push(...await Promise.all(cases.slice(i, i + 2).map(async (args) => ({ args, r: await runCli(args, { timeoutMs: 60_000 }) }))));
    }
    for (const { args, r } of results) {
      expect(r.code, `evse-edge ${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/error|evse-edge:/);
    }
    expect((await runCli(['sim', '--help'])).code).toBe(0);
    expect((await runCli(['--version'])).code).toBe(0);
  }, 240_000);
});
