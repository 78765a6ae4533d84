/**
 * The OCPP 2.0.1 device model of a charging station (Part 2 §B, Part 2 appendices "Referenced
 * Components and Variables"; the minimum set from EVerest libocpp's
 * config/v2/component_config/standardized): every variable a certified Core + Advanced Security
 * station must have, plus the ones Local Auth List, Smart Charging and Reservation need (marked
 * by `profile`), with attributes, mutability, persistence and characteristics; EVSE and
 * Connector instances from the charger's topology.
 *
 * Pure functions serve GetVariables, SetVariables and GetBaseReport → NotifyReport. Values live
 * in a `VariableStore` the caller supplies (the SQLite store later; a map in a unit test); a
 * value the store does not hold is the definition's default. Live values (ClockCtrlr.DateTime,
 * AvailabilityState, EVSE Power) are the store's to answer: the binding composes a store that
 * reads them from the charger.
 */
import { DEFAULT_DISPLAY_CAPABILITIES, MAX_DISPLAY_MESSAGES, MESSAGE_PRIORITIES, PERSONAL_MESSAGE_SIZE } from '../../core/display-messages.js';
import type {
  AttributeEnumType, ComponentCriterionEnumType, ComponentType, ComponentVariableType, DataEnumType, GetVariableDataType, GetVariableResultType, MutabilityEnumType, NotifyReportRequest,
  ReportBaseEnumType, ReportDataType, SetVariableDataType, SetVariableResultType, VariableType,
} from './messages.js';

export type Profile = 'Core' | 'AdvancedSecurity' | 'LocalAuthList' | 'SmartCharging' | 'Reservation' | 'AdvancedUserInterface';
export type Scope = 'station' | 'evse' | 'connector';

export interface AttributeDefinition {
  type: AttributeEnumType;
  mutability: MutabilityEnumType;
  /** Kept across a reboot. */
  persistent: boolean;
  /** Never changes while the station runs (e.g. a hardware property). */
  constant?: boolean;
  default?: string;
}

export interface Characteristics {
  dataType: DataEnumType;
  unit?: string;
  /** Numbers: the value's limits. string: its length limits. */
  minLimit?: number;
  maxLimit?: number;
  /** OptionList: the allowed values; MemberList / SequenceList: the allowed members. */
  valuesList?: readonly string[];
  supportsMonitoring: boolean;
  /** string: the characters a value may hold (checked at SetVariables, not reported), and how to say it. */
  allowed?: { pattern: RegExp; hint: string };
}

export interface VariableDefinition {
  component: string;
  componentInstance?: string;
  /** Where the component lives: once on the station, once per EVSE, once per connector. */
  scope: Scope;
  variable: string;
  variableInstance?: string;
  profile: Profile;
  /** Required by the profile (a FullInventory must hold it, TC_B_53). */
  required: boolean;
  attributes: readonly AttributeDefinition[];
  characteristics: Characteristics;
  /** A new value takes effect only after a reboot: SetVariables answers RebootRequired. */
  rebootRequired?: boolean;
}

/** One variable of one component instance: a definition placed on the station, an EVSE or a connector. */
export interface DeviceVariable extends VariableDefinition {
  evseId?: number;
  connectorId?: number;
}

/** Where a value lives: component (+ instance, EVSE, connector), variable (+ instance), attribute. */
export interface VariableKey {
  component: string;
  componentInstance?: string;
  evseId?: number;
  connectorId?: number;
  variable: string;
  variableInstance?: string;
  attribute: AttributeEnumType;
}

/** The device model's values: strings, as on the wire. */
export interface VariableStore {
  get(key: VariableKey): string | undefined;
  set(key: VariableKey, value: string, meta: { persistent: boolean }): void;
}

export interface Topology {
  evses: readonly {
    id: number;
    /** Maximum power of this EVSE (W): EVSE.Power MaxSet. */
    maxPowerW: number;
    supplyPhases: number;
    connectors: readonly { id: number; connectorType: string }[];
  }[];
}

/** A charger's connectors as its profile describes them (config's ChargerProfile connectors). */
export interface ProfileConnector {
  id: number;
  type: string;
  phases: '1' | '3' | 'DC';
  maxPowerW: number;
}

/** Profile connector types to 2.0.1's ConnectorEnumType: AC Type 2 a socket, the others fixed cables. */
const CONNECTOR_TYPE_OF: Readonly<Record<string, (typeof CONNECTOR_TYPES)[number]>> = {
  Type2: 'sType2', Type1: 'cType1', CCS2: 'cCCS2', CCS1: 'cCCS1', CHAdeMO: 'cG105', Schuko: 'sCEE-7-7',
};

/** A profile's connector type as 2.0.1's ConnectorEnumType ('Unknown' for one it does not name). */
export function v201ConnectorType(profileType: string): string {
  return CONNECTOR_TYPE_OF[profileType] ?? 'Unknown';
}

/**
 * The topology of a charger whose profile lists connectors: each connector its own EVSE with one
 * connector, as OCPP 1.6 connector n is 2.0.1's (EVSE n, connector 1) (OCPP201.md §8).
 * SupplyPhases 0 for DC.
 */
export function topologyFromConnectors(connectors: readonly ProfileConnector[]): Topology {
  return {
    evses: connectors.map((c) => ({
      id: c.id,
      maxPowerW: c.maxPowerW,
      supplyPhases: c.phases === 'DC' ? 0 : Number(c.phases),
      connectors: [{ id: 1, connectorType: v201ConnectorType(c.type) }],
    })),
  };
}

export interface DeviceModelOptions {
  /** Measurands this station can produce (default every one of MEASURANDS). */
  measurands?: readonly string[];
  /** File transfer protocols the firmware and log services support. */
  fileTransferProtocols?: readonly string[];
  /** Network configuration slots available to SetNetworkProfile. */
  networkProfileSlots?: number;
}

/** The measurands of OCPP 2.0.1 this code base meters (the same strings as 1.6). */
export const MEASURANDS = [
  'Energy.Active.Import.Register', 'Energy.Active.Export.Register', 'Power.Active.Import', 'Power.Active.Export',
  'Current.Import', 'Current.Export', 'Current.Offered', 'Voltage', 'Frequency', 'SoC', 'Temperature', 'Power.Offered',
] as const;

/** 2.0.1's ConnectorEnumType (Part 2 appendix). */
export const CONNECTOR_TYPES = [
  'cCCS1', 'cCCS2', 'cG105', 'cTesla', 'cType1', 'cType2', 's309-1P-16A', 's309-1P-32A', 's309-3P-16A', 's309-3P-32A', 'sBS1361', 'sCEE-7-7',
  'sType2', 'sType3', 'Other1PhMax16A', 'Other1PhOver16A', 'Other3Ph', 'Pan', 'wInductive', 'wResonant', 'Undetermined', 'Unknown',
] as const;

/** Defaults, with units in names where the device model has none. */
export const DEVICE_MODEL_DEFAULTS = {
  itemsPerMessage: 50,
  /** libocpp's default for its report messages. */
  bytesPerMessage: 65_000,
  reportingValueSize: 2_500,
  configurationValueSize: 1_000,
} as const;

/** What the authorisation cache may hold, bytes (AuthCacheCtrlr.Storage maxLimit; Actual is what it holds now). */
export const AUTH_CACHE_MAX_BYTES = 1_048_576;

/**
 * The start and stop points the station honours (valuesList: a value outside it is Rejected). A
 * transaction starts at the first of its start points: the EV connected, an authorisation, or
 * both, the power path closing (PowerPathClosed; transaction-start.ts). ParkingBayOccupancy and
 * DataSigned need hardware the station has not (a bay sensor, a signing meter); EnergyTransfer is
 * not implemented. It ends when authorisation ends, and on an EV-side disconnect when TxStopPoint
 * holds EVConnected or PowerPathClosed and StopTxOnEVSideDisconnect is true (index.ts policy).
 */
const TX_START_POINTS = ['EVConnected', 'Authorized', 'PowerPathClosed'];
const TX_STOP_POINTS = ['EVConnected', 'Authorized', 'PowerPathClosed'];
const AVAILABILITY_STATES = ['Available', 'Occupied', 'Reserved', 'Unavailable', 'Faulted'];
const TIME_SOURCES = ['Heartbeat', 'NTP', 'GPS', 'RealTimeClock', 'MobileNetwork', 'RadioTimeTransmitter'];

type Ch = Omit<Characteristics, 'supportsMonitoring'> & { supportsMonitoring?: boolean };
interface VarSpec {
  instance?: string;
  required?: boolean;
  rebootRequired?: boolean;
  scope?: Scope;
  profile?: Profile;
  attributes?: AttributeDefinition[];
}

const actual = (mutability: MutabilityEnumType, def?: string, persistent = mutability !== 'ReadOnly', constant = false): AttributeDefinition[] => [
  { type: 'Actual', mutability, persistent, ...(constant ? { constant } : {}), ...(def !== undefined ? { default: def } : {}) },
];

function v(component: string, variable: string, profile: Profile, ch: Ch, mutability: MutabilityEnumType, def: string | undefined, o: VarSpec = {}): VariableDefinition {
  return {
    component,
    scope: o.scope ?? 'station',
    variable,
    ...(o.instance ? { variableInstance: o.instance } : {}),
    profile: o.profile ?? profile,
    required: o.required ?? true,
    attributes: o.attributes ?? actual(mutability, def),
    characteristics: { supportsMonitoring: false, ...ch },
    ...(o.rebootRequired ? { rebootRequired: true } : {}),
  };
}

const int = (unit?: string, minLimit?: number, maxLimit?: number): Ch => ({ dataType: 'integer', ...(unit ? { unit } : {}), ...(minLimit !== undefined ? { minLimit } : {}), ...(maxLimit !== undefined ? { maxLimit } : {}) });
const bool: Ch = { dataType: 'boolean' };
const str = (maxLimit?: number, minLimit?: number): Ch => ({ dataType: 'string', ...(minLimit !== undefined ? { minLimit } : {}), ...(maxLimit !== undefined ? { maxLimit } : {}) });
const members = (valuesList: readonly string[]): Ch => ({ dataType: 'MemberList', valuesList });
const options = (valuesList: readonly string[]): Ch => ({ dataType: 'OptionList', valuesList });
const sequence = (valuesList: readonly string[]): Ch => ({ dataType: 'SequenceList', valuesList });

/** The variable definitions, before they are placed on the topology. */
export function variableDefinitions(o: DeviceModelOptions = {}): VariableDefinition[] {
  const m = o.measurands ?? MEASURANDS;
  const slots = Array.from({ length: o.networkProfileSlots ?? 2 }, (_, i) => String(i));
  const ocpp = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('OCPPCommCtrlr', variable, 'Core', ch, mut, def, s);
  const tx = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('TxCtrlr', variable, 'Core', ch, mut, def, s);
  const sampled = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('SampledDataCtrlr', variable, 'Core', ch, mut, def, s);
  const aligned = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('AlignedDataCtrlr', variable, 'Core', ch, mut, def, s);
  const auth = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('AuthCtrlr', variable, 'Core', ch, mut, def, s);
  const cache = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined) => v('AuthCacheCtrlr', variable, 'Core', ch, mut, def, { required: false });
  const localList = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('LocalAuthListCtrlr', variable, 'LocalAuthList', ch, mut, def, s);
  const security = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('SecurityCtrlr', variable, 'Core', ch, mut, def, s);
  const device = (variable: string, instance: string, def: number) => v('DeviceDataCtrlr', variable, 'Core', int(undefined, 1), 'ReadOnly', String(def), { instance });
  const smart = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('SmartChargingCtrlr', variable, 'SmartCharging', ch, mut, def, s);
  const reservation = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('ReservationCtrlr', variable, 'Reservation', ch, mut, def, s);
  const display = (variable: string, ch: Ch, mut: MutabilityEnumType, def: string | undefined, s: VarSpec = {}) => v('DisplayMessageCtrlr', variable, 'AdvancedUserInterface', ch, mut, def, s);
  const availability = (component: string, scope: Scope): VariableDefinition[] => [
    v(component, 'AvailabilityState', 'Core', options(AVAILABILITY_STATES), 'ReadOnly', 'Available', { scope }),
    v(component, 'Available', 'Core', bool, 'ReadOnly', 'true', { scope }),
    v(component, 'SupplyPhases', 'Core', int(undefined, 0, 3), 'ReadOnly', undefined, { scope, attributes: actual('ReadOnly', undefined, false, true) }),
  ];
  return [
    ocpp('ActiveNetworkProfile', int(undefined, 0), 'ReadOnly', '0'),
    ocpp('FileTransferProtocols', members(['FTP', 'FTPS', 'HTTP', 'HTTPS', 'SFTP']), 'ReadOnly', (o.fileTransferProtocols ?? ['FTP', 'FTPS', 'HTTP', 'HTTPS']).join(',')),
    ocpp('HeartbeatInterval', int('s', 1, 86_400), 'ReadWrite', '300', { required: false }),
    ocpp('MessageAttemptInterval', int('s', 1, 86_400), 'ReadWrite', '60', { instance: 'TransactionEvent' }),
    ocpp('MessageAttempts', int(undefined, 1, 100), 'ReadWrite', '3', { instance: 'TransactionEvent' }),
    ocpp('MessageTimeout', int('s', 1, 3_600), 'ReadWrite', '30', { instance: 'Default' }),
    // Slots are tried in this order at the next connection.
    ocpp('NetworkConfigurationPriority', sequence(slots), 'ReadWrite', '0', { rebootRequired: true }),
    ocpp('NetworkProfileConnectionAttempts', int(undefined, 1, 100), 'ReadWrite', '3'),
    ocpp('OfflineThreshold', int('s', 0, 86_400), 'ReadWrite', '60'),
    ocpp('PublicKeyWithSignedMeterValue', options(['Never', 'OncePerTransaction', 'EveryMeterValue']), 'ReadWrite', 'Never', { required: false }),
    ocpp('QueueAllMessages', bool, 'ReadWrite', 'false', { required: false }),
    ocpp('ResetRetries', int(undefined, 0, 10), 'ReadWrite', '1'),
    ocpp('RetryBackOffRandomRange', int('s', 0, 3_600), 'ReadWrite', '10'),
    ocpp('RetryBackOffRepeatTimes', int(undefined, 0, 100), 'ReadWrite', '5'),
    ocpp('RetryBackOffWaitMinimum', int('s', 0, 3_600), 'ReadWrite', '3'),
    ocpp('UnlockOnEVSideDisconnect', bool, 'ReadWrite', 'true'),
    ocpp('WebSocketPingInterval', int('s', 0, 86_400), 'ReadWrite', '60'),

    tx('EVConnectionTimeOut', int('s', 1, 3_600), 'ReadWrite', '60'),
    tx('MaxEnergyOnInvalidId', int('Wh', 0), 'ReadWrite', '0', { required: false }),
    tx('StopTxOnEVSideDisconnect', bool, 'ReadWrite', 'true'),
    tx('StopTxOnInvalidId', bool, 'ReadWrite', 'true'),
    tx('TxBeforeAcceptedEnabled', bool, 'ReadWrite', 'false', { required: false }),
    tx('TxStartPoint', members(TX_START_POINTS), 'ReadWrite', 'PowerPathClosed'),
    tx('TxStopPoint', members(TX_STOP_POINTS), 'ReadWrite', 'EVConnected,Authorized'),

    sampled('SignReadings', bool, 'ReadWrite', 'false', { required: false }),
    sampled('TxEndedInterval', int('s', 0, 86_400), 'ReadWrite', '0'),
    sampled('TxEndedMeasurands', members(m), 'ReadWrite', 'Energy.Active.Import.Register'),
    sampled('TxStartedMeasurands', members(m), 'ReadWrite', 'Energy.Active.Import.Register'),
    sampled('TxUpdatedInterval', int('s', 0, 86_400), 'ReadWrite', '60'),
    sampled('TxUpdatedMeasurands', members(m), 'ReadWrite', ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'Voltage'].filter((x) => m.includes(x)).join(',')),

    aligned('Interval', int('s', 0, 86_400), 'ReadWrite', '0'),
    aligned('Measurands', members(m), 'ReadWrite', 'Energy.Active.Import.Register'),
    aligned('SendDuringIdle', bool, 'ReadWrite', 'false', { required: false }),
    aligned('SignReadings', bool, 'ReadWrite', 'false', { required: false }),
    aligned('TxEndedInterval', int('s', 0, 86_400), 'ReadWrite', '0'),
    aligned('TxEndedMeasurands', members(m), 'ReadWrite', ''),

    auth('AuthorizeRemoteStart', bool, 'ReadWrite', 'false'),
    auth('DisableRemoteAuthorization', bool, 'ReadWrite', 'false', { required: false }),
    auth('Enabled', bool, 'ReadWrite', 'true', { required: false }),
    auth('LocalAuthorizeOffline', bool, 'ReadWrite', 'true'),
    auth('LocalPreAuthorize', bool, 'ReadWrite', 'false'),
    auth('MasterPassGroupId', str(36), 'ReadWrite', '', { required: false }),
    auth('OfflineTxForUnknownIdEnabled', bool, 'ReadWrite', 'false', { required: false }),

    // The auth cache is optional; a station that has one reports these (Core "where implemented").
    cache('DisablePostAuthorize', bool, 'ReadWrite', 'false'),
    cache('Enabled', bool, 'ReadWrite', 'true'),
    cache('LifeTime', int('s', 0), 'ReadWrite', '86400'),
    cache('Policy', options(['LRU', 'LFU', 'FIFO', 'CUSTOM']), 'ReadOnly', 'LRU'),
    // Storage: Actual is the bytes in use (live, from the store), maxLimit what the cache may hold (evicted by Policy).
    cache('Storage', int('B', 0, AUTH_CACHE_MAX_BYTES), 'ReadOnly', '0'),

    localList('BytesPerMessage', int('B', 1), 'ReadOnly', String(DEVICE_MODEL_DEFAULTS.bytesPerMessage)),
    localList('Enabled', bool, 'ReadWrite', 'true', { required: false }),
    localList('Entries', int(undefined, 0, 10_000), 'ReadOnly', '0', { attributes: actual('ReadOnly', '0', true) }),
    localList('ItemsPerMessage', int(undefined, 1), 'ReadOnly', '1000'),

    // 2.0.1's passwordString: 16 to 40 printable ASCII characters, used as they are (never hex-decoded as 1.6's AuthorizationKey).
    security('BasicAuthPassword', { ...str(40, 16), allowed: { pattern: /^[\x20-\x7E]*$/, hint: 'printable ASCII characters only' } }, 'WriteOnly', undefined),
    security('CertificateEntries', int(undefined, 0), 'ReadOnly', '0'),
    security('CertSigningRepeatTimes', int(undefined, 0, 100), 'ReadWrite', '3', { profile: 'AdvancedSecurity' }),
    security('CertSigningWaitMinimum', int('s', 1, 86_400), 'ReadWrite', '60', { profile: 'AdvancedSecurity' }),
    security('Identity', str(48), 'ReadWrite', '', { rebootRequired: true }),
    security('OrganizationName', str(50), 'ReadWrite', ''),
    security('SecurityProfile', int(undefined, 0, 3), 'ReadOnly', '1', { attributes: actual('ReadOnly', '1', true) }),

    device('BytesPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.bytesPerMessage),
    device('BytesPerMessage', 'GetVariables', DEVICE_MODEL_DEFAULTS.bytesPerMessage),
    device('BytesPerMessage', 'SetVariables', DEVICE_MODEL_DEFAULTS.bytesPerMessage),
    device('ItemsPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.itemsPerMessage),
    device('ItemsPerMessage', 'GetVariables', DEVICE_MODEL_DEFAULTS.itemsPerMessage),
    device('ItemsPerMessage', 'SetVariables', DEVICE_MODEL_DEFAULTS.itemsPerMessage),
    v('DeviceDataCtrlr', 'ConfigurationValueSize', 'Core', int(undefined, 1), 'ReadOnly', String(DEVICE_MODEL_DEFAULTS.configurationValueSize), { required: false }),
    v('DeviceDataCtrlr', 'ReportingValueSize', 'Core', int(undefined, 1), 'ReadOnly', String(DEVICE_MODEL_DEFAULTS.reportingValueSize), { required: false }),

    // DateTime is live: the binding's store answers it from the clock.
    v('ClockCtrlr', 'DateTime', 'Core', { dataType: 'dateTime' }, 'ReadOnly', undefined, { attributes: actual('ReadOnly', undefined, false) }),
    v('ClockCtrlr', 'TimeSource', 'Core', sequence(TIME_SOURCES), 'ReadWrite', 'Heartbeat'),

    ...availability('ChargingStation', 'station'),
    ...availability('EVSE', 'evse'),
    v('EVSE', 'AllowReset', 'Core', bool, 'ReadOnly', 'true', { scope: 'evse', required: false }),
    // Calibration law: the EVSE's signing meter's public key (hex DER; "" when it does not sign),
    // live from the meter (signed-meter-values.ts). 2.0.1 names no variable for it: 1.6's key name.
    v('EVSE', 'MeterPublicKey', 'Core', str(2500), 'ReadOnly', '', { scope: 'evse', required: false, attributes: actual('ReadOnly', '', false) }),
    v('EVSE', 'Power', 'Core', { dataType: 'decimal', unit: 'W', minLimit: 0 }, 'ReadOnly', undefined, {
      scope: 'evse',
      attributes: [{ type: 'Actual', mutability: 'ReadOnly', persistent: false, default: '0' }, { type: 'MaxSet', mutability: 'ReadOnly', persistent: true, constant: true }],
    }),
    ...availability('Connector', 'connector'),
    v('Connector', 'ConnectorType', 'Core', options(CONNECTOR_TYPES), 'ReadOnly', undefined, { scope: 'connector', attributes: actual('ReadOnly', undefined, true, true) }),

    // K01.FR.20: whether phaseToUse is honoured (a view of 1.6's ConnectorSwitch3to1PhaseSupported).
    smart('ACPhaseSwitchingSupported', bool, 'ReadOnly', 'false', { required: false }),
    smart('Available', bool, 'ReadOnly', 'true', { required: false }),
    smart('Enabled', bool, 'ReadWrite', 'true', { required: false }),
    smart('Entries', int(undefined, 0, 100), 'ReadOnly', '0', { instance: 'ChargingProfiles' }),
    smart('LimitChangeSignificance', { dataType: 'decimal', minLimit: 0, maxLimit: 1 }, 'ReadWrite', '0.1'),
    smart('PeriodsPerSchedule', int(undefined, 1), 'ReadOnly', '24'),
    smart('ProfileStackLevel', int(undefined, 0), 'ReadOnly', '8'),
    smart('RateUnit', members(['A', 'W']), 'ReadOnly', 'A,W'),

    // Reservation (H01): NonEvseSpecific says whether a reservation may leave the EVSE open.
    reservation('Available', bool, 'ReadOnly', 'true', { required: false }),
    reservation('Enabled', bool, 'ReadWrite', 'true', { required: false }),
    reservation('NonEvseSpecific', bool, 'ReadOnly', 'true', { required: false }),

    // Advanced UI (O01-O06): DisplayMessages' Actual is how many are set now (live), maxLimit how many the station keeps.
    display('Available', bool, 'ReadOnly', 'true', { required: false }),
    display('DisplayMessages', int(undefined, 0, MAX_DISPLAY_MESSAGES), 'ReadOnly', '0'),
    display('Enabled', bool, 'ReadWrite', 'true', { required: false }),
    display('PersonalMessageSize', int(undefined, 1), 'ReadOnly', String(PERSONAL_MESSAGE_SIZE), { required: false }),
    display('SupportedFormats', members(['ASCII', 'HTML', 'URI', 'UTF8']), 'ReadOnly', DEFAULT_DISPLAY_CAPABILITIES.formats.join(',')),
    display('SupportedPriorities', members(MESSAGE_PRIORITIES), 'ReadOnly', DEFAULT_DISPLAY_CAPABILITIES.priorities.join(',')),
  ];
}

/** Per-instance defaults that come from the topology rather than from the definitions. */
function placedDefault(d: VariableDefinition, a: AttributeDefinition, evse: Topology['evses'][number] | undefined, connector: { connectorType: string } | undefined, stationPhases: number): string | undefined {
  if (d.variable === 'SupplyPhases') return String(evse ? evse.supplyPhases : stationPhases);
  if (d.variable === 'ConnectorType' && connector) return connector.connectorType;
  if (d.component === 'EVSE' && d.variable === 'Power' && a.type === 'MaxSet' && evse) return String(evse.maxPowerW);
  return a.default;
}

export interface DeviceModel {
  readonly variables: readonly DeviceVariable[];
  /** By lower-cased component|instance|evse|connector, then variable|instance. */
  readonly components: ReadonlyMap<string, ReadonlyMap<string, DeviceVariable>>;
}

const componentKey = (name: string, instance: string | undefined, evseId: number | undefined, connectorId: number | undefined) =>
  `${name.toLowerCase()}|${instance?.toLowerCase() ?? ''}|${evseId ?? ''}|${connectorId ?? ''}`;
const variableKey = (name: string, instance: string | undefined) => `${name.toLowerCase()}|${instance?.toLowerCase() ?? ''}`;

/**
 * Models built, by topology and options. A model is read-only (the values live in each
 * station's VariableStore), so the chargers of a fleet with one profile share one: building it
 * per charger was a tenth of a 2.0.1 fleet worker's CPU during the ramp and some 330 objects
 * per charger.
 */
const built = new Map<string, DeviceModel>();
const BUILT_MAX = 64;

/** The device model of a station with this topology: station-wide components once, EVSE ones per EVSE, Connector ones per connector. */
export function buildDeviceModel(topology: Topology, o: DeviceModelOptions = {}): DeviceModel {
  const key = JSON.stringify([topology, o]);
  let model = built.get(key);
  if (!model) {
    if (built.size >= BUILT_MAX) built.clear();
    built.set(key, (model = newDeviceModel(topology, o)));
  }
  return model;
}

function newDeviceModel(topology: Topology, o: DeviceModelOptions): DeviceModel {
  const stationPhases = Math.max(0, ...topology.evses.map((e) => e.supplyPhases));
  const variables: DeviceVariable[] = [];
  const place = (d: VariableDefinition, evse?: Topology['evses'][number], connector?: Topology['evses'][number]['connectors'][number]) => {
    const attributes = d.attributes.map((a) => {
      const def = placedDefault(d, a, evse, connector, stationPhases);
      const { default: _drop, ...rest } = a;
      return def === undefined ? rest : { ...rest, default: def };
    });
    variables.push({ ...d, attributes, ...(evse ? { evseId: evse.id } : {}), ...(connector ? { connectorId: connector.id } : {}) });
  };
  for (const d of variableDefinitions(o)) {
    if (d.scope === 'station') place(d);
    else for (const e of topology.evses) {
      if (d.scope === 'evse') place(d, e);
      else for (const c of e.connectors) place(d, e, c);
    }
  }
  const components = new Map<string, Map<string, DeviceVariable>>();
  for (const dv of variables) {
    const ck = componentKey(dv.component, dv.componentInstance, dv.evseId, dv.connectorId);
    let vars = components.get(ck);
    if (!vars) components.set(ck, (vars = new Map()));
    vars.set(variableKey(dv.variable, dv.variableInstance), dv);
  }
  return { variables, components };
}

export function keyOf(dv: DeviceVariable, attribute: AttributeEnumType): VariableKey {
  return {
    component: dv.component,
    ...(dv.componentInstance ? { componentInstance: dv.componentInstance } : {}),
    ...(dv.evseId !== undefined ? { evseId: dv.evseId } : {}),
    ...(dv.connectorId !== undefined ? { connectorId: dv.connectorId } : {}),
    variable: dv.variable,
    ...(dv.variableInstance ? { variableInstance: dv.variableInstance } : {}),
    attribute,
  };
}

/** A variable's value: the store's, else its default. */
export function valueOf(store: VariableStore, dv: DeviceVariable, attribute: AttributeEnumType = 'Actual'): string | undefined {
  return store.get(keyOf(dv, attribute)) ?? dv.attributes.find((a) => a.type === attribute)?.default;
}

type Lookup =
  | { status: 'UnknownComponent' | 'UnknownVariable' }
  | { status: 'NotSupportedAttributeType'; variable: DeviceVariable }
  | { status: 'found'; variable: DeviceVariable; attribute: AttributeDefinition };

function lookup(model: DeviceModel, component: ComponentType, variable: VariableType, attributeType: AttributeEnumType): Lookup {
  const vars = model.components.get(componentKey(component.name, component.instance, component.evse?.id, component.evse?.connectorId));
  if (!vars) return { status: 'UnknownComponent' };
  const dv = vars.get(variableKey(variable.name, variable.instance));
  if (!dv) return { status: 'UnknownVariable' };
  const attribute = dv.attributes.find((a) => a.type === attributeType);
  return attribute ? { status: 'found', variable: dv, attribute } : { status: 'NotSupportedAttributeType', variable: dv };
}

/** GetVariables (B06): one result per item, in order; an absent attributeType is Actual; WriteOnly values are never read (Rejected). */
export function getVariables(model: DeviceModel, store: VariableStore, items: readonly GetVariableDataType[]): GetVariableResultType[] {
  return items.map((item) => {
    const attributeType = item.attributeType ?? 'Actual';
    const echo = { component: item.component, variable: item.variable, ...(item.attributeType ? { attributeType: item.attributeType } : {}) };
    const found = lookup(model, item.component, item.variable, attributeType);
    if (found.status !== 'found') return { ...echo, attributeStatus: found.status };
    if (found.attribute.mutability === 'WriteOnly') return { ...echo, attributeStatus: 'Rejected', attributeStatusInfo: { reasonCode: 'WriteOnly' } };
    const value = valueOf(store, found.variable, attributeType);
    return { ...echo, attributeStatus: 'Accepted', ...(value !== undefined ? { attributeValue: value.slice(0, reportingValueSize(model, store)) } : {}) };
  });
}

/** Why `value` is not valid for a variable with these characteristics, or undefined; and its normal form. */
export function checkValue(ch: Characteristics, value: string): { problem: string } | { value: string } {
  const limits = (n: number, what = '') =>
    ch.minLimit !== undefined && n < ch.minLimit ? { problem: `${what}below ${ch.minLimit}` } : ch.maxLimit !== undefined && n > ch.maxLimit ? { problem: `${what}above ${ch.maxLimit}` } : undefined;
  const list = () => value.split(',').map((x) => x.trim()).filter((x) => x !== '');
  switch (ch.dataType) {
    case 'integer': {
      if (!/^[-+]?\d+$/.test(value.trim())) return { problem: 'not an integer' };
      const n = Number(value);
      return limits(n) ?? { value: String(n) };
    }
    case 'decimal': {
      const n = value.trim() === '' ? NaN : Number(value);
      if (!Number.isFinite(n)) return { problem: 'not a decimal' };
      return limits(n) ?? { value: String(n) };
    }
    case 'boolean':
      return /^(true|false)$/i.test(value.trim()) ? { value: value.trim().toLowerCase() } : { problem: 'not true or false' };
    case 'dateTime':
      return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)) ? { value } : { problem: 'not an RFC 3339 date-time' };
    case 'string':
      return limits(value.length, 'length ') ?? (ch.allowed && !ch.allowed.pattern.test(value) ? { problem: ch.allowed.hint } : { value });
    case 'OptionList':
      return ch.valuesList?.includes(value) ? { value } : { problem: `not one of ${ch.valuesList?.join(',')}` };
    case 'MemberList':
    case 'SequenceList': {
      const items = list();
      const unknown = items.filter((x) => ch.valuesList && !ch.valuesList.includes(x));
      if (unknown.length) return { problem: `not supported: ${unknown.join(',')}` };
      if (new Set(items).size !== items.length) return { problem: 'a member twice' };
      return { value: items.join(',') };
    }
    default:
      return { problem: `unknown dataType ${String(ch.dataType)}` };
  }
}

/**
 * SetVariables (B05): one result per item, in order. ReadOnly → Rejected; an invalid value
 * (dataType, valuesList, limits) → Rejected with reasonCode InvalidValue and the reason;
 * accepted values are stored (normalised), and a variable that needs a reboot answers
 * RebootRequired.
 */
export function setVariables(model: DeviceModel, store: VariableStore, items: readonly SetVariableDataType[]): SetVariableResultType[] {
  return items.map((item) => {
    const attributeType = item.attributeType ?? 'Actual';
    const echo = { component: item.component, variable: item.variable, ...(item.attributeType ? { attributeType: item.attributeType } : {}) };
    const found = lookup(model, item.component, item.variable, attributeType);
    if (found.status !== 'found') return { ...echo, attributeStatus: found.status };
    if (found.attribute.mutability === 'ReadOnly') return { ...echo, attributeStatus: 'Rejected', attributeStatusInfo: { reasonCode: 'ReadOnly' } };
    const checked = checkValue(found.variable.characteristics, item.attributeValue);
    if ('problem' in checked) return { ...echo, attributeStatus: 'Rejected', attributeStatusInfo: { reasonCode: 'InvalidValue', additionalInfo: checked.problem.slice(0, 512) } };
    store.set(keyOf(found.variable, attributeType), checked.value, { persistent: found.attribute.persistent });
    return { ...echo, attributeStatus: found.variable.rebootRequired ? 'RebootRequired' : 'Accepted' };
  });
}

export function intValue(model: DeviceModel, store: VariableStore, component: string, variable: string, instance: string | undefined, fallback: number): number {
  const dv = model.components.get(componentKey(component, undefined, undefined, undefined))?.get(variableKey(variable, instance));
  const n = dv ? Number(valueOf(store, dv)) : NaN;
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function reportingValueSize(model: DeviceModel, store: VariableStore): number {
  return intValue(model, store, 'DeviceDataCtrlr', 'ReportingValueSize', undefined, DEVICE_MODEL_DEFAULTS.reportingValueSize);
}

export type LimitedRequest = 'GetVariables' | 'SetVariables' | 'GetReport';

/**
 * A GetVariables/SetVariables/GetReport request over DeviceDataCtrlr's limits: too many items →
 * OccurrenceConstraintViolation, too many bytes → FormatViolation; undefined when within them.
 */
export function requestLimitError(model: DeviceModel, store: VariableStore, request: LimitedRequest, items: number, bytes: number): 'OccurrenceConstraintViolation' | 'FormatViolation' | undefined {
  if (items > intValue(model, store, 'DeviceDataCtrlr', 'ItemsPerMessage', request, DEVICE_MODEL_DEFAULTS.itemsPerMessage)) return 'OccurrenceConstraintViolation';
  if (bytes > intValue(model, store, 'DeviceDataCtrlr', 'BytesPerMessage', request, DEVICE_MODEL_DEFAULTS.bytesPerMessage)) return 'FormatViolation';
  return undefined;
}

/** One variable as NotifyReport reports it: every attribute with its mutability, values except WriteOnly ones, and its characteristics. */
export function reportData(model: DeviceModel, store: VariableStore, dv: DeviceVariable): ReportDataType {
  const size = reportingValueSize(model, store);
  const ch = dv.characteristics;
  const valuesList = ch.valuesList?.join(',');
  return {
    component: {
      name: dv.component,
      ...(dv.componentInstance ? { instance: dv.componentInstance } : {}),
      ...(dv.evseId !== undefined ? { evse: { id: dv.evseId, ...(dv.connectorId !== undefined ? { connectorId: dv.connectorId } : {}) } } : {}),
    },
    variable: { name: dv.variable, ...(dv.variableInstance ? { instance: dv.variableInstance } : {}) },
    variableAttribute: dv.attributes.map((a) => {
      const value = a.mutability === 'WriteOnly' ? undefined : valueOf(store, dv, a.type);
      return { type: a.type, ...(value !== undefined ? { value: value.slice(0, size) } : {}), mutability: a.mutability, persistent: a.persistent, constant: a.constant ?? false };
    }),
    variableCharacteristics: {
      dataType: ch.dataType,
      ...(ch.unit ? { unit: ch.unit } : {}),
      ...(ch.minLimit !== undefined ? { minLimit: ch.minLimit } : {}),
      ...(ch.maxLimit !== undefined ? { maxLimit: ch.maxLimit } : {}),
      ...(valuesList ? { valuesList: valuesList.slice(0, 1000) } : {}),
      supportsMonitoring: ch.supportsMonitoring,
    },
  };
}

const SUMMARY_VARIABLES = new Set(['availabilitystate', 'available', 'problem', 'tripped', 'overload', 'fallback']);

/** The variables a base report holds (B07): all; the configurable ones (ReadWrite or WriteOnly); or the summary (availability and problems). */
export function baseReportVariables(model: DeviceModel, reportBase: ReportBaseEnumType): DeviceVariable[] {
  switch (reportBase) {
    case 'FullInventory':
      return [...model.variables];
    case 'ConfigurationInventory':
      return model.variables.filter((dv) => dv.attributes.some((a) => a.mutability !== 'ReadOnly'));
    case 'SummaryInventory':
      return model.variables.filter((dv) => SUMMARY_VARIABLES.has(dv.variable.toLowerCase()));
  }
}

export interface ReportSplit {
  itemsPerMessage: number;
  /** Limit on the whole CALL frame as sent, in bytes (messageId of 36 characters). */
  bytesPerMessage: number;
}

/**
 * NotifyReport requests carrying `data` (B07/B08): parts of at most itemsPerMessage items and
 * bytesPerMessage bytes each (a CALL frame with a 36-character messageId), seqNo from 0, tbc
 * true on all but the last. One item larger than the byte limit still goes, alone.
 */
export function notifyReports(data: readonly ReportDataType[], requestId: number, generatedAt: string, split: ReportSplit): NotifyReportRequest[] {
  const frameBytes = (p: NotifyReportRequest) => Buffer.byteLength(JSON.stringify([2, 'x'.repeat(36), 'NotifyReport', p]));
  // The frame without items, at its longest (tbc false, a 9-digit seqNo); each item adds its bytes and a comma.
  const emptyBytes = frameBytes({ requestId, generatedAt, tbc: false, seqNo: 999_999_999, reportData: [] });
  const parts: ReportDataType[][] = [];
  let part: ReportDataType[] = [];
  let bytes = emptyBytes;
  for (const item of data) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item)) + (part.length ? 1 : 0);
    if (part.length && (part.length >= split.itemsPerMessage || bytes + itemBytes > split.bytesPerMessage)) {
      parts.push(part);
      part = [];
      bytes = emptyBytes;
    }
    bytes += Buffer.byteLength(JSON.stringify(item)) + (part.length ? 1 : 0);
    part.push(item);
  }
  if (part.length) parts.push(part);
  return parts.map((reportData, seqNo) => ({ requestId, generatedAt, seqNo, tbc: seqNo < parts.length - 1, reportData }));
}

/**
 * GetBaseReport (B07): the answer's status and the NotifyReport requests to send after it.
 * Split by DeviceDataCtrlr ItemsPerMessage/BytesPerMessage [GetReport] unless `split` says otherwise.
 */
export function baseReport(
  model: DeviceModel, store: VariableStore, request: { requestId: number; reportBase: ReportBaseEnumType }, generatedAt: string, split?: Partial<ReportSplit>,
): { status: 'Accepted' | 'EmptyResultSet'; reports: NotifyReportRequest[] } {
  const data = baseReportVariables(model, request.reportBase).map((dv) => reportData(model, store, dv));
  if (!data.length) return { status: 'EmptyResultSet', reports: [] };
  return {
    status: 'Accepted',
    reports: notifyReports(data, request.requestId, generatedAt, {
      itemsPerMessage: split?.itemsPerMessage ?? intValue(model, store, 'DeviceDataCtrlr', 'ItemsPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.itemsPerMessage),
      bytesPerMessage: split?.bytesPerMessage ?? intValue(model, store, 'DeviceDataCtrlr', 'BytesPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.bytesPerMessage),
    }),
  };
}

const sameComponent = (dv: DeviceVariable, c: ComponentType) =>
  dv.component.toLowerCase() === c.name.toLowerCase()
  && (c.instance === undefined || (dv.componentInstance ?? '').toLowerCase() === c.instance.toLowerCase())
  && (c.evse === undefined || (dv.evseId === c.evse.id && (c.evse.connectorId === undefined || dv.connectorId === c.evse.connectorId)));

/**
 * The variables a custom report holds (B08): those named by componentVariable (no variable: all
 * of the component; no evse: every instance of it), of components meeting any of the criteria
 * (its Active/Available/Enabled variable true, or Problem true); both given: both must hold;
 * neither: every variable.
 */
export function customReportVariables(model: DeviceModel, store: VariableStore, request: { componentVariable?: ComponentVariableType[]; componentCriteria?: ComponentCriterionEnumType[] }): DeviceVariable[] {
  const named = request.componentVariable;
  const criteria = request.componentCriteria;
  const inComponent = (a: DeviceVariable, b: DeviceVariable) =>
    a.component === b.component && a.componentInstance === b.componentInstance && a.evseId === b.evseId && a.connectorId === b.connectorId;
  const meets = (dv: DeviceVariable) =>
    !criteria?.length
    || criteria.some((c) => model.variables.some((x) => inComponent(x, dv) && x.variable.toLowerCase() === c.toLowerCase() && valueOf(store, x) === 'true'));
  const asked = (dv: DeviceVariable) =>
    !named?.length
    || named.some((cv) => sameComponent(dv, cv.component)
      && (!cv.variable || (dv.variable.toLowerCase() === cv.variable.name.toLowerCase() && (cv.variable.instance === undefined || (dv.variableInstance ?? '').toLowerCase() === cv.variable.instance.toLowerCase()))));
  return model.variables.filter((dv) => asked(dv) && meets(dv));
}

/** GetReport (B08): the answer's status and the NotifyReport requests to send after it, split as baseReport does. */
export function customReport(
  model: DeviceModel, store: VariableStore, request: { requestId: number; componentVariable?: ComponentVariableType[]; componentCriteria?: ComponentCriterionEnumType[] },
  generatedAt: string, split?: Partial<ReportSplit>,
): { status: 'Accepted' | 'EmptyResultSet'; reports: NotifyReportRequest[] } {
  const data = customReportVariables(model, store, request).map((dv) => reportData(model, store, dv));
  if (!data.length) return { status: 'EmptyResultSet', reports: [] };
  return {
    status: 'Accepted',
    reports: notifyReports(data, request.requestId, generatedAt, {
      itemsPerMessage: split?.itemsPerMessage ?? intValue(model, store, 'DeviceDataCtrlr', 'ItemsPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.itemsPerMessage),
      bytesPerMessage: split?.bytesPerMessage ?? intValue(model, store, 'DeviceDataCtrlr', 'BytesPerMessage', 'GetReport', DEVICE_MODEL_DEFAULTS.bytesPerMessage),
    }),
  };
}

/** A VariableStore in a Map: for unit tests and for values that need not outlive the process. */
export class MemoryVariableStore implements VariableStore {
  readonly values = new Map<string, string>();
  static key(k: VariableKey): string {
    return [k.component, k.componentInstance ?? '', k.evseId ?? '', k.connectorId ?? '', k.variable, k.variableInstance ?? '', k.attribute].join('|').toLowerCase();
  }
  get(k: VariableKey): string | undefined {
    return this.values.get(MemoryVariableStore.key(k));
  }
  set(k: VariableKey, value: string): void {
    this.values.set(MemoryVariableStore.key(k), value);
  }
}

/** A station-level integer variable's Actual value (stored or default), undefined when it is not an integer. */
export function intVariable(model: DeviceModel, store: VariableStore, component: string, variable: string, instance?: string): number | undefined {
  const dv = model.components.get(componentKey(component, undefined, undefined, undefined))?.get(variableKey(variable, instance));
  const n = dv ? Number(valueOf(store, dv)) : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}
