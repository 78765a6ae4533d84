import { tariffProblem, type Tariff } from '../../core/tariff.js';
import { featureKeyDefinitions } from './feature-keys.js';
import { costKeyDefinitions } from './cost-messages.js';
import type { KeyDefinition } from './key-definition.js';
/**
 * OCPP 1.6 configuration keys (§9.1 Core, §9.4 Local Auth List, §9.6 Remote Trigger): their
 * type, whether they are read-only, their default, and whether a change needs a reboot.
 */
export const MEASURANDS = [
  'Energy.Active.Import.Register', 'Energy.Active.Export.Register', 'Power.Active.Import', 'Power.Active.Export',
  'Current.Import', 'Current.Export', 'Current.Offered', 'Voltage', 'Frequency', 'SoC', 'Temperature', 'Power.Offered',
] as const;

export type { KeyDefinition } from './key-definition.js';

const rw = (key: string, type: KeyDefinition['type'], def: string, extra: Partial<KeyDefinition> = {}): KeyDefinition => ({ key, readonly: false, type, default: def, ...extra });
const ro = (key: string, type: KeyDefinition['type'], def: string): KeyDefinition => ({ key, readonly: true, type, default: def });

export const MAX_MEASURANDS = 8;

/** Measurands every charge point produces itself, whatever its meter: what it offers the vehicle. */
export const OFFERED_MEASURANDS = ['Current.Offered', 'Power.Offered'] as const;

/**
 * The measurand keys' check: a measurand this charger cannot produce (its meters and vehicle
 * interface do not give it) is refused, Rejected at ChangeConfiguration (§9.1), rather than
 * silently missing from every MeterValue.
 */
function producible(measurands: readonly string[]): (value: string) => string | undefined {
  return (value) => {
    const missing = value.split(',').map((x) => x.trim()).filter((x) => x && (MEASURANDS as readonly string[]).includes(x) && !measurands.includes(x));
    return missing.length ? `not produced by this charger: ${missing.join(', ')}` : undefined;
  };
}

export function keyDefinitions(opts: {
  numberOfConnectors: number;
  featureProfiles: string[];
  /** The measurands this charger can produce (meters, vehicle, offer); absent: every OCPP 1.6 measurand. */
  measurands?: readonly string[];
}): KeyDefinition[] {
  const m = opts.measurands ? { validate: producible(opts.measurands) } : {};
  const rotation = Array.from({ length: opts.numberOfConnectors + 1 }, (_, i) => `${i}.RST`).join(',');
  return [
    rw('AllowOfflineTxForUnknownId', 'bool', 'false'),
    rw('AuthorizationCacheEnabled', 'bool', 'true'),
    rw('AuthorizeRemoteTxRequests', 'bool', 'false'),
    rw('ClockAlignedDataInterval', 'int', '0', { min: 0, max: 86_400 }),
    rw('ConnectionTimeOut', 'int', '60', { min: 1, max: 3_600 }),
    rw('ConnectorPhaseRotation', 'csl', rotation),
    // Room for every key this charger defines (about 60 with the security and California Pricing ones).
    ro('GetConfigurationMaxKeys', 'int', '100'),
    rw('HeartbeatInterval', 'int', '300', { min: 0, max: 86_400 }),
    rw('LocalAuthorizeOffline', 'bool', 'true'),
    rw('LocalPreAuthorize', 'bool', 'false'),
    rw('MaxEnergyOnInvalidId', 'int', '0', { min: 0 }),
    rw('MeterValuesAlignedData', 'measurands', 'Energy.Active.Import.Register', m),
    ro('MeterValuesAlignedDataMaxLength', 'int', String(MAX_MEASURANDS)),
    rw('MeterValuesSampledData', 'measurands', 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage', m),
    ro('MeterValuesSampledDataMaxLength', 'int', String(MAX_MEASURANDS)),
    rw('MeterValueSampleInterval', 'int', '60', { min: 0, max: 86_400 }),
    rw('MinimumStatusDuration', 'int', '0', { min: 0, max: 3_600 }),
    ro('NumberOfConnectors', 'int', String(opts.numberOfConnectors)),
    // Calibration law (the OCA's Eichrecht application note): each connector's signing meter's
    // public key (hex DER; "" when its meter does not sign), read live from the meter; and when a
    // SignedData value carries the key itself.
    ...Array.from({ length: opts.numberOfConnectors }, (_, i) => ro(meterPublicKeyKey(i + 1), 'string', '')),
    rw('PublicKeyWithSignedMeterValue', 'string', 'OncePerTransaction', { validate: oneOf(['Never', 'OncePerTransaction', 'EveryMeterValue']) }),
    rw('ResetRetries', 'int', '1', { min: 0, max: 10 }),
    rw('StopTransactionOnEVSideDisconnect', 'bool', 'true'),
    rw('StopTransactionOnInvalidId', 'bool', 'true'),
    rw('StopTxnAlignedData', 'measurands', '', m),
    ro('StopTxnAlignedDataMaxLength', 'int', String(MAX_MEASURANDS)),
    rw('StopTxnSampledData', 'measurands', 'Energy.Active.Import.Register', m),
    ro('StopTxnSampledDataMaxLength', 'int', String(MAX_MEASURANDS)),
    ro('SupportedFeatureProfiles', 'csl', opts.featureProfiles.join(',')),
    rw('TransactionMessageAttempts', 'int', '3', { min: 1, max: 100 }),
    rw('TransactionMessageRetryInterval', 'int', '60', { min: 1, max: 86_400 }),
    rw('UnlockConnectorOnEVSideDisconnect', 'bool', 'true'),
    rw('WebSocketPingInterval', 'int', '60', { min: 0, max: 86_400 }),
    rw('LocalAuthListEnabled', 'bool', 'true'),
    // evse-edge: the local tariff as JSON ("" = the one in the config), set by the central system.
    rw('Tariff', 'string', '', { validate: tariffKeyProblem }),
    ro('LocalAuthListMaxLength', 'int', '10000'),
    ro('SendLocalListMaxLength', 'int', '1000'),
    ...featureKeyDefinitions(opts.featureProfiles),
    // The OCA's California Pricing customization (DataTransfer org.openchargealliance.costmsg).
    ...costKeyDefinitions(),
  ];
}

/**
 * The definition of `key`, whatever its case: configuration keys are CiString50Type (OCPP 1.6
 * §9, §7.43), compared case-insensitively. Callers store and report `def.key`, the canonical
 * spelling.
 */
/** The read-only key of a connector's signing meter's public key (MeterPublicKey[1], …). */
export function meterPublicKeyKey(connectorId: number): string {
  return `MeterPublicKey[${connectorId}]`;
}

/** The connector a MeterPublicKey[n] key names, or undefined for any other key. */
export function meterPublicKeyConnector(key: string): number | undefined {
  const m = /^MeterPublicKey\[(\d+)\]$/i.exec(key);
  return m ? Number(m[1]) : undefined;
}

function oneOf(values: string[]): (value: string) => string | undefined {
  return (value) => (values.includes(value) ? undefined : `one of ${values.join(', ')}`);
}

export function findKey(definitions: readonly KeyDefinition[], key: string): KeyDefinition | undefined {
  const wanted = key.toLowerCase();
  return definitions.find((d) => d.key.toLowerCase() === wanted);
}

/** A Tariff key value: empty, or a tariff as JSON. */
export function tariffKeyProblem(value: string): string | undefined {
  if (value.trim() === '') return undefined;
  let t: Partial<Tariff>;
  try {
    t = JSON.parse(value) as Partial<Tariff>;
  } catch {
    return 'expected a tariff as JSON';
  }
  if (!t || typeof t !== 'object' || typeof t.energyPerKWh !== 'string' || typeof t.currency !== 'string') return 'expected currency and energyPerKWh';
  return tariffProblem({ minorUnitDigits: 2, pricesIncludeVat: true, ...t } as Tariff);
}

/** The tariff in force: the central system's (key Tariff) or the configured one. */
export function tariffInForce(keyValue: string | undefined, configured: Tariff | undefined): Tariff | undefined {
  if (keyValue && keyValue.trim() && !tariffKeyProblem(keyValue)) return { minorUnitDigits: 2, pricesIncludeVat: true, ...(JSON.parse(keyValue) as Partial<Tariff>) } as Tariff;
  return configured;
}

/** Why `value` is not acceptable for `def`, or undefined. */
export function invalidValue(def: KeyDefinition, value: string): string | undefined {
  if (def.validate) {
    const problem = def.validate(value);
    if (problem) return problem;
  }
  switch (def.type) {
    case 'bool':
      return /^(true|false)$/i.test(value) ? undefined : 'expected true or false';
    case 'int': {
      if (!/^-?\d+$/.test(value.trim())) return 'expected an integer';
      const n = Number(value);
      if (def.min !== undefined && n < def.min) return `expected ≥ ${def.min}`;
      if (def.max !== undefined && n > def.max) return `expected ≤ ${def.max}`;
      return undefined;
    }
    case 'measurands': {
      const items = value.split(',').map((x) => x.trim()).filter(Boolean);
      if (items.length > MAX_MEASURANDS) return `at most ${MAX_MEASURANDS} measurands`;
      const unknown = items.filter((x) => !(MEASURANDS as readonly string[]).includes(x));
      return unknown.length ? `unsupported measurand(s): ${unknown.join(', ')}` : undefined;
    }
    case 'csl':
      return /^[^,]*(,[^,]*)*$/.test(value) ? undefined : 'expected a comma-separated list';
    default:
      return value.length <= 500 ? undefined : 'at most 500 characters';
  }
}

/** Normalise a value for storage (booleans lower-case, lists without spaces). */
export function normalise(def: KeyDefinition, value: string): string {
  if (def.type === 'bool') return value.toLowerCase();
  if (def.type === 'int') return String(Number(value));
  if (def.type === 'measurands' || def.type === 'csl') return value.split(',').map((x) => x.trim()).filter(Boolean).join(',');
  return value;
}
