import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const UNIT = join(ROOT, 'systemd/evse-edge.service');

function analyzerProblem(): string | undefined {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `systemd-analyze cannot run here (${r.error?.message ?? r.stderr}): install the Debian package "systemd"`;
  return undefined;
}
const skip = analyzerProblem();
if (skip) console.warn(`test/systemd/unit.test.ts: exposure gate SKIPPED: ${skip}`);

describe('systemd/evse-edge.service', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const directives = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string) => directives.get(k)?.at(-1);

  it('is a notify service with a watchdog, a dedicated user in dialout, its state and config directories', () => {
    expect(one('Type')).toBe('notify');
    expect(one('WatchdogSec')).toMatch(/^\d+s?$/);
    expect(one('Restart')).toBe('always');
    expect(one('User')).toBe('evse-edge');
    expect(one('SupplementaryGroups')).toBe('dialout');
    expect(one('StateDirectory')).toBe('evse-edge');
    expect(one('ConfigurationDirectory')).toBe('evse-edge');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('NoNewPrivileges')).toBe('yes');
    // V8 needs writable and executable memory.
    expect(directives.has('MemoryDenyWriteExecute')).toBe(false);
    // The agent must finish stopping inside TimeoutStopSec (its own deadline is 20 s).
    expect(Number(one('TimeoutStopSec')!.replace(/s$/, ''))).toBeGreaterThan(20);
  });

  it.skipIf(skip !== undefined)('has an exposure of 2.0 or lower (systemd-analyze security --offline=yes --threshold=20)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', UNIT], { encoding: 'utf8' });
    const m = /Overall exposure level for evse-edge\.service: (\d+\.\d)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.0);
    expect(r.status).toBe(0);
  });

  it.skipIf(skip !== undefined)('has no unknown or misplaced directives', () => {
    const out = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    const problems = (out.stderr + out.stdout).split('\n').filter((l) => /Unknown|Invalid|ignoring/i.test(l));
    expect(problems).toEqual([]);
    expect(execFileSync('systemd-analyze', ['--version'], { encoding: 'utf8' })).toMatch(/systemd/);
  });
});
