import { MAX_TOKEN_CHARS, type Clock, type FaultReport, type FaultSource, type IdReader, type PresentedToken } from '../../core/ports.js';
import { silentLog, type Log } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import { FaultState, SerialLink, type LinkEvent, type ReopenBackoff } from '../serial-link.js';
import type { UidDecoder } from './decoder.js';
import { LineDecoder } from './line.js';
import { Pn532Session, type Pn532Timing } from './pn532.js';
import { Rdm6300Decoder } from './rdm6300.js';
import { Debouncer, defaultUidFormat, isUidLength, normaliseUid, type UidFormat } from './uid.js';

export type RfidProtocol = 'line' | 'rdm6300' | 'pn532';
export const RFID_PROTOCOLS: readonly RfidProtocol[] = Object.freeze(['line', 'rdm6300', 'pn532'] as const);

export const defaultBaudRateOf: Readonly<Record<RfidProtocol, number>> = Object.freeze({
  line: 9600,
  rdm6300: 9600,
  pn532: 115_200,
});

export const defaultReaderTiming = Object.freeze({
  /** A card must be away this long before the same card counts as presented again. */
  absentMs: 1_500,
});

export interface SerialRfidReaderOptions {
  /** Serial device path, e.g. /dev/ttyUSB1. */
  port: string;
  protocol: RfidProtocol;
  /** Default by protocol: line and rdm6300 9600, pn532 115200. */
  baudRate?: number;
  /** Connectors this reader serves; a token names the connector only when there is exactly one. */
  connectors?: number[];
  uid?: Partial<UidFormat>;
  /** Line protocol only: hex UIDs (default) or decimal numbers. */
  lineInput?: 'hex' | 'dec';
  absentMs?: number;
  pn532?: Partial<Pn532Timing>;
  reopen?: Partial<ReopenBackoff>;
  /** FaultReport.source; 'reader' by default. The core reads a ":<n>" suffix as a connector. */
  faultSource?: string;
  /** now() for the debounce; setTimeout for back-off and polls. Global timers if absent. */
  clock?: Pick<Clock, 'now' | 'setTimeout'>;
  log?: Log;
  /** Used only to name cards in debug logs; without it no log line names a card. */
  pseudonym?: Pseudonymiser;
}

/** One card sighting, before debouncing (for the technician's watch command). */
export interface UidRead {
  uid: Buffer;
  idTag: string;
  /** Whether this sighting is a new presentation (a token was emitted). */
  presented: boolean;
  connectorId?: number;
}

export interface ReaderStats {
  frames: number;
  badChecksum: number;
  malformed: number;
  /** UIDs of an unsupported length. */
  rejected: number;
  tokens: number;
  linkUp: boolean;
}


const systemTimers: Pick<Clock, 'now' | 'setTimeout'> = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

/** An RFID reader on a serial port (USB-serial line readers, RDM6300, PN532 over UART). */
export class SerialRfidReader implements IdReader, FaultSource {
  private readonly tokenListeners = new Set<(token: PresentedToken) => void>();
  private readonly readListeners = new Set<(read: UidRead) => void>();
  private readonly faults: FaultState;
  private readonly format: UidFormat;
  private readonly clock: Pick<Clock, 'now' | 'setTimeout'>;
  private readonly log: Log;
  private readonly connectorId: number | undefined;
  private readonly counters = { rejected: 0, tokens: 0 };
  private link: SerialLink | undefined;
  private decoder: UidDecoder | undefined;
  private pn532: Pn532Session | undefined;
  private debouncer: Debouncer | undefined;
  private unsubscribers: (() => void)[] = [];
  private linkProblem: string | undefined;
  private deviceProblem: string | undefined;

  constructor(private readonly opts: SerialRfidReaderOptions) {
    this.faults = new FaultState(opts.faultSource ?? 'reader', 'ReaderFailure');
    this.format = { ...defaultUidFormat, ...opts.uid };
    this.clock = opts.clock ?? systemTimers;
    this.log = (opts.log ?? silentLog).child({ driver: 'rfid', protocol: opts.protocol, port: opts.port });
    this.connectorId = opts.connectors?.length === 1 ? opts.connectors[0] : undefined;
  }

  onToken(listener: (token: PresentedToken) => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  onFault(listener: (fault: FaultReport) => void): () => void {
    return this.faults.onFault(listener);
  }

  /** Every sighting, debounced or not. Carries the raw UID: for technician tools only. */
  onRead(listener: (read: UidRead) => void): () => void {
    this.readListeners.add(listener);
    return () => this.readListeners.delete(listener);
  }

  get fault(): FaultReport | undefined {
    return this.faults.active;
  }

  stats(): ReaderStats {
    const d = this.decoder?.stats ?? this.pn532?.decoder.stats;
    return {
      frames: d?.frames ?? 0,
      badChecksum: d?.badChecksum ?? 0,
      malformed: d?.malformed ?? 0,
      rejected: this.counters.rejected,
      tokens: this.counters.tokens,
      linkUp: this.link?.isOpen ?? false,
    };
  }

  async start(): Promise<void> {
    if (this.link) return;
    this.debouncer = new Debouncer(this.opts.absentMs ?? defaultReaderTiming.absentMs, () => this.clock.now());
    const link = new SerialLink({
      path: this.opts.port,
      baudRate: this.opts.baudRate ?? defaultBaudRateOf[this.opts.protocol],
      reopen: this.opts.reopen,
      clock: this.clock,
      log: this.log,
    });
    this.link = link;
    if (this.opts.protocol === 'pn532') {
      this.pn532 = new Pn532Session({
        write: (data) => link.write(data),
        clock: this.clock,
        onUid: (uid) => this.sighted(uid),
        onHealth: (problem) => { this.deviceProblem = problem; this.updateFault(); },
        log: this.log,
      }, this.opts.pn532);
    } else {
      this.decoder = this.opts.protocol === 'rdm6300' ? new Rdm6300Decoder() : new LineDecoder(this.opts.lineInput ?? 'hex');
    }
    this.unsubscribers.push(
      link.onData((chunk) => this.received(chunk)),
      link.onState((event) => this.linkChanged(event)),
    );
    await link.start();
  }

  async stop(): Promise<void> {
    const link = this.link;
    if (!link) return;
    this.pn532?.stop();
    for (const u of this.unsubscribers.reverse()) u();
    this.unsubscribers = [];
    await link.stop();
    this.link = undefined;
    this.debouncer?.clear();
  }

  private received(chunk: Buffer): void {
    if (this.pn532) {
      this.pn532.data(chunk);
      return;
    }
    for (const uid of this.decoder?.push(chunk) ?? []) this.sighted(uid);
  }

  private linkChanged(event: LinkEvent): void {
    if (event.state === 'up') {
      this.linkProblem = undefined;
      this.decoder?.reset();
      this.pn532?.linkUp();
    } else {
      this.linkProblem = 'reader unplugged or unavailable';
      this.deviceProblem = undefined;
      this.pn532?.linkDown();
    }
    this.updateFault();
  }

  private updateFault(): void {
    this.faults.set(this.linkProblem ?? this.deviceProblem);
  }

  private sighted(uid: Buffer): void {
    if (!isUidLength(uid.length)) {
      this.counters.rejected++;
      return;
    }
    const idTag = normaliseUid(uid, this.format);
    if (idTag.length > MAX_TOKEN_CHARS) {
      this.counters.rejected++;
      this.log.warn('UID too long for a token in this encoding', { encoding: this.format.encoding, uidBytes: uid.length });
      return;
    }
    const presented = this.debouncer?.accept(idTag) ?? true;
    for (const l of this.readListeners) l({ uid, idTag, presented, connectorId: this.connectorId });
    if (!presented) return;
    this.counters.tokens++;
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug('card presented', { ref: this.opts.pseudonym?.(idTag), uidBytes: uid.length });
    }
    const token: PresentedToken = this.connectorId === undefined
      ? { token: { id: idTag, type: 'ISO14443' }, method: 'rfid' }
      // The configured connector n is EVSE n.
      : { token: { id: idTag, type: 'ISO14443' }, method: 'rfid', evseId: this.connectorId };
    for (const l of this.tokenListeners) {
      try {
        l(token);
      } catch (err) {
        this.log.error('token listener failed', { err });
      }
    }
  }
}
