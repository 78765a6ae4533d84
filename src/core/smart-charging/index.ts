export * from './types.js';
export { compositeSchedule, compositeLimitAt, profileLimitAt, limitNow, convert, type CompositeRequest } from './composite.js';
export {
  SmartCharging, MemoryChargingProfileStore, MAX_TIMER_MS, type ChargingLimits, type SessionRef, type ChargingProfileStore, type ClearCriteria, type StationElectrical,
} from './smart-charging.js';
