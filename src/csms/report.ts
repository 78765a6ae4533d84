import { formatTable } from '../lib/table.js';
import type { CsmsSession } from './csms-store.js';

/** What the session table shows of a session: a 1.6 transaction (CsmsTransaction) or any CsmsSession. */
export type SessionRow = Pick<CsmsSession, 'chargePointId' | 'startedAt' | 'stoppedAt' | 'energyWh' | 'stopReason' | 'meterValueCount'> & {
  transactionId: number | string;
  connectorId: number | null;
  protocol?: CsmsSession['protocol'];
  evseId?: number | null;
};

/** The central system's sessions as a table; with 2.0.1 ones among them, a version column and EVSE/connector. */
export function sessionsTable(rows: readonly SessionRow[]): string {
  const mixed = rows.some((r) => r.protocol === 'ocpp2.0.1');
  const conn = (r: SessionRow) => (r.evseId !== undefined && r.evseId !== null ? `${r.evseId}/${r.connectorId ?? '-'}` : (r.connectorId ?? ''));
  return formatTable(
    [...(mixed ? ['ocpp'] : []), 'tx', 'charge point', 'conn', 'started', 'stopped', 'Wh', 'reason', 'meter values'],
    rows.map((r) => [
      ...(mixed ? [r.protocol === 'ocpp2.0.1' ? '2.0.1' : '1.6'] : []),
      r.transactionId, r.chargePointId, conn(r), r.startedAt, r.stoppedAt ?? '(open)', r.energyWh ?? '', r.stopReason ?? '', r.meterValueCount,
    ]),
  );
}
