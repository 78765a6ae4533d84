import { isoMs } from '../../core/clock.js';
import type { Sample } from '../../core/ports.js';
import type { MeterValue, SampledValue } from './messages.js';

const PHASES_LN = ['L1-N', 'L2-N', 'L3-N'];
const PHASES = ['L1', 'L2', 'L3'];
const fmt = (x: number, digits: number): string => String(Number(x.toFixed(digits)));

/** A sample as an OCPP MeterValue with the measurands chosen when it was taken. */
export function toMeterValue(sample: Sample): MeterValue {
  const r = sample.reading;
  const out: SampledValue[] = [];
  const base = { context: sample.context, location: 'Outlet' as const };
  for (const measurand of sample.measurands) {
    switch (measurand) {
      case 'Energy.Active.Import.Register':
        out.push({ ...base, measurand, unit: 'Wh', value: fmt(r.energyWh, 0) });
        break;
      case 'Power.Active.Import':
        if (r.powerW !== undefined) out.push({ ...base, measurand, unit: 'W', value: fmt(r.powerW, 0) });
        break;
      case 'Current.Import':
        r.currentA?.forEach((a, i) => out.push({ ...base, measurand, unit: 'A', phase: PHASES[i], value: fmt(a, 2) }));
        break;
      case 'Voltage':
        r.voltageV?.forEach((v, i) => out.push({ ...base, measurand, unit: 'V', phase: PHASES_LN[i], value: fmt(v, 1) }));
        break;
      case 'Frequency':
        if (r.frequencyHz !== undefined) out.push({ ...base, measurand, value: fmt(r.frequencyHz, 2) });
        break;
      case 'SoC':
        if (r.socPct !== undefined) out.push({ ...base, measurand, unit: 'Percent', value: fmt(r.socPct, 0), location: 'EV' });
        break;
      case 'Temperature':
        if (r.temperatureC !== undefined) out.push({ ...base, measurand, unit: 'Celsius', value: fmt(r.temperatureC, 1), location: 'Body' });
        break;
      default:
        break;
    }
  }
  if (out.length === 0) out.push({ ...base, measurand: 'Energy.Active.Import.Register', unit: 'Wh', value: fmt(r.energyWh, 0) });
  return { timestamp: isoMs(sample.takenAt), sampledValue: out };
}
