/**
 * A session found open at boot (power lost mid-transaction, DOMAIN.md R10): resumed when the
 * meter proves continuity and policy allows, otherwise closed (PowerLoss) at the highest reading
 * known to be true. Never a second start or stop for one session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { VehicleState } from '../../src/core/ports.js';
import { charging, harness, ledgerWithOpenSession, T0, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

const STARTED_AT = T0 - 3_600_000;
const CHECKPOINT_AT = T0 - 120_000;
const SAMPLE_AT = T0 - 60_000;

interface Row {
  name: string;
  /** The meter's register at boot; 'absent': it does not answer. */
  registerWh: number | 'absent';
  vehicle: VehicleState;
  policy?: 'resume-or-stop' | 'stop';
  /** A periodic sample recorded after the last checkpoint (1,520 Wh a minute before boot). */
  withSample?: boolean;
  /** The ledger names a connector this charger does not have. */
  connectorId?: number;
  expect: 'resumed' | { meterStopWh: number; stoppedAt: number; status: string };
}

const rows: Row[] = [
  { name: 'meter continues, vehicle charging: resumed', registerWh: 1_530, vehicle: 'charging', withSample: true, expect: 'resumed' },
  { name: 'meter continues, vehicle plugged but paused: resumed', registerWh: 1_530, vehicle: 'connected', withSample: true, expect: 'resumed' },
  { name: 'meter continues, policy stop: closed at the meter\'s register, now', registerWh: 1_530, vehicle: 'charging', policy: 'stop', withSample: true, expect: { meterStopWh: 1_530, stoppedAt: T0, status: 'Finishing' } },
  { name: 'meter continues, vehicle gone: closed at the register, Available', registerWh: 1_530, vehicle: 'disconnected', withSample: true, expect: { meterStopWh: 1_530, stoppedAt: T0, status: 'Available' } },
  { name: 'meter continues, board in error: closed, Faulted', registerWh: 1_530, vehicle: 'error', withSample: true, expect: { meterStopWh: 1_530, stoppedAt: T0, status: 'Faulted' } },
  { name: 'meter lower than the last sample: closed at the sample (the highest durable reading)', registerWh: 1_400, vehicle: 'charging', withSample: true, expect: { meterStopWh: 1_520, stoppedAt: SAMPLE_AT, status: 'Finishing' } },
  { name: 'meter lower, no sample since the checkpoint: closed at the checkpoint', registerWh: 1_400, vehicle: 'charging', expect: { meterStopWh: 1_500, stoppedAt: CHECKPOINT_AT, status: 'Finishing' } },
  { name: 'meter does not answer: closed at the highest durable reading', registerWh: 'absent', vehicle: 'charging', withSample: true, expect: { meterStopWh: 1_520, stoppedAt: SAMPLE_AT, status: 'Finishing' } },
  { name: 'meter jumped beyond what a minute at 22 kW allows: closed at the durable reading', registerWh: 1_520 + 5_000, vehicle: 'charging', withSample: true, expect: { meterStopWh: 1_520, stoppedAt: SAMPLE_AT, status: 'Finishing' } },
  { name: 'meter just within what a minute at 22 kW allows: resumed', registerWh: 1_520 + 414, vehicle: 'charging', withSample: true, expect: 'resumed' },
  { name: 'a connector this charger does not have: closed at the durable reading', registerWh: 1_530, vehicle: 'disconnected', withSample: true, connectorId: 3, expect: { meterStopWh: 1_520, stoppedAt: SAMPLE_AT, status: 'Available' } },
];

describe('a session left open by the last run', () => {
  it.each(rows)('$name', async (row) => {
    const { ledger, localId } = ledgerWithOpenSession({
      connectorId: row.connectorId ?? 1, startedAt: STARTED_AT, meterStartWh: 1_000, checkpoint: { energyWh: 1_500, at: CHECKPOINT_AT },
      samples: row.withSample ? [{ energyWh: 1_520, at: SAMPLE_AT }] : [],
    });
    h = await harness({
      ledger, resumePolicy: row.policy, start: false,
      connectors: [{ registerWh: row.registerWh === 'absent' ? 0 : row.registerWh, vehicle: row.vehicle }],
    });
    if (row.registerWh === 'absent') h.connector().meter.failing = Infinity;
    await h.start();
    // Never a second StartTransaction for the session.
    expect(h.ledger.queued('start')).toHaveLength(1);
    const record = h.ledger.get(localId)!;
    if (row.expect === 'resumed') {
      expect(record.stoppedAt).toBeNull();
      expect(h.ledger.queued('stop')).toEqual([]);
      expect(h.liveSession(1)).toMatchObject({ localId, startedAt: STARTED_AT });
      expect(h.offers()).toEqual([[32, false]]);
      expect(h.stopped).toEqual([]);
      return;
    }
    expect(record).toMatchObject({ stopReason: 'PowerLoss', meterStopWh: row.expect.meterStopWh, stoppedAt: row.expect.stoppedAt });
    expect(h.ledger.queued('stop')).toHaveLength(1);
    expect(h.stopped).toEqual([{ evseId: row.connectorId ?? 1, localId, reason: 'PowerLoss', energyWh: row.expect.meterStopWh - 1_000 }]);
    expect(h.offers()).toEqual([]);
    expect(h.status(1)).toBe(row.expect.status);
  });
});

describe('restarts of a running charger', () => {
  it('a restart mid-session resumes the same session: no second start, samples go on from the meter', async () => {
    h = await charging();
    h.connector().meter.draw(3_600);
    await h.advance(90_000);
    const { localId } = h.session();
    await h.restart();
    expect(h.liveSession(1)!.localId).toBe(localId);
    await h.advance(60_000);
    await h.present('TAG-A');
    expect(h.ledger.queued().map((m) => m.kind)).toEqual(['start', 'meter', 'meter', 'stop']);
    expect(h.session()).toMatchObject({ localId, meterStopWh: 10_150, stopReason: 'Local' });
  });

  it('a resumed session keeps its transactionId: RemoteStop reaches it', async () => {
    const { ledger, localId } = ledgerWithOpenSession({ startedAt: STARTED_AT, meterStartWh: 1_000, checkpoint: { energyWh: 1_500, at: CHECKPOINT_AT }, transactionId: 77 });
    h = await harness({ ledger, connectors: [{ registerWh: 1_510, vehicle: 'charging' }] });
    expect(await h.remoteStop(77)).toBe(true);
    expect(h.ledger.get(localId)).toMatchObject({ stopReason: 'Remote', meterStopWh: 1_510 });
  });

  it('a session closed at boot is not closed again at the next boot', async () => {
    const { ledger } = ledgerWithOpenSession({ startedAt: STARTED_AT, meterStartWh: 1_000, checkpoint: { energyWh: 1_500, at: CHECKPOINT_AT } });
    h = await harness({ ledger, resumePolicy: 'stop', connectors: [{ registerWh: 1_510, vehicle: 'connected' }] });
    await h.restart();
    await h.restart();
    expect(h.ledger.queued('stop')).toHaveLength(1);
    expect(h.stopped).toHaveLength(1);
  });

  it('a meter without non-volatile memory resumes at the highest register the store knows; the next session starts there', async () => {
    const { ledger, localId } = ledgerWithOpenSession({ startedAt: STARTED_AT, meterStartWh: 1_000, samples: [{ energyWh: 2_000, at: SAMPLE_AT }] });
    h = await harness({ ledger, connectors: [{ registerWh: 0, volatileMeter: true }], csms: { 'TAG-A': { status: 'Accepted' } } });
    expect(h.connector().meter.resumedWith).toEqual([2_000]);
    expect(h.ledger.get(localId)).toMatchObject({ stopReason: 'PowerLoss', meterStopWh: 2_000 });
    await h.plug();
    await h.present('TAG-A');
    expect(h.ledger.records()[1]).toMatchObject({ idTag: 'TAG-A', meterStartWh: 2_000 });
  });

  // The meter guard compares a reading with the connector's last reading in memory, which a
  // restart forgets: the first reading after boot is compared with nothing, although the ledger
  // knows the connector's highest register (highestRegisterWh, used only for volatile meters). A
  // register that reads low at boot (a glitch, a wrong register map) starts a session below the
  // last meterStop, and the next true reading is then refused as a jump. If accepting a swapped
  // meter after a restart is intended, this case should say so instead.
  it.fails('GAP: a register below the last session\'s meterStop after a restart is refused, not billed from', async () => {
    h = await charging();
    const meter = h.connector().meter;
    meter.draw(3_600);
    await h.advance(60_000);
    await h.present('TAG-A');
    await h.unplug();
    // The meter was swapped, or reset: it reads less than the ledger's last meterStop (10,060 Wh).
    meter.draw(0);
    meter.set(50);
    await h.restart();
    await h.plug();
    await h.present('TAG-A');
    expect(h.ledger.records()).toHaveLength(1);
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerMeterFailure' });
  });
});
