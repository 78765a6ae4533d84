import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLog } from '../../src/lib/log.js';
import { openDatabase } from '../../src/store/index.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');

/** Export of N sessions with their meter curves: time and the exporting process's peak memory. */
export async function benchExport(sessions = Number(process.env.BENCH_EXPORT_SESSIONS ?? 100_000), samplesPerSession = 20): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-export-'));
  const file = join(dir, 'agent.db');
  const db = openDatabase(file, { log: silentLog, synchronous: 'NORMAL' });
  const t0 = Date.UTC(2026, 0, 1);
  const insSession = db.prepare(`INSERT INTO sessions (local_id, charge_point_id, connector_id, transaction_ref, transaction_ref_version, customer_ref, auth_method, started_at, start_clock_trusted,
    meter_start_wh, last_energy_wh, last_checkpoint_at, stopped_at, stop_clock_trusted, meter_stop_wh, stop_reason, stop_acked_at, cost_minor, currency)
    VALUES (?, 'CP-BENCH', ?, ?, 'ocpp1.6', ?, 'rfid', ?, 1, ?, ?, ?, ?, 1, ?, 'Local', ?, ?, 'EUR')`);
  const insSample = db.prepare(`INSERT INTO meter_samples (local_id, taken_at, clock_trusted, context, energy_wh, reading) VALUES (?, ?, 1, 'Sample.Periodic', ?, ?)`);
  const setupStart = Date.now();
  db.transaction(() => {
    for (let i = 0; i < sessions; i++) {
      const id = `s-${String(i).padStart(8, '0')}`;
      const at = t0 + i * 600_000;
      const startWh = i * 10_000;
      insSession.run(id, 1 + (i % 2), String(i + 1), `c-${(i % 5000).toString(16).padStart(16, '0')}`, at, startWh, startWh + 10_000, at + 3_600_000, at + 3_600_000, startWh + 10_000, at + 3_600_000, 390);
      for (let k = 0; k < samplesPerSession; k++) {
        const wh = startWh + (k * 10_000) / samplesPerSession;
        insSample.run(id, at + k * 180_000, wh, JSON.stringify({ takenAt: at + k * 180_000, energyWh: wh, powerW: 11000 }));
      }
    }
  })();
  db.close();
  const setupS = (Date.now() - setupStart) / 1000;
  const out: Record<string, number | string> = {
    'export: sessions / meter samples': `${sessions} / ${sessions * samplesPerSession}`,
    'export: database size (MiB)': Math.round(statSync(file).size / 1048576),
    'export: setup (s)': Math.round(setupS * 10) / 10,
  };
  for (const format of ['json', 'csv'] as const) {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, 'sessions', 'export', '--db', file, '--format', format, '--out', join(dir, `out.${format}`)], { stdio: 'ignore' });
    let peakKiB = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch { /* exited */ }
    }, 20);
    await new Promise((r) => child.once('exit', r));
    clearInterval(poll);
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    out[`export ${format}: time (s)`] = Math.round(s * 10) / 10;
    out[`export ${format}: peak RSS of the exporting process (MiB)`] = Math.round(peakKiB / 1024);
    out[`export ${format}: output (MiB)`] = Math.round(statSync(join(dir, `out.${format}`)).size / 1048576);
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}
