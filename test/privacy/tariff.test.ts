import { describe, expect, it } from 'vitest';
import { formatMoney, parseDecimal, sessionCost, tariffProblem, type Tariff } from '../../src/core/tariff.js';

const eur = (t: Partial<Tariff>): Tariff => ({ currency: 'EUR', minorUnitDigits: 2, energyPerKWh: '0', pricesIncludeVat: true, ...t });
const usage = (energyWh: number, minutes = 0, idleMinutes = 0) => ({ energyWh, durationMs: minutes * 60_000, idleMs: idleMinutes * 60_000 });

describe('session cost: exact decimal arithmetic', () => {
  it.each([
    // [tariff, usage, expected total minor units, why]
    [eur({ energyPerKWh: '0.1' }), usage(3_000), 30, '0.1 × 3 is 0.30000000000000004 in floating point'],
    [eur({ energyPerKWh: '0.29' }), usage(12_345), 358, '3.58005 rounds half up to 3.58'],
    [eur({ energyPerKWh: '0.005' }), usage(1_000), 1, 'exactly half a cent rounds up'],
    [eur({ energyPerKWh: '0.7' }), usage(100), 7, '0.07 (0.7 × 0.1 = 0.06999999999999999 in floating point)'],
    [eur({ energyPerKWh: '0.35', sessionFee: '1.00' }), usage(10_000), 450, 'energy plus a session fee'],
    [eur({ energyPerKWh: '0', timePerMinute: '0.05' }), usage(0, 1.5), 8, '0.075 rounds half up'],
    [eur({ energyPerKWh: '0', idlePerMinute: '0.10', idleGraceMinutes: 10 }), usage(0, 60, 25), 150, '15 idle minutes after a 10 minute grace'],
    [{ currency: 'JPY', minorUnitDigits: 0, energyPerKWh: '45.5', pricesIncludeVat: true } as Tariff, usage(7_000), 319, 'a currency without minor unit: 318.5 → 319'],
  ])('%# %s', (tariff, u, expected) => {
    expect(sessionCost(tariff, u).totalMinor).toBe(expected);
  });

  it('adds VAT to net prices, rounding once', () => {
    const c = sessionCost(eur({ energyPerKWh: '0.115', vatPercent: '20', pricesIncludeVat: false }), usage(10_000));
    expect(c).toEqual({ currency: 'EUR', netMinor: 115, vatMinor: 23, totalMinor: 138 });
  });

  it('extracts VAT from gross prices', () => {
    const c = sessionCost(eur({ energyPerKWh: '1.00', vatPercent: '19', pricesIncludeVat: true }), usage(1_000));
    expect(c).toEqual({ currency: 'EUR', netMinor: 84, vatMinor: 16, totalMinor: 100 });
  });

  it('a sum of many small sessions equals the exact figure, where floating point drifts', () => {
    const t = eur({ energyPerKWh: '0.1' });
    let totalMinor = 0;
    let float = 0;
    for (let i = 0; i < 1000; i++) {
      totalMinor += sessionCost(t, usage(1_000)).totalMinor;
      float += 0.1;
    }
    expect(totalMinor).toBe(10_000);
    expect(float).not.toBe(100); // 99.9999999999986
  });

  it('parses decimals strictly and reports unusable tariffs', () => {
    expect(parseDecimal('0.000001')).toBe(1n);
    expect(() => parseDecimal('1e-3')).toThrow();
    expect(() => parseDecimal('0.1234567')).toThrow();
    expect(tariffProblem(eur({ energyPerKWh: 'abc' }))).toMatch(/energyPerKWh/);
    expect(tariffProblem(eur({ currency: 'euro' }))).toMatch(/currency/);
    expect(formatMoney(138, 'EUR')).toBe('1.38 EUR');
    expect(formatMoney(5, 'EUR')).toBe('0.05 EUR');
  });
});
