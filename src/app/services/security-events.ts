import type { Clock } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { SecurityEventPayload } from '../../store/security-events.js';

/** Where security events go: the security log and the outbox (SqliteSecurityEvents). */
export interface SecurityEventStore {
  /** Log and queue; false when an identical event is still queued (logged all the same). */
  record(event: SecurityEventPayload): boolean;
}

export interface SecurityEventRecorderOptions {
  store: SecurityEventStore;
  clock: Clock;
  log: Log;
  /** An event was queued: wake the link's outbox delivery. */
  onQueued?: () => void;
  /**
   * How loud the log line of an event is (default: a start is routine, info; every other event a
   * warning). A fleet logs them at debug: its own scenario causes them.
   */
  logLevel?: (type: string) => 'debug' | 'info' | 'warn';
}

const defaultLevel = (type: string): 'info' | 'warn' => (type === 'StartupOfTheDevice' ? 'info' : 'warn');

/**
 * A charge point's security events (1.6 security whitepaper, 2.0.1 A04): logged, kept in the
 * security log and queued for the central system through the outbox, where each version's link
 * delivers them as SecurityEventNotification under that version's name (v16/security.ts,
 * v201/security-events.ts). The agent's CsmsSecurity and every simulated charger of a fleet
 * record through this; it never fails its caller.
 */
export class SecurityEventRecorder {
  onQueued?: () => void;

  constructor(private readonly o: SecurityEventRecorderOptions) {
    this.onQueued = o.onQueued;
  }

  record(type: string, techInfo?: string): void {
    const level = (this.o.logLevel ?? defaultLevel)(type);
    this.o.log[level]('security event', { securityEvent: type, ...(techInfo ? { techInfo } : {}) });
    try {
      const queued = this.o.store.record({ type, timestamp: this.o.clock.now(), clockTrusted: this.o.clock.trusted(), ...(techInfo ? { techInfo } : {}) });
      if (queued) this.onQueued?.();
    } catch (err) {
      this.o.log.error('security event could not be stored', { securityEvent: type, err });
    }
  }
}
