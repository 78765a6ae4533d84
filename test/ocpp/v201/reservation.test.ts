/**
 * OCPP 2.0.1 Reservation (H01-H04) against the strict 2.0.1 TestCsms: ReserveNow for an EVSE or
 * any EVSE and its answers, the Reserved connector status and back to Available, CancelReservation,
 * a restart, the reserving token (or one of its group) starting with the reservationId in the
 * Started TransactionEvent, and ReservationCtrlr.Enabled / NonEvseSpecific.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../../helpers/agent.js';
import { TestCsms, waitFor, type RecordedCall } from '../../helpers/ocpp-server.js';

const CP = 'CP-TEST-1';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

/** An agent on 2.0.1 against the strict 2.0.1 server, booted and with its statuses sent. */
async function ready(overrides: Record<string, unknown> = {}, dir?: string): Promise<{ csms: TestCsms; t: TestAgent; call: (action: string, params: unknown) => Promise<any> }> {
  const csms = new TestCsms({ protocol: 'ocpp2.0.1' });
  // The strict server's defaults have no answer for it: an empty response is the schema's.
  csms.on('ReservationStatusUpdate', () => ({}));
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const { ocpp, ...rest } = overrides as { ocpp?: object };
  const t = await startAgent(url, { csms: { url, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500, ocppVersions: ['ocpp2.0.1'] }, ocpp: { HeartbeatInterval: 300, ...ocpp }, ...rest }, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link!.state === 'accepted' && csms.callsOf('StatusNotification', CP).length >= 2, 10_000, 'boot and statuses');
  return { csms, t, call: (action, params) => csms.call(CP, action, params) };
}

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const token = (idToken: string, type = 'ISO14443') => ({ idToken, type });
const lastStatus = (csms: TestCsms, evseId: number) => csms.callsOf('StatusNotification', CP).filter((c) => c.params.evseId === evseId).at(-1)?.params.connectorStatus;
const started = (csms: TestCsms): RecordedCall[] => csms.callsOf('TransactionEvent', CP).filter((c) => c.params.eventType === 'Started');
const reserve = (csms: TestCsms, r: { id: number; idToken: string; evseId?: number; ms?: number; groupIdToken?: string; connectorType?: string }) =>
  csms.call(CP, 'ReserveNow', {
    id: r.id, expiryDateTime: inMs(r.ms ?? 60_000), idToken: token(r.idToken),
    ...(r.evseId !== undefined ? { evseId: r.evseId } : {}),
    ...(r.groupIdToken ? { groupIdToken: token(r.groupIdToken, 'Central') } : {}),
    ...(r.connectorType ? { connectorType: r.connectorType } : {}),
  });
const setVariable = (call: (a: string, p: unknown) => Promise<any>, component: string, variable: string, attributeValue: string) =>
  call('SetVariables', { setVariableData: [{ component: { name: component }, variable: { name: variable }, attributeValue }] }).then((r) => r.setVariableResult[0].attributeStatus);

describe('OCPP 2.0.1 Reservation against a strict 2.0.1 central system', () => {
  it('TC_H_01_CS: a reserved EVSE is Reserved and takes only its token; the Started TransactionEvent carries the reservationId (H01, H03)', async () => {
    const { csms, t, call } = await ready();
    const cp = t.agent.chargePoint!;
    const refused: string[] = [];
    cp.on('auth-refused', (e) => refused.push(e.status));
    expect(await reserve(csms, { id: 101, idToken: 'RESV0001', evseId: 1 })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 1) === 'Reserved', 5_000, 'EVSE 1 Reserved');
    expect(csms.callsOf('StatusNotification', CP).filter((c) => c.params.connectorStatus === 'Reserved').map((c) => [c.params.evseId, c.params.connectorId])).toEqual([[1, 1]]);
    expect(lastStatus(csms, 2)).toBe('Available');
    // Another token: a card at the EVSE, and a remote start there.
    t.agent.sim.reader.present({ token: { id: 'OTHER001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => refused.includes('Reserved'), 5_000, 'other token refused');
    expect(await call('RequestStartTransaction', { idToken: token('OTHER001', 'Central'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Rejected' });
    expect(cp.session(1)).toBeUndefined();
    // The reserving token, by card.
    t.agent.sim.reader.present({ token: { id: 'RESV0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const start = await waitFor(() => started(csms).find((c) => c.params.evse?.id === 1), 10_000, 'Started on EVSE 1');
    expect(start.params).toMatchObject({ reservationId: 101, idToken: { idToken: 'RESV0001' } });
    // Used: nothing left to cancel, and the EVSE is Occupied, not Reserved.
    expect(await call('CancelReservation', { reservationId: 101 })).toEqual({ status: 'Rejected' });
    await waitFor(() => lastStatus(csms, 1) === 'Occupied', 10_000, 'EVSE 1 Occupied');
    expect(t.agent.features!.reservations!.list()).toEqual([]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_H_17_CS and the refusals: ReserveNow answers Rejected, Occupied, Unavailable and Faulted where the spec says; a held id is replaced; CancelReservation Accepted then Rejected (H01, H02)', async () => {
    const { csms, t, call } = await ready();
    const cp = t.agent.chargePoint!;
    expect(await reserve(csms, { id: 1, idToken: 'RESV0002', evseId: 9 })).toEqual({ status: 'Rejected' }); // no such EVSE
    expect(await reserve(csms, { id: 1, idToken: 'RESV0002', evseId: 0 })).toEqual({ status: 'Rejected' }); // the station is no EVSE
    expect(await reserve(csms, { id: 2, idToken: 'RESV0002', evseId: 1, ms: -1_000 })).toEqual({ status: 'Rejected' }); // already expired
    expect(await reserve(csms, { id: 3, idToken: 'RESV0002', evseId: 1 })).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, { id: 4, idToken: 'RESV0003', evseId: 1 })).toEqual({ status: 'Occupied' }); // reserved by another
    // H01.FR.02: the same id replaces the reservation: now for RESV0003, the earlier token is refused.
    expect(await reserve(csms, { id: 3, idToken: 'RESV0003', evseId: 1, ms: 120_000 })).toEqual({ status: 'Accepted' });
    expect(t.agent.features!.reservations!.list()).toHaveLength(1);
    expect(await call('RequestStartTransaction', { idToken: token('RESV0002', 'Central'), evseId: 1, remoteStartId: 1 })).toEqual({ status: 'Rejected' });
    // H02: cancelled, the EVSE is Available again; a second cancel finds nothing.
    await waitFor(() => lastStatus(csms, 1) === 'Reserved', 5_000, 'Reserved');
    expect(await call('CancelReservation', { reservationId: 3 })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 1) === 'Available', 5_000, 'Available after cancel');
    expect(await call('CancelReservation', { reservationId: 3 })).toEqual({ status: 'Rejected' });
    expect(await call('CancelReservation', { reservationId: 999 })).toEqual({ status: 'Rejected' });
    // A transaction on the EVSE: Occupied.
    expect(await call('RequestStartTransaction', { idToken: token('DRIVER01', 'Central'), evseId: 1, remoteStartId: 2 })).toEqual({ status: 'Accepted' });
    await waitFor(() => started(csms).length === 1, 10_000, 'Started');
    expect(await reserve(csms, { id: 5, idToken: 'RESV0002', evseId: 1 })).toEqual({ status: 'Occupied' });
    // Unavailable.
    expect(await call('ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 2 } })).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, { id: 6, idToken: 'RESV0002', evseId: 2 })).toEqual({ status: 'Unavailable' });
    expect(await call('ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 2 } })).toEqual({ status: 'Accepted' });
    // Faulted.
    cp.reportFault({ source: 'meter:2', errorCode: 'PowerMeterFailure', active: true });
    expect(await reserve(csms, { id: 7, idToken: 'RESV0002', evseId: 2 })).toEqual({ status: 'Faulted' });
    cp.reportFault({ source: 'meter:2', errorCode: 'PowerMeterFailure', active: false });
    expect(await reserve(csms, { id: 7, idToken: 'RESV0002', evseId: 2 })).toEqual({ status: 'Accepted' });
    expect(t.agent.features!.reservations!.list().map((r) => r.reservationId)).toEqual([7]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('TC_H_08_CS, TC_H_14_CS, TC_H_15_CS, TC_H_22_CS (Enabled false): any EVSE (no evseId, with or without connectorType; a type the charger lacks Rejected): the last free EVSE is held for the token; NonEvseSpecific false or Enabled false → Rejected (H01)', async () => {
    const { csms, t, call } = await ready();
    const cp = t.agent.chargePoint!;
    // The charger's profile has two Type2 sockets: the device model says so, and a type it lacks is Rejected.
    const types = await call('GetVariables', { getVariableData: [1, 2].map((id) => ({ component: { name: 'Connector', evse: { id, connectorId: 1 } }, variable: { name: 'ConnectorType' } })) });
    expect(types.getVariableResult.map((r: any) => r.attributeValue)).toEqual(['sType2', 'sType2']);
    expect(await reserve(csms, { id: 30, idToken: 'RESV0006', connectorType: 'cCCS2' })).toEqual({ status: 'Rejected' });
    expect(await reserve(csms, { id: 30, idToken: 'RESV0006', evseId: 1, connectorType: 'cCCS2' })).toEqual({ status: 'Rejected' });
    // Two free EVSEs, one reservation of any EVSE: both stay Available.
    expect(await reserve(csms, { id: 31, idToken: 'RESV0006', connectorType: 'sType2' })).toEqual({ status: 'Accepted' });
    expect([lastStatus(csms, 1), lastStatus(csms, 2)]).toEqual(['Available', 'Available']);
    expect(await call('RequestStartTransaction', { idToken: token('OTHER003', 'Central'), evseId: 1, remoteStartId: 3 })).toEqual({ status: 'Accepted' });
    await waitFor(() => started(csms).length === 1, 10_000, 'Started on EVSE 1');
    // One free EVSE left, held: Reserved, refused to others, and no second reservation of any EVSE.
    await waitFor(() => lastStatus(csms, 2) === 'Reserved', 5_000, 'EVSE 2 Reserved');
    expect(await reserve(csms, { id: 32, idToken: 'RESV0007' })).toEqual({ status: 'Occupied' });
    expect(await call('RequestStartTransaction', { idToken: token('OTHER004', 'Central'), evseId: 2, remoteStartId: 4 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('RESV0006', 'Central'), remoteStartId: 5 })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => started(csms).find((c) => c.params.evse?.id === 2), 10_000, 'Started on EVSE 2');
    expect(start.params).toMatchObject({ reservationId: 31, idToken: { idToken: 'RESV0006' } });

    // ReservationCtrlr.Enabled false: every ReserveNow Rejected; true again: accepted.
    expect(await setVariable(call, 'ReservationCtrlr', 'Enabled', 'false')).toBe('Accepted');
    expect(await reserve(csms, { id: 33, idToken: 'RESV0008', evseId: 2 })).toEqual({ status: 'Rejected' });
    expect(await setVariable(call, 'ReservationCtrlr', 'Enabled', 'true')).toBe('Accepted');
    // NonEvseSpecific is read-only (1.6's ReserveConnectorZeroSupported, one setting): the central system cannot change it.
    expect(await setVariable(call, 'ReservationCtrlr', 'NonEvseSpecific', 'false')).toBe('Rejected');
    expect(csms.validationFailures).toEqual([]);
  });

  it('NonEvseSpecific false (ReserveConnectorZeroSupported false): a reservation without evseId is Rejected, one for an EVSE Accepted (H01)', async () => {
    const { csms, t, call } = await ready();
    // A station that cannot reserve an unspecified EVSE: the setting is read-only to the central system and the config, so the charger's own store holds it.
    t.agent.runtime!.settings.set('ReserveConnectorZeroSupported', 'false');
    const got = await call('GetVariables', { getVariableData: [{ component: { name: 'ReservationCtrlr' }, variable: { name: 'NonEvseSpecific' } }] });
    expect(got.getVariableResult[0]).toMatchObject({ attributeStatus: 'Accepted', attributeValue: 'false' });
    expect(await reserve(csms, { id: 41, idToken: 'RESV0009' })).toEqual({ status: 'Rejected' });
    expect(await reserve(csms, { id: 42, idToken: 'RESV0009', evseId: 1 })).toEqual({ status: 'Accepted' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('expiry returns the EVSE to Available; a reservation survives a restart (H01)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-resv201-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await ready({}, dir);
    expect(await reserve(first.csms, { id: 51, idToken: 'RESV0010', evseId: 1, ms: 120_000 })).toEqual({ status: 'Accepted' });
    expect(await reserve(first.csms, { id: 52, idToken: 'RESV0011', evseId: 2, ms: 4_000 })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(first.csms, 1) === 'Reserved' && lastStatus(first.csms, 2) === 'Reserved', 5_000, 'both Reserved');
    await first.t.agent.stop();
    await first.csms.stop();
    const second = await ready({}, dir);
    // EVSE 1 still held after the restart; EVSE 2's reservation expires and it is Available again.
    await waitFor(() => lastStatus(second.csms, 1) === 'Reserved', 5_000, 'still Reserved after restart');
    await waitFor(() => lastStatus(second.csms, 2) === 'Available', 15_000, 'EVSE 2 Available after expiry');
    expect(second.t.agent.features!.reservations!.list().map((r) => r.reservationId)).toEqual([51]);
    expect(await second.call('RequestStartTransaction', { idToken: token('OTHER005', 'Central'), evseId: 1, remoteStartId: 6 })).toEqual({ status: 'Rejected' });
    expect(await second.call('RequestStartTransaction', { idToken: token('RESV0010', 'Central'), evseId: 1, remoteStartId: 7 })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => started(second.csms)[0], 10_000, 'Started');
    expect(start.params).toMatchObject({ evse: { id: 1 }, reservationId: 51 });
    expect(second.csms.validationFailures).toEqual([]);
  });

  it('TC_H_19_CS: a token of the reservation\'s groupIdToken may use it; a stranger may not (H01, C09)', async () => {
    const { csms, t } = await ready();
    csms.on('Authorize', (p: any) => ({ idTokenInfo: { status: 'Accepted', ...(p.idToken.idToken === 'MEMBER01' ? { groupIdToken: { idToken: 'FLEET001', type: 'Central' } } : {}) } }));
    const refused: string[] = [];
    t.agent.chargePoint!.on('auth-refused', (e) => refused.push(e.status));
    expect(await reserve(csms, { id: 61, idToken: 'DISPATCH', evseId: 1, groupIdToken: 'FLEET001' })).toEqual({ status: 'Accepted' });
    t.agent.sim.reader.present({ token: { id: 'STRANGER', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => refused.length === 1, 5_000, 'stranger refused');
    t.agent.sim.reader.present({ token: { id: 'MEMBER01', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const start = await waitFor(() => started(csms)[0], 10_000, 'Started');
    expect(start.params).toMatchObject({ evse: { id: 1 }, idToken: { idToken: 'MEMBER01' }, reservationId: 61 });
    expect(csms.validationFailures).toEqual([]);
  });

  it('RequestStartTransaction with the reservation\'s groupIdToken uses it; another group is refused there (H01, F01)', async () => {
    const { csms, t, call } = await ready();
    expect(await reserve(csms, { id: 62, idToken: 'DISPATCH', evseId: 2, groupIdToken: 'FLEET001' })).toEqual({ status: 'Accepted' });
    expect(await call('RequestStartTransaction', { idToken: token('MEMBER09', 'Central'), groupIdToken: token('OTHERGRP', 'Central'), evseId: 2, remoteStartId: 10 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('MEMBER02', 'Central'), evseId: 2, remoteStartId: 11 })).toEqual({ status: 'Rejected' });
    expect(await call('RequestStartTransaction', { idToken: token('MEMBER02', 'Central'), groupIdToken: token('FLEET001', 'Central'), evseId: 2, remoteStartId: 12 })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => started(csms)[0], 10_000, 'Started');
    expect(start.params).toMatchObject({ evse: { id: 2 }, idToken: { idToken: 'MEMBER02' }, reservationId: 62, transactionInfo: { remoteStartId: 12 } });
    expect(t.agent.features!.reservations!.list()).toEqual([]);
    // Without an evseId: the group's reserved EVSE is picked for it.
    expect(await reserve(csms, { id: 63, idToken: 'DISPATCH', evseId: 1, groupIdToken: 'FLEET001' })).toEqual({ status: 'Accepted' });
    expect(await call('RequestStartTransaction', { idToken: token('MEMBER03', 'Central'), groupIdToken: token('FLEET001', 'Central'), remoteStartId: 13 })).toEqual({ status: 'Accepted' });
    const second = await waitFor(() => started(csms)[1], 10_000, 'second Started');
    expect(second.params).toMatchObject({ evse: { id: 1 }, reservationId: 63 });
    expect(csms.validationFailures).toEqual([]);
  });
  it('TC_H_07_CS: ReservationStatusUpdate Expired for a reservation that expires unused; none after CancelReservation or use (H04)', async () => {
    const { csms, t, call } = await ready();
    expect(await reserve(csms, { id: 71, idToken: 'RESV0012', evseId: 1, ms: 1_500 })).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, { id: 72, idToken: 'RESV0013', evseId: 2, ms: 60_000 })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 1) === 'Reserved' && lastStatus(csms, 2) === 'Reserved', 5_000, 'both Reserved');
    expect(await call('CancelReservation', { reservationId: 72 })).toEqual({ status: 'Accepted' });
    const update = await waitFor(() => csms.callsOf('ReservationStatusUpdate', CP)[0], 10_000, 'ReservationStatusUpdate');
    expect(update.params).toEqual({ reservationId: 71, reservationUpdateStatus: 'Expired' });
    await waitFor(() => lastStatus(csms, 1) === 'Available', 5_000, 'EVSE 1 Available after expiry');
    // Used by its token: no update either.
    expect(await reserve(csms, { id: 73, idToken: 'RESV0014', evseId: 2, ms: 60_000 })).toEqual({ status: 'Accepted' });
    expect(await call('RequestStartTransaction', { idToken: token('RESV0014', 'Central'), evseId: 2, remoteStartId: 8 })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => started(csms)[0], 10_000, 'Started');
    expect(start.params).toMatchObject({ evse: { id: 2 }, reservationId: 73 });
    expect(t.agent.features!.reservations!.list()).toEqual([]);
    expect(csms.callsOf('ReservationStatusUpdate', CP).map((c) => c.params.reservationId)).toEqual([71]);
    expect(csms.validationFailures).toEqual([]);
  });

  it('a reservation that expires while the central system is unreachable, or while the charger is off, is reported once the boot is Accepted again (H04)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-resv201-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await ready({}, dir);
    expect(await reserve(first.csms, { id: 81, idToken: 'RESV0015', evseId: 1, ms: 1_500 })).toEqual({ status: 'Accepted' });
    // Long enough to outlive the outage on a slow machine (checked below, before the charger stops).
    const expiry82 = Date.now() + 12_000;
    expect(await reserve(first.csms, { id: 82, idToken: 'RESV0016', evseId: 2, ms: expiry82 - Date.now() })).toEqual({ status: 'Accepted' });
    // The central system goes away; reservation 81 expires meanwhile.
    const port = first.csms.port;
    await first.csms.stop();
    await waitFor(() => first.t.agent.link!.state !== 'accepted', 10_000, 'link down');
    await waitFor(() => first.t.agent.features!.reservations!.list().every((r) => r.reservationId !== 81), 10_000, '81 expired');
    const back = new TestCsms({ protocol: 'ocpp2.0.1' });
    back.on('ReservationStatusUpdate', () => ({}));
    await back.start(port);
    cleanups.push(() => back.stop());
    const update = await waitFor(() => back.callsOf('ReservationStatusUpdate', CP)[0], 15_000, 'ReservationStatusUpdate after reconnect');
    expect(update.params).toEqual({ reservationId: 81, reservationUpdateStatus: 'Expired' });
    // The charger stops; reservation 82 expires while it is off and is reported after the next boot.
    expect(first.t.agent.features!.reservations!.list().map((r) => r.reservationId)).toEqual([82]);
    await first.t.agent.stop();
    await back.stop();
    await new Promise((r) => setTimeout(r, Math.max(0, expiry82 - Date.now() + 200)));
    const second = await ready({}, dir);
    expect(second.t.agent.features!.reservations!.list()).toEqual([]);
    const after = await waitFor(() => second.csms.callsOf('ReservationStatusUpdate', CP)[0], 15_000, 'ReservationStatusUpdate after restart');
    expect(after.params).toEqual({ reservationId: 82, reservationUpdateStatus: 'Expired' });
    expect(second.csms.callsOf('ReservationStatusUpdate', CP)).toHaveLength(1);
    expect([...back.validationFailures, ...second.csms.validationFailures]).toEqual([]);
  });
});
