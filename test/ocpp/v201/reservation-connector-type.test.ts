/**
 * ReserveNow's connectorType (H01) against a device model whose connectors have types (a
 * profile's Type2 socket and CCS2 cable): the handler over the core's real Reservations, with the
 * ChargePoint reduced to the conditions it reads (pure logic: no connection involved).
 */
import { describe, expect, it } from 'vitest';
import type { ChargePoint } from '../../../src/core/charge-point.js';
import { MemoryReservationStore, Reservations } from '../../../src/core/reservations.js';
import type { Condition } from '../../../src/core/ports.js';
import { silentLog } from '../../../src/lib/log.js';
import { buildDeviceModel, MemoryVariableStore, topologyFromConnectors } from '../../../src/ocpp/v201/device-model.js';
import { reservationHandlers, type ReservationContext } from '../../../src/ocpp/v201/reservation.js';
import { ManualClock } from '../../core/harness.js';

const idle: Condition = { availability: 'Operative', chargingState: 'Idle', faulted: false, reserved: false, at: 0 };

function context(): ReservationContext & { reservations: Reservations } {
  const model = buildDeviceModel(topologyFromConnectors([
    { id: 1, type: 'Type2', phases: '3', maxPowerW: 22_000 },
    { id: 2, type: 'CCS2', phases: 'DC', maxPowerW: 50_000 },
  ]));
  const clock = new ManualClock();
  const reservations = new Reservations({ store: new MemoryReservationStore(), clock, pseudonym: (t) => `ref:${t}`, evseIds: [1, 2], anyEvseSupported: () => true, log: silentLog });
  const chargePoint = {
    evseIds: [1, 2],
    stationCondition: () => ({ ...idle, station: true }),
    evseCondition: (evseId: number) => ({ ...idle, evseId, connectorId: 1, reserved: reservations.holding(evseId, [1, 2]) !== undefined }),
  } as unknown as ChargePoint;
  return { model, store: new MemoryVariableStore(), chargePoint, reservations, log: silentLog };
}

const expiry = () => new Date(Date.now() + 3_600_000).toISOString();

describe('ReserveNow connectorType (H01)', () => {
  it('any EVSE: a type the station has is Accepted, one it lacks Rejected', () => {
    const ctx = context();
    const reserve = (id: number, connectorType: string) =>
      reservationHandlers.ReserveNow({ id, expiryDateTime: expiry(), idToken: { idToken: 'TAG1', type: 'ISO14443' }, connectorType: connectorType as never }, ctx);
    expect(reserve(1, 'cType1')).toEqual({ status: 'Rejected' });
    expect(reserve(2, 'cCCS2')).toEqual({ status: 'Accepted' });
    expect(reserve(3, 'sType2')).toEqual({ status: 'Accepted' });
    expect(ctx.reservations.list().map((r) => r.reservationId)).toEqual([2, 3]);
  });

  it('an EVSE with a connectorType: Rejected when that EVSE has no connector of the type', () => {
    const ctx = context();
    const reserve = (id: number, evseId: number, connectorType: string) =>
      reservationHandlers.ReserveNow({ id, expiryDateTime: expiry(), idToken: { idToken: 'TAG1', type: 'ISO14443' }, evseId, connectorType: connectorType as never }, ctx);
    expect(reserve(1, 1, 'cCCS2')).toEqual({ status: 'Rejected' });
    expect(reserve(2, 2, 'cCCS2')).toEqual({ status: 'Accepted' });
    expect(ctx.reservations.list().map((r) => r.reservationId)).toEqual([2]);
  });
});
