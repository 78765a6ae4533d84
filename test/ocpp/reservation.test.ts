/**
 * Reservation against the strict TestCsms: ReserveNow's answers where the spec puts them, a
 * Reserved connector that only its idTag (or one with its parentIdTag) can use, the
 * reservationId in StartTransaction, expiry, cancellation, connector 0, and a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../helpers/agent.js';
import { TestCsms, waitFor } from '../helpers/ocpp-server.js';
import { toV16Status } from '../../src/ocpp/v16/mapping.js';

const CP = 'CP-TEST-1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(overrides: Record<string, unknown> = {}, dir?: string): Promise<{ csms: TestCsms; t: TestAgent }> {
  const csms = new TestCsms();
  const url = await csms.start();
  cleanups.push(() => csms.stop());
  const t = await startAgent(url, overrides, dir ? { dir } : {});
  cleanups.push(() => t.cleanup());
  await waitFor(() => t.agent.link?.state === 'accepted', 10_000, 'accepted');
  await waitFor(() => csms.callsOf('StatusNotification').length >= 3, 10_000, 'statuses');
  return { csms, t };
}

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const lastStatus = (csms: TestCsms, connectorId: number) => csms.callsOf('StatusNotification').filter((c) => c.params.connectorId === connectorId).at(-1)?.params.status;
const reserve = (csms: TestCsms, connectorId: number, reservationId: number, idTag: string, ms = 60_000, parentIdTag?: string) =>
  csms.call(CP, 'ReserveNow', { connectorId, expiryDate: inMs(ms), idTag, reservationId, ...(parentIdTag ? { parentIdTag } : {}) });

describe('Reservation', () => {
  it('a reserved connector takes only its idTag; the reservationId goes in StartTransaction', async () => {
    const { csms, t } = await setup();
    const cp = t.agent.chargePoint!;
    const refused: string[] = [];
    cp.on('auth-refused', (e) => refused.push(e.status));
    expect(await reserve(csms, 1, 101, 'RESV0001')).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 1) === 'Reserved', 5_000, 'Reserved');
    // Someone else: a card at the connector, and a remote start.
    t.agent.sim.reader.present({ token: { id: 'OTHER001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => refused.includes('Reserved'), 5_000, 'refused');
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'OTHER001' })).toEqual({ status: 'Rejected' });
    expect(toV16Status(cp.evseCondition(1))).toBe('Reserved');
    // Connector 2 is free for anyone.
    expect(await csms.call(CP, 'RemoteStartTransaction', { idTag: 'OTHER001' })).toEqual({ status: 'Accepted' });
    const other = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(other.params.connectorId).toBe(2);
    expect(other.params.reservationId).toBeUndefined();
    // The reserving tag, by card.
    t.agent.sim.reader.present({ token: { id: 'RESV0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const start = await waitFor(() => csms.callsOf('StartTransaction').find((c) => c.params.connectorId === 1), 10_000, 'StartTransaction 1');
    expect(start.params).toMatchObject({ idTag: 'RESV0001', reservationId: 101 });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    // Used up: nothing left to cancel.
    expect(await csms.call(CP, 'CancelReservation', { reservationId: 101 })).toEqual({ status: 'Rejected' });
    expect(csms.validationFailures).toEqual([]);
  });

  it('answers Occupied, Faulted, Unavailable and Rejected where the spec says', async () => {
    const { csms, t } = await setup();
    const cp = t.agent.chargePoint!;
    expect(await reserve(csms, 3, 1, 'RESV0002')).toEqual({ status: 'Rejected' }); // no such connector
    expect(await reserve(csms, 1, 2, 'RESV0002', -1_000)).toEqual({ status: 'Rejected' }); // already expired
    expect(await reserve(csms, 1, 3, 'RESV0002')).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, 1, 4, 'RESV0003')).toEqual({ status: 'Occupied' }); // reserved by another
    expect(await reserve(csms, 1, 3, 'RESV0003', 120_000)).toEqual({ status: 'Accepted' }); // same id: replaced
    expect(await csms.call(CP, 'CancelReservation', { reservationId: 3 })).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 1) === 'Available', 5_000, 'Available after cancel');
    // Charging: Occupied.
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'DRIVER01' })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    expect(await reserve(csms, 1, 5, 'RESV0002')).toEqual({ status: 'Occupied' });
    // Unavailable.
    expect(await csms.call(CP, 'ChangeAvailability', { connectorId: 2, type: 'Inoperative' })).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, 2, 6, 'RESV0002')).toEqual({ status: 'Unavailable' });
    expect(await csms.call(CP, 'ChangeAvailability', { connectorId: 2, type: 'Operative' })).toEqual({ status: 'Accepted' });
    // Faulted.
    cp.reportFault({ source: 'meter:2', errorCode: 'PowerMeterFailure', active: true });
    expect(await reserve(csms, 2, 7, 'RESV0002')).toEqual({ status: 'Faulted' });
    cp.reportFault({ source: 'meter:2', errorCode: 'PowerMeterFailure', active: false });
    // ReserveConnectorZeroSupported is true: connector 0 works while a connector is Available.
    expect(await reserve(csms, 0, 8, 'RESV0002')).toEqual({ status: 'Accepted' });
    expect(await reserve(csms, 0, 9, 'RESV0004')).toEqual({ status: 'Occupied' }); // one Available connector, already held
    expect(csms.validationFailures).toEqual([]);
  });

  it('expiry returns the connector to Available', async () => {
    const { csms, t } = await setup();
    expect(await reserve(csms, 2, 11, 'RESV0005', 1_500)).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 2) === 'Reserved', 5_000, 'Reserved');
    await waitFor(() => lastStatus(csms, 2) === 'Available', 10_000, 'Available after expiry');
    expect(t.agent.features!.reservations!.list()).toEqual([]);
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 2, idTag: 'OTHER002' })).toEqual({ status: 'Accepted' });
  });

  it('a tag with the reservation\'s parentIdTag may use it', async () => {
    const { csms, t } = await setup();
    csms.on('Authorize', (p: { idTag: string }) => ({ idTagInfo: { status: 'Accepted', ...(p.idTag === 'MEMBER01' ? { parentIdTag: 'FLEET001' } : {}) } }));
    const refused: string[] = [];
    t.agent.chargePoint!.on('auth-refused', (e) => refused.push(e.status));
    expect(await reserve(csms, 1, 21, 'DISPATCH', 60_000, 'FLEET001')).toEqual({ status: 'Accepted' });
    t.agent.sim.reader.present({ token: { id: 'STRANGER', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    await waitFor(() => refused.length === 1, 5_000, 'stranger refused');
    t.agent.sim.reader.present({ token: { id: 'MEMBER01', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params).toMatchObject({ connectorId: 1, idTag: 'MEMBER01', reservationId: 21 });
  });

  it('one reader for both connectors: a tag of the reservation\'s group is given the reserved connector, by card and by remote start', async () => {
    const { csms, t } = await setup({ ocpp: { AuthorizeRemoteTxRequests: true }, simulation: { departureDelayMs: 50 } });
    const cp = t.agent.chargePoint!;
    csms.on('Authorize', (p: { idTag: string }) => ({ idTagInfo: { status: 'Accepted', ...(p.idTag.startsWith('MEMBER') ? { parentIdTag: 'FLEET001' } : {}) } }));
    expect(await reserve(csms, 2, 51, 'DISPATCH', 60_000, 'FLEET001')).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 2) === 'Reserved', 5_000, 'Reserved');
    // Connector 1 is free for anyone, but the member's group holds connector 2: the reservation is used.
    expect(await cp.presentToken({ token: { id: 'MEMBER01', type: 'ISO14443' }, method: 'rfid' })).toMatchObject({ accepted: true });
    const start = await waitFor(() => csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params).toMatchObject({ connectorId: 2, idTag: 'MEMBER01', reservationId: 51 });
    expect(t.agent.features!.reservations!.list()).toEqual([]);
    // The charger knows its transactionId once it has read StartTransaction.conf, not when the
    // central system has received the call (a RemoteStop before that is rightly Rejected).
    const transactionId = await waitFor(() => t.agent.runtime!.link.transactionIdOf(cp.session(2)!.localId), 10_000, 'transactionId known');
    expect(await csms.call(CP, 'RemoteStopTransaction', { transactionId })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(2)) === 'Available', 10_000, 'Available again');
    // The same by remote start without a connector (AuthorizeRemoteTxRequests: the group is learnt from Authorize).
    expect(await reserve(csms, 2, 52, 'DISPATCH', 60_000, 'FLEET001')).toEqual({ status: 'Accepted' });
    await waitFor(() => lastStatus(csms, 2) === 'Reserved', 5_000, 'Reserved again');
    expect(await csms.call(CP, 'RemoteStartTransaction', { idTag: 'MEMBER02' })).toEqual({ status: 'Accepted' });
    const second = await waitFor(() => csms.callsOf('StartTransaction')[1], 10_000, 'second StartTransaction');
    expect(second.params).toMatchObject({ connectorId: 2, idTag: 'MEMBER02', reservationId: 52 });
    expect(csms.validationFailures).toEqual([]);
  });

  it('connector 0: the last free connector is held for the reserving tag', async () => {
    const { csms, t } = await setup();
    const cp = t.agent.chargePoint!;
    expect(await reserve(csms, 0, 31, 'RESV0006')).toEqual({ status: 'Accepted' });
    // Two free connectors, one reservation: both stay Available.
    expect([toV16Status(cp.evseCondition(1)), toV16Status(cp.evseCondition(2))]).toEqual(['Available', 'Available']);
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'OTHER003' })).toEqual({ status: 'Accepted' });
    await waitFor(() => toV16Status(cp.evseCondition(1)) === 'Charging', 10_000, 'Charging');
    await waitFor(() => lastStatus(csms, 2) === 'Reserved', 5_000, 'connector 2 Reserved');
    expect(await csms.call(CP, 'RemoteStartTransaction', { connectorId: 2, idTag: 'OTHER004' })).toEqual({ status: 'Rejected' });
    expect(await csms.call(CP, 'RemoteStartTransaction', { idTag: 'RESV0006' })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => csms.callsOf('StartTransaction').find((c) => c.params.connectorId === 2), 10_000, 'StartTransaction 2');
    expect(start.params).toMatchObject({ idTag: 'RESV0006', reservationId: 31 });
  });

  it('reservations survive a restart (tags kept only as pseudonyms)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evse-resv-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await setup({}, dir);
    expect(await reserve(first.csms, 1, 41, 'RESV0007', 60_000)).toEqual({ status: 'Accepted' });
    expect(await reserve(first.csms, 2, 42, 'RESV0008', 2_500)).toEqual({ status: 'Accepted' });
    const rows = first.t.agent.db!.prepare('SELECT * FROM reservations').all() as { id_tag_ref: string }[];
    expect(JSON.stringify(rows)).not.toContain('RESV0007');
    await first.t.agent.stop();
    await first.csms.stop();
    const second = await setup({}, dir);
    await waitFor(() => lastStatus(second.csms, 1) === 'Reserved', 5_000, 'still Reserved after restart');
    await waitFor(() => lastStatus(second.csms, 2) === 'Available', 10_000, 'connector 2 expired');
    expect(await second.csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'OTHER005' })).toEqual({ status: 'Rejected' });
    expect(await second.csms.call(CP, 'RemoteStartTransaction', { connectorId: 1, idTag: 'RESV0007' })).toEqual({ status: 'Accepted' });
    const start = await waitFor(() => second.csms.callsOf('StartTransaction')[0], 10_000, 'StartTransaction');
    expect(start.params).toMatchObject({ connectorId: 1, reservationId: 41 });
  });
});
