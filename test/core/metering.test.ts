/**
 * Metering in a session: when samples are taken (to the millisecond, with the manual clock),
 * which measurands they carry, what goes in the outbox, and the meter guard that keeps an energy
 * register from going backwards or jumping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Sample, SessionStop } from '../../src/core/ports.js';
import { charging, T0, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/**
 * For runs of many simulated minutes: the meter read once a minute for live values and a
 * checkpoint every 5 min (samples are scheduled at their own instants whatever the poll interval).
 */
const SLOW_POLL = { meterPollIntervalMs: MINUTE, checkpointIntervalMs: 5 * MINUTE };
const samplesOf = (h: Harness, context?: Sample['context']) =>
  h.ledger.samples(h.session().localId).filter((s) => context === undefined || s.context === context);

describe('periodic samples (MeterValueSampleInterval)', () => {
  it('every 60 s from the start, to the millisecond, with the sampled measurands, queued', async () => {
    h = await charging();
    h.connector().meter.draw(7_360);
    await h.advance(3 * MINUTE + 59_999);
    const periodic = samplesOf(h, 'Sample.Periodic');
    expect(periodic.map((s) => s.takenAt - T0)).toEqual([60_000, 120_000, 180_000]);
    expect(periodic.map((s) => s.reading.energyWh)).toEqual([10_122.667, 10_245.333, 10_368]);
    expect(periodic[0]!.measurands).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage']);
    expect(periodic[0]!.offered).toEqual({ currentA: 32, powerW: 22_080 });
    expect(h.ledger.queued('meter').map((m) => m.at - T0)).toEqual([60_000, 120_000, 180_000]);
  });

  it('MeterValueSampleInterval 0: no periodic samples', async () => {
    h = await charging({ settings: { MeterValueSampleInterval: 0 }, timing: SLOW_POLL });
    await h.advance(30 * MINUTE);
    expect(samplesOf(h, 'Sample.Periodic')).toEqual([]);
    expect(h.ledger.queued('meter')).toEqual([]);
  });

  it('a new interval applies from the next sample on', async () => {
    h = await charging();
    await h.advance(MINUTE);
    h.settings.set('MeterValueSampleInterval', 15);
    await h.advance(2 * MINUTE);
    expect(samplesOf(h, 'Sample.Periodic').map((s) => (s.takenAt - T0) / 1000)).toEqual([60, 120, 135, 150, 165, 180]);
  });

  it('a read that fails when a sample is due: the sample is taken at the next read, a second later', async () => {
    h = await charging();
    await h.advance(59_999);
    h.connector().meter.failing = 1;
    await h.advance(61_001);
    expect(samplesOf(h, 'Sample.Periodic').map((s) => s.takenAt - T0)).toEqual([61_000, 121_000]);
    expect(h.meterErrors(1)).toBe(1);
    expect(h.status()).toBe('Charging');
  });
});

describe('clock-aligned samples (ClockAlignedDataInterval)', () => {
  it('on the quarter hours from midnight, whatever the start, with the aligned measurands', async () => {
    h = await charging({ now: T0 + 7.5 * MINUTE, settings: { ClockAlignedDataInterval: 900, MeterValueSampleInterval: 0 }, timing: SLOW_POLL });
    await h.advance(37.5 * MINUTE);
    const aligned = samplesOf(h, 'Sample.Clock');
    expect(aligned.map((s) => new Date(s.takenAt).toISOString())).toEqual(['2026-06-01T12:15:00.000Z', '2026-06-01T12:30:00.000Z', '2026-06-01T12:45:00.000Z']);
    expect(aligned.every((s) => s.measurands.join() === 'Energy.Active.Import.Register')).toBe(true);
    expect(h.ledger.queued('meter')).toHaveLength(3);
  });

  it('periodic and aligned samples side by side, each on its own schedule', async () => {
    h = await charging({ now: T0 + 50_000, settings: { ClockAlignedDataInterval: 60, MeterValueSampleInterval: 45 } });
    await h.advance(2 * MINUTE);
    expect(samplesOf(h).filter((s) => s.context !== 'Transaction.Begin').map((s) => [s.context, (s.takenAt - T0) / 1000])).toEqual([
      ['Sample.Clock', 60], ['Sample.Periodic', 95], ['Sample.Clock', 120], ['Sample.Periodic', 140],
    ]);
  });

  it('the aligned samples go in StopTransaction data when StopTxnAlignedData names measurands', async () => {
    h = await charging({ settings: { ClockAlignedDataInterval: 900, MeterValueSampleInterval: 0, StopTxnAlignedData: 'Energy.Active.Import.Register' }, timing: SLOW_POLL });
    await h.advance(20 * MINUTE);
    await h.present('TAG-A');
    const stop = h.ledger.queued('stop')[0]!.body as SessionStop;
    expect(stop.transactionDataMeasurands).toEqual(['Energy.Active.Import.Register']);
    expect(stop.transactionDataAlignedMeasurands).toEqual(['Energy.Active.Import.Register']);
  });
});

describe('measurands', () => {
  it.each([
    { sampled: 'Energy.Active.Import.Register', queued: 1 },
    { sampled: 'Energy.Active.Import.Register,Power.Active.Import,SoC', queued: 1 },
    // Nothing selected: the reading is still recorded (the curve, the highest durable reading) but nothing is sent.
    { sampled: '', queued: 0 },
  ])('MeterValuesSampledData "$sampled": carried by the Begin and periodic samples; $queued queued', async ({ sampled, queued }) => {
    h = await charging({ settings: { MeterValuesSampledData: sampled } });
    await h.advance(MINUTE);
    const want = sampled.split(',').filter(Boolean);
    expect(samplesOf(h).map((s) => [s.context, s.measurands])).toEqual([['Transaction.Begin', want], ['Sample.Periodic', want]]);
    expect(h.ledger.queued('meter')).toHaveLength(queued);
  });

  it('a change of MeterValuesSampledData applies to the next sample', async () => {
    h = await charging();
    await h.advance(MINUTE);
    h.settings.set('MeterValuesSampledData', 'Energy.Active.Import.Register');
    await h.advance(MINUTE);
    expect(samplesOf(h, 'Sample.Periodic').map((s) => s.measurands.length)).toEqual([4, 1]);
  });
});

describe('the session\'s energy', () => {
  it('Begin and End samples bracket the session; meterStop is the register at the stop, in whole Wh', async () => {
    h = await charging();
    h.connector().meter.draw(7_360);
    await h.advance(10 * MINUTE);
    await h.present('TAG-A');
    const s = h.session();
    expect(s).toMatchObject({ meterStartWh: 10_000, meterStopWh: 11_227, stoppedAt: T0 + 10 * MINUTE, stopReason: 'Local' });
    const [begin] = samplesOf(h, 'Transaction.Begin');
    const [end] = samplesOf(h, 'Transaction.End');
    expect(begin).toMatchObject({ takenAt: T0, reading: { energyWh: 10_000 }, offered: { currentA: 32, powerW: 22_080 } });
    expect(end).toMatchObject({ takenAt: T0 + 10 * MINUTE, reading: { energyWh: 11_226.667 }, offered: { currentA: 0, powerW: 0 } });
    expect(h.stopped).toEqual([{ evseId: 1, localId: s.localId, reason: 'Local', energyWh: 1_227 }]);
    const stop = h.ledger.queued('stop')[0]!.body as SessionStop;
    expect(stop.transactionDataMeasurands).toEqual(['Energy.Active.Import.Register']);
  });

  it('the register is checkpointed every 10 s while charging', async () => {
    h = await charging();
    h.connector().meter.draw(7_360);
    await h.advance(25_000);
    expect(h.session()).toMatchObject({ lastEnergyWh: 10_040.889, lastCheckpointAt: T0 + 20_000 });
  });

  it('a triggered sample is recorded with the session but not queued as a periodic one', async () => {
    h = await charging();
    h.connector().meter.draw(3_600);
    await h.advance(10_000);
    const sample = await h.triggerSample(1);
    expect(sample).toMatchObject({ context: 'Trigger', takenAt: T0 + 10_000, reading: { energyWh: 10_010 } });
    expect(samplesOf(h, 'Trigger')).toHaveLength(1);
    expect(h.ledger.queued('meter')).toEqual([]);
  });

  it('a final read that fails: the session stops with the last reading', async () => {
    h = await charging();
    h.connector().meter.draw(3_600);
    await h.advance(MINUTE);
    h.connector().meter.failing = 1;
    await h.advance(500);
    await h.present('TAG-A');
    expect(h.session()).toMatchObject({ meterStopWh: 10_060, stopReason: 'Local' });
  });
});

describe('time the charger is not sure of', () => {
  it('a session started before the clock is set says so, and so does each sample until it is set', async () => {
    h = await charging({ clockTrusted: false });
    await h.advance(MINUTE);
    h.clock.setTrusted(true);
    await h.advance(MINUTE);
    expect(h.session().startClockTrusted).toBe(false);
    expect(samplesOf(h).map((s) => [s.context, s.clockTrusted])).toEqual([
      ['Transaction.Begin', false], ['Sample.Periodic', false], ['Sample.Periodic', true],
    ]);
  });
});

describe('a clock set by the central system during a session', () => {
  it('set forward (it was late): the sample due is taken at once, then every 60 s', async () => {
    h = await charging({ now: T0 - HOUR, clockTrusted: false });
    await h.advance(30_000);
    h.clock.set(T0 + 30_000);
    await h.advance(4 * MINUTE);
    expect(samplesOf(h, 'Sample.Periodic').map((s) => [(s.takenAt - T0) / 1000, s.clockTrusted])).toEqual([[31, true], [91, true], [151, true], [211, true]]);
  });

  it('set back (it was fast): samples and checkpoints go on at their intervals, not an hour later', async () => {
    h = await charging({ now: T0 + HOUR, clockTrusted: false, settings: { ClockAlignedDataInterval: 120 } });
    await h.advance(30_000);
    h.clock.set(T0 + 30_000);
    await h.advance(5 * MINUTE);
    expect(samplesOf(h, 'Sample.Clock').map((s) => (s.takenAt - T0) / 1000)).toEqual([120, 240]);
    // The schedule moved back with the clock (by the 59 min 59 s between the two readings around the correction).
    expect(samplesOf(h, 'Sample.Periodic').map((s) => (s.takenAt - T0) / 1000)).toEqual([61, 121, 181, 241, 301]);
    expect(h.session().lastCheckpointAt).toBe(T0 + 321_000);
  });
});

describe('the meter guard', () => {
  it('a register that goes backwards is refused: PowerMeterFailure, no sample, and the next plausible reading clears it', async () => {
    h = await charging();
    const meter = h.connector().meter;
    meter.draw(3_600);
    await h.advance(59_000);
    meter.set(10_000);
    await h.advance(1_000);
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerMeterFailure' });
    expect(samplesOf(h, 'Sample.Periodic')).toEqual([]);
    expect(h.lastReading(1)!.energyWh).toBe(10_059);
    meter.set(10_061);
    await h.advance(1_000);
    expect(h.statusesWithErrors()).toEqual(['Available/NoError', 'Preparing/NoError', 'Charging/NoError', 'Faulted/PowerMeterFailure', 'Charging/NoError']);
    expect(samplesOf(h, 'Sample.Periodic').map((s) => [s.takenAt - T0, s.reading.energyWh])).toEqual([[61_000, 10_062]]);
  });

  it.each([
    { name: 'refused', spoil: (h: Harness) => h.connector().meter.set(1) },
    { name: 'failed', spoil: (h: Harness) => { h.connector().meter.failing = Infinity; } },
  ])('a reading $name when a sample is due is retried at the poll interval, not back to back', async ({ spoil }) => {
    h = await charging();
    await h.advance(59_000);
    spoil(h);
    const before = h.connector().meter.reads;
    await h.advance(10_000);
    expect(h.connector().meter.reads - before).toBe(10);
  });

  it('a jump beyond what the connector\'s power allows is refused, and never billed', async () => {
    h = await charging();
    const meter = h.connector().meter;
    meter.draw(3_600);
    await h.advance(30_000);
    meter.set(60_000);
    await h.advance(30_000);
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerMeterFailure' });
    expect(samplesOf(h, 'Sample.Periodic')).toEqual([]);
    await h.present('TAG-A');
    expect(h.session()).toMatchObject({ meterStopWh: 10_030, stopReason: 'Local' });
  });

  it('the largest plausible step passes: 22 kW for 1 s (6.1 Wh) plus tolerance', async () => {
    h = await charging();
    const meter = h.connector().meter;
    await h.advance(1_000);
    // 22,080 W × 1 s × 1.1 + 10 Wh = 16.747 Wh.
    meter.set(10_016.7);
    await h.advance(1_000);
    expect(h.status()).toBe('Charging');
    meter.set(10_016.7 + 16.8);
    await h.advance(1_000);
    expect(h.status()).toBe('Faulted');
  });

  it('a register frozen while power is drawn is refused as stale once it owes 250 Wh (81.8 s at 11 kW)', async () => {
    h = await charging();
    const meter = h.connector().meter;
    meter.draw(11_000);
    await h.advance(10_000);
    meter.frozen = true;
    await h.advance(81_000);
    expect(h.status()).toBe('Charging');
    await h.advance(1_000);
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerMeterFailure' });
    meter.frozen = false;
    await h.advance(1_000);
    expect(h.status()).toBe('Charging');
  });

  it('the recorded energy never goes backwards, whatever the meter says', async () => {
    h = await charging();
    const meter = h.connector().meter;
    meter.draw(7_200);
    h.settings.set('MeterValueSampleInterval', 5);
    const script = [10_010, 9_000, 10_030, 10_029, 10_050, 80_000, 10_070];
    for (const wh of script) {
      await h.advance(5_000);
      meter.set(wh);
    }
    await h.advance(5_000);
    const curve = samplesOf(h).map((s) => s.reading.energyWh);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!).toBeGreaterThanOrEqual(curve[i - 1]!);
    expect(Math.max(...curve)).toBeLessThan(10_100);
  });
});
