import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package an operator installs: built (npm run build), packed (npm pack), unpacked into a
 * temporary directory beside a node_modules holding only the production dependencies (no tsx,
 * esbuild, typescript or vitest), and run as an installed evse-edge runs. A missing build step,
 * a file left out of package.json's "files", or an import of a development dependency fails here.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const sh = promisify(execFile);
/** As an operator's shell: not the tests' EVSE_EDGE_SOURCES (run the sources). */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'EVSE_EDGE_SOURCES' && k !== 'NODE_OPTIONS'));

/** What `find` finds in a child's output, once it is there (undefined if the child ends first, or after 90 s). */
async function waitForText(find: () => string | undefined, child: { exitCode: number | null }): Promise<string | undefined> {
  const deadline = Date.now() + 90_000;
  let found: string | undefined;
  while (!(found = find()) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return found;
}

/** The fleet dashboard's static files (src/app/fleet/control/dashboard/), copied to dist by the build. */
const DASHBOARD_FILES = ['index.html', 'app.js', 'metrics.js', 'chart.js', 'dashboard.css'];

let dir: string;
let pkg: string;
let entries: string[];

/** The production dependencies npm would install, each linked from the checkout's node_modules. */
function productionNodeModules(into: string): string[] {
  // npm ls exits non-zero for packages it finds extraneous; its list is what counts.
  const r = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8', env });
  const top = new RegExp(`^${ROOT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/node_modules/((?:@[^/]+/)?[^/]+)$`);
  const names = r.stdout.split('\n').map((l) => top.exec(l.trim())?.[1]).filter((n): n is string => Boolean(n));
  for (const name of names) {
    mkdirSync(dirname(join(into, name)), { recursive: true });
    symlinkSync(realpathSync(join(ROOT, 'node_modules', name)), join(into, name));
  }
  return names;
}

const cli = (args: string[], opts: { cwd?: string; nodeArgs?: string[] } = {}) =>
  sh(process.execPath, [...(opts.nodeArgs ?? []), join(pkg, 'bin/evse-edge.js'), ...args], { cwd: opts.cwd ?? dir, env, timeout: 60_000 });

/** Every module a run resolves, written down by a module hook (see recordingModules). */
const hookArgs = () => {
  const hooks = `import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      appendFileSync(${JSON.stringify(join(dir, 'resolved.txt'))}, r.url + '\\n');
      return r;
    }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  return ['--import', `data:text/javascript,${encodeURIComponent(register)}`];
};

/** The files (relative to the package) that `run` loaded, through hookArgs(). */
async function recordingModules<T extends { stdout: string }>(run: () => Promise<T>): Promise<T & { loaded: string[] }> {
  const seen = join(dir, 'resolved.txt');
  writeFileSync(seen, '');
  const r = await run();
  // The package's own files, and its dependencies (linked from the checkout) as node_modules/<name>/….
  const loaded = readFileSync(seen, 'utf8').split('\n').filter((u) => u.startsWith('file://')).map((u) => u.startsWith(`file://${pkg}/`)
    ? u.slice(`file://${pkg}/`.length)
    : `node_modules/${u.slice(u.lastIndexOf('/node_modules/') + '/node_modules/'.length)}`);
  return { ...r, loaded };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'evse-edge-package-'));
  await sh('npm', ['run', 'build', '--silent'], { cwd: ROOT, env });
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  entries = info!.files.map((f) => f.path);
  await sh('tar', ['-xzf', join(dir, info!.filename), '-C', dir]);
  pkg = join(dir, 'package');
  const deps = productionNodeModules(join(pkg, 'node_modules'));
  expect(deps).toContain('better-sqlite3');
  expect(deps).not.toContain('tsx');
  expect(deps).not.toContain('esbuild');
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the built files, the profiles, the unit and the README, and no sources or tests', () => {
    for (const f of ['package.json', 'README.md', 'bin/evse-edge.js', 'dist/cli/main.js', 'dist/app/fleet/worker.js', 'dist/app/fleet/process-child.js',
      'profiles/chargers/sim-ac-2x22kw.json', 'profiles/scenarios/smoke.json', 'systemd/evse-edge.service',
      ...DASHBOARD_FILES.map((f) => `dist/app/fleet/control/dashboard/${f}`)]) {
      expect(entries, f).toContain(f);
    }
    expect(entries.filter((f) => /^(src|test)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('--version and --help load no OCPP, SQLite, MQTT, serial or other command module', async () => {
    for (const args of [['--version'], ['--help']]) {
      const { stdout, loaded } = await recordingModules(() => cli(args, { nodeArgs: hookArgs() }));
      if (args[0] === '--version') expect(stdout.trim()).toBe(VERSION);
      else expect(stdout).toContain('agent ');
      expect(loaded, args[0]).toContain('dist/cli/main.js');
      const heavy = loaded.filter((f) => (f.startsWith('node_modules/') && !f.startsWith('node_modules/commander/')) || /^dist\/(?!cli\/(main|commands|usage)\.js|app\/version\.js|lib\/errors\.js)/.test(f));
      expect(heavy, args[0]).toEqual([]);
    }
  });

  it('a started agent with simulated hardware, no "mqtt" and OCPP 1.6 loads no serial, Modbus or MQTT module, no driver, nor the OCPP 2.0.1 binding', async () => {
    const config = join(dir, 'agent-lazy.json');
    writeFileSync(config, JSON.stringify({ chargePointId: 'CP-PKG-2', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: join(dir, 'lazy.db') } }));
    const { loaded } = await recordingModules(() => new Promise<{ stdout: string }>((done, fail) => {
      const child = spawn(process.execPath, [...hookArgs(), join(pkg, 'bin/evse-edge.js'), 'agent', '--config', config], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"msg":"agent started"')) child.kill('SIGTERM');
      });
      child.once('error', fail);
      child.once('exit', () => done({ stdout }));
    }));
    expect(loaded).toContain('dist/app/agent/controller.js');
    // ocpp-rpc is required by dist/ocpp/rpc.js (CommonJS, which this ESM resolve hook does not see).
    expect(loaded).toContain('dist/ocpp/rpc.js');
    expect(loaded.filter((f) => /^node_modules\/(mqtt|aedes|serialport|@serialport|modbus-serial)\//.test(f) || f.startsWith('dist/diag/'))).toEqual([]);
    // 2.0.1's link, device model and handlers load only when the central system selects it (its strict validator is loaded with the connection).
    expect(loaded.filter((f) => f.startsWith('dist/ocpp/v201/') && f !== 'dist/ocpp/v201/errors.js')).toEqual([]);
    // Drivers load only for the devices a config names; the Modbus profiles' schemas are config.
    expect(loaded.filter((f) => f.startsWith('dist/drivers/') && !/^dist\/drivers\/modbus\/(meter|evse)-profile\.js$/.test(f))).toEqual([]);
  });

  it('agent --check validates a config with the shipped charger profile', async () => {
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ chargePointId: 'CP-PKG-1', csms: { url: 'ws://127.0.0.1:9/ocpp' }, store: { path: join(dir, 'agent.db') } }));
    const { stdout } = await cli(['agent', '--check', '--config', config]);
    expect(stdout).toContain(`${config}: valid (charger sim-ac-2x22kw, 2 connectors)`);
  });

  it('sim: 10 chargers in two processes with worker threads, from the built files, all Accepted by the embedded central system', async () => {
    const report = join(dir, 'report.json');
    const child = spawn(process.execPath, [join(pkg, 'bin/evse-edge.js'), 'sim', '--count', '10', '--processes', '2', '--workers', '2',
      '--status-interval', '1', '--report', report], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Wait for every charger to be Accepted (status lines go to stderr, a pipe), then stop as Ctrl-C does.
    const deadline = Date.now() + 90_000;
    while (!/accepted=10 /.test(stderr) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    // Ctrl-C ends a run early: exit 130, the report written and marked interrupted.
    expect(await exited, stderr).toBe(130);
    expect(stdout).toContain('chargers 10 (accepted 10');
    const r = JSON.parse(readFileSync(report, 'utf8')) as { chargers: number; threads: number; interrupted?: { signal: string }; stats: { actions: Record<string, { ok: number }> } };
    expect(r.interrupted?.signal).toBe('SIGINT');
    expect(r.chargers).toBe(10);
    expect(r.threads).toBe(4);
    expect(r.stats.actions.BootNotification?.ok).toBe(10);
  }, 120_000);

  it('sim --control: the control port serves the dashboard\'s files from the package, as they are in the sources', async () => {
    const child = spawn(process.execPath, [join(pkg, 'bin/evse-edge.js'), 'sim', '--count', '2', '--workers', '0', '--status-interval', '1',
      '--control', '127.0.0.1:0'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 90_000;
      let base: string | undefined;
      while (!(base = /control API: (http:\/\/\S+)/.exec(stderr)?.[1]) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(base, stderr).toBeDefined();
      // The address it prints for a person to open.
      const printed = await waitForText(() => /^dashboard: (http:\/\/\S+)$/m.exec(stderr)?.[1], child);
      expect(printed).toBe(`${base}/dashboard/`);
      const page = await fetch(printed!);
      expect(page.status).toBe(200);
      for (const f of DASHBOARD_FILES) {
        const res = await fetch(`${base}/dashboard/${f}`);
        expect(res.status, f).toBe(200);
        expect(await res.text(), f).toBe(readFileSync(join(ROOT, 'src/app/fleet/control/dashboard', f), 'utf8'));
      }
    } finally {
      child.kill('SIGINT');
      await exited;
    }
  }, 120_000);

  it('install --root: the unit runs the unpacked package, with a warning that it lies under /tmp', async () => {
    const root = join(dir, 'root');
    const { stdout } = await cli(['install', '--root', root]);
    const unit = readFileSync(join(root, 'etc/systemd/system/evse-edge.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${join(pkg, 'bin/evse-edge.js')} agent --config /etc/evse-edge/agent.json`);
    expect(stdout).toContain(`warning: the unit would run ${pkg}, under a temporary directory that PrivateTmp=yes hides`);
    expect(stdout).not.toContain('source checkout');
  });
});
