import { describe, expect, it } from 'vitest';
import { formatValue, toMeterValue } from '../../src/ocpp/v16/render.js';
import type { Sample } from '../../src/core/ports.js';
import { Prng } from '../../src/sim/prng.js';

describe('MeterValues rendering', () => {
  it('formatValue rounds like toFixed and drops trailing zeros', () => {
    expect(formatValue(1234.4, 0)).toBe('1234');
    expect(formatValue(1234.5, 0)).toBe('1235');
    expect(formatValue(16.0, 2)).toBe('16');
    expect(formatValue(16.1, 2)).toBe('16.1');
    expect(formatValue(230.04, 1)).toBe('230');
    expect(formatValue(-0.004, 2)).toBe('0');
    expect(formatValue(-2.5, 0)).toBe('-3');
    expect(formatValue(0, 0)).toBe('0');
    // Against Number(x.toFixed(d)) on meter-like values, away from exact halves (where the two
    // roundings of a binary fraction may differ by the last digit).
    const prng = new Prng(7);
    const rnd = () => prng.next();
    for (let i = 0; i < 20_000; i++) {
      const digits = (i % 3) as 0 | 1 | 2;
      const x = (rnd() - 0.1) * 10 ** (1 + (i % 6));
      const frac = Math.abs(x * 10 ** digits) % 1;
      if (Math.abs(frac - 0.5) < 1e-6) continue;
      expect(formatValue(x, digits)).toBe(String(Number(x.toFixed(digits))));
    }
  });

  it('renders the chosen measurands in a fixed key order, with phases and locations', () => {
    const sample: Sample = {
      takenAt: Date.UTC(2026, 0, 5, 8, 0, 0, 250), clockTrusted: true, context: 'Sample.Periodic',
      reading: { takenAt: 0, energyWh: 12_345.6, powerW: 7_360.4, currentA: [10.456, 10.5, 10], voltageV: [230.04, 229.96, 231], socPct: 55.5, temperatureC: 31.25, frequencyHz: 50.012 },
      measurands: ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage', 'SoC', 'Temperature', 'Frequency', 'Unknown.Measurand'],
    };
    const mv = toMeterValue(sample);
    expect(mv.timestamp).toBe('2026-01-05T08:00:00.250Z');
    expect(JSON.stringify(mv.sampledValue)).toBe(JSON.stringify([
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Energy.Active.Import.Register', unit: 'Wh', value: '12346' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Power.Active.Import', unit: 'W', value: '7360' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Current.Import', unit: 'A', phase: 'L1', value: '10.46' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Current.Import', unit: 'A', phase: 'L2', value: '10.5' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Current.Import', unit: 'A', phase: 'L3', value: '10' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Voltage', unit: 'V', phase: 'L1-N', value: '230' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Voltage', unit: 'V', phase: 'L2-N', value: '230' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Voltage', unit: 'V', phase: 'L3-N', value: '231' },
      { context: 'Sample.Periodic', location: 'EV', measurand: 'SoC', unit: 'Percent', value: '56' },
      { context: 'Sample.Periodic', location: 'Body', measurand: 'Temperature', unit: 'Celsius', value: '31.3' },
      { context: 'Sample.Periodic', location: 'Outlet', measurand: 'Frequency', value: '50.01' },
    ]));
  });

  it('a sample with no measurand chosen (or none available) still carries the energy register', () => {
    const mv = toMeterValue({ takenAt: 0, clockTrusted: true, context: 'Transaction.End', reading: { takenAt: 0, energyWh: 42 }, measurands: ['Power.Active.Import'] });
    expect(mv.sampledValue).toEqual([{ context: 'Transaction.End', location: 'Outlet', measurand: 'Energy.Active.Import.Register', unit: 'Wh', value: '42' }]);
  });
});
