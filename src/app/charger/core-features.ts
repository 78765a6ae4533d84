import type { Clock, EvseHardware } from '../../core/ports.js';
import { DEFAULT_DISPLAY_CAPABILITIES, DisplayMessages, type MessageFormat } from '../../core/display-messages.js';
import { Reservations } from '../../core/reservations.js';
import { SmartCharging, type StationElectrical } from '../../core/smart-charging/index.js';
import type { Log } from '../../lib/log.js';
import { SqliteChargingProfiles, SqliteDisplayMessages, SqliteReservations, type SqliteDatabase, type SqliteSettings } from '../../store/index.js';

/**
 * Smart Charging, Reservation and display messages of one charge point: core services the
 * ChargePoint and the bindings consult, persisted in the store. The agent and every simulated
 * charger build them the same way.
 */
export interface CoreFeatures {
  smartCharging: SmartCharging;
  reservations: Reservations;
  displayMessages: DisplayMessages;
}

/** What a limit means electrically on each EVSE (one connector each) and on the station as a whole. */
export function electricalOf(connectors: readonly EvseHardware[], phaseSwitching: boolean): StationElectrical {
  return {
    evses: new Map(connectors.map((c) => [c.evseId, { nominalVoltageV: c.nominalVoltageV, phases: c.phases, maxCurrentA: c.maxCurrentA, phaseSwitching }])),
    station: {
      nominalVoltageV: connectors[0]?.nominalVoltageV ?? 230,
      phases: connectors.some((c) => c.phases === 3) ? 3 : 1,
      maxCurrentA: connectors.reduce((sum, c) => sum + c.maxCurrentA, 0),
      phaseSwitching,
    },
  };
}

export function buildCoreFeatures(d: {
  db: SqliteDatabase; chargePointId: string; evses: readonly EvseHardware[]; settings: SqliteSettings;
  clock: Clock; pseudonym: (idTag: string) => string; log: Log;
  /** The display-message formats the screen renders (default the text ones). */
  displayFormats?: readonly MessageFormat[];
}): CoreFeatures {
  const smartCharging = new SmartCharging({
    store: new SqliteChargingProfiles(d.db, d.chargePointId), clock: d.clock,
    electrical: electricalOf(d.evses, d.settings.bool('ConnectorSwitch3to1PhaseSupported')), log: d.log.child({ component: 'smart-charging' }),
  });
  const reservations = new Reservations({
    store: new SqliteReservations(d.db, d.chargePointId), clock: d.clock, pseudonym: d.pseudonym, evseIds: d.evses.map((c) => c.evseId),
    anyEvseSupported: () => d.settings.bool('ReserveConnectorZeroSupported'), log: d.log.child({ component: 'reservations' }),
  });
  const displayMessages = new DisplayMessages({
    store: new SqliteDisplayMessages(d.db, d.chargePointId), clock: d.clock, log: d.log.child({ component: 'display-messages' }),
    ...(d.displayFormats ? { capabilities: { ...DEFAULT_DISPLAY_CAPABILITIES, formats: d.displayFormats } } : {}),
  });
  return { smartCharging, reservations, displayMessages };
}

