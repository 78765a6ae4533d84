/**
 * The version bindings' topology against the core's (../shared/OCPP201.md §8): 1.6's connector 0
 * is the station and connector n connector 1 of EVSE n; 2.0.1's evseId 0 (or no evse) is the
 * station and (evseId, connectorId) is the core's own. Pure mapping over a ChargePoint built with
 * in-memory ports (test/core/harness.ts); the wire side is in test/ocpp/incoming.test.ts and
 * test/ocpp/v201/link.test.ts, remote.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { V16StatusChanges, v16StatusOf } from '../../src/ocpp/v16/mapping.js';
import {
  changeV16Availability, evseOfV16Connector, fromV16ConnectorId, knownV16Connector, STATION_CONNECTOR_ID, toV16ConnectorId,
  v16Announced, v16ConditionOf, v16Conditions, v16ConnectorIds,
} from '../../src/ocpp/v16/topology.js';
import { fromV201Evse, knownV201Place, STATION_EVSE_ID, toV201Evse, v201EvseOfSession } from '../../src/ocpp/v201/topology.js';
import { harness, type Harness } from '../core/harness.js';

let h: Harness | undefined;
afterEach(() => {
  h?.stop();
  h = undefined;
});

describe('OCPP 1.6 topology', () => {
  it('connector 0 is the station, connector n is connector 1 of EVSE n, and back', () => {
    expect(STATION_CONNECTOR_ID).toBe(0);
    expect(fromV16ConnectorId(0)).toBe('station');
    expect(fromV16ConnectorId(1)).toEqual({ evseId: 1, connectorId: 1 });
    expect(fromV16ConnectorId(3)).toEqual({ evseId: 3, connectorId: 1 });
    expect(toV16ConnectorId('station')).toBe(0);
    expect(toV16ConnectorId(2)).toBe(2);
    expect(toV16ConnectorId({ evseId: 2, connectorId: 1 })).toBe(2);
    for (const n of [0, 1, 2, 7]) {
      const place = fromV16ConnectorId(n);
      expect(toV16ConnectorId(place)).toBe(n);
    }
  });

  it('knows which connector ids the station has: 0 and one per EVSE', async () => {
    h = await harness({ connectors: 2 });
    expect(v16ConnectorIds(h.cp)).toEqual([0, 1, 2]);
    expect([0, 1, 2, 3].map((n) => knownV16Connector(h!.cp, n))).toEqual([true, true, true, false]);
    expect([0, 1, 2, 3].map((n) => evseOfV16Connector(h!.cp, n))).toEqual([undefined, 1, 2, undefined]);
  });

  it('reports the station as connector 0 and EVSE n as connector n (StatusNotification connectorId)', async () => {
    h = await harness({ connectors: 2 });
    expect(v16Conditions(h.cp).map((c) => v16StatusOf(c).connectorId)).toEqual([0, 1, 2]);
    expect(v16Announced(h.cp).map((c) => v16StatusOf(c).connectorId)).toEqual([0, 1, 2]);
    expect(v16ConditionOf(h.cp, 0)).toMatchObject({ station: true });
    expect(v16ConditionOf(h.cp, 2)).toMatchObject({ evseId: 2, connectorId: 1 });
    expect(v16StatusOf(h.cp.stationCondition())).toMatchObject({ connectorId: 0, status: 'Available', errorCode: 'NoError' });
    expect(v16StatusOf(h.cp.evseCondition(2))).toMatchObject({ connectorId: 2, status: 'Available' });
  });

  it('counts changes per 1.6 connector: the station (0) apart from EVSE 1', async () => {
    h = await harness({ connectors: 2 });
    const changes = new V16StatusChanges();
    expect(changes.changed(h.cp.stationCondition())).toBe(true);
    expect(changes.changed(h.cp.evseCondition(1))).toBe(true);
    expect(changes.changed(h.cp.stationCondition())).toBe(false);
    expect(changes.changed(h.cp.evseCondition(1))).toBe(false);
  });

  it('ChangeAvailability of connector 0 is the station\'s (every EVSE with it); of connector n, EVSE n\'s only', async () => {
    h = await harness({ connectors: 2 });
    expect(changeV16Availability(h.cp, 2, 'Inoperative')).toBe('Accepted');
    expect(h.cp.stationCondition().availability).toBe('Operative');
    expect(h.cp.evseConditions().map((c) => c.availability)).toEqual(['Operative', 'Inoperative']);
    expect(changeV16Availability(h.cp, 0, 'Inoperative')).toBe('Accepted');
    expect(h.cp.stationCondition().availability).toBe('Inoperative');
    expect(h.cp.evseConditions().map((c) => c.availability)).toEqual(['Inoperative', 'Inoperative']);
    expect(changeV16Availability(h.cp, 3, 'Inoperative')).toBe('Rejected');
  });
});

describe('OCPP 2.0.1 topology', () => {
  it('evseId 0, or no evse, is the station; (evseId, connectorId) is the core\'s own', () => {
    expect(STATION_EVSE_ID).toBe(0);
    expect(fromV201Evse(undefined)).toBe('station');
    expect(fromV201Evse({ id: 0 })).toBe('station');
    expect(fromV201Evse({ id: 2 })).toEqual({ evseId: 2 });
    expect(fromV201Evse({ id: 2, connectorId: 1 })).toEqual({ evseId: 2, connectorId: 1 });
    expect(toV201Evse({ evseId: 2, connectorId: 1 })).toEqual({ id: 2, connectorId: 1 });
    expect(v201EvseOfSession(3)).toEqual({ id: 3, connectorId: 1 });
  });

  it('knows the station, its EVSEs and their one connector each', async () => {
    h = await harness({ connectors: 2 });
    expect(knownV201Place(h.cp, 'station')).toBe(true);
    expect(knownV201Place(h.cp, { evseId: 2 })).toBe(true);
    expect(knownV201Place(h.cp, { evseId: 3 })).toBe(false);
    expect(knownV201Place(h.cp, { evseId: 1, connectorId: 1 })).toBe(true);
    expect(knownV201Place(h.cp, { evseId: 1, connectorId: 2 })).toBe(false);
  });

  it('a condition carries the evseId and connectorId a StatusNotification sends', async () => {
    h = await harness({ connectors: 2 });
    expect(h.cp.evseConditions().map((c) => toV201Evse(c))).toEqual([{ id: 1, connectorId: 1 }, { id: 2, connectorId: 1 }]);
  });
});
