/**
 * Disk full: the agent (a child process) keeps its store on a small tmpfs in its own mount
 * namespace (`unshare -m`). When the tmpfs fills, it keeps running, refuses to start a session
 * it cannot record (connector Faulted, InternalError, no StartTransaction), and starts sessions
 * again once space returns.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, unlinkSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildAgent, REPO_ROOT } from '../helpers/child-agent.js';
import { LEVELS } from '../../src/lib/log.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';

/** Can this machine give a process its own mount namespace with a size-limited tmpfs? */
function tmpfsNamespaceWorks(): { ok: boolean; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'not Linux' };
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-tmpfs-probe-'));
  try {
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs '${dir}' && touch '${dir}/x' && test -f '${dir}/x'`], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) return { ok: false, why: `unshare: ${r.error.message}` };
    if (r.status !== 0) return { ok: false, why: `unshare -m + mount tmpfs failed (${(r.stderr || '').trim() || `exit ${r.status}`}); needs root or CAP_SYS_ADMIN` };
    // The mount must not leak into our namespace.
    if (readdirSync(dir).length !== 0) return { ok: false, why: 'the tmpfs mount leaked out of the namespace' };
    return { ok: true, why: '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const probe = tmpfsNamespaceWorks();
if (!probe.ok) console.warn(`disk-full test skipped: ${probe.why}`);

/** Write zeros until the file system says it is full. Returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return n;
}

/** PRAGMA integrity_check of a database only the process `pid` can see (its mount namespace). */
function integrityInside(pid: number, dbPath: string): string {
  const script = `const D = require(process.argv[2]); const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
    process.stdout.write(db.pragma('integrity_check').map((r) => r.integrity_check).join('; ')); db.close();`;
  const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', process.execPath, '-e', script, dbPath, join(REPO_ROOT, 'node_modules/better-sqlite3')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : `nsenter failed: ${r.stderr || r.error?.message}`;
}

const CP = 'CP-DISK-1';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('disk full', () => {
  it.skipIf(!probe.ok)('keeps running, refuses a session it cannot record, and recovers when space returns', async () => {
    const csms = new TestCsms();
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    let nextTx = 1;
    csms.on('StartTransaction', () => ({ transactionId: nextTx++, idTagInfo: { status: 'Accepted' } }));
    const mnt = mkdtempSync(join(tmpdir(), 'evse-edge-tmpfs-'));
    cleanups.push(() => rmSync(mnt, { recursive: true, force: true }));
    const child = new ChildAgent({
      url, chargePointId: CP, storePath: join(mnt, 'agent.db'),
      ocpp: { MeterValueSampleInterval: 1 },
      // Its own mount namespace: a 1 MiB tmpfs over `mnt`, seen by the agent only.
      wrap: (cmd) => ['unshare', '-m', 'sh', '-c', `mount -t tmpfs -o size=1m tmpfs '${mnt}' && exec ${cmd}`],
    });
    cleanups.push(() => child.cleanup());
    let stopping = false;
    child.start();
    cleanups.push(() => {
      // An agent that died under us: show why.
      if (!stopping && !child.running) console.warn('agent logs:', child.logs.filter((l) => l.level !== LEVELS.info).slice(-20), child.stderr.slice(-3000));
    });
    await waitFor(() => csms.clients.has(CP) && csms.callsOf('StatusNotification', CP).length >= 3, 15_000, 'the agent to boot');
    // We reach the agent's tmpfs through its root in /proc.
    const theirs = (p: string) => `/proc/${child.pid}/root${p}`;
    const filler = theirs(join(mnt, 'filler'));

    const filled = fill(filler);
    expect(filled).toBeGreaterThan(0);
    const statusesBefore = csms.callsOf('StatusNotification', CP).length;
    const res = await csms.call(CP, 'RemoteStartTransaction', { idTag: 'APP-1', connectorId: 1 });
    expect(res.status).toBe('Accepted');
    // The EV plugs in; the session cannot be written: connector 1 Faulted, InternalError
    // (the store is the whole charge point's, so the others follow).
    const faulted = await waitFor(
      () => csms.callsOf('StatusNotification', CP).slice(statusesBefore).find((c) => c.params.connectorId === 1 && c.params.status === 'Faulted'),
      10_000, 'connector 1 Faulted',
    );
    expect(faulted.params.errorCode).toBe('InternalError');
    await child.waitForLog((l) => l.msg === 'cannot start: the session could not be recorded', 5_000);
    expect(csms.callsOf('StartTransaction', CP)).toHaveLength(0);
    // Still running and answering.
    expect(child.running).toBe(true);
    const conf = await csms.call(CP, 'GetConfiguration', { key: ['MeterValueSampleInterval'] });
    expect(conf.configurationKey[0].value).toBe('1');
    expect((await csms.call(CP, 'TriggerMessage', { requestedMessage: 'Heartbeat' })).status).toBe('Accepted');

    // Space returns.
    unlinkSync(filler);
    await waitFor(
      () => csms.callsOf('StatusNotification', CP).slice(statusesBefore).some((c) => c.params.connectorId === 1 && c.params.status !== 'Faulted' && c.at > faulted.at),
      15_000, 'connector 1 out of Faulted',
    );
    const res2 = await csms.call(CP, 'RemoteStartTransaction', { idTag: 'APP-1', connectorId: 1 });
    expect(res2.status).toBe('Accepted');
    const start = await waitFor(() => csms.callsOf('StartTransaction', CP)[0], 10_000, 'StartTransaction after recovery');
    await waitFor(() => csms.callsOf('MeterValues', CP).length >= 1, 10_000, 'MeterValues');
    await csms.call(CP, 'RemoteStopTransaction', { transactionId: 1 });
    const stop = await waitFor(() => csms.callsOf('StopTransaction', CP)[0], 10_000, 'StopTransaction');
    expect(stop.params.transactionId).toBe(1);
    expect(stop.params.meterStop).toBeGreaterThanOrEqual(start.params.meterStart);
    expect(csms.callsOf('StartTransaction', CP)).toHaveLength(1);
    expect(child.running).toBe(true);

    // The store came through intact (checked inside the agent's mount namespace).
    expect(integrityInside(child.pid!, child.storePath)).toBe('ok');
    stopping = true;
    expect(await child.stop()).toBe(0);
  });
});
