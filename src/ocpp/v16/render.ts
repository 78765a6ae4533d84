import { isoMs } from '../../core/clock.js';
import type { Sample } from '../../core/ports.js';
import { ocaPublicKey } from '../../lib/ocmf.js';
import type { MeterValue, SampledValue } from './messages.js';

const PHASES_LN = ['L1-N', 'L2-N', 'L3-N'] as const;
const PHASES = ['L1', 'L2', 'L3'] as const;
const SCALE = [1, 10, 100];

/**
 * A measured value as OCPP text, rounded to `digits` decimals, without trailing zeros. Every
 * MeterValues carries several: rounding in binary (not toFixed, then Number, then String) keeps
 * it to one number-to-string conversion.
 */
export function formatValue(x: number, digits: 0 | 1 | 2): string {
  const scale = SCALE[digits]!;
  const r = Math.round(Math.abs(x) * scale) / scale;
  return String(x < 0 && r !== 0 ? -r : r);
}

/** One sampled value, its keys always in this order (context, location, measurand, unit, phase, value). */
function sampled(context: string, location: SampledValue['location'], measurand: string, unit: string | undefined, phase: string | undefined, value: string): SampledValue {
  if (phase !== undefined) return { context, location, measurand, unit, phase, value };
  if (unit !== undefined) return { context, location, measurand, unit, value };
  return { context, location, measurand, value };
}

/**
 * When a signed meter value carries the meter's public key (OCPP 2.0.1's
 * PublicKeyWithSignedMeterValue; in 1.6 a key of the same name): never, with the first signed
 * value of a transaction (its begin), or with every one.
 */
export type PublicKeyPolicy = 'Never' | 'OncePerTransaction' | 'EveryMeterValue';

/** Whether a sample's signed value carries the meter's public key under a policy. */
export function withPublicKey(sample: Sample, policy: PublicKeyPolicy): boolean {
  return policy === 'EveryMeterValue' || (policy === 'OncePerTransaction' && sample.context === 'Transaction.Begin');
}

/**
 * A meter's signed record as a 1.6 sampled value (format SignedData), in the shape the OCA's
 * Eichrecht application note and OCPP 2.0.1 give it: the value is the JSON of a
 * SignedMeterValueType (the OCA note "Signed Meter Values in OCPP" v1.0): signedMeterData the
 * record in Base64, publicKey the OCA envelope of the key (ocaPublicKey) or "".
 */
function signedSampledValue(sample: Sample, policy: PublicKeyPolicy): SampledValue | undefined {
  const signed = sample.reading.signed;
  if (!signed) return undefined;
  // signingMethod "": an OCMF record names its algorithm itself (SA), and the note says then SHALL be empty.
  const value = JSON.stringify({
    signedMeterData: Buffer.from(signed.data, 'utf8').toString('base64'), signingMethod: signed.encoding === 'OCMF' ? '' : signed.signingMethod, encodingMethod: signed.encoding,
    publicKey: withPublicKey(sample, policy) ? ocaPublicKey(signed.publicKey) : '',
  });
  return { context: sample.context, format: 'SignedData', location: 'Outlet', measurand: 'Energy.Active.Import.Register', unit: 'Wh', value };
}

/**
 * A sample as an OCPP MeterValue with the measurands chosen when it was taken. `signed`: the
 * meter's signed record, if the reading has one, goes with it as a SignedData value (1.6; 2.0.1
 * puts it in the energy value's signedMeterValue instead).
 */
export function toMeterValue(sample: Sample, signed?: { publicKey: PublicKeyPolicy }): MeterValue {
  const r = sample.reading;
  const ctx = sample.context;
  const out: SampledValue[] = [];
  for (const measurand of sample.measurands) {
    switch (measurand) {
      case 'Energy.Active.Import.Register':
        out.push(sampled(ctx, 'Outlet', measurand, 'Wh', undefined, formatValue(r.energyWh, 0)));
        break;
      case 'Power.Active.Import':
        if (r.powerW !== undefined) out.push(sampled(ctx, 'Outlet', measurand, 'W', undefined, formatValue(r.powerW, 0)));
        break;
      case 'Current.Import':
        if (r.currentA) for (let i = 0; i < r.currentA.length; i++) out.push(sampled(ctx, 'Outlet', measurand, 'A', r.dc ? undefined : PHASES[i], formatValue(r.currentA[i]!, 2)));
        break;
      case 'Voltage':
        if (r.voltageV) for (let i = 0; i < r.voltageV.length; i++) out.push(sampled(ctx, 'Outlet', measurand, 'V', r.dc ? undefined : PHASES_LN[i], formatValue(r.voltageV[i]!, 1)));
        break;
      case 'Frequency':
        if (r.frequencyHz !== undefined) out.push(sampled(ctx, 'Outlet', measurand, undefined, undefined, formatValue(r.frequencyHz, 2)));
        break;
      case 'SoC':
        if (r.socPct !== undefined) out.push(sampled(ctx, 'EV', measurand, 'Percent', undefined, formatValue(r.socPct, 0)));
        break;
      case 'Current.Offered':
        // One value: the current offered per phase (what the EVSE signals the vehicle).
        if (sample.offered) out.push(sampled(ctx, 'Outlet', measurand, 'A', undefined, formatValue(sample.offered.currentA, 1)));
        break;
      case 'Power.Offered':
        if (sample.offered) out.push(sampled(ctx, 'Outlet', measurand, 'W', undefined, formatValue(sample.offered.powerW, 0)));
        break;
      case 'Temperature':
        if (r.temperatureC !== undefined) out.push(sampled(ctx, 'Body', measurand, 'Celsius', undefined, formatValue(r.temperatureC, 1)));
        break;
      default:
        break;
    }
  }
  if (out.length === 0) out.push(sampled(ctx, 'Outlet', 'Energy.Active.Import.Register', 'Wh', undefined, formatValue(r.energyWh, 0)));
  const signedValue = signed ? signedSampledValue(sample, signed.publicKey) : undefined;
  if (signedValue) out.push(signedValue);
  return { timestamp: isoMs(sample.takenAt), sampledValue: out };
}

/** How many signed records (SignedData values) MeterValues carry. */
export function countSigned(meterValue: readonly MeterValue[] | undefined): number {
  let n = 0;
  for (const mv of meterValue ?? []) for (const v of mv.sampledValue) if (v.format === 'SignedData') n++;
  return n;
}
