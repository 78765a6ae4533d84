/**
 * `evse-edge install`: the agent as a systemd service (user, unit, starter config), and what is
 * wrong with running the service from a given place. The CLI parses the options and prints.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package (e.g. /usr/local/lib/node_modules/evse-edge), or a checkout (this file is <root>/{src,dist}/app/tools/). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const UNIT_SOURCE = join(REPO_ROOT, 'systemd/evse-edge.service');
const SERVICE_USER = 'evse-edge';
/** Where the agent's config goes (and where `evse-edge doctor` looks by default). */
export const CONFIG_FILE = '/etc/evse-edge/agent.json';

/** The unit with ExecStart pointing at this installation (node and bin/evse-edge.js). */
export function unitText(execPath = process.execPath, bin = join(REPO_ROOT, 'bin/evse-edge.js')): string {
  return readFileSync(UNIT_SOURCE, 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${execPath} ${bin} agent --config ${CONFIG_FILE}`);
}

/** A starter config: security profile 2 with a fresh random AuthorizationKey to register at the central system. */
export function starterConfig(chargePointId: string): string {
  return `${JSON.stringify({
    chargePointId,
    csms: { url: 'wss://csms.example.com/ocpp', securityProfile: 2, authorizationKey: randomBytes(20).toString('hex') },
    store: { path: '/var/lib/evse-edge/evse-edge.db' },
    charger: 'sim-ac-2x22kw',
    log: { level: 'info' },
  }, null, 2)}\n`;
}

/**
 * What is wrong with running the service from `packageRoot`: the unit hides /tmp (PrivateTmp)
 * and home directories (ProtectHome) from it, and a source checkout is a working tree, not a
 * release. The remedy is the same: install the package (`npm i -g ./evse-edge-<version>.tgz`).
 */
export function installWarnings(packageRoot: string, home = homedir()): string[] {
  const remedy = 'install the package instead (npm pack in a checkout, then npm i -g ./evse-edge-*.tgz) and run its evse-edge install';
  const under = (dir: string) => packageRoot === dir || packageRoot.startsWith(`${dir}/`);
  const out: string[] = [];
  if (under('/tmp') || under('/var/tmp')) out.push(`the unit would run ${packageRoot}, under a temporary directory that PrivateTmp=yes hides from the service (and that is cleaned): ${remedy}`);
  else if (under('/home') || under('/root') || (home !== '/' && under(home))) out.push(`the unit would run ${packageRoot}, in a home directory that ProtectHome=yes hides from the service: ${remedy}`);
  if (existsSync(join(packageRoot, '.git')) || existsSync(join(packageRoot, 'src'))) out.push(`the unit would run a source checkout (${packageRoot}), not an installed release: ${remedy}`);
  return out;
}

function userExists(name: string): boolean {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function groupId(name: string): number | undefined {
  try {
    return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    return undefined;
  }
}

/**
 * Install the agent as a systemd service under `root` (default /; another directory creates no
 * user): the service user in the dialout group, the unit pointing at this installation, the
 * config directory and a starter config (never overwritten). Returns the report's lines.
 */
export function install(opts: { root?: string; chargePointId: string }): string[] {
  const root = resolve(opts.root ?? '/');
  const real = opts.root === undefined;
  const out: string[] = [];
  if (real && process.getuid?.() !== 0) throw new Error('evse-edge install must run as root (or use --root DIR)');

  // 1. The service user, in the dialout group for the serial ports.
  const useradd = ['--system', '--user-group', '--groups', 'dialout', '--home-dir', '/var/lib/evse-edge', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER];
  if (!real) out.push(`user: skipped under --root (would run: useradd ${useradd.join(' ')})`);
  else if (userExists(SERVICE_USER)) {
    execFileSync('usermod', ['--append', '--groups', 'dialout', SERVICE_USER], { stdio: 'inherit' });
    out.push(`user: ${SERVICE_USER} exists (dialout group ensured)`);
  } else {
    execFileSync('useradd', useradd, { stdio: 'inherit' });
    out.push(`user: created ${SERVICE_USER} (groups ${SERVICE_USER}, dialout)`);
  }

  // 2. The unit, pointing at this installation.
  const unitPath = join(root, 'etc/systemd/system/evse-edge.service');
  mkdirSync(dirname(unitPath), { recursive: true });
  const unit = unitText();
  const previous = existsSync(unitPath) ? readFileSync(unitPath, 'utf8') : undefined;
  if (previous !== unit) writeFileSync(unitPath, unit, { mode: 0o644 });
  out.push(`unit: ${unitPath} ${previous === undefined ? 'installed' : previous === unit ? 'unchanged' : 'updated'}`);
  for (const w of installWarnings(REPO_ROOT)) out.push(`warning: ${w}`);

  // 3. The config directory and a starter config, never overwritten.
  const configDir = join(root, 'etc/evse-edge');
  mkdirSync(configDir, { recursive: true, mode: 0o750 });
  const configPath = join(root, CONFIG_FILE);
  if (existsSync(configPath)) out.push(`config: ${configPath} exists: left as it is`);
  else {
    writeFileSync(configPath, starterConfig(opts.chargePointId), { mode: 0o640, flag: 'wx' });
    out.push(`config: wrote a starter ${configPath} (security profile 2, a new random AuthorizationKey)`);
  }
  chmodSync(configDir, 0o750);
  if (real) {
    // Readable by the service (group), writable by root only: the keys stay private.
    const gid = groupId(SERVICE_USER);
    if (gid !== undefined) {
      chownSync(configDir, 0, gid);
      chownSync(configPath, 0, gid);
    }
  }

  out.push('', 'next steps:',
    `  1. edit ${CONFIG_FILE}: chargePointId, csms.url, the charger profile and its hardware;`,
    '     register the chargePointId and csms.authorizationKey (hex) at your central system;',
    '     a private operator CA goes in csms.ca (a PEM file in /etc/evse-edge, mode 0640).',
    `  2. evse-edge doctor --config ${CONFIG_FILE}`,
    '  3. systemctl daemon-reload && systemctl enable --now evse-edge',
    '  4. journalctl -u evse-edge -f');
  return out;
}
