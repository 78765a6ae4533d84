import type { MeterReading } from './ports.js';

/** Energy a meter may show beyond what the connector's power allows: resolution and rounding. */
const TOLERANCE_WH = 10;
const TOLERANCE_FACTOR = 1.1;

/**
 * Why a reading cannot be billed, or undefined when it is plausible: an energy register that
 * goes backwards, jumps beyond what the connector's maximum power allows since the last
 * reading, or a reading no newer than the last (a stale value must not get a fresh timestamp).
 */
export function checkReading(prev: MeterReading | undefined, next: MeterReading, maxPowerW: number, _drawing: boolean): string | undefined {
  if (!Number.isFinite(next.energyWh) || next.energyWh < 0) return `energy register unreadable (${next.energyWh})`;
  if (!prev) return undefined;
  if (next.energyWh < prev.energyWh) return `energy register went backwards (${prev.energyWh} → ${next.energyWh} Wh)`;
  const dtMs = next.takenAt - prev.takenAt;
  // A clock set backwards by the central system: no interval to judge a jump by.
  if (dtMs < 0) return undefined;
  const allowedWh = (maxPowerW * Math.max(dtMs, 0)) / 3_600_000 * TOLERANCE_FACTOR + TOLERANCE_WH;
  if (next.energyWh - prev.energyWh > allowedWh)
    return `energy jumped ${Math.round(next.energyWh - prev.energyWh)} Wh in ${dtMs} ms, beyond ${maxPowerW} W`;
  return undefined;
}

/** Energy a frozen register may "owe" before it is called stale: above any meter's resolution. */
export const FROZEN_REGISTER_WH = 250;

/**
 * Why a register that has not moved since `changedAt` while `reading.powerW` is drawn is
 * stale (a meter repeating an old value), or undefined.
 */
export function frozenRegister(changedAt: number, reading: MeterReading, limitWh = FROZEN_REGISTER_WH): string | undefined {
  const powerW = reading.powerW ?? 0;
  if (powerW <= 0) return undefined;
  const owedWh = (powerW * Math.max(0, reading.takenAt - changedAt)) / 3_600_000;
  return owedWh > limitWh ? `energy register frozen at ${reading.energyWh} Wh for ${Math.round((reading.takenAt - changedAt) / 1000)} s while ${Math.round(powerW)} W is drawn` : undefined;
}
