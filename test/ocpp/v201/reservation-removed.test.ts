/**
 * OCPP 2.0.1 Reservation (H01, OCTT TC_H_20): the station removes a reservation when its EVSE
 * becomes inoperative (Faulted, or Unavailable by ChangeAvailability): StatusNotification first,
 * then ReservationStatusUpdate Removed, once; a reservation of any EVSE and one of another EVSE
 * stay. Against the strict 2.0.1 server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('OCPP 2.0.1 ReservationStatusUpdate Removed', () => {
  it('an EVSE that becomes Faulted, or Unavailable, loses its reservation: Removed after its status, once; the others stay (H01, TC_H_20)', async () => {
    const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
    csms.on('ReservationStatusUpdate', () => ({}));
    const url = await csms.start();
    cleanups.push(() => csms.stop());
    const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { HeartbeatInterval: 300 } });
    cleanups.push(() => t.cleanup());
    await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
    const call = (action: string, params: unknown) => csms.call(CP, action, params);
    const reserve = (id: number, evseId?: number) => call('ReserveNow', { id, expiryDateTime: inMs(300_000), idToken: { idToken: `REMOVE${id}`, type: 'ISO14443' }, ...(evseId !== undefined ? { evseId } : {}) });
    const lastStatus = (evseId: number) => csms.callsOf('StatusNotification', CP).filter((c) => c.params.evseId === evseId).at(-1)?.params.connectorStatus;
    const updates = () => csms.callsOf('ReservationStatusUpdate', CP).map((c) => c.params);
    const cp = t.agent.chargePoint!;

    expect(await reserve(41, 1)).toEqual({ status: 'Accepted' });
    expect(await reserve(42, 2)).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(1) === 'Reserved' && lastStatus(2) === 'Reserved', 10_000, 'both Reserved');

    // EVSE 1 faults: Faulted, then Removed for its reservation; EVSE 2's stays.
    cp.reportFault({ source: 'meter:1', errorCode: 'PowerMeterFailure', active: true });
    await waitFor(() => updates().length >= 1, 10_000, 'ReservationStatusUpdate');
    expect(updates()).toEqual([{ reservationId: 41, reservationUpdateStatus: 'Removed' }]);
    const calls = csms.calls.filter((c) => c.chargePointId === CP);
    const faultedAt = calls.findIndex((c) => c.action === 'StatusNotification' && c.params.evseId === 1 && c.params.connectorStatus === 'Faulted');
    const removedAt = calls.findIndex((c) => c.action === 'ReservationStatusUpdate');
    expect(faultedAt).toBeGreaterThanOrEqual(0);
    expect(removedAt).toBeGreaterThan(faultedAt);
    expect(t.agent.features!.reservations!.list().map((r) => r.reservationId)).toEqual([42]);
    // Cleared: Available, not Reserved; no second update.
    cp.reportFault({ source: 'meter:1', errorCode: 'PowerMeterFailure', active: false });
    await waitFor(() => lastStatus(1) === 'Available', 10_000, 'EVSE 1 Available');
    expect(lastStatus(2)).toBe('Reserved');

    // EVSE 2 made Inoperative by the central system: Removed too. A reservation of any EVSE stays.
    expect(await reserve(43)).toEqual({ status: 'Accepted' });
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 2 } })).toEqual({ status: 'Accepted' });
    await waitFor(() => updates().length >= 2, 10_000, 'second ReservationStatusUpdate');
    expect(updates()).toEqual([{ reservationId: 41, reservationUpdateStatus: 'Removed' }, { reservationId: 42, reservationUpdateStatus: 'Removed' }]);
    expect(t.agent.features!.reservations!.list().map((r) => r.reservationId)).toEqual([43]);
    // CancelReservation of a removed one: it is gone.
    expect(await call('CancelReservation', { reservationId: 42 })).toEqual({ status: 'Rejected' });
    expect(updates()).toHaveLength(2);
    expect(csms.validationFailures).toEqual([]);
  }, 90_000);
});
