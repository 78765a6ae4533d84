import type { Timer } from '../../core/ports.js';
import { formatCost, formatEnergy, formatPower, formatSignedValues, isValidCode, type ConnectorDisplay, type ScreenMessage } from './display.js';
import {
  NEXTION_TERMINATOR, NextionDecoder, nextionInstruction, nextionSetText,
  type NextionEncoding, type NextionEvent,
} from './nextion-protocol.js';
import { SerialHmi, type SerialHmiOptions } from './serial-hmi.js';

/** Attributes that show a connector's state; `{id}` is replaced by the connector id. */
export interface NextionFields {
  status: string;
  energy: string;
  power: string;
  cost: string;
  /** The message area (display messages, personal messages); '' for a screen project without one. */
  message: string;
  /** A signing meter's public key (calibration law); '' for a project without the field. */
  meterKey: string;
  /** The session's signed readings, one per line; '' for a project without the field. */
  signedValues: string;
}

export const defaultNextionFields: Readonly<NextionFields> = Object.freeze({
  status: 'c{id}status.txt',
  energy: 'c{id}energy.txt',
  power: 'c{id}power.txt',
  cost: 'c{id}cost.txt',
  message: 'c{id}msg.txt',
  meterKey: 'c{id}key.txt',
  signedValues: 'c{id}signed.txt',
});

/**
 * PIN entry driven by the agent: when the submit button (with "Send Component ID" ticked)
 * sends its touch event, the agent asks for the field with `get <field>` and the 0x70 answer
 * is the code. `connectorId` names the connector the page belongs to.
 */
export interface NextionPinEntry {
  page: number;
  component: number;
  /** e.g. 'pin.t0.txt' or 't0.txt'. */
  field: string;
  event?: 'press' | 'release';
  connectorId?: number;
  /** Empty the field once read (default true). */
  clearField?: boolean;
}

export interface NextionHmiOptions extends SerialHmiOptions {
  /** Default 9600, the Nextion factory setting. */
  baudRate?: number;
  encoding?: NextionEncoding;
  fields?: Partial<NextionFields>;
  currency?: string;
  pin?: NextionPinEntry;
  /** How long to wait for the answer to `get <field>`. */
  responseTimeoutMs?: number;
}

export const defaultNextionTiming = Object.freeze({ responseTimeoutMs: 1_000 });

/**
 * A Nextion screen. Codes arrive in one of two ways (README.md): the agent-driven `pin`
 * entry above, or a string the HMI sends on its own, `PIN:<code>` or `PIN:<connector>:<code>`
 * (button event code: `printh 70`, `prints "PIN:",0`, `prints t0.txt,0`, `printh FF FF FF`).
 */
export class NextionHmi extends SerialHmi {
  private readonly decoder: NextionDecoder;
  private readonly fields: NextionFields;
  private readonly encoding: NextionEncoding;
  private pendingGet: { timer: Timer; connectorId?: number } | undefined;
  private readonly returns = new Map<number, number>();
  /** Per connector, the meter key and signed-readings text last sent: long texts go only when they change. */
  private readonly sentSigning = new Map<number, { key?: string; values?: string }>();

  constructor(private readonly opts: NextionHmiOptions) {
    super(opts, 'nextion', 9600);
    this.encoding = opts.encoding ?? 'latin1';
    this.decoder = new NextionDecoder(this.encoding);
    this.fields = { ...defaultNextionFields, ...opts.fields };
  }

  stats() {
    return {
      ...this.decoder.stats,
      ...this.counters,
      returnCodes: Object.fromEntries(this.returns),
    };
  }

  /** Sends one raw instruction (e.g. `page 2`); dropped while the screen is away. */
  instruction(text: string): void {
    this.send([nextionInstruction(text, this.encoding)]);
  }

  page(pageIdOrName: number | string): void {
    this.instruction(`page ${pageIdOrName}`);
  }

  protected override render(state: ConnectorDisplay): Buffer[] {
    const attr = (template: string) => template.replace(/\{id\}/g, String(state.connectorId));
    const lines = [
      nextionSetText(attr(this.fields.status), state.status),
      nextionSetText(attr(this.fields.energy), formatEnergy(state.energyWh)),
      nextionSetText(attr(this.fields.power), formatPower(state.powerW)),
    ];
    if (state.cost !== undefined) lines.push(nextionSetText(attr(this.fields.cost), formatCost(state.cost, this.opts.currency)));
    lines.push(...this.renderSigning(state, attr));
    return lines.map((l) => nextionInstruction(l, this.encoding));
  }

  /**
   * A signing meter's public key and the session's signed readings (calibration law), only for
   * a connector whose meter signs, and only when changed since last sent (the key alone is
   * 182 characters, about 0.2 s at 9600 baud); the readings field is emptied when the session
   * has none. Everything is sent again when the screen comes back (refresh).
   */
  private renderSigning(state: ConnectorDisplay, attr: (template: string) => string): string[] {
    if (state.meterPublicKey === undefined) return [];
    const sent = this.sentSigning.get(state.connectorId) ?? {};
    const values = formatSignedValues(state.signedValues ?? []);
    const lines: string[] = [];
    if (this.fields.meterKey && sent.key !== state.meterPublicKey) lines.push(nextionSetText(attr(this.fields.meterKey), state.meterPublicKey));
    if (this.fields.signedValues && sent.values !== values) lines.push(nextionSetText(attr(this.fields.signedValues), values));
    this.sentSigning.set(state.connectorId, { key: state.meterPublicKey, values });
    return lines;
  }

  /** Everything again, the long signing texts too (the screen shows its defaults after a restart). */
  protected override refresh(): void {
    this.sentSigning.clear();
    super.refresh();
  }

  /** The message area's text, or empty. */
  protected override renderMessage(m: ScreenMessage): Buffer[] {
    if (!this.fields.message) return [];
    const attr = this.fields.message.replace(/\{id\}/g, String(m.connectorId));
    return [nextionInstruction(nextionSetText(attr, m.text ?? ''), this.encoding)];
  }

  /** An empty instruction first: ends whatever half-instruction the screen holds. */
  protected override greeting(): Buffer[] {
    return [NEXTION_TERMINATOR];
  }

  protected override connectedHook(): void {
    this.decoder.reset();
  }

  protected override disconnectedHook(): void {
    this.cancelGet();
  }

  protected override stopping(): void {
    this.cancelGet();
  }

  protected override received(chunk: Buffer): void {
    for (const event of this.decoder.push(chunk)) this.handle(event);
  }

  private handle(event: NextionEvent): void {
    switch (event.type) {
      case 'touch': {
        const pin = this.opts.pin;
        if (pin && event.page === pin.page && event.component === pin.component && event.event === (pin.event ?? 'release')) this.requestCode(pin);
        return;
      }
      case 'string':
        this.stringArrived(event.text);
        return;
      case 'ready':
      case 'startup':
        // The screen restarted: it shows its defaults again, so send our state again.
        if (event.type === 'ready') this.refresh();
        return;
      case 'return':
        this.returns.set(event.code, (this.returns.get(event.code) ?? 0) + 1);
        if (event.code !== 0x01) this.log.warn('screen refused an instruction', { returnCode: event.code, meaning: event.meaning });
        return;
      default:
        return;
    }
  }

  private requestCode(pin: NextionPinEntry): void {
    if (this.pendingGet) return;
    const timer = this.timers.setTimeout(() => { this.pendingGet = undefined; this.log.warn('screen did not answer the code request'); }, this.opts.responseTimeoutMs ?? defaultNextionTiming.responseTimeoutMs);
    this.pendingGet = { timer, connectorId: pin.connectorId };
    this.instruction(`get ${pin.field}`);
  }

  private cancelGet(): void {
    this.pendingGet?.timer.cancel();
    this.pendingGet = undefined;
  }

  private stringArrived(text: string): void {
    const m = /^PIN:(?:(\d{1,3}):)?(.*)$/.exec(text);
    if (m) {
      this.acceptCode(m[2]!, m[1] === undefined ? undefined : Number(m[1]));
      return;
    }
    const pending = this.pendingGet;
    if (!pending) return;
    this.cancelGet();
    this.acceptCode(text, pending.connectorId);
    const pin = this.opts.pin;
    if (pin && (pin.clearField ?? true)) this.instruction(nextionSetText(pin.field, ''));
  }

  private acceptCode(code: string, connectorId: number | undefined): void {
    if (!isValidCode(code)) {
      this.log.warn('code from screen refused (1-20 printable characters)', { length: code.length });
      return;
    }
    this.emitToken(code, this.connectorFor(connectorId));
  }
}
