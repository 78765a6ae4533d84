/**
 * The station as the core knows it: its own availability, faults and conditions, by their own
 * methods and events, with no id at all (the core's EVSEs are 1..n; 1.6's connector 0 lives in
 * the 1.6 binding only). Driven through the ChargePoint's API, not the harness's 1.6 verbs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EvseCondition, FaultReport, StationCondition } from '../../src/core/ports.js';
import { ANY_EVSE } from '../../src/core/reservations.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

/** What the core emitted, by event. */
function record(h: Harness) {
  const seen = {
    station: [] as StationCondition[], evse: [] as EvseCondition[],
    stationFaults: [] as FaultReport[], evseFaults: [] as { evseId: number; fault: FaultReport }[],
  };
  h.cp.on('station-status', (s) => seen.station.push(s));
  h.cp.on('status', (s) => seen.evse.push(s));
  h.cp.on('station-fault', (e) => seen.stationFaults.push(e.fault));
  h.cp.on('fault', (e) => seen.evseFaults.push(e));
  return seen;
}

describe('the station, apart from its EVSEs', () => {
  it('has EVSEs 1..n and no id of its own: no EVSE 0 to ask for or to change', async () => {
    h = await harness({ connectors: 2 });
    expect(h.cp.evseIds).toEqual([1, 2]);
    expect(() => h!.cp.evseCondition(0)).toThrow(expect.objectContaining({ code: 'ERR_NO_SUCH_EVSE' }));
    expect(h.cp.changeAvailability(0, 'Inoperative')).toBe('Rejected');
    expect(h.cp.hasConnector({ evseId: 1, connectorId: 1 })).toBe(true);
    expect(h.cp.hasConnector({ evseId: 1, connectorId: 2 })).toBe(false);
    expect(h.cp.stationCondition()).toMatchObject({ station: true, availability: 'Operative', chargingState: 'Idle', faulted: false, reserved: false });
    expect(h.cp.stationCondition()).not.toHaveProperty('evseId');
    expect(h.cp.evseConditions().map((c) => [c.evseId, c.connectorId])).toEqual([[1, 1], [2, 1]]);
  });

  it('station availability: the station and every EVSE Inoperative, by station-status and per-EVSE status events; Operative brings them back', async () => {
    h = await harness({ connectors: 2 });
    const seen = record(h);
    expect(h.cp.changeStationAvailability('Inoperative')).toBe('Accepted');
    expect(h.cp.stationCondition().availability).toBe('Inoperative');
    expect(h.cp.evseConditions().map((c) => c.availability)).toEqual(['Inoperative', 'Inoperative']);
    expect(seen.station.map((s) => s.availability)).toEqual(['Inoperative']);
    expect(seen.evse.map((s) => [s.evseId, s.availability])).toEqual([[1, 'Inoperative'], [2, 'Inoperative']]);
    expect(h.cp.changeStationAvailability('Operative')).toBe('Accepted');
    expect(seen.station.map((s) => s.availability)).toEqual(['Inoperative', 'Operative']);
    expect(h.cp.evseConditions().map((c) => c.availability)).toEqual(['Operative', 'Operative']);
    expect(seen.evse.every((s) => s.evseId >= 1)).toBe(true);
  });

  it('station availability with a session running: Scheduled; the idle EVSE now, the busy one when its session ends', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    expect(h.cp.changeStationAvailability('Inoperative')).toBe('Scheduled');
    expect(h.cp.evseCondition(1)).toMatchObject({ availability: 'Operative', scheduledAvailability: 'Inoperative', chargingState: 'Charging' });
    expect(h.cp.evseCondition(2).availability).toBe('Inoperative');
    await h.unplug(1);
    expect(h.cp.evseCondition(1).availability).toBe('Inoperative');
  });

  it('an EVSE made Inoperative leaves the station and the other EVSE Operative', async () => {
    h = await harness({ connectors: 2 });
    expect(h.cp.changeAvailability(2, 'Inoperative')).toBe('Accepted');
    expect(h.cp.stationCondition().availability).toBe('Operative');
    expect(h.cp.evseConditions().map((c) => c.availability)).toEqual(['Operative', 'Inoperative']);
  });

  it('a station fault that stops charging (the store): a station-fault event, the station and every EVSE faulted, no EVSE fault event', async () => {
    h = await harness({ connectors: 2 });
    const seen = record(h);
    await h.fault('store', 'InternalError', true, 'disk full');
    expect(seen.stationFaults).toEqual([expect.objectContaining({ source: 'store', errorCode: 'InternalError', active: true })]);
    expect(seen.evseFaults).toEqual([]);
    expect(h.cp.stationFaults().map((f) => f.source)).toEqual(['store']);
    expect(h.cp.stationCondition()).toMatchObject({ faulted: true, fault: { errorCode: 'InternalError', info: 'disk full' } });
    expect(h.cp.evseConditions().map((c) => c.faulted)).toEqual([true, true]);
    expect(seen.station.at(-1)).toMatchObject({ station: true, faulted: true });
    await h.fault('store', 'InternalError', false);
    expect(seen.stationFaults.map((f) => f.active)).toEqual([true, false]);
    expect(h.cp.stationFaults()).toEqual([]);
    expect(h.cp.stationCondition().faulted).toBe(false);
    expect(h.cp.evseConditions().map((c) => c.faulted)).toEqual([false, false]);
  });

  it('a station fault that does not stop charging (a dead reader) is the station\'s fault, not faulted; an EVSE fault names its EVSE', async () => {
    h = await harness({ connectors: 2 });
    const seen = record(h);
    await h.fault('reader', 'ReaderFailure', true);
    expect(h.cp.stationCondition()).toMatchObject({ faulted: false, fault: { errorCode: 'ReaderFailure' } });
    expect(h.cp.evseConditions().map((c) => c.faulted)).toEqual([false, false]);
    await h.fault('meter:2', 'PowerMeterFailure', true);
    expect(seen.evseFaults).toEqual([{ evseId: 2, fault: expect.objectContaining({ source: 'meter:2', active: true }) }]);
    expect(seen.stationFaults.map((f) => f.source)).toEqual(['reader']);
    expect(h.cp.evseCondition(2)).toMatchObject({ faulted: true, fault: { errorCode: 'PowerMeterFailure' } });
    expect(h.cp.evseCondition(1).faulted).toBe(false);
  });

  it('a reservation of any EVSE is its own kind: judged by the station, it holds one of the free EVSEs', async () => {
    h = await harness({ connectors: 2, settings: { ReserveConnectorZeroSupported: 'true' } });
    const conditions = { station: () => h!.cp.stationCondition(), evse: (id: number) => h!.cp.evseCondition(id) };
    const reserve = (reservationId: number) => h!.reservations!.reserve({ reservationId, target: ANY_EVSE, idTag: 'TAG-R', expiryDate: h!.clock.now() + 60_000 }, conditions);
    expect(reserve(1)).toBe('Accepted');
    expect(reserve(2)).toBe('Accepted');
    await h.advance(0);
    expect(h.cp.evseConditions().map((c) => c.reserved)).toEqual([true, true]);
    expect(reserve(3)).toBe('Occupied');
    expect(h.reservations!.list().map((r) => r.target)).toEqual([ANY_EVSE, ANY_EVSE]);
    h.cp.changeStationAvailability('Inoperative');
    expect(reserve(4)).toBe('Unavailable');
  });
});
