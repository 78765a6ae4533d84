import { EvseError } from '../../lib/errors.js';

/**
 * How a card's UID becomes an idTag. Central systems disagree on byte order and on hex vs the
 * decimal printed on cards; a mismatch makes every card "Invalid", so both are configurable.
 */
export interface UidFormat {
  /** 'as-read': the order the reader reports (ISO 14443 transmission order); 'reversed'. */
  byteOrder: 'as-read' | 'reversed';
  /**
   * 'hex': upper-case hex of every byte (the OCPP default, e.g. 04A2B3C4D5E680).
   * 'dec10': the last four bytes as an unsigned 32-bit number, ten digits zero-padded: what
   *   EM4100 cards have printed on them and what keyboard-wedge readers type.
   * 'dec': the whole UID as one unsigned decimal number.
   */
  encoding: 'hex' | 'dec10' | 'dec';
}

export const defaultUidFormat: Readonly<UidFormat> = Object.freeze({ byteOrder: 'as-read', encoding: 'hex' });

/** ISO 14443A single/double/triple size (4/7/10) and EM4100 (5: version byte + 4). */
export const UID_LENGTHS: readonly number[] = Object.freeze([4, 5, 7, 10]);

export class UidError extends EvseError {}

export function isUidLength(length: number): boolean {
  return UID_LENGTHS.includes(length);
}

export function normaliseUid(uid: Buffer, format: UidFormat = defaultUidFormat): string {
  if (!isUidLength(uid.length)) {
    throw new UidError('ERR_RFID_UID_LENGTH', `a UID has 4, 5, 7 or 10 bytes, not ${uid.length}`);
  }
  const bytes = Buffer.from(uid);
  if (format.byteOrder === 'reversed') bytes.reverse();
  switch (format.encoding) {
    case 'hex':
      return bytes.toString('hex').toUpperCase();
    case 'dec10':
      return String(bytes.readUInt32BE(bytes.length - 4)).padStart(10, '0');
    case 'dec':
      return BigInt('0x' + bytes.toString('hex')).toString(10);
  }
}

/**
 * A card held on the reader is one presentation: a UID seen again before it has been absent
 * for `absentMs` is ignored (readers repeat frames or are polled while a card lies on them).
 */
export class Debouncer {
  private readonly lastSeen = new Map<string, number>();

  constructor(
    private readonly absentMs: number,
    private readonly now: () => number,
  ) {}

  /** Records a sighting; true when it starts a new presentation. */
  accept(key: string): boolean {
    const now = this.now();
    for (const [k, at] of this.lastSeen) if (now - at >= this.absentMs) this.lastSeen.delete(k);
    const fresh = !this.lastSeen.has(key);
    this.lastSeen.set(key, now);
    return fresh;
  }

  clear(): void {
    this.lastSeen.clear();
  }
}
