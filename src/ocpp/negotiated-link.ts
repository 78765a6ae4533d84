import { EventEmitter } from 'node:events';
import type { ChargingPolicy } from '../core/policy.js';
import type { AuthorizationInfo, IdTokenType } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import type { AnyConnection } from './connection.js';
import type { LinkEvents, LinkState, VersionLink } from './version.js';

const FORWARDED = ['state', 'dead-letter', 'delivered', 'session-unsynced'] as const;

/**
 * The link of a charger that offers several OCPP versions: the WebSocket offers them all, and
 * on the first open the link of the subprotocol the central system selected is created and
 * started (once its binding has loaded, if it was not loaded yet); from then on this forwards to it (the connection offers only that subprotocol on
 * every reconnect, so the version never changes while the charger runs). Until then the
 * charger is offline: nothing is sent, and the core decides offline.
 */
export class NegotiatedLink extends EventEmitter<LinkEvents> implements VersionLink {
  private active?: VersionLink;
  private listening = false;
  /** Halted or stopped: a link whose version was still loading is not started. */
  private halted = false;

  constructor(
    private readonly connection: AnyConnection,
    /**
     * The link of the selected subprotocol (undefined: a subprotocol this charger did not offer),
     * or a promise of it while that version's binding loads.
     */
    private readonly create: (subprotocol: string) => VersionLink | undefined | Promise<VersionLink | undefined>,
    private readonly log: Log,
  ) {
    super();
  }

  /** The link of the negotiated version, once the central system selected one. */
  get selected(): VersionLink | undefined {
    return this.active;
  }

  private readonly onFirstOpen = (): void => {
    this.stopListening();
    const protocol = this.connection.protocol ?? '';
    const made = this.create(protocol);
    if (made instanceof Promise) {
      made.then(
        (link) => this.activate(protocol, link),
        (err: unknown) => this.log.error('the link of the negotiated OCPP version could not be created', { protocol, err }),
      );
    } else this.activate(protocol, made);
  };

  private activate(protocol: string, link: VersionLink | undefined): void {
    if (!link) {
      this.log.error('the central system selected a subprotocol this charger did not offer', { protocol });
      return;
    }
    this.log.info('OCPP version negotiated', { protocol });
    for (const event of FORWARDED) link.on(event, (...args: unknown[]) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args));
    this.active = link;
    if (this.halted) return;
    link.start();
  }

  private stopListening(): void {
    if (!this.listening) return;
    this.listening = false;
    this.connection.off('open', this.onFirstOpen);
  }

  get state(): LinkState {
    return this.active?.state ?? 'offline';
  }

  get stateSince(): number {
    return this.active?.stateSince ?? 0;
  }

  get lastAcknowledgedAt(): number | null {
    return this.active?.lastAcknowledgedAt ?? null;
  }

  start(): void {
    this.halted = false;
    if (this.active) return this.active.start();
    if (!this.listening) {
      this.listening = true;
      this.connection.on('open', this.onFirstOpen);
    }
    this.connection.start();
  }

  halt(): void {
    this.halted = true;
    this.stopListening();
    this.active?.halt();
  }

  async stop(): Promise<void> {
    this.halted = true;
    this.stopListening();
    if (this.active) await this.active.stop();
    else await this.connection.stop();
  }

  reconnect(): Promise<void> {
    return this.active ? this.active.reconnect() : this.connection.reconnect();
  }

  kick(): void {
    this.active?.kick();
  }

  configurationChanged(key: string): void {
    this.active?.configurationChanged(key);
  }

  transactionIdOf(localId: string): number | string | undefined {
    return this.active?.transactionIdOf(localId);
  }

  send(action: string, request: unknown): Promise<unknown> {
    return this.active ? this.active.send(action, request) : Promise.reject(new Error('no OCPP version negotiated yet'));
  }

  online(): boolean {
    return this.active?.online() ?? false;
  }

  authorize(idTag: string, type?: IdTokenType): Promise<AuthorizationInfo | undefined> {
    return this.active ? this.active.authorize(idTag, type) : Promise.resolve(undefined);
  }
}

/** A policy that reads, at each decision, the policy of the version in force (`current`). */
export function switchingPolicy(current: () => ChargingPolicy): ChargingPolicy {
  return {
    get transaction() { return current().transaction; },
    get authorization() { return current().authorization; },
    get metering() { return current().metering; },
    get retry() { return current().retry; },
  };
}
