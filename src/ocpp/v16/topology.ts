/**
 * OCPP 1.6's topology and the core's (../shared/OCPP201.md §8): 1.6 numbers connectors from 1
 * and calls the station connector 0; the core has a station and EVSEs 1..n of one connector
 * each. So 1.6 connector 0 is the station, and 1.6 connector n is connector 1 of EVSE n. Every
 * 1.6 connectorId that reaches or leaves the core goes through here.
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { ConnectorRef, EvseCondition, EvseId, StationCondition } from '../../core/ports.js';
import { ONLY_CONNECTOR_ID } from '../../core/ports.js';

/** The 1.6 connector id of the station as a whole. */
export const STATION_CONNECTOR_ID = 0;

/** A condition 1.6 reports with a connectorId: the station's (0) or an EVSE's. */
export type V16Condition = StationCondition | EvseCondition;

/** What a 1.6 connectorId names: the station, or an EVSE's connector. */
export type V16Place = 'station' | ConnectorRef;

/** A 1.6 connectorId as the core's place (0 the station; n connector 1 of EVSE n). Not checked against the station's EVSEs. */
export function fromV16ConnectorId(connectorId: number): V16Place {
  return connectorId === STATION_CONNECTOR_ID ? 'station' : { evseId: connectorId, connectorId: ONLY_CONNECTOR_ID };
}

/** The 1.6 connectorId of the station, of an EVSE (by id) or of a condition. */
export function toV16ConnectorId(place: 'station' | EvseId | ConnectorRef | StationCondition): number {
  if (place === 'station') return STATION_CONNECTOR_ID;
  if (typeof place === 'number') return place;
  if ('station' in place) return STATION_CONNECTOR_ID;
  return place.evseId;
}

/** The 1.6 connectorId of the station's or an EVSE's condition. */
export function v16ConnectorIdOf(c: StationCondition | EvseCondition): number {
  return 'station' in c ? STATION_CONNECTOR_ID : c.evseId;
}

/** The EVSE a 1.6 connectorId names (n > 0, one the station has), or undefined (0, or unknown). */
export function evseOfV16Connector(cp: Pick<ChargePoint, 'evseIds'>, connectorId: number): EvseId | undefined {
  const place = fromV16ConnectorId(connectorId);
  return place !== 'station' && cp.evseIds.includes(place.evseId) ? place.evseId : undefined;
}

/** Whether a 1.6 connectorId names the station or one of its EVSEs. */
export function knownV16Connector(cp: Pick<ChargePoint, 'evseIds'>, connectorId: number): boolean {
  return connectorId === STATION_CONNECTOR_ID || evseOfV16Connector(cp, connectorId) !== undefined;
}

/** Every 1.6 connectorId of the station: 0, then one per EVSE. */
export function v16ConnectorIds(cp: Pick<ChargePoint, 'evseIds'>): number[] {
  return [STATION_CONNECTOR_ID, ...cp.evseIds.map((id) => toV16ConnectorId(id))];
}

/** The condition of what a 1.6 connectorId names (0 the station's). An unknown connector is refused by the core. */
export function v16ConditionOf(cp: Pick<ChargePoint, 'stationCondition' | 'evseCondition'>, connectorId: number): StationCondition | EvseCondition {
  const place = fromV16ConnectorId(connectorId);
  return place === 'station' ? cp.stationCondition() : cp.evseCondition(place.evseId);
}

/** Every condition as 1.6 reports them: the station's (connector 0), then each EVSE's. */
export function v16Conditions(cp: Pick<ChargePoint, 'stationCondition' | 'evseConditions'>): (StationCondition | EvseCondition)[] {
  return [cp.stationCondition(), ...cp.evseConditions()];
}

/** The conditions last announced, as 1.6 lists them (the station's first). */
export function v16Announced(cp: Pick<ChargePoint, 'announcedConditions'>): (StationCondition | EvseCondition)[] {
  const { station, evses } = cp.announcedConditions();
  return station ? [station, ...evses] : evses;
}

/** ChangeAvailability of a 1.6 connectorId: 0 the station (and every EVSE with it), n EVSE n. */
export function changeV16Availability(
  cp: Pick<ChargePoint, 'changeStationAvailability' | 'changeAvailability'>, connectorId: number, type: 'Operative' | 'Inoperative',
): 'Accepted' | 'Rejected' | 'Scheduled' {
  const place = fromV16ConnectorId(connectorId);
  return place === 'station' ? cp.changeStationAvailability(type) : cp.changeAvailability(place.evseId, type);
}
