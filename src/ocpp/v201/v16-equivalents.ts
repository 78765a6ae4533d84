/**
 * The OCPP 2.0.1 variables that mean the same as an OCPP 1.6 configuration key: two views of
 * one set of settings. A charger that changes version keeps its settings, and a value set
 * through one view reads back through the other. Values convert where the two spell them
 * differently; the units are the same on both sides (seconds, Wh).
 */
import type { VariableKey, VariableStore } from './device-model.js';

export interface V16Equivalent {
  /** The 1.6 key (as its definitions spell it). */
  key: string;
  component: string;
  variable: string;
  variableInstance?: string;
  /** 1.6 value → 2.0.1 value, where they are spelled differently. */
  toV201?: (v16: string) => string;
  /** 2.0.1 value → 1.6 value. */
  toV16?: (v201: string) => string;
}

const RATE_UNITS: Record<string, string> = { Current: 'A', Power: 'W' };
const mapList = (table: Record<string, string>) => (value: string) => value.split(',').filter(Boolean).map((x) => table[x.trim()] ?? x.trim()).join(',');
const invert = (table: Record<string, string>) => Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k]));

/** Station-wide settings with the same meaning in both versions. */
export const V16_EQUIVALENTS: readonly V16Equivalent[] = [
  { key: 'AllowOfflineTxForUnknownId', component: 'AuthCtrlr', variable: 'OfflineTxForUnknownIdEnabled' },
  { key: 'AuthorizationCacheEnabled', component: 'AuthCacheCtrlr', variable: 'Enabled' },
  { key: 'AuthorizeRemoteTxRequests', component: 'AuthCtrlr', variable: 'AuthorizeRemoteStart' },
  { key: 'ClockAlignedDataInterval', component: 'AlignedDataCtrlr', variable: 'Interval' },
  { key: 'ConnectionTimeOut', component: 'TxCtrlr', variable: 'EVConnectionTimeOut' },
  { key: 'HeartbeatInterval', component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval' },
  { key: 'LocalAuthListEnabled', component: 'LocalAuthListCtrlr', variable: 'Enabled' },
  { key: 'LocalAuthorizeOffline', component: 'AuthCtrlr', variable: 'LocalAuthorizeOffline' },
  { key: 'LocalPreAuthorize', component: 'AuthCtrlr', variable: 'LocalPreAuthorize' },
  { key: 'MaxEnergyOnInvalidId', component: 'TxCtrlr', variable: 'MaxEnergyOnInvalidId' },
  { key: 'MeterValuesAlignedData', component: 'AlignedDataCtrlr', variable: 'Measurands' },
  { key: 'MeterValuesSampledData', component: 'SampledDataCtrlr', variable: 'TxUpdatedMeasurands' },
  { key: 'MeterValueSampleInterval', component: 'SampledDataCtrlr', variable: 'TxUpdatedInterval' },
  { key: 'ResetRetries', component: 'OCPPCommCtrlr', variable: 'ResetRetries' },
  { key: 'StopTransactionOnEVSideDisconnect', component: 'TxCtrlr', variable: 'StopTxOnEVSideDisconnect' },
  { key: 'StopTransactionOnInvalidId', component: 'TxCtrlr', variable: 'StopTxOnInvalidId' },
  { key: 'StopTxnAlignedData', component: 'AlignedDataCtrlr', variable: 'TxEndedMeasurands' },
  { key: 'StopTxnSampledData', component: 'SampledDataCtrlr', variable: 'TxEndedMeasurands' },
  { key: 'TransactionMessageAttempts', component: 'OCPPCommCtrlr', variable: 'MessageAttempts', variableInstance: 'TransactionEvent' },
  { key: 'TransactionMessageRetryInterval', component: 'OCPPCommCtrlr', variable: 'MessageAttemptInterval', variableInstance: 'TransactionEvent' },
  { key: 'UnlockConnectorOnEVSideDisconnect', component: 'OCPPCommCtrlr', variable: 'UnlockOnEVSideDisconnect' },
  { key: 'WebSocketPingInterval', component: 'OCPPCommCtrlr', variable: 'WebSocketPingInterval' },
  { key: 'SendLocalListMaxLength', component: 'LocalAuthListCtrlr', variable: 'ItemsPerMessage' },
  { key: 'GetConfigurationMaxKeys', component: 'DeviceDataCtrlr', variable: 'ItemsPerMessage', variableInstance: 'GetVariables' },
  { key: 'ChargeProfileMaxStackLevel', component: 'SmartChargingCtrlr', variable: 'ProfileStackLevel' },
  { key: 'ChargingScheduleMaxPeriods', component: 'SmartChargingCtrlr', variable: 'PeriodsPerSchedule' },
  {
    key: 'ChargingScheduleAllowedChargingRateUnit', component: 'SmartChargingCtrlr', variable: 'RateUnit',
    toV201: mapList(RATE_UNITS), toV16: mapList(invert(RATE_UNITS)),
  },
  { key: 'ReserveConnectorZeroSupported', component: 'ReservationCtrlr', variable: 'NonEvseSpecific' },
  { key: 'ConnectorSwitch3to1PhaseSupported', component: 'SmartChargingCtrlr', variable: 'ACPhaseSwitchingSupported' },
];

/** The 1.6 side: its configuration keys' values (the 1.6 settings store). */
export interface V16Settings {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

const equivalentOf = (k: VariableKey): V16Equivalent | undefined =>
  k.attribute !== 'Actual' || k.evseId !== undefined || k.componentInstance
    ? undefined
    : V16_EQUIVALENTS.find((e) => e.component.toLowerCase() === k.component.toLowerCase() && e.variable.toLowerCase() === k.variable.toLowerCase()
        && (e.variableInstance ?? '').toLowerCase() === (k.variableInstance ?? '').toLowerCase());

/**
 * A VariableStore whose variables with a 1.6 equivalent read and write the 1.6 key (converted),
 * and whose other variables live in `own`: one set of settings, two views.
 */
export function sharedSettingsStore(v16: V16Settings, own: VariableStore): VariableStore {
  return {
    get(k) {
      const e = equivalentOf(k);
      if (!e) return own.get(k);
      const value = v16.get(e.key);
      return value === undefined ? undefined : (e.toV201 ?? ((x: string) => x))(value);
    },
    set(k, value, meta) {
      const e = equivalentOf(k);
      if (!e) own.set(k, value, meta);
      else v16.set(e.key, (e.toV16 ?? ((x: string) => x))(value));
    },
  };
}
