import type { MessageFormat, MessagePriority } from '../../core/display-messages.js';
import type { FaultSource, IdReader } from '../../core/ports.js';

/** The status words a screen shows (the application gives OCPP 1.6's, which drivers and operators know). */
export type DisplayStatus =
  | 'Available' | 'Preparing' | 'Charging' | 'SuspendedEVSE' | 'SuspendedEV'
  | 'Finishing' | 'Reserved' | 'Unavailable' | 'Faulted';

/** What a screen shows of one connector. */
export interface ConnectorDisplay {
  connectorId: number;
  status: DisplayStatus;
  /** Energy of the current session (or the register), Wh. */
  energyWh: number;
  powerW: number;
  /** Cost of the current session in the site's currency, when known. */
  cost?: number;
  /** A signing meter's public key (hex DER): the calibration law has the screen show it. */
  meterPublicKey?: string;
  /** The signed readings of the current session, as the meter signed them (OCMF RD entries). */
  signedValues?: SignedDisplayValue[];
}

/** One signed reading on the screen: its meter time, what it marks (B begin, E end…), its value and unit. */
export interface SignedDisplayValue {
  time: string;
  tx?: string;
  value: number;
  unit: string;
}

/**
 * A message for a connector's message area (a display message the central system set, a
 * driver's personal message, a cost): the text, its priority and language; without text the
 * area is emptied.
 */
export interface ScreenMessage {
  connectorId: number;
  text?: string;
  priority?: MessagePriority;
  language?: string;
  /** How `text` is written (a screen is only given the formats it renders, messageFormats). */
  format?: MessageFormat;
  /** A text to render as a QR code beside the message (a receipt's link), for a screen that can. */
  qrCode?: string;
}

/**
 * A touchscreen: an IdReader for codes typed on it (method 'touchscreen'), a FaultSource
 * ('hmi' when it is unplugged), and a display of connector state.
 */
export interface Hmi extends IdReader, FaultSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Shows a connector's state; remembered and shown again when the screen comes back. */
  show(state: ConnectorDisplay): void;
  /** The message formats the screen renders (text screens: ASCII and UTF8). */
  readonly messageFormats: readonly MessageFormat[];
  /** Shows (or, without text, empties) a connector's message area; remembered and shown again like show(). */
  showMessage(message: ScreenMessage): void;
}

export function formatEnergy(energyWh: number): string {
  return `${(energyWh / 1000).toFixed(2)} kWh`;
}

export function formatPower(powerW: number): string {
  return `${(powerW / 1000).toFixed(1)} kW`;
}

/**
 * Signed readings for a text screen, one per line as the meter signed them:
 * `<tx> <meter time> <value> <unit>`, e.g. `B 2026-01-05T08:00:00,000+0000 S 1234.567 kWh`.
 */
export function formatSignedValues(values: readonly SignedDisplayValue[]): string {
  return values.map((v) => [v.tx, v.time, String(v.value), v.unit].filter((p) => p !== undefined && p !== '').join(' ')).join('\n');
}

export function formatCost(cost: number, currency?: string): string {
  return currency ? `${cost.toFixed(2)} ${currency}` : cost.toFixed(2);
}

/** OCPP idTag is CiString20; a code is 1-20 printable ASCII characters without blanks. */
export function isValidCode(code: string): boolean {
  return /^[\x21-\x7e]{1,20}$/.test(code);
}
