/**
 * OCPP 2.0.1's topology is the core's (../shared/OCPP201.md §8): an EVSE by its evseId (1..n), a
 * connector by (evseId, connectorId); evseId 0, or no EVSE at all, is the station. Every 2.0.1
 * evse reference that reaches or leaves the core goes through here.
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { ConnectorRef, EvseId } from '../../core/ports.js';
import { ONLY_CONNECTOR_ID } from '../../core/ports.js';
import type { EVSEType } from './messages.js';

/** The evseId 2.0.1 gives the station as a whole (ChangeAvailability, SetChargingProfile, ReserveNow). */
export const STATION_EVSE_ID = 0;

/** What a 2.0.1 evse reference names: the station, an EVSE, or one connector of it. */
export type V201Place = 'station' | { evseId: EvseId; connectorId?: number };

/** A 2.0.1 EVSE reference (absent, or evseId 0: the station). Not checked against the station's EVSEs. */
export function fromV201Evse(evse: { id: number; connectorId?: number } | undefined): V201Place {
  if (evse === undefined || evse.id === STATION_EVSE_ID) return 'station';
  return { evseId: evse.id, ...(evse.connectorId !== undefined ? { connectorId: evse.connectorId } : {}) };
}

/** A connector as 2.0.1's EVSEType. */
export function toV201Evse(ref: ConnectorRef): EVSEType {
  return { id: ref.evseId, connectorId: ref.connectorId };
}

/** The connector a transaction on an EVSE uses (its one connector), as 2.0.1's EVSEType. */
export function v201EvseOfSession(evseId: EvseId): EVSEType {
  return toV201Evse({ evseId, connectorId: ONLY_CONNECTOR_ID });
}

/** Whether the station has what a place names (the station always; an EVSE; a connector of it). */
export function knownV201Place(cp: Pick<ChargePoint, 'evseIds' | 'hasConnector'>, place: V201Place): boolean {
  if (place === 'station') return true;
  if (place.connectorId === undefined) return cp.evseIds.includes(place.evseId);
  return cp.hasConnector({ evseId: place.evseId, connectorId: place.connectorId });
}
