/**
 * Session cost with exact decimal arithmetic: prices are decimal strings, computed in
 * micro-units of the currency with BigInt, rounded once (half up) to the currency's minor
 * unit at the end. No floating point touches money.
 */
export interface Tariff {
  /** ISO 4217 code. */
  currency: string;
  /** Digits of the minor unit (2 for EUR). */
  minorUnitDigits: number;
  /** Price per kWh, e.g. "0.39". */
  energyPerKWh: string;
  /** Price per minute of the session. */
  timePerMinute?: string;
  /** Price per minute after charging ended while the car stays plugged (idle fee). */
  idlePerMinute?: string;
  /** Minutes of idle that are free before the idle fee starts. */
  idleGraceMinutes?: number;
  sessionFee?: string;
  /** VAT rate in percent, e.g. "19" or "20.5". */
  vatPercent?: string;
  /** Whether the prices above include VAT (then VAT is extracted, not added). */
  pricesIncludeVat: boolean;
}

export interface SessionCost {
  currency: string;
  /** Integer minor units (cents). */
  netMinor: number;
  vatMinor: number;
  totalMinor: number;
}

export interface Usage {
  energyWh: number;
  durationMs: number;
  idleMs: number;
}

const MICRO = 1_000_000n;

/** A decimal string as an integer number of millionths. Throws on anything else. */
export function parseDecimal(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal with at most 6 fraction digits: ${JSON.stringify(text)}`);
  const v = BigInt(m[2]!) * MICRO + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -v : v;
}

/** a / b rounded half up (a, b ≥ 0). */
function divRound(a: bigint, b: bigint): bigint {
  return (2n * a + b) / (2n * b);
}

/** Why a tariff is unusable, or undefined. */
export function tariffProblem(t: Tariff): string | undefined {
  if (!/^[A-Z]{3}$/.test(t.currency)) return 'currency: expected an ISO 4217 code';
  if (!Number.isInteger(t.minorUnitDigits) || t.minorUnitDigits < 0 || t.minorUnitDigits > 4) return 'minorUnitDigits: expected 0..4';
  for (const k of ['energyPerKWh', 'timePerMinute', 'idlePerMinute', 'sessionFee', 'vatPercent'] as const) {
    const v = t[k];
    if (v === undefined) continue;
    try {
      if (parseDecimal(v) < 0n) return `${k}: must not be negative`;
    } catch (err) {
      return `${k}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

export function sessionCost(t: Tariff, u: Usage): SessionCost {
  // Everything in micro-units × Wh or × ms, then scaled down once.
  const energy = parseDecimal(t.energyPerKWh) * BigInt(Math.max(0, Math.round(u.energyWh))); // µ × Wh → /1000
  const time = t.timePerMinute ? parseDecimal(t.timePerMinute) * BigInt(Math.max(0, Math.round(u.durationMs))) : 0n; // µ × ms → /60000
  const idleMs = Math.max(0, Math.round(u.idleMs) - (t.idleGraceMinutes ?? 0) * 60_000);
  const idle = t.idlePerMinute ? parseDecimal(t.idlePerMinute) * BigInt(idleMs) : 0n;
  const fee = t.sessionFee ? parseDecimal(t.sessionFee) : 0n;
  // Common denominator 60,000 (ms per minute) × 1000 (Wh per kWh) ⇒ work in µ × 6e7 units.
  const scaled = energy * 60_000n + time * 1_000n + idle * 1_000n + fee * 60_000_000n; // micro × 6e7
  const minor = 10n ** BigInt(t.minorUnitDigits);
  const denominator = MICRO * 60_000_000n; // to whole currency units
  const vat = t.vatPercent ? parseDecimal(t.vatPercent) : 0n; // µ-percent
  let grossMinor: bigint;
  let netMinor: bigint;
  if (t.pricesIncludeVat) {
    grossMinor = divRound(scaled * minor, denominator);
    // net = gross / (1 + vat/100), rounded half up.
    netMinor = divRound(grossMinor * 100n * MICRO, 100n * MICRO + vat);
  } else {
    netMinor = divRound(scaled * minor, denominator);
    grossMinor = netMinor + divRound(netMinor * vat, 100n * MICRO);
  }
  return { currency: t.currency, netMinor: Number(netMinor), vatMinor: Number(grossMinor - netMinor), totalMinor: Number(grossMinor) };
}

/** "12.34 EUR" from minor units. */
export function formatMoney(minor: number, currency: string, digits = 2): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const whole = Math.floor(abs / 10 ** digits);
  const frac = String(abs % 10 ** digits).padStart(digits, '0');
  return `${sign}${whole}${digits ? '.' + frac : ''} ${currency}`;
}
