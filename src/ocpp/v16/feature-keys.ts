/**
 * Configuration keys of the optional feature profiles (OCPP 1.6 §9.2 Firmware Management,
 * §9.5 Reservation, §9.3 Smart Charging), present when the profile is supported.
 */
import type { KeyDefinition } from './key-definition.js';

const ro = (key: string, type: KeyDefinition['type'], def: string): KeyDefinition => ({ key, readonly: true, type, default: def });

/** What the charge point can do; the limits are the ones a central system should respect. */
export const SMART_CHARGING_LIMITS = { maxStackLevel: 10, maxPeriods: 48, maxProfiles: 20 } as const;

export function featureKeyDefinitions(featureProfiles: string[]): KeyDefinition[] {
  const out: KeyDefinition[] = [];
  if (featureProfiles.includes('SmartCharging')) {
    out.push(
      ro('ChargeProfileMaxStackLevel', 'int', String(SMART_CHARGING_LIMITS.maxStackLevel)),
      ro('ChargingScheduleAllowedChargingRateUnit', 'csl', 'Current,Power'),
      ro('ChargingScheduleMaxPeriods', 'int', String(SMART_CHARGING_LIMITS.maxPeriods)),
      ro('MaxChargingProfilesInstalled', 'int', String(SMART_CHARGING_LIMITS.maxProfiles)),
      ro('ConnectorSwitch3to1PhaseSupported', 'bool', 'false'),
    );
  }
  if (featureProfiles.includes('Reservation')) out.push(ro('ReserveConnectorZeroSupported', 'bool', 'true'));
  return out;
}
