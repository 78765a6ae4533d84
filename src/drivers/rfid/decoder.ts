/** A pure reader-protocol decoder: fed raw serial chunks (split or concatenated), yields UIDs. */
export interface UidDecoder {
  /** The UIDs completed by this chunk, as the reader sent them (bytes in reader order). */
  push(chunk: Buffer): Buffer[];
  /** Forgets a partial frame (after the link was lost). */
  reset(): void;
  readonly stats: DecoderStats;
}

export interface DecoderStats {
  /** Frames that decoded to a UID. */
  frames: number;
  /** Frames dropped for a wrong checksum. */
  badChecksum: number;
  /** Frames or lines dropped as malformed (bad characters, length, framing). */
  malformed: number;
}

export function emptyStats(): DecoderStats {
  return { frames: 0, badChecksum: 0, malformed: 0 };
}
