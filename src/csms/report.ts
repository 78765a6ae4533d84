import { formatTable } from '../lib/table.js';
import type { CsmsStore } from './csms-store.js';

/** The central system's transactions as a table. */
export function sessionsTable(rows: ReturnType<CsmsStore['transactions']>): string {
  return formatTable(
    ['tx', 'charge point', 'conn', 'started', 'stopped', 'Wh', 'reason', 'meter values'],
    rows.map((r) => [r.transactionId, r.chargePointId, r.connectorId, r.startedAt, r.stoppedAt ?? '(open)', r.energyWh ?? '', r.stopReason ?? '', r.meterValueCount]),
  );
}
