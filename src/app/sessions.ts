/**
 * The station owner's session records, read from the agent's store (evse-edge sessions): the
 * database found from the config or given, and the export streamed as CSV or JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { loadAgentConfig } from '../config/index.js';
import { UsageError } from '../lib/errors.js';
import { silentLog } from '../lib/log.js';
import { pseudonymiser } from '../lib/pseudonym.js';
import { openDatabase, SessionRecords, type SessionReportRow } from '../store/index.js';

export type { SessionReportRow };

export interface StoreOptions { config?: string; db?: string }

export function openStore(o: StoreOptions): { records: SessionRecords; close(): void; secretFile: string } {
  let dbPath = o.db;
  if (!dbPath) {
    if (!o.config) throw new UsageError('give --config FILE (or --db FILE)');
    dbPath = resolve(loadAgentConfig(o.config).config.store.path);
  }
  if (!existsSync(dbPath)) throw new UsageError(`no database at ${dbPath}`);
  const db = openDatabase(dbPath, { log: silentLog });
  return { records: new SessionRecords(db), close: () => db.close(), secretFile: join(dirname(dbPath), 'pseudonym.key') };
}

const COLUMNS: (keyof SessionReportRow)[] = ['chargePointId', 'connectorId', 'localId', 'transactionId', 'startedAt', 'stoppedAt', 'energyWh', 'cost', 'currency', 'authMethod', 'stopReason', 'customerRef', 'synced', 'unsynced'];

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Stream rows to `out`, honouring back-pressure: memory stays flat whatever the ledger's size. */
export async function writeExport(records: SessionRecords, filter: { fromMs?: number; toMs?: number }, format: 'csv' | 'json', out: NodeJS.WritableStream): Promise<number> {
  let n = 0;
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (format === 'csv') await write(COLUMNS.join(',') + '\n');
  else await write('[\n');
  for (const row of records.iterate(filter)) {
    if (format === 'csv') await write(COLUMNS.map((c) => csvCell(row[c])).join(',') + '\n');
    else {
      // The signed meter values (calibration law) go with the session, for the transparency software.
      const signed = records.signedValues(row.localId);
      await write((n ? ',\n' : '') + JSON.stringify({ ...row, meterCurve: records.curve(row.localId).map((p) => [p.at, p.energyWh]), ...(signed.length ? { signedMeterValues: signed } : {}) }));
    }
    n++;
  }
  if (format === 'json') await write('\n]\n');
  return n;
}

/** The customer reference (pseudonym) of an idTag, with the installation's secret beside the database. */
export function customerRefOf(secretFile: string, idTag: string): string {
  if (!existsSync(secretFile)) throw new UsageError(`no pseudonym secret at ${secretFile}`);
  return pseudonymiser(Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'hex'))(idTag);
}

/** The retention a purge applies: the days given, else the config's retention.days, else 90. */
export function retentionDays(o: StoreOptions & { days?: number }): number {
  return o.days ?? (o.config ? loadAgentConfig(o.config).config.retention.days : 90);
}
