import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function configWith(storePath: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-store-path-'));
  dirs.push(dir);
  const file = join(dir, 'agent.json');
  // Nothing listens on port 9: the agent must fail on its store before it ever connects.
  writeFileSync(file, JSON.stringify({ chargePointId: 'CP-STORE-1', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: storePath } }));
  return { dir, file };
}

describe('store.path is checked before the agent runs (--check and start)', () => {
  it('a path under /proc: exit 2 naming store.path and the config file, at once (no recursive mkdir on procfs)', async () => {
    const { file } = configWith('/proc/evse-edge/var/agent.db');
    for (const args of [['agent', '--config', file, '--check'], ['agent', '--config', file]]) {
      const r = await runCli(args, { timeoutMs: 20_000 });
      expect(r.signal, `${args.join(' ')} hung`).toBeNull();
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(file);
      expect(r.err).toMatch(/store\.path: .*\/proc/);
    }
  });

  it('a path under /sys: refused the same way', async () => {
    const { file } = configWith('/sys/evse-edge.db');
    const r = await runCli(['agent', '--config', file, '--check'], { timeoutMs: 20_000 });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/store\.path: .*\/sys/);
  });

  it('a directory blocked by a file: exit 2 with the reason, for --check and for a start', async () => {
    const { dir, file } = configWith('');
    writeFileSync(join(dir, 'blocker'), 'a file where a directory is needed');
    writeFileSync(file, JSON.stringify({ chargePointId: 'CP-STORE-1', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: join(dir, 'blocker', 'var', 'agent.db') } }));
    for (const args of [['agent', '--config', file, '--check'], ['agent', '--config', file]]) {
      const r = await runCli(args, { timeoutMs: 20_000 });
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(file);
      expect(r.err).toMatch(/store\.path: .*blocker.*not a directory/);
    }
  });

  it('a store path that is itself a directory: exit 2', async () => {
    const { dir, file } = configWith('');
    writeFileSync(file, JSON.stringify({ chargePointId: 'CP-STORE-1', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: dir } }));
    const r = await runCli(['agent', '--config', file, '--check'], { timeoutMs: 20_000 });
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/store\.path: .*is a directory/);
  });

  it('a fresh directory is created and the config is valid', async () => {
    const { dir, file } = configWith('');
    writeFileSync(file, JSON.stringify({ chargePointId: 'CP-STORE-1', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: join(dir, 'new', 'sub', 'agent.db') } }));
    const r = await runCli(['agent', '--config', file, '--check'], { timeoutMs: 20_000 });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('valid');
  });
});
