import type { MessageFormat } from '../../core/display-messages.js';
import { isValidCode, type ConnectorDisplay, type ScreenMessage } from './display.js';
import { SerialHmi, type SerialHmiOptions } from './serial-hmi.js';

/**
 * The JSON-lines protocol for custom HMIs ("evse-edge-hmi/1"), specified in README.md: one
 * JSON object per LF-terminated UTF-8 line, each with a `type`.
 */
export const JSON_LINES_PROTOCOL = 'evse-edge-hmi/1';
export const MAX_JSON_LINE_BYTES = 4096;

export type HmiToAgent =
  | { type: 'code'; code: string; connectorId?: number }
  | { type: 'hello' };

export type AgentToHmi =
  | { type: 'hello'; protocol: typeof JSON_LINES_PROTOCOL }
  | ({ type: 'connector' } & ConnectorDisplay)
  | ({ type: 'message' } & ScreenMessage);

export interface JsonLinesStats {
  messages: number;
  malformed: number;
  unknown: number;
}

/** Splits bytes into JSON objects; pure, handles split and concatenated reads. */
export class JsonLinesDecoder {
  readonly stats: JsonLinesStats = { messages: 0, malformed: 0, unknown: 0 };
  private buf: Buffer = Buffer.alloc(0);
  private overlong = false;

  push(chunk: Buffer): HmiToAgent[] {
    const out: HmiToAgent[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) {
        if (this.buf.length > MAX_JSON_LINE_BYTES) { this.overlong = true; this.buf = Buffer.alloc(0); }
        break;
      }
      const line = this.buf.subarray(0, nl).toString('utf8').replace(/\r$/, '').trim();
      this.buf = this.buf.subarray(nl + 1);
      if (this.overlong) { this.overlong = false; this.stats.malformed++; continue; }
      if (!line) continue;
      const msg = parseMessage(line);
      if (msg === 'malformed') this.stats.malformed++;
      else if (msg === 'unknown') this.stats.unknown++;
      else { this.stats.messages++; out.push(msg); }
    }
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.overlong = false;
  }
}

function parseMessage(line: string): HmiToAgent | 'malformed' | 'unknown' {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'malformed';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'malformed';
  const o = value as Record<string, unknown>;
  switch (o.type) {
    case 'code': {
      if (typeof o.code !== 'string' || !isValidCode(o.code)) return 'malformed';
      if (o.connectorId !== undefined && !(Number.isInteger(o.connectorId) && (o.connectorId as number) > 0)) return 'malformed';
      return o.connectorId === undefined ? { type: 'code', code: o.code } : { type: 'code', code: o.code, connectorId: o.connectorId as number };
    }
    case 'hello':
      return { type: 'hello' };
    default:
      return 'unknown';
  }
}

export function encodeJsonLine(msg: AgentToHmi): Buffer {
  return Buffer.from(JSON.stringify(msg) + '\n', 'utf8');
}

export interface JsonLinesHmiOptions extends SerialHmiOptions {
  /** Default 115200. */
  baudRate?: number;
  /** The message formats the HMI renders (default ASCII and UTF8; a browser-based panel may render HTML and URI). */
  messageFormats?: readonly MessageFormat[];
}

/** A custom HMI (a small Linux panel, a microcontroller) speaking evse-edge-hmi/1. */
export class JsonLinesHmi extends SerialHmi {
  private readonly decoder = new JsonLinesDecoder();

  constructor(private readonly opts: JsonLinesHmiOptions) {
    super(opts, 'json-lines', 115_200);
  }

  override get messageFormats(): readonly MessageFormat[] {
    return this.opts.messageFormats ?? super.messageFormats;
  }

  stats() {
    return { ...this.decoder.stats, ...this.counters };
  }

  protected override render(state: ConnectorDisplay): Buffer[] {
    const msg: AgentToHmi = {
      type: 'connector',
      connectorId: state.connectorId,
      status: state.status,
      energyWh: state.energyWh,
      powerW: state.powerW,
      ...(state.cost === undefined ? {} : { cost: state.cost }),
      ...(state.meterPublicKey === undefined ? {} : { meterPublicKey: state.meterPublicKey }),
      ...(state.signedValues?.length ? { signedValues: state.signedValues } : {}),
    };
    return [encodeJsonLine(msg)];
  }

  protected override renderMessage(m: ScreenMessage): Buffer[] {
    return [encodeJsonLine({
      type: 'message', connectorId: m.connectorId,
      ...(m.text !== undefined ? { text: m.text } : {}), ...(m.priority ? { priority: m.priority } : {}), ...(m.language ? { language: m.language } : {}),
      // Plain text needs no word; HTML and URI (for an HMI configured to render them) say what they are.
      ...(m.format === 'HTML' || m.format === 'URI' ? { format: m.format } : {}),
      ...(m.qrCode !== undefined ? { qrCode: m.qrCode } : {}),
    })];
  }

  protected override greeting(): Buffer[] {
    return [encodeJsonLine({ type: 'hello', protocol: JSON_LINES_PROTOCOL })];
  }

  protected override connectedHook(): void {
    this.decoder.reset();
  }

  protected override received(chunk: Buffer): void {
    for (const msg of this.decoder.push(chunk)) {
      if (msg.type === 'code') this.emitToken(msg.code, this.connectorFor(msg.connectorId));
      else this.refresh();
    }
  }
}
