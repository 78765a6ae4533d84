/**
 * Where a charger keeps the availability the central system set, so that it survives a restart
 * (1.6 §4.1.2, 2.0.1 G03/G04): one setting for the station and one per EVSE, whatever the
 * version that set it. The names follow 1.6's numbering (0 the station, n EVSE n), which every
 * release has written: a charger upgraded in the field keeps what it was told.
 */
import type { EvseId } from '../core/ports.js';

export const AVAILABILITY_STATION_KEY = 'evse-edge.Availability.0';

export function availabilityKey(evseId: EvseId): string {
  return `evse-edge.Availability.${evseId}`;
}
