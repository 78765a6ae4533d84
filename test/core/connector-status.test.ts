/**
 * Every connector status transition of the core, driven through its ports with a manual clock:
 * exact statuses in order, the ledger's records and what the power path was told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChargePointStatus as ConnectorStatus } from '../../src/ocpp/v16/mapping.js';
import { charging, harness, type Harness, type HarnessOptions } from './harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

interface Row {
  name: string;
  options?: HarnessOptions;
  /** From a fresh harness (connector 1 Available, TAG-A accepted by the central system). */
  steps: (h: Harness) => Promise<void>;
  statuses: ConnectorStatus[];
  /** The ledger's one session afterwards: its stop reason (null: still open), or no session at all. */
  session: { stopReason: string | null } | 'none';
}

const rows: Row[] = [
  {
    name: 'plug in, then authorise: Preparing, then Charging once the vehicle draws',
    steps: async (h) => { await h.plug(); await h.present('TAG-A'); },
    statuses: ['Available', 'Preparing', 'Charging'], session: { stopReason: null },
  },
  {
    name: 'authorise, then plug in: Preparing while the vehicle is awaited, then Charging',
    steps: async (h) => {
      await h.present('TAG-A');
      expect(h.connector().powerPath.invites).toBe(1);
      expect(h.ledger.records()).toEqual([]);
      await h.plug();
    },
    statuses: ['Available', 'Preparing', 'Charging'], session: { stopReason: null },
  },
  {
    name: 'plug in and out without authorisation: no session',
    steps: async (h) => { await h.plug(); await h.unplug(); },
    statuses: ['Available', 'Preparing', 'Available'], session: 'none',
  },
  {
    name: 'the vehicle pauses (SuspendedEV) and draws again',
    steps: async (h) => { await h.plug(); await h.present('TAG-A'); await h.vehicle('connected'); await h.vehicle('charging'); },
    statuses: ['Available', 'Preparing', 'Charging', 'SuspendedEV', 'Charging'], session: { stopReason: null },
  },
  {
    name: 'the same tag stops its session (Local): Finishing while plugged, Available once unplugged',
    steps: async (h) => { await h.plug(); await h.present('TAG-A'); await h.present('TAG-A'); await h.unplug(); },
    statuses: ['Available', 'Preparing', 'Charging', 'Finishing', 'Available'], session: { stopReason: 'Local' },
  },
  {
    name: 'a cable pulled at the car stops the session (EVDisconnected) straight to Available',
    steps: async (h) => { await h.plug(); await h.present('TAG-A'); await h.unplug(); },
    statuses: ['Available', 'Preparing', 'Charging', 'Available'], session: { stopReason: 'EVDisconnected' },
  },
  {
    name: 'a board error (pilot E/F) stops the session (Other); Finishing once the board is well, Available unplugged',
    steps: async (h) => { await h.plug(); await h.present('TAG-A'); await h.vehicle('error'); await h.plug(); await h.unplug(); },
    statuses: ['Available', 'Preparing', 'Charging', 'Faulted', 'Finishing', 'Available'], session: { stopReason: 'Other' },
  },
  {
    name: 'a board error while Preparing drops the authorisation; the board well again, Available',
    steps: async (h) => { await h.present('TAG-A'); await h.vehicle('error'); await h.vehicle('disconnected'); await h.plug(); },
    statuses: ['Available', 'Preparing', 'Faulted', 'Available', 'Preparing'], session: 'none',
  },
  {
    name: 'ChangeAvailability Inoperative then Operative while idle',
    steps: async (h) => {
      expect(await h.changeAvailability(1, 'Inoperative')).toBe('Accepted');
      expect(await h.presentFor('TAG-A')).toBe('ignored');
      expect(await h.changeAvailability(1, 'Operative')).toBe('Accepted');
    },
    statuses: ['Available', 'Unavailable', 'Available'], session: 'none',
  },
  {
    name: 'Inoperative while Preparing drops the authorisation: a plug-in later starts nothing',
    steps: async (h) => {
      await h.present('TAG-A');
      await h.changeAvailability(1, 'Inoperative');
      await h.changeAvailability(1, 'Operative');
      await h.plug();
    },
    statuses: ['Available', 'Preparing', 'Unavailable', 'Available', 'Preparing'], session: 'none',
  },
  {
    name: 'Inoperative during a transaction is Scheduled: applied when the session stops, even with the cable still in',
    steps: async (h) => {
      await h.plug();
      await h.present('TAG-A');
      expect(await h.changeAvailability(1, 'Inoperative')).toBe('Scheduled');
      expect(h.status()).toBe('Charging');
      await h.present('TAG-A');
      await h.changeAvailability(1, 'Operative');
      await h.unplug();
    },
    statuses: ['Available', 'Preparing', 'Charging', 'Unavailable', 'Finishing', 'Available'], session: { stopReason: 'Local' },
  },
  {
    name: 'Inoperative scheduled during a transaction, then Operative again before the stop: Finishing, not Unavailable',
    steps: async (h) => {
      await h.plug();
      await h.present('TAG-A');
      expect(await h.changeAvailability(1, 'Inoperative')).toBe('Scheduled');
      expect(await h.changeAvailability(1, 'Operative')).toBe('Accepted');
      await h.present('TAG-A');
    },
    statuses: ['Available', 'Preparing', 'Charging', 'Finishing'], session: { stopReason: 'Local' },
  },
  {
    name: 'a second tag while the first one\'s authorisation waits for a vehicle is not taken: the first keeps the connector',
    options: { csms: { 'TAG-A': { status: 'Accepted' }, 'TAG-B': { status: 'Accepted' } } },
    steps: async (h) => {
      await h.present('TAG-A');
      expect(await h.presentFor('TAG-B')).toBe('ignored');
      await h.plug();
      expect(h.session().idTag).toBe('TAG-A');
    },
    statuses: ['Available', 'Preparing', 'Charging'], session: { stopReason: null },
  },
  {
    name: 'ConnectionTimeOut: an authorisation with no vehicle in time is dropped, exactly at the timeout',
    options: { settings: { ConnectionTimeOut: 30 } },
    steps: async (h) => {
      await h.present('TAG-A');
      await h.advance(29_999);
      expect(h.status()).toBe('Preparing');
      await h.advance(1);
      expect(h.status()).toBe('Available');
      await h.plug();
    },
    statuses: ['Available', 'Preparing', 'Available', 'Preparing'], session: 'none',
  },
  {
    name: 'a vehicle plugged within ConnectionTimeOut starts the session',
    options: { settings: { ConnectionTimeOut: 30 } },
    steps: async (h) => { await h.present('TAG-A'); await h.advance(29_999); await h.plug(); await h.advance(60_000); },
    statuses: ['Available', 'Preparing', 'Charging'], session: { stopReason: null },
  },
];

describe('connector status transitions', () => {
  it.each(rows)('$name', async (row) => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } }, ...row.options });
    await row.steps(h);
    expect(h.statuses(1)).toEqual(row.statuses);
    if (row.session === 'none') expect(h.ledger.records()).toEqual([]);
    else expect(h.session().stopReason).toBe(row.session.stopReason);
  });
});

describe('stops', () => {
  it('a session started records the start and offers the connector maximum', async () => {
    h = await charging();
    const s = h.session();
    expect(s).toMatchObject({ evseId: 1, idTag: 'TAG-A', authMethod: 'rfid', meterStartWh: 10_000, stoppedAt: null, startedAt: h.clock.now() });
    expect(h.ledger.queued().map((m) => m.kind)).toEqual(['start']);
    expect(h.offers()).toEqual([[32, false]]);
    expect(h.started).toEqual([{ evseId: 1, localId: s.localId, authMethod: 'rfid', meterStartWh: 10_000 }]);
  });

  it('RemoteStop by the transactionId stops with Remote; an unknown transactionId is refused', async () => {
    h = await charging();
    const { localId } = h.session();
    await h.confirmStart(localId, 42);
    expect(await h.remoteStop(43)).toBe(false);
    expect(h.session().stoppedAt).toBeNull();
    expect(await h.remoteStop(42)).toBe(true);
    expect(h.session()).toMatchObject({ stopReason: 'Remote', meterStopWh: 10_000 });
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging', 'Finishing']);
    expect(h.offers()).toEqual([[32, false], [0, false]]);
    expect(await h.remoteStop(42)).toBe(false);
    expect(h.ledger.queued('stop')).toHaveLength(1);
  });

  it('UnlockConnector stops the session (UnlockCommand) and unlocks', async () => {
    h = await charging();
    expect(await h.unlock(1)).toBe('Unlocked');
    expect(h.session().stopReason).toBe('UnlockCommand');
    expect(h.connector().powerPath.unlocks).toBe(1);
  });

  it('UnlockConnector without a lock is NotSupported and the session goes on', async () => {
    h = await charging();
    h.connector().powerPath.lock = false;
    expect(await h.unlock(1)).toBe('NotSupported');
    expect(h.session().stopReason).toBeNull();
    expect(h.status()).toBe('Charging');
  });

  it('stopAll stops every running session with its reason', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' }, 'TAG-B': { status: 'Accepted' } } });
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    await h.plug(2);
    await h.present('TAG-B', { connectorId: 2 });
    await h.stopAll('Reboot');
    await h.advance(0);
    expect(h.ledger.records().map((r) => [r.evseId, r.idTag, r.stopReason])).toEqual([[1, 'TAG-A', 'Reboot'], [2, 'TAG-B', 'Reboot']]);
    expect([h.status(1), h.status(2)]).toEqual(['Finishing', 'Finishing']);
  });

  it('a cable pulled at the car with StopTransactionOnEVSideDisconnect false: the session goes on, energy stops, the plug unlocks', async () => {
    h = await charging({ settings: { StopTransactionOnEVSideDisconnect: false } });
    await h.unplug();
    expect(h.session().stopReason).toBeNull();
    expect(h.offers()).toEqual([[32, false], [0, false]]);
    expect(h.connector().powerPath.unlocks).toBe(1);
    expect(h.status()).toBe('SuspendedEV');
  });

  // The session kept when the cable was pulled at the car goes on when it is plugged back (OCPP
  // 2.0.1 test case TC_E_26_CS, E10: the station restarts the energy transfer after reconnection).
  it('a vehicle plugged back in after an EV-side disconnect (session kept) gets energy again', async () => {
    h = await charging({ settings: { StopTransactionOnEVSideDisconnect: false } });
    await h.unplug();
    await h.plug();
    expect(h.offers()).toEqual([[32, false], [0, false], [32, false]]);
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging', 'SuspendedEV', 'Charging']);
    expect(h.ledger.records()).toHaveLength(1);
    expect(h.session().stopReason).toBeNull();
  });

  it('UnlockConnectorOnEVSideDisconnect false: the plug stays locked when the car leaves', async () => {
    h = await charging({ settings: { UnlockConnectorOnEVSideDisconnect: false } });
    await h.unplug();
    expect(h.connector().powerPath.unlocks).toBe(0);
    expect(h.session().stopReason).toBe('EVDisconnected');
  });
});

describe('faults', () => {
  it('a connector fault raised and cleared during a session: Faulted with its code, then Charging; the session goes on', async () => {
    h = await charging();
    await h.fault('board:1', 'HighTemperature', true, 'inlet 92 °C');
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'HighTemperature', info: 'inlet 92 °C' });
    await h.fault('board:1', 'HighTemperature', false);
    expect(h.statusesWithErrors()).toEqual(['Available/NoError', 'Preparing/NoError', 'Charging/NoError', 'Faulted/HighTemperature', 'Charging/NoError']);
    expect(h.session().stopReason).toBeNull();
  });

  it('a faulted connector takes no session: a tag finds none; once cleared a plug-in and tag start one', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.fault('board:1', 'GroundFailure', true);
    expect(await h.presentFor('TAG-A')).toBe('ignored');
    expect(await h.remoteStart('TAG-A', 1)).toBe(false);
    await h.fault('board:1', 'GroundFailure', false);
    await h.plug();
    await h.present('TAG-A');
    expect(h.statusesWithErrors()).toEqual(['Available/NoError', 'Faulted/GroundFailure', 'Available/NoError', 'Preparing/NoError', 'Charging/NoError']);
  });

  it('a charge-point fault (the store) faults every connector and connector 0', async () => {
    h = await harness({ connectors: 2 });
    await h.fault('store', 'InternalError', true, 'disk full');
    expect([h.status(0), h.status(1), h.status(2)]).toEqual(['Faulted', 'Faulted', 'Faulted']);
    await h.fault('store', 'InternalError', false);
    expect(h.statusesWithErrors(0)).toEqual(['Available/NoError', 'Faulted/InternalError', 'Available/NoError']);
    expect(h.statuses(2)).toEqual(['Available', 'Faulted', 'Available']);
  });

  it('a dead reader shows on connector 0 (ReaderFailure) but blocks nothing: a remote start still charges', async () => {
    h = await harness();
    await h.fault('reader', 'ReaderFailure', true);
    expect(h.condition(0)).toMatchObject({ status: 'Available', errorCode: 'ReaderFailure' });
    expect(h.status(1)).toBe('Available');
    expect(await h.remoteStart('TAG-R', 1)).toBe(true);
    await h.plug();
    expect(h.status(1)).toBe('Charging');
    expect(h.session().authMethod).toBe('app');
  });

  it('a meter that does not answer at start faults the connector until a probe 5 s later gets an answer', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    h.connector().meter.failing = 1;
    await h.plug();
    await h.present('TAG-A');
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerMeterFailure' });
    expect(h.ledger.records()).toEqual([]);
    await h.advance(4_999);
    expect(h.status()).toBe('Faulted');
    await h.advance(1);
    // The authorisation outlived the failed read: the session starts once the meter answers.
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Faulted', 'Preparing', 'Charging']);
  });

  it('an authorisation that a failing meter outlasts ends at ConnectionTimeOut: no session when the meter is back', async () => {
    h = await harness({ settings: { ConnectionTimeOut: 8 }, csms: { 'TAG-A': { status: 'Accepted' } } });
    // The read at start and the first probe 5 s later fail; a later probe answers, after the 8 s timeout.
    h.connector().meter.failing = 2;
    await h.plug();
    await h.present('TAG-A');
    await h.advance(60_000);
    expect(h.ledger.records()).toEqual([]);
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Faulted', 'Preparing']);
  });

  // The authorisation stays pending through a failed read at start (it used to be dropped before
  // the read, so the probe's maybeStart could never start anything and the card was forgotten).
  it('the authorised session starts once the meter answers again', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    h.connector().meter.failing = 1;
    await h.plug();
    await h.present('TAG-A');
    await h.advance(5_000);
    expect(h.session().startedAt).toBe(h.clock.now());
    expect(h.status()).toBe('Charging');
  });

  it('a ledger that cannot be written: no session starts and the charge point is Faulted until the store is back', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    h.ledger.failWrites = true;
    await h.plug();
    await h.present('TAG-A');
    expect(h.ledger.records()).toEqual([]);
    expect(h.offers()).toEqual([]);
    expect(h.condition(0)).toMatchObject({ status: 'Faulted', errorCode: 'InternalError' });
    expect(h.status(1)).toBe('Faulted');
    h.ledger.failWrites = false;
    await h.reportFault({ source: 'store', errorCode: 'InternalError', active: false });
    await h.advance(0);
    expect(h.status(0)).toBe('Available');
  });

  it('a stop the ledger cannot record is kept and recorded once the store is writable again', async () => {
    h = await charging();
    h.ledger.failWrites = true;
    await h.present('TAG-A');
    expect(h.session().stopReason).toBeNull();
    expect(h.status(0)).toBe('Faulted');
    h.ledger.failWrites = false;
    await h.reportFault({ source: 'store', errorCode: 'InternalError', active: false });
    await h.advance(0);
    expect(h.session().stopReason).toBe('Local');
    expect(h.ledger.queued('stop')).toHaveLength(1);
  });

  it('a contactor that does not answer: PowerSwitchFailure', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' } } });
    h.connector().powerPath.failOffers = true;
    await h.plug();
    await h.present('TAG-A');
    expect(h.condition(1)).toMatchObject({ status: 'Faulted', errorCode: 'PowerSwitchFailure' });
  });
});

describe('availability of the whole charge point', () => {
  it('connector 0 Inoperative: connector 0 and every connector Unavailable; Operative brings them back', async () => {
    h = await harness({ connectors: 2 });
    expect(await h.changeAvailability(0, 'Inoperative')).toBe('Accepted');
    expect([h.status(0), h.status(1), h.status(2)]).toEqual(['Unavailable', 'Unavailable', 'Unavailable']);
    expect(await h.changeAvailability(0, 'Operative')).toBe('Accepted');
    expect(h.statuses(0)).toEqual(['Available', 'Unavailable', 'Available']);
    expect(h.statuses(2)).toEqual(['Available', 'Unavailable', 'Available']);
  });

  it('connector 0 Inoperative with one session running: Scheduled; the idle connector now, the busy one after its stop', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    expect(await h.changeAvailability(0, 'Inoperative')).toBe('Scheduled');
    expect([h.status(1), h.status(2)]).toEqual(['Charging', 'Unavailable']);
    await h.unplug(1);
    expect(h.statuses(1)).toEqual(['Available', 'Preparing', 'Charging', 'Unavailable']);
  });

  it('an unknown connector is Rejected', async () => {
    h = await harness();
    expect(await h.changeAvailability(3, 'Inoperative')).toBe('Rejected');
  });
});

describe('reservations', () => {
  it('made: Reserved; another tag is refused by the reservation; the reserved tag starts and uses it', async () => {
    h = await harness({ csms: { 'TAG-A': { status: 'Accepted' }, 'TAG-B': { status: 'Accepted' } } });
    expect(await h.reserve({ reservationId: 7, connectorId: 1, idTag: 'TAG-A', expiresInMs: 600_000 })).toBe('Accepted');
    await h.plug();
    await h.present('TAG-B');
    expect(h.refused).toEqual([{ evseId: 1, customerRef: expect.stringMatching(/^ref:/), status: 'Reserved', source: 'reservation' }]);
    expect(h.status()).toBe('Reserved');
    await h.present('TAG-A');
    expect(h.statuses()).toEqual(['Available', 'Reserved', 'Preparing', 'Charging']);
    expect(h.session()).toMatchObject({ idTag: 'TAG-A', reservationId: 7 });
    expect(h.reservations!.list()).toEqual([]);
  });

  it('expires exactly at its expiry: Available again', async () => {
    h = await harness();
    await h.reserve({ reservationId: 7, connectorId: 1, idTag: 'TAG-A', expiresInMs: 600_000 });
    await h.advance(599_999);
    expect(h.status()).toBe('Reserved');
    await h.advance(1);
    expect(h.statuses()).toEqual(['Available', 'Reserved', 'Available']);
  });

  it('cancelled: Available; an unknown id cancels nothing', async () => {
    h = await harness();
    await h.reserve({ reservationId: 7, connectorId: 1, idTag: 'TAG-A', expiresInMs: 600_000 });
    expect(await h.cancelReservation(8)).toBe(false);
    expect(await h.cancelReservation(7)).toBe(true);
    expect(h.statuses()).toEqual(['Available', 'Reserved', 'Available']);
  });

  it('a tag of the reservation\'s group (same parentIdTag) may use it', async () => {
    h = await harness({ csms: { 'TAG-B': { status: 'Accepted', parentIdTag: 'FLEET' } } });
    await h.reserve({ reservationId: 7, connectorId: 1, idTag: 'TAG-A', parentIdTag: 'FLEET', expiresInMs: 600_000 });
    await h.plug();
    await h.present('TAG-B');
    expect(h.session()).toMatchObject({ idTag: 'TAG-B', reservationId: 7 });
    expect(h.status()).toBe('Charging');
  });

  it('a charging connector cannot be reserved (Occupied); a faulted one answers Faulted', async () => {
    h = await charging({ connectors: 2 });
    expect(await h.reserve({ reservationId: 1, connectorId: 1, idTag: 'TAG-X', expiresInMs: 60_000 })).toBe('Occupied');
    await h.fault('board:2', 'GroundFailure', true);
    expect(await h.reserve({ reservationId: 2, connectorId: 2, idTag: 'TAG-X', expiresInMs: 60_000 })).toBe('Faulted');
  });

  // StartTransaction's reservationId is "the reservation that terminates as a result of this
  // transaction" (OCPP 1.6 §6.45): a driver authorised while the reservation held, who plugs in
  // after it expired, starts a session that names none.
  it('a session started after its reservation expired does not name the reservation', async () => {
    h = await harness({ settings: { ConnectionTimeOut: 120 }, csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.reserve({ reservationId: 7, connectorId: 1, idTag: 'TAG-A', expiresInMs: 60_000 });
    await h.present('TAG-A');
    await h.advance(90_000);
    expect(h.reservations!.list()).toEqual([]);
    await h.plug();
    expect(h.session()).toMatchObject({ idTag: 'TAG-A', reservationId: null });
  });

  it('a connector-0 reservation holds the last free connector only', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' } } });
    expect(await h.reserve({ reservationId: 9, connectorId: 0, idTag: 'TAG-R', expiresInMs: 600_000 })).toBe('Accepted');
    expect([h.status(1), h.status(2)]).toEqual(['Available', 'Available']);
    await h.plug(1);
    await h.present('TAG-A', { connectorId: 1 });
    expect([h.status(1), h.status(2)]).toEqual(['Charging', 'Reserved']);
  });
});

describe('which connector a tag takes', () => {
  it('a tag for no connector in particular goes to the one with a vehicle waiting', async () => {
    h = await harness({ connectors: 2, csms: { 'TAG-A': { status: 'Accepted' } } });
    await h.plug(2);
    await h.present('TAG-A');
    expect(h.session().evseId).toBe(2);
    expect([h.status(1), h.status(2)]).toEqual(['Available', 'Charging']);
  });
});

describe('starts without a card', () => {
  it('RemoteStart: Preparing, then a session authorised by the app once plugged', async () => {
    h = await harness();
    expect(await h.remoteStart('TAG-R', 1)).toBe(true);
    expect(h.status()).toBe('Preparing');
    await h.plug();
    expect(h.session()).toMatchObject({ idTag: 'TAG-R', authMethod: 'app' });
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging']);
    expect(await h.remoteStart('TAG-S', 1)).toBe(false);
  });

  it('RemoteStart with AuthorizeRemoteTxRequests asks the central system and refuses a tag it refuses', async () => {
    h = await harness({ settings: { AuthorizeRemoteTxRequests: true }, csms: { 'TAG-R': { status: 'Blocked' } } });
    expect(await h.remoteStart('TAG-R', 1)).toBe(false);
    expect(h.remote.asked).toEqual(['TAG-R']);
    expect(h.status()).toBe('Available');
  });

  it('free vend: a plug-in starts a session as the configured tag', async () => {
    h = await harness({ freeVendIdTag: 'FREE' });
    await h.plug();
    expect(h.session()).toMatchObject({ idTag: 'FREE', authMethod: 'free' });
    expect(h.statuses()).toEqual(['Available', 'Preparing', 'Charging']);
  });
});
