import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/app/agent/controller.js';
import { loadAgentConfig, parseAgentConfig } from '../../src/config/index.js';
import { createLog, MemorySink } from '../../src/lib/log.js';
import { ConfigError, type ConfigProblem } from '../../src/lib/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/evse-edge.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'evse-edge-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

/** The problems a load throws (fails the test if it does not throw a ConfigError). */
function problemsOf(fn: () => unknown): readonly ConfigProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const minimal = { chargePointId: 'CP-1', csms: { url: 'ws://127.0.0.1:9220/ocpp' } };

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('agent config validation', () => {
  it('a config with only chargePointId and csms.url is valid, with documented defaults', () => {
    const file = write('minimal.json', minimal);
    const loaded = loadAgentConfig(file);
    expect(loaded.file).toBe(file);
    expect(loaded.config.chargePointId).toBe('CP-1');
    expect(loaded.config.csms).toMatchObject({ url: 'ws://127.0.0.1:9220/ocpp', callTimeoutMs: 30_000 });
    expect(loaded.config.charger).toBe('sim-ac-2x22kw');
    expect(loaded.charger.connectors).toHaveLength(2);
    expect(loaded.config.session.resumePolicy).toBe('resume-or-stop');
    // Frozen: nothing changes a loaded config behind the validator's back.
    expect(Object.isFrozen(loaded.config.csms)).toBe(true);
    // And the agent can be built from it.
    expect(() => new Agent({ loaded, log: createLog(new MemorySink('error')) })).not.toThrow();
  });

  it('reports every problem at once, each with the file and the field path', () => {
    const file = write('bad.json', {
      chargePointId: 'has spaces!',
      csms: { url: 'http://not-a-websocket', callTimeoutMs: 5, reconnectMaxDelayMs: 'soon' },
      log: { level: 'loud' },
      session: { resumePolicy: 'maybe', meterPollIntervalMs: 1.5, stopOnSecondPresentation: 'yes' },
      simulation: { seed: -1 },
    });
    const problems = problemsOf(() => loadAgentConfig(file));
    for (const p of problems) expect(p.file).toBe(file);
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining([
      'chargePointId', 'csms.url', 'csms.callTimeoutMs', 'csms.reconnectMaxDelayMs', 'log.level',
      'session.resumePolicy', 'session.meterPollIntervalMs', 'session.stopOnSecondPresentation', 'simulation.seed',
    ]));
    expect(problems).toHaveLength(9);
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    expect(byPath.get('csms.url')).toMatch(/ws:\/\/ or wss:\/\//);
    expect(byPath.get('csms.callTimeoutMs')).toMatch(/1000/);
    expect(byPath.get('log.level')).toMatch(/"debug"/);
    // The message of the error names them too (what the CLI prints).
    const err = (() => {
      try {
        loadAgentConfig(file);
      } catch (e) {
        return e as Error;
      }
    })()!;
    expect(err.message).toContain(`${file}: csms.url:`);
    expect(err.message).toContain(`${file}: session.resumePolicy:`);
  });

  it('missing required fields are named', () => {
    const problems = problemsOf(() => loadAgentConfig(write('empty.json', {})));
    expect(problems.map((p) => [p.path, p.message])).toEqual([['chargePointId', 'is required'], ['csms', 'is required']]);
    const nested = problemsOf(() => loadAgentConfig(write('no-url.json', { chargePointId: 'CP-1', csms: {} })));
    expect(nested.map((p) => p.path)).toEqual(['csms.url']);
  });

  it('unknown keys are errors, at any depth', () => {
    const file = write('unknown.json', { ...minimal, chargepointid: 'typo', csms: { ...minimal.csms, urll: 'x' }, session: { meterPollInterval: 5 } });
    const problems = problemsOf(() => loadAgentConfig(file));
    expect(problems.map((p) => p.path).sort()).toEqual(['chargepointid', 'csms.urll', 'session.meterPollInterval']);
    for (const p of problems) {
      expect(p.file).toBe(file);
      expect(p.message).toMatch(/unknown key/);
    }
    expect(problems.find((p) => p.path === 'csms.urll')!.message).toContain('url');
  });

  it('a file that is missing or not JSON is named', () => {
    const missing = join(dir, 'nope.json');
    expect(problemsOf(() => loadAgentConfig(missing))).toEqual([{ file: missing, path: '', message: 'file not found' }]);
    const broken = write('broken.json', '{"chargePointId": "CP-1",');
    const [p] = problemsOf(() => loadAgentConfig(broken));
    expect(p).toMatchObject({ file: broken, path: '' });
    expect(p!.message).toMatch(/not valid JSON/);
    const array = write('array.json', '[]');
    expect(problemsOf(() => loadAgentConfig(array))).toEqual([{ file: array, path: '', message: 'expected an object, got array' }]);
  });

  it('an unknown charger profile is named, with the known ones', () => {
    const file = write('unknown-charger.json', { ...minimal, charger: 'no-such-charger' });
    const [p, ...rest] = problemsOf(() => loadAgentConfig(file));
    expect(rest).toEqual([]);
    expect(p!.message).toContain('no-such-charger');
    expect(p!.message).toContain('sim-ac-2x22kw');
    expect(p!.file).toMatch(/no-such-charger\.json$/);
  });

  it('an invalid charger profile file: its problems name that file and their field paths', () => {
    const profile = write('my-charger.json', {
      id: 'my-charger', vendor: 'ACME', model: 'X',
      connectors: [{ id: 1, type: 'Type2', phases: 3, maxCurrentA: 32, nominalVoltageV: 230, maxPowerW: 22080 }, { id: 0, type: 'Plug', phases: '1', maxCurrentA: 16, nominalVoltageV: 230, maxPowerW: 3680 }],
    });
    const file = write('with-profile.json', { ...minimal, charger: profile });
    const problems = problemsOf(() => loadAgentConfig(file));
    expect(problems.map((p) => p.path).sort()).toEqual(['connectors[0].phases', 'connectors[1].id', 'connectors[1].type']);
    for (const p of problems) expect(p.file).toBe(profile);
    // The id must equal the file name.
    const misnamed = write('other-name.json', { id: 'my-charger', vendor: 'ACME', model: 'X', connectors: [{ id: 1, type: 'Type2', phases: '3', maxCurrentA: 32, nominalVoltageV: 230, maxPowerW: 22080 }] });
    expect(problemsOf(() => loadAgentConfig(write('misnamed.json', { ...minimal, charger: misnamed })))).toEqual([
      { file: misnamed, path: 'id', message: expect.stringContaining('other-name') },
    ]);
  });

  it('OCPP configuration keys in the config: unknown, read-only and invalid values are named', () => {
    const file = write('ocpp.json', { ...minimal, ocpp: { HeartbeatInterval: 'often', NoSuchKey: 1, NumberOfConnectors: 4, MeterValueSampleInterval: 10, LocalPreAuthorize: true } });
    const loaded = loadAgentConfig(file);
    const problems = problemsOf(() => new Agent({ loaded, log: createLog(new MemorySink('error')) }));
    expect(problems.map((p) => p.path).sort()).toEqual(['ocpp.HeartbeatInterval', 'ocpp.NoSuchKey', 'ocpp.NumberOfConnectors']);
    for (const p of problems) expect(p.file).toBe(file);
    const nested = problemsOf(() => loadAgentConfig(write('ocpp-nested.json', { ...minimal, ocpp: { HeartbeatInterval: { value: 5 } } })));
    expect(nested.map((p) => p.path)).toEqual(['ocpp.HeartbeatInterval']);
  });

  it('parseAgentConfig (configs built in code) reports the same way, under <inline>', () => {
    const problems = problemsOf(() => parseAgentConfig({ chargePointId: 'CP-1', csms: { url: 'ws://x' }, store: { path: '' } }));
    expect(problems).toEqual([{ file: '<inline>', path: 'store.path', message: 'expected at least 1 characters' }]);
  });
});

describe('the CLI', () => {
  it('agent --config with an invalid file exits 2 and prints the file and field', async () => {
    const file = write('cli-bad.json', { chargePointId: 'CP-1', csms: { url: 'http://x' }, extra: true });
    const r = await run(['agent', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: csms.url:`);
    expect(r.stderr).toContain(`${file}: extra: unknown key`);
    expect(r.stdout).toBe('');
  });

  it('agent --config with invalid OCPP keys exits 2; a valid config passes --check', async () => {
    const bad = write('cli-ocpp.json', { ...minimal, ocpp: { NumberOfConnectors: 3 } });
    const r = await run(['agent', '--config', bad, '--check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ocpp.NumberOfConnectors');
    const good = write('cli-good.json', minimal);
    const ok = await run(['agent', '--config', good, '--check']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('valid');
  });

  it('csms.ocppVersions: default ["ocpp1.6"]; an unknown or repeated version exits 2 naming the file and field', async () => {
    expect(loadAgentConfig(write('versions-default.json', minimal)).config.csms.ocppVersions).toEqual(['ocpp1.6']);
    expect(loadAgentConfig(write('versions-both.json', { ...minimal, csms: { ...minimal.csms, ocppVersions: ['ocpp2.0.1', 'ocpp1.6'] } })).config.csms.ocppVersions)
      .toEqual(['ocpp2.0.1', 'ocpp1.6']);
    const bad = write('versions-bad.json', { ...minimal, csms: { ...minimal.csms, ocppVersions: ['ocpp2.1'] } });
    const r = await run(['agent', '--config', bad, '--check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: csms.ocppVersions[0]:`);
    const twice = write('versions-twice.json', { ...minimal, csms: { ...minimal.csms, ocppVersions: ['ocpp1.6', 'ocpp1.6'] } });
    const r2 = await run(['agent', '--config', twice, '--check']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${twice}: csms.ocppVersions[1]: ocpp1.6 is listed twice`);
    const empty = write('versions-empty.json', { ...minimal, csms: { ...minimal.csms, ocppVersions: [] } });
    expect(problemsOf(() => loadAgentConfig(empty)).map((p) => p.path)).toEqual(['csms.ocppVersions']);
  });

  it('a missing config file exits 2 and names it', async () => {
    const r = await run(['agent', '--config', join(dir, 'absent.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('absent.json');
    expect(r.stderr).toContain('file not found');
  });

  it('--help and --version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: evse-edge/);
    for (const cmd of ['agent', 'csms', 'demo']) expect(help.stdout).toContain(cmd);
    const agentHelp = await run(['agent', '--help']);
    expect(agentHelp.code).toBe(0);
    expect(agentHelp.stdout).toContain('--config');
    const version = await run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
  });

  it('an unknown command or a missing --config is a usage error (non-zero exit)', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command/i);
    const noConfig = await run(['agent']);
    expect(noConfig.code).not.toBe(0);
    expect(noConfig.stderr).toContain('--config');
  });
});

describe('hardware blocks', () => {
  const base = { chargePointId: 'CP-HW', csms: { url: 'ws://127.0.0.1:1/ocpp' } };

  it('names every bad hardware field: missing port, bad unit id, unknown connector, unknown protocol', () => {
    const problems = problemsOf(() => loadAgentConfig(write('hw-bad.json', {
      ...base,
      connectors: [
        { id: 1, meter: { driver: 'modbus-rtu', unitId: 300, profile: 'eastron-sdm630' } },
        { id: 9, evse: { driver: 'modbus-tcp', host: '10.0.0.5', unitId: 2, profile: 'evse-wb' } },
      ],
      readers: [{ driver: 'serial', port: '/dev/ttyUSB1', protocol: 'wiegand' }],
    })));
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['connectors[0].meter.port', 'connectors[0].meter.unitId', 'readers[0].protocol']));
    expect(problems.every((p) => p.file.endsWith('hw-bad.json'))).toBe(true);
  });

  it('reports a connector the charger profile does not have, and an unknown meter profile, before anything starts', () => {
    expect(problemsOf(() => loadAgentConfig(write('hw-conn.json', { ...base, connectors: [{ id: 9, meter: { driver: 'sim' } }] }))).map((p) => p.path))
      .toEqual(['connectors[0].id']);
    const loaded = loadAgentConfig(write('hw-profile.json', {
      ...base, connectors: [{ id: 1, meter: { driver: 'modbus-tcp', host: '127.0.0.1', unitId: 1, profile: 'no-such-meter' } }],
    }));
    const problems = problemsOf(() => new Agent({ loaded, log: createLog(new MemorySink()) }));
    expect(problems).toEqual([expect.objectContaining({ path: 'connectors[0].meter.profile', message: expect.stringMatching(/no-such-meter|not found|no meters? profile/i) })]);
  });
});
