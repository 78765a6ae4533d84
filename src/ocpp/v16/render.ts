import { isoMs } from '../../core/clock.js';
import type { Sample } from '../../core/ports.js';
import type { MeterValue, SampledValue } from './messages.js';

const PHASES_LN = ['L1-N', 'L2-N', 'L3-N'] as const;
const PHASES = ['L1', 'L2', 'L3'] as const;
const SCALE = [1, 10, 100];

/**
 * A measured value as OCPP text, rounded to `digits` decimals, without trailing zeros. Every
 * MeterValues carries several: rounding in binary (not toFixed, then Number, then String) keeps
 * it to one number-to-string conversion.
 */
export function formatValue(x: number, digits: 0 | 1 | 2): string {
  const scale = SCALE[digits]!;
  const r = Math.round(Math.abs(x) * scale) / scale;
  return String(x < 0 && r !== 0 ? -r : r);
}

/** One sampled value, its keys always in this order (context, location, measurand, unit, phase, value). */
function sampled(context: string, location: SampledValue['location'], measurand: string, unit: string | undefined, phase: string | undefined, value: string): SampledValue {
  if (phase !== undefined) return { context, location, measurand, unit, phase, value };
  if (unit !== undefined) return { context, location, measurand, unit, value };
  return { context, location, measurand, value };
}

/** A sample as an OCPP MeterValue with the measurands chosen when it was taken. */
export function toMeterValue(sample: Sample): MeterValue {
  const r = sample.reading;
  const ctx = sample.context;
  const out: SampledValue[] = [];
  for (const measurand of sample.measurands) {
    switch (measurand) {
      case 'Energy.Active.Import.Register':
        out.push(sampled(ctx, 'Outlet', measurand, 'Wh', undefined, formatValue(r.energyWh, 0)));
        break;
      case 'Power.Active.Import':
        if (r.powerW !== undefined) out.push(sampled(ctx, 'Outlet', measurand, 'W', undefined, formatValue(r.powerW, 0)));
        break;
      case 'Current.Import':
        if (r.currentA) for (let i = 0; i < r.currentA.length; i++) out.push(sampled(ctx, 'Outlet', measurand, 'A', r.dc ? undefined : PHASES[i], formatValue(r.currentA[i]!, 2)));
        break;
      case 'Voltage':
        if (r.voltageV) for (let i = 0; i < r.voltageV.length; i++) out.push(sampled(ctx, 'Outlet', measurand, 'V', r.dc ? undefined : PHASES_LN[i], formatValue(r.voltageV[i]!, 1)));
        break;
      case 'Frequency':
        if (r.frequencyHz !== undefined) out.push(sampled(ctx, 'Outlet', measurand, undefined, undefined, formatValue(r.frequencyHz, 2)));
        break;
      case 'SoC':
        if (r.socPct !== undefined) out.push(sampled(ctx, 'EV', measurand, 'Percent', undefined, formatValue(r.socPct, 0)));
        break;
      case 'Current.Offered':
        // One value: the current offered per phase (what the EVSE signals the vehicle).
        if (sample.offered) out.push(sampled(ctx, 'Outlet', measurand, 'A', undefined, formatValue(sample.offered.currentA, 1)));
        break;
      case 'Power.Offered':
        if (sample.offered) out.push(sampled(ctx, 'Outlet', measurand, 'W', undefined, formatValue(sample.offered.powerW, 0)));
        break;
      case 'Temperature':
        if (r.temperatureC !== undefined) out.push(sampled(ctx, 'Body', measurand, 'Celsius', undefined, formatValue(r.temperatureC, 1)));
        break;
      default:
        break;
    }
  }
  if (out.length === 0) out.push(sampled(ctx, 'Outlet', 'Energy.Active.Import.Register', 'Wh', undefined, formatValue(r.energyWh, 0)));
  return { timestamp: isoMs(sample.takenAt), sampledValue: out };
}
