import type { KeyObject } from 'node:crypto';
import type { Clock, MeterReading, MeterSigner, SignedReadingKind } from '../core/ports.js';
import { OCMF_SIGNING_METHOD, ocmfTime, publicKeyHex, signOcmf, type OcmfTransactionCode } from '../lib/ocmf.js';

export interface SimMeterSignerOptions {
  /** The meter's own key (ECDSA secp256r1). */
  privateKey: KeyObject;
  /** The meter's serial number (OCMF MS). */
  serial: string;
  /** The charger it is built into (OCMF GS, the gateway's serial). */
  chargerId: string;
  clock: Clock;
  /** Whether it signs readings between begin and end too. */
  signsIntervals?: boolean;
  /** The transaction pagination counter's next value (OCMF PG T<n>); 1 for a new meter. */
  firstPage?: number;
  /** Told the counter's next value after each record, to keep it across restarts (a real meter's is non-volatile). */
  onPage?: (next: number) => void;
}

const TX_OF_KIND: Record<SignedReadingKind, OcmfTransactionCode> = { begin: 'B', end: 'E', 'power-loss-end': 'L', interval: 'C' };

/**
 * A simulated calibration-law meter's signing: each signed reading is an OCMF record of the
 * register in kWh (whole Wh, as a transaction's meterStart and meterStop), signed with the
 * meter's own key, so a central system under test receives records it can verify.
 */
export class SimMeterSigner implements MeterSigner {
  readonly signsIntervals: boolean;
  private readonly publicKeyText: string;
  private page: number;

  constructor(private readonly o: SimMeterSignerOptions, private readonly readPlain: () => Promise<MeterReading>) {
    this.signsIntervals = o.signsIntervals ?? false;
    this.publicKeyText = publicKeyHex(o.privateKey);
    this.page = o.firstPage ?? 1;
  }

  async publicKey(): Promise<string> {
    return this.publicKeyText;
  }

  async readSigned(kind: SignedReadingKind): Promise<MeterReading> {
    const reading = await this.readPlain();
    const data = signOcmf({
      FV: '1.0', GI: 'evse-edge simulated charger', GS: this.o.chargerId, PG: `T${this.page++}`,
      MV: 'evse-edge', MM: 'sim-meter', MS: this.o.serial, IS: false, IT: 'NONE',
      RD: [{
        TM: ocmfTime(this.o.clock.now(), this.o.clock.trusted()), TX: TX_OF_KIND[kind], RV: Math.round(reading.energyWh) / 1000,
        RI: '1-b:1.8.0', RU: 'kWh', RT: reading.dc ? 'DC' : 'AC', EF: '', ST: 'G',
      }],
    }, this.o.privateKey);
    this.o.onPage?.(this.page);
    return { ...reading, signed: { encoding: 'OCMF', data, signingMethod: OCMF_SIGNING_METHOD, publicKey: this.publicKeyText } };
  }
}
