/**
 * Serial RFID readers behind the core's IdReader and FaultSource ports.
 *
 * Config mapping (agent config `readers`):
 *   { "driver": "serial", "port": "/dev/ttyUSB1", "protocol": "rdm6300", "connectors": [1] }
 *   → new SerialRfidReader({ port, protocol, connectors, baudRate?, uid?, absentMs?, ... })
 */
export {
  SerialRfidReader, RFID_PROTOCOLS, defaultBaudRateOf, defaultReaderTiming,
  type RfidProtocol, type SerialRfidReaderOptions, type UidRead, type ReaderStats,
} from './reader.js';
export { normaliseUid, Debouncer, defaultUidFormat, UID_LENGTHS, UidError, type UidFormat } from './uid.js';
export type { UidDecoder, DecoderStats } from './decoder.js';
export { LineDecoder } from './line.js';
export { Rdm6300Decoder, rdm6300Frame } from './rdm6300.js';
export {
  Pn532Decoder, Pn532Session, Pn532Error, Pn532Command, pn532Frame, parseInListPassiveTarget,
  samConfigurationFrame, passiveActivationRetriesFrame, inListPassiveTargetFrame,
  PN532_ACK, PN532_NACK, PN532_WAKEUP, TFI_HOST, TFI_PN532, defaultPn532Timing,
  type Pn532Message, type Pn532Timing,
} from './pn532.js';
export { watchRfid, type WatchRfidOptions, type RfidWatch } from './watch.js';

import type { Clock } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import { SerialRfidReader, type SerialRfidReaderOptions } from './reader.js';

/** One entry of the agent config's `readers` array. */
export interface SerialReaderConfig extends Omit<SerialRfidReaderOptions, 'clock' | 'log' | 'pseudonym'> {
  driver: 'serial';
}

/**
 * Builds the configured readers. Each gets its own fault source: 'reader' when there is one,
 * otherwise 'reader@<port>' (never 'reader:<n>', which the core would read as a connector).
 */
export function createRfidReaders(
  configs: readonly SerialReaderConfig[],
  deps: { clock?: Pick<Clock, 'now' | 'setTimeout'>; log?: Log; pseudonym?: Pseudonymiser } = {},
): SerialRfidReader[] {
  return configs.map(({ driver: _driver, ...c }) => new SerialRfidReader({
    ...c,
    faultSource: c.faultSource ?? (configs.length === 1 ? 'reader' : `reader@${c.port}`),
    ...deps,
  }));
}
