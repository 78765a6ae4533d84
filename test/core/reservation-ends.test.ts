/**
 * The core's reservations say how each one ended (expired, cancelled, used), which the 2.0.1
 * binding reports as ReservationStatusUpdate (H04); a replacement with the same id is no end.
 */
import { describe, expect, it } from 'vitest';
import { MemoryReservationStore, Reservations, type ReservationEnd } from '../../src/core/reservations.js';
import type { EvseCondition, StationCondition } from '../../src/core/ports.js';
import { silentLog } from '../../src/lib/log.js';
import { ManualClock, refOf, T0 } from './harness.js';

const free = { station: () => ({ availability: 'Operative', faulted: false }) as unknown as StationCondition, evse: () => ({ availability: 'Operative', faulted: false, reserved: false, chargingState: 'Idle' }) as unknown as EvseCondition };

function build(store = new MemoryReservationStore(), clock = new ManualClock()) {
  const r = new Reservations({ store, clock, pseudonym: refOf, evseIds: [1, 2], anyEvseSupported: () => true, log: silentLog });
  const ended: ReservationEnd[] = [];
  r.onEnded((e) => ended.push(e));
  return { r, ended, clock, store };
}

describe('reservation ends', () => {
  it('an inoperative EVSE keeps its reservation unless the version binding removes them (2.0.1 H01: removed; 1.6: kept); an any-EVSE one stays', () => {
    const { r, ended } = build();
    r.start();
    const reserve = (reservationId: number, target: Parameters<typeof r.reserve>[0]['target']) =>
      r.reserve({ target, expiryDate: T0 + 600_000, idTag: 'TAG1', reservationId }, free);
    expect(reserve(1, { kind: 'evse', evseId: 1 })).toBe('Accepted');
    expect(reserve(2, { kind: 'any-evse' })).toBe('Accepted');
    r.evseInoperative(1); // 1.6: the reservation outlasts the fault
    expect(ended).toEqual([]);
    expect(r.list().map((x) => x.reservationId).sort()).toEqual([1, 2]);
    r.removeWhenInoperative = true; // what the 2.0.1 binding sets
    r.evseInoperative(1);
    expect(ended).toEqual([{ reservationId: 1, reason: 'removed' }]);
    expect(r.list().map((x) => x.reservationId)).toEqual([2]);
    r.stop();
  });

  it('expired, cancelled and consumed are told apart; replacing an id ends nothing', async () => {
    const { r, ended, clock } = build();
    r.start();
    const reserve = (reservationId: number, evseId: number, ms: number, idTag = 'TAG1') =>
      r.reserve({ target: { kind: 'evse', evseId }, expiryDate: T0 + ms, idTag, reservationId }, free);
    expect(reserve(1, 1, 60_000)).toBe('Accepted');
    expect(reserve(1, 1, 120_000, 'TAG2')).toBe('Accepted'); // replaced
    expect(reserve(2, 2, 10_000)).toBe('Accepted');
    expect(ended).toEqual([]);
    await clock.advance(10_000);
    expect(ended).toEqual([{ reservationId: 2, reason: 'expired' }]);
    expect(r.cancel(1)).toBe(true);
    expect(r.cancel(1)).toBe(false);
    expect(reserve(3, 2, 60_000)).toBe('Accepted');
    r.consumed(3);
    r.consumed(3);
    expect(ended).toEqual([{ reservationId: 2, reason: 'expired' }, { reservationId: 1, reason: 'cancelled' }, { reservationId: 3, reason: 'consumed' }]);
    r.stop();
  });

  it('a reservation that expired while the charger was off is told at start', () => {
    const store = new MemoryReservationStore();
    store.put({ reservationId: 7, target: { kind: 'evse', evseId: 1 }, idTagRef: refOf('TAG1'), expiresAt: T0 - 1_000 });
    store.put({ reservationId: 8, target: { kind: 'any-evse' }, idTagRef: refOf('TAG1'), expiresAt: T0 + 60_000 });
    const { r, ended } = build(store);
    expect(ended).toEqual([]);
    r.start();
    expect(ended).toEqual([{ reservationId: 7, reason: 'expired' }]);
    expect(r.list().map((x) => x.reservationId)).toEqual([8]);
    r.stop();
  });
});
