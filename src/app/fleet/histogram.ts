/**
 * A log-linear latency histogram in the manner of HdrHistogram: values (µs) below 2^SUB_BITS
 * are exact; above, each power of two is split into 2^SUB_BITS equal buckets (about 3 %
 * relative precision). Counts are kept sparsely, so histograms are small, serialise as JSON
 * and merge by adding counts: percentiles of a merge are exact percentiles of the union.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;

export interface HistogramJson {
  /** Bucket index → count. */
  buckets: Record<string, number>;
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

export function bucketOf(valueUs: number): number {
  const v = Math.max(0, Math.floor(valueUs));
  if (v < SUB) return v;
  const e = v < 2 ** 31 ? 31 - Math.clz32(v) : Math.floor(Math.log2(v));
  const shift = e - SUB_BITS;
  const top = Math.floor(v / 2 ** shift); // in [SUB, 2*SUB)
  return SUB + shift * SUB + (top - SUB);
}

/** The highest value that falls into bucket `i` (what HdrHistogram reports). */
export function bucketUpperUs(i: number): number {
  if (i < SUB) return i;
  const shift = Math.floor((i - SUB) / SUB);
  const top = SUB + ((i - SUB) % SUB);
  return (top + 1) * 2 ** shift - 1;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  sumUs = 0;
  minUs = Number.POSITIVE_INFINITY;
  maxUs = 0;

  recordMs(ms: number): void {
    this.recordUs(ms * 1000);
  }

  recordUs(us: number): void {
    const v = Math.max(0, Math.round(us));
    const b = bucketOf(v);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count++;
    this.sumUs += v;
    if (v < this.minUs) this.minUs = v;
    if (v > this.maxUs) this.maxUs = v;
  }

  /** The value at percentile p (0..100), µs; 0 when empty. Never above the maximum seen. */
  percentileUs(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(bucketUpperUs(b), this.maxUs);
    }
    return this.maxUs;
  }

  percentileMs(p: number): number {
    return this.percentileUs(p) / 1000;
  }

  merge(other: Histogram | HistogramJson): this {
    const o = other instanceof Histogram ? other.toJSON() : other;
    for (const [k, n] of Object.entries(o.buckets)) {
      const b = Number(k);
      this.counts.set(b, (this.counts.get(b) ?? 0) + n);
    }
    this.count += o.count;
    this.sumUs += o.sumUs;
    if (o.count > 0) {
      this.minUs = Math.min(this.minUs, o.minUs);
      this.maxUs = Math.max(this.maxUs, o.maxUs);
    }
    return this;
  }

  reset(): void {
    this.counts.clear();
    this.count = 0;
    this.sumUs = 0;
    this.minUs = Number.POSITIVE_INFINITY;
    this.maxUs = 0;
  }

  toJSON(): HistogramJson {
    const buckets: Record<string, number> = {};
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) buckets[String(b)] = this.counts.get(b)!;
    return { buckets, count: this.count, sumUs: this.sumUs, minUs: this.count ? this.minUs : 0, maxUs: this.maxUs };
  }

  static from(json: HistogramJson): Histogram {
    return new Histogram().merge(json);
  }
}
