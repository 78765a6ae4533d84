/**
 * The development central system as `evse-edge csms` runs it: the central system and, on
 * loopback, the control endpoint `evse-edge csms call` drives it through.
 */
import { CentralSystem, type CentralSystemOptions } from '../csms/central-system.js';
import { ControlEndpoint } from '../csms/control.js';
import { CsmsStore } from '../csms/csms-store.js';
import type { Log } from '../lib/log.js';

/** The table of sessions `evse-edge csms sessions` prints. */
export { sessionsTable } from '../csms/report.js';

export interface DevCsmsOptions extends Pick<CentralSystemOptions, 'port' | 'host' | 'dbPath' | 'heartbeatIntervalS' | 'idTags' | 'acceptUnknownIdTags'> {
  /** Loopback port of the control endpoint; default the central system's port + 1 (any free one with port 0). */
  controlPort?: number;
  log: Log;
}

/** Listens, then opens the control endpoint; closes the central system again if that fails. */
export async function startDevCsms(o: DevCsmsOptions): Promise<{ csms: CentralSystem; port: number; close(): Promise<void> }> {
  const { controlPort, log, ...options } = o;
  const csms = new CentralSystem({ ...options, log });
  const port = await csms.listen();
  // Loopback only, whatever the host: whoever reaches it can drive every connected charger.
  const control = new ControlEndpoint({ csms, port: controlPort ?? (o.port === 0 ? 0 : port + 1), log });
  try {
    await control.listen();
  } catch (err) {
    await csms.close();
    const e = err as NodeJS.ErrnoException;
    throw new Error(`the control endpoint cannot listen on 127.0.0.1:${controlPort ?? port + 1}${e.code === 'EADDRINUSE' ? ': the port is in use (another csms?); choose --control-port' : `: ${e.message}`}`);
  }
  return {
    csms, port,
    close: async () => {
      await control.close();
      await csms.close();
    },
  };
}

/**
 * The transactions a development central system recorded in its database: each version's own
 * records (1.6 first, as before 2.0.1), and one session row per transaction of either version.
 */
export function csmsRecords(dbPath: string): {
  records: (ReturnType<CsmsStore['transactions']>[number] | ReturnType<CsmsStore['transactionsV201']>[number])[];
  sessions: ReturnType<CsmsStore['sessions']>;
} {
  const store = new CsmsStore(dbPath);
  try {
    return { records: [...store.transactions(), ...store.transactionsV201()], sessions: store.sessions() };
  } finally {
    store.close();
  }
}
