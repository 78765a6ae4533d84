/**
 * The station renews its own certificate before it expires (2.0.1 A03; the 1.6 security
 * whitepaper's charge-point-initiated certificate update): checked each time the central system
 * accepts the station, then daily while it stays accepted. What "renew" sends is the binding's
 * (2.0.1 SignCertificate with its retries, 1.6 SignCertificate).
 */
import type { Clock, Timer } from '../core/ports.js';
import type { Log } from '../lib/log.js';
import type { CertificateService } from './certificates.js';

/** The station renews its certificate this long before it expires (libocpp's default threshold). */
export const RENEW_BEFORE_EXPIRY_MS = 30 * 86_400_000;
const DAY_MS = 86_400_000;

export function renewBeforeExpiry(
  link: { on(event: 'state', fn: (s: string) => void): unknown },
  o: {
    certificates: Pick<CertificateService, 'stationCertificateValidTo'>;
    clock: Pick<Clock, 'setTimeout' | 'now'>;
    log: Log;
    /** Whether a renewal may start now (over TLS only, none already waiting for its certificate). */
    mayRenew(): boolean;
    renew(): Promise<unknown>;
  },
): void {
  let timer: Timer | undefined;
  const check = () => {
    const validTo = o.certificates.stationCertificateValidTo();
    if (validTo === undefined || !o.mayRenew()) return;
    if (validTo - o.clock.now() > RENEW_BEFORE_EXPIRY_MS) return;
    o.log.info('station certificate expires soon: asking for a new one', { validTo: new Date(validTo).toISOString() });
    void o.renew().catch((err) => o.log.warn('certificate renewal failed', { err }));
  };
  const daily = () => {
    check();
    timer = o.clock.setTimeout(daily, DAY_MS);
  };
  link.on('state', (s) => {
    timer?.cancel();
    timer = undefined;
    if (s === 'accepted') daily();
  });
}
