import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetRunner } from '../../../src/app/fleet/runner.js';
import { loadScenario } from '../../../src/sim/scenario.js';
import { TestCsms } from '../../helpers/ocpp-server.js';

const BIN = resolve(import.meta.dirname, '../../../bin/evse-edge.js');

describe('sim idtags: what to provision in a central system under test', () => {
  const csms = new TestCsms();
  afterAll(() => csms.stop());

  it('lists the idTags the drivers present; only the scenario\'s invalid ones fall outside it', async () => {
    const lines = execFileSync(process.execPath, [BIN, 'sim', 'idtags', 'smoke'], { encoding: 'utf8' }).trim().split('\n');
    const scenario = loadScenario('smoke');
    expect(lines).toHaveLength(scenario.auth.idTagPool.size);
    expect(new Set(lines).size).toBe(lines.length);
    const csv = execFileSync(process.execPath, [BIN, 'sim', 'idtags', 'smoke', '--csv'], { encoding: 'utf8' }).trim().split('\n');
    expect(csv[0]).toBe('idTag,status');
    expect(csv.slice(1)).toEqual(lines.map((t) => `${t},Accepted`));

    // A central system provisioned with exactly that list.
    const known = new Set(lines);
    csms.on('Authorize', (p: { idTag: string }) => ({ idTagInfo: { status: known.has(p.idTag) ? 'Accepted' : 'Invalid' } }));
    const url = await csms.start();
    const { report } = await new FleetRunner({
      count: 40, scenario, workers: 0, urls: [url], timeScale: 600, durationMs: 30 * 60_000, startMs: Date.UTC(2026, 0, 5, 8, 0, 0), seed: 9,
    }).run();
    const presented = csms.calls.filter((c) => c.action === 'Authorize' || c.action === 'StartTransaction').map((c) => c.params.idTag as string);
    expect(presented.length).toBeGreaterThan(10);
    const unknown = presented.filter((t) => !known.has(t));
    for (const t of unknown) expect(t.startsWith(scenario.auth.invalidPrefix)).toBe(true);
    expect(report.stats.counters.sessionsStarted).toBeGreaterThan(0);
  });
});
