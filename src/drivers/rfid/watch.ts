import type { FaultReport } from '../../core/ports.js';
import { EvseError } from '../../lib/errors.js';
import type { Log } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import { SerialRfidReader, type RfidProtocol, type UidRead } from './reader.js';
import { normaliseUid, type UidFormat } from './uid.js';

export interface WatchRfidOptions {
  port: string;
  protocol: RfidProtocol;
  baudRate?: number;
  uid?: Partial<UidFormat>;
  lineInput?: 'hex' | 'dec';
  /** Print UIDs in clear (the technician asked for it on site); otherwise pseudonyms. */
  showUid: boolean;
  /** The installation's pseudonymiser (DOMAIN.md §1); required unless showUid. */
  pseudonym?: Pseudonymiser;
  /** Where lines go (process.stdout, or a collector in tests). */
  out: { write(text: string): unknown };
  /** Also print sightings of a card still held on the reader. */
  everyRead?: boolean;
  log?: Log;
}

export interface RfidWatch {
  reader: SerialRfidReader;
  stop(): Promise<void>;
}

/**
 * The technician's `rfid watch`: prints each card presented, normalised as the agent would
 * send it. With showUid it also prints the other common forms (reversed bytes, 10-digit
 * decimal) to match a central system's list; without it, only the keyed pseudonym.
 */
export async function watchRfid(opts: WatchRfidOptions): Promise<RfidWatch> {
  const pseudonym = opts.pseudonym;
  if (!opts.showUid && !pseudonym) {
    throw new EvseError('ERR_RFID_WATCH_NO_PSEUDONYM', 'watchRfid needs a pseudonymiser unless showUid is set');
  }
  const reader = new SerialRfidReader({
    port: opts.port,
    protocol: opts.protocol,
    baudRate: opts.baudRate,
    uid: opts.uid,
    lineInput: opts.lineInput,
    log: opts.log,
  });
  const line = (text: string) => void opts.out.write(`${new Date().toISOString()} ${text}\n`);
  const describe = (read: UidRead): string => {
    const held = read.presented ? '' : ' (held)';
    if (!opts.showUid) return `card ${pseudonym!(read.idTag)} bytes=${read.uid.length}${held}`;
    const forms = [
      `idTag=${read.idTag}`,
      `hex=${normaliseUid(read.uid, { byteOrder: 'as-read', encoding: 'hex' })}`,
      `hex-reversed=${normaliseUid(read.uid, { byteOrder: 'reversed', encoding: 'hex' })}`,
      `dec10=${normaliseUid(read.uid, { byteOrder: 'as-read', encoding: 'dec10' })}`,
      `dec10-reversed=${normaliseUid(read.uid, { byteOrder: 'reversed', encoding: 'dec10' })}`,
    ];
    return `card ${forms.join(' ')} bytes=${read.uid.length}${held}`;
  };
  const unsubscribe = [
    reader.onRead((read) => {
      if (read.presented || opts.everyRead) line(describe(read));
    }),
    reader.onFault((f: FaultReport) => line(f.active ? `reader failure: ${f.info ?? 'unavailable'}` : 'reader back')),
  ];
  line(`watching ${opts.port} (${opts.protocol})${opts.showUid ? ', UIDs in clear' : ', pseudonymised'}`);
  await reader.start();
  return {
    reader,
    async stop() {
      await reader.stop();
      for (const u of unsubscribe.reverse()) u();
    },
  };
}
