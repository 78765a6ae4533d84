/**
 * California Pricing's meter-value triggers (src/ocpp/v16/meter-value-triggers.ts), pure logic on
 * a manual clock: at a time (also one beyond a single timer's reach), when the register reaches a
 * value (once), when the power crosses a level (each time, either way), when the connector enters
 * a status; replaced by the next RunningCost, dropped with the session.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MeterValueTriggers, type TriggerCause } from '../../src/ocpp/v16/meter-value-triggers.js';

const T0 = Date.UTC(2026, 0, 1);

function build() {
  const clock = new ManualClock(T0);
  const sent: [number, string, TriggerCause][] = [];
  const triggers = new MeterValueTriggers({ clock, send: (evseId, localId, cause) => sent.push([evseId, localId, cause]) });
  return { clock, sent, triggers };
}

describe('MeterValueTriggers', () => {
  it('atTime fires once at its time, also days ahead (reached in steps); a replaced or cleared trigger does not fire', () => {
    const { clock, sent, triggers } = build();
    triggers.set(1, 's1', { atTime: T0 + 3 * 86_400_000 });
    clock.advance(3 * 86_400_000 - 1);
    expect(sent).toEqual([]);
    clock.advance(1);
    expect(sent).toEqual([[1, 's1', 'atTime']]);
    clock.advance(86_400_000);
    expect(sent).toHaveLength(1);
    triggers.set(2, 's2', { atTime: T0 + 4 * 86_400_000 + 1_000 });
    triggers.set(2, 's2', { atEnergyWh: 10 });
    triggers.set(1, 's3', { atTime: T0 + 4 * 86_400_000 + 2_000 });
    triggers.clear(1);
    clock.advance(10_000);
    expect(sent).toHaveLength(1);
  });

  it('atEnergyWh fires once when the register reaches it; atPowerW on each crossing; atStatuses on entering one', () => {
    const { sent, triggers } = build();
    triggers.set(1, 's1', { atEnergyWh: 1_000, atPowerW: 7_000, atStatuses: ['SuspendedEV', 'Finishing'] });
    triggers.reading(1, 999, 3_000);
    expect(sent).toEqual([]);
    triggers.reading(1, 1_000, 6_999);
    expect(sent).toEqual([[1, 's1', 'atEnergykWh']]);
    triggers.reading(1, 1_500, 7_000);
    triggers.reading(1, 1_600, 11_000);
    triggers.reading(1, 1_700, 2_000);
    triggers.reading(1, 1_800, undefined);
    expect(sent.map((x) => x[2])).toEqual(['atEnergykWh', 'atPowerkW', 'atPowerkW']);
    triggers.status(1, 'Charging');
    triggers.status(1, 'SuspendedEV');
    triggers.status(1, 'SuspendedEV');
    triggers.status(1, 'Charging');
    triggers.status(1, 'SuspendedEV');
    expect(sent.map((x) => x[2])).toEqual(['atEnergykWh', 'atPowerkW', 'atPowerkW', 'atCPStatus', 'atCPStatus']);
    // Another EVSE's readings do not count; a trigger set to nothing is dropped.
    triggers.reading(2, 5_000, 20_000);
    triggers.set(1, 's1', undefined);
    expect(triggers.of(1)).toBeUndefined();
    triggers.reading(1, 9_000, 50_000);
    triggers.reading(1, 9_000, 0);
    expect(sent).toHaveLength(5);
  });
});
