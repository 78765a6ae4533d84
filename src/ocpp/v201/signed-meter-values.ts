/**
 * Signed meter values in OCPP 2.0.1 (J02, calibration law): a signing meter's record goes in the
 * energy register's sampledValue as signedMeterValue {signedMeterData (the OCMF record, base64),
 * signingMethod, encodingMethod "OCMF", publicKey (base64 DER, or "")} when
 * SampledDataCtrlr.SignReadings is true; OCPPCommCtrlr.PublicKeyWithSignedMeterValue says when
 * the key goes with it. The meter's key can also be read: EVSE.MeterPublicKey (2.0.1 names no
 * variable for it; this one is named as 1.6's MeterPublicKey[n] key), answered live from the meter.
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { SignedMeterValue } from '../../core/ports.js';
import { ocaPublicKey } from '../../lib/ocmf.js';
import type { PublicKeyPolicy } from '../v16/render.js';
import { MemoryVariableStore, type VariableKey, type VariableStore } from './device-model.js';
import type { ConfigurationStore } from '../store-ports.js';
import type { MeterValueType, SignedMeterValueType } from './messages.js';
import { SIGN_READINGS_SETTING } from './sign-readings-key.js';

export interface V201Signing {
  /** SampledDataCtrlr.SignReadings: signed values are sent. */
  sign: boolean;
  publicKey: PublicKeyPolicy;
}

/** The stored value of a 2.0.1 variable without a 1.6 key (the key settingsVariableStore keeps it under). */
function stored(settings: ConfigurationStore, k: VariableKey): string | undefined {
  return settings.get(`ocpp2.0.1:${MemoryVariableStore.key(k)}`);
}

/** The signing settings now (read at each delivery: SetVariables takes effect at once). */
export function signingOf(settings: ConfigurationStore): V201Signing {
  const sign = settings.get(SIGN_READINGS_SETTING) === 'true';
  const key = stored(settings, { component: 'OCPPCommCtrlr', variable: 'PublicKeyWithSignedMeterValue', attribute: 'Actual' });
  return { sign, publicKey: key === 'OncePerTransaction' || key === 'EveryMeterValue' ? key : 'Never' };
}

/** A meter's signed record as 2.0.1's SignedMeterValueType; `withKey`: the meter's public key goes with it. */
export function toSignedMeterValue(signed: SignedMeterValue, withKey: boolean): SignedMeterValueType {
  return {
    signedMeterData: Buffer.from(signed.data, 'utf8').toString('base64'),
    // The OCA note: "" when the signed data names its method itself, as an OCMF record does (SA).
    signingMethod: signed.encoding === 'OCMF' ? '' : signed.signingMethod,
    encodingMethod: signed.encoding,
    publicKey: withKey ? ocaPublicKey(signed.publicKey) : '',
  };
}

/**
 * A MeterValue with the signed record attached to its energy register value (one, of
 * `energyWh`, is added when the measurands had none). `first`: the transaction's first signed value (its begin), which
 * carries the key under OncePerTransaction. `settings` are read (signingOf) only when there is a
 * signed record: an unsigned reading, the common case, costs nothing here.
 */
export function withSignedValue(value: MeterValueType, signed: SignedMeterValue | undefined, energyWh: number, settings: ConfigurationStore, first: boolean): MeterValueType {
  // The settings are read only for a signed reading: most meters sign nothing.
  if (!signed) return value;
  const signing = signingOf(settings);
  if (!signing.sign) return value;
  const withKey = signing.publicKey === 'EveryMeterValue' || (signing.publicKey === 'OncePerTransaction' && first);
  const signedMeterValue = toSignedMeterValue(signed, withKey);
  const i = value.sampledValue.findIndex((v) => (v.measurand ?? 'Energy.Active.Import.Register') === 'Energy.Active.Import.Register');
  if (i >= 0) {
    const sampledValue = value.sampledValue.slice();
    sampledValue[i] = { ...sampledValue[i]!, signedMeterValue };
    return { ...value, sampledValue };
  }
  const context = value.sampledValue[0]?.context;
  return {
    ...value,
    sampledValue: [...value.sampledValue, {
      value: Math.round(energyWh), measurand: 'Energy.Active.Import.Register', location: 'Outlet', unitOfMeasure: { unit: 'Wh' }, signedMeterValue, ...(context ? { context } : {}),
    }],
  };
}

/** EVSE.MeterPublicKey answered live from the EVSE's signing meter ("" when it does not sign). */
export function meterKeyVariables(store: VariableStore, chargePoint: Pick<ChargePoint, 'meterPublicKey' | 'evseIds'>): VariableStore {
  return {
    get(k) {
      if (k.component.toLowerCase() === 'evse' && k.variable.toLowerCase() === 'meterpublickey' && k.evseId !== undefined && chargePoint.evseIds.includes(k.evseId)) {
        return chargePoint.meterPublicKey(k.evseId) ?? '';
      }
      return store.get(k);
    },
    set: (k, value, meta) => store.set(k, value, meta),
  };
}
