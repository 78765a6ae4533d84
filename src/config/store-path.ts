import { closeSync, constants, existsSync, mkdirSync, openSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Filesystems that hold no files of ours: a recursive mkdir there never ends (procfs). */
const PSEUDO_FILESYSTEMS: Readonly<Record<number, string>> = { 0x9fa0: 'procfs', 0x62656572: 'sysfs', 0x64626720: 'debugfs', 0x73636673: 'securityfs', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2' };
const PSEUDO_ROOTS = ['/proc', '/sys'];

/**
 * Why the agent cannot keep its SQLite file at `path`, or undefined when it can: the directory
 * is created if missing, then a probe file is created and removed in it. Never under /proc or
 * /sys (checked before any mkdir: a recursive mkdir on procfs spins forever).
 */
export function storePathProblem(path: string): string | undefined {
  if (path === ':memory:') return undefined;
  const abs = resolve(path);
  const root = PSEUDO_ROOTS.find((r) => abs === r || abs.startsWith(`${r}/`));
  if (root) return `${abs} is under ${root}, a kernel filesystem: choose a directory on disk, e.g. /var/lib/evse-edge/agent.db`;
  // The nearest existing ancestor tells which filesystem the store would land on (a bind mount or a symlink into /proc).
  let existing = dirname(abs);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    const fs = PSEUDO_FILESYSTEMS[statfsSync(existing).type];
    if (fs) return `${abs} would be on ${fs} (${existing}), a kernel filesystem: choose a directory on disk`;
  } catch {
    // statfs of something that is not a directory: the checks below say what is wrong
  }
  if (existsSync(abs) && statSync(abs).isDirectory()) return `${abs} is a directory: store.path names the database file, e.g. ${abs}/agent.db`;
  const dir = dirname(abs);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    return `cannot create the directory ${dir}: ${reason(err, dir)}`;
  }
  const probe = `${abs}.probe-${process.pid}`;
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
    unlinkSync(probe);
  } catch (err) {
    return `cannot create a file in ${dir}: ${reason(err, dir)}`;
  }
  if (existsSync(abs)) {
    try {
      closeSync(openSync(abs, constants.O_RDWR));
    } catch (err) {
      return `cannot open ${abs} for writing: ${reason(err, abs)}`;
    }
  }
  return undefined;
}

function reason(err: unknown, path: string): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return `a file stands where a directory is needed (${blockingFile(path) ?? path} is not a directory)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${e.code}): the service user must be able to write there`;
    case 'EROFS':
      return 'read-only filesystem (EROFS)';
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)';
    default:
      return `${e.message}${e.code ? ` (${e.code})` : ''}`;
  }
}

/** The first ancestor of `path` that exists and is not a directory. */
function blockingFile(path: string): string | undefined {
  const chain: string[] = [];
  for (let p = path; dirname(p) !== p; p = dirname(p)) chain.unshift(p);
  for (const p of chain) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
