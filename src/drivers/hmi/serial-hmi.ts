import type { Clock, FaultReport, PresentedToken } from '../../core/ports.js';
import { silentLog, type Log } from '../../lib/log.js';
import { FaultState, SerialLink, processTimers, type LinkEvent, type ReopenBackoff } from '../serial-link.js';
import type { MessageFormat } from '../../core/display-messages.js';
import type { ConnectorDisplay, Hmi, ScreenMessage } from './display.js';

const TEXT_FORMATS: readonly MessageFormat[] = Object.freeze(['ASCII', 'UTF8']);

export interface SerialHmiOptions {
  /** Serial device path, e.g. /dev/ttyS1. */
  port: string;
  baudRate?: number;
  /** Connectors shown on this screen; a code names its connector when there is exactly one. */
  connectors?: number[];
  reopen?: Partial<ReopenBackoff>;
  /** FaultReport.source; 'hmi' by default. */
  faultSource?: string;
  clock?: Pick<Clock, 'setTimeout'>;
  log?: Log;
}

/**
 * What every serial screen shares: the link and its fault, code listeners, and the last
 * state shown per connector, sent again whenever the screen (re)connects or restarts.
 */
export abstract class SerialHmi implements Hmi {
  protected readonly log: Log;
  protected link: SerialLink | undefined;
  private readonly tokenListeners = new Set<(token: PresentedToken) => void>();
  private readonly faults: FaultState;
  private readonly shown = new Map<number, ConnectorDisplay>();
  private readonly messages = new Map<number, ScreenMessage>();
  private unsubscribers: (() => void)[] = [];
  protected readonly counters = { tokens: 0, writeFailures: 0 };
  protected readonly timers: Pick<Clock, 'setTimeout'>;

  constructor(protected readonly base: SerialHmiOptions, driver: string, private readonly defaultBaudRate: number) {
    this.faults = new FaultState(base.faultSource ?? 'hmi', 'ReaderFailure');
    this.log = (base.log ?? silentLog).child({ driver, port: base.port });
    this.timers = base.clock ?? processTimers;
  }

  onToken(listener: (token: PresentedToken) => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  onFault(listener: (fault: FaultReport) => void): () => void {
    return this.faults.onFault(listener);
  }

  get fault(): FaultReport | undefined {
    return this.faults.active;
  }

  get connected(): boolean {
    return this.link?.isOpen ?? false;
  }

  async start(): Promise<void> {
    if (this.link) return;
    const link = new SerialLink({
      path: this.base.port,
      baudRate: this.base.baudRate ?? this.defaultBaudRate,
      reopen: this.base.reopen,
      clock: this.base.clock,
      log: this.log,
    });
    this.link = link;
    this.unsubscribers.push(
      link.onData((chunk) => this.received(chunk)),
      link.onState((event) => this.linkChanged(event)),
    );
    await link.start();
  }

  async stop(): Promise<void> {
    const link = this.link;
    if (!link) return;
    this.stopping();
    for (const u of this.unsubscribers.reverse()) u();
    this.unsubscribers = [];
    await link.stop();
    this.link = undefined;
  }

  show(state: ConnectorDisplay): void {
    this.shown.set(state.connectorId, { ...state });
    if (this.connected) this.send(this.render(state));
  }

  /** Text screens: plain text (a driver that renders more says so). */
  get messageFormats(): readonly MessageFormat[] {
    return TEXT_FORMATS;
  }

  showMessage(message: ScreenMessage): void {
    const before = this.messages.get(message.connectorId);
    // Unchanged (the application asks again on every turn of its cycle): nothing to send.
    if (before && before.text === message.text && before.priority === message.priority && before.language === message.language && before.format === message.format && before.qrCode === message.qrCode) return;
    this.messages.set(message.connectorId, { ...message });
    // Nothing shown yet and nothing to show: a screen (or a 1.6 charger's) never hears of the message area.
    if (!before && message.text === undefined) return;
    if (this.connected) this.send(this.renderMessage(message));
  }

  /** The connector a code belongs to: the one named, else the screen's only connector. */
  protected connectorFor(named?: number): number | undefined {
    if (named !== undefined) return named;
    return this.base.connectors?.length === 1 ? this.base.connectors[0] : undefined;
  }

  protected emitToken(code: string, connectorId?: number): void {
    this.counters.tokens++;
    const token: PresentedToken = connectorId === undefined
      ? { token: { id: code, type: 'KeyCode' }, method: 'touchscreen' }
      // The screen's connector n is EVSE n.
      : { token: { id: code, type: 'KeyCode' }, method: 'touchscreen', evseId: connectorId };
    this.log.debug('code entered', { connectorId });
    for (const l of this.tokenListeners) {
      try {
        l(token);
      } catch (err) {
        this.log.error('token listener failed', { err });
      }
    }
  }

  /** Writes messages in order; a screen that went away loses them (shown again on return). */
  protected send(messages: Buffer[]): void {
    const link = this.link;
    if (!link || messages.length === 0) return;
    link.write(Buffer.concat(messages)).catch((err: unknown) => {
      this.counters.writeFailures++;
      this.log.debug('write to screen failed', { err });
    });
  }

  /** Sends every remembered connector state again (after a reconnect or a screen restart). */
  protected refresh(): void {
    const messages = this.greeting();
    for (const state of this.shown.values()) messages.push(...this.render(state));
    for (const m of this.messages.values()) if (m.text !== undefined) messages.push(...this.renderMessage(m));
    this.send(messages);
  }

  private linkChanged(event: LinkEvent): void {
    if (event.state === 'up') {
      this.faults.set(undefined);
      this.connectedHook();
      this.refresh();
    } else {
      this.faults.set('touchscreen unplugged or unavailable');
      this.disconnectedHook();
    }
  }

  protected abstract received(chunk: Buffer): void;
  protected abstract render(state: ConnectorDisplay): Buffer[];
  protected abstract renderMessage(message: ScreenMessage): Buffer[];
  /** Messages sent first when the screen (re)connects. */
  protected greeting(): Buffer[] { return []; }
  protected connectedHook(): void {}
  protected disconnectedHook(): void {}
  protected stopping(): void {}
}
