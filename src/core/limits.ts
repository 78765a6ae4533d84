/**
 * Smart-charging limits applied to the power path: what each running session is offered, shared
 * with the other sessions, re-applied when the limit next changes (a timer, no polling).
 */
import type { EvseState, CoreBase } from './core-state.js';
import type { Faults } from './faults.js';
import { MAX_TIMER_MS, type ChargingLimits, type SessionRef } from './smart-charging/index.js';
import type { StatusBoard } from './status.js';

export class Limits {
  constructor(
    private readonly b: CoreBase,
    private readonly deps: {
      chargingLimits?: ChargingLimits;
      statuses: StatusBoard;
      faults: Faults;
    },
  ) {}

  /**
   * Offer the connector's current: its maximum, capped by the smart-charging limit in force, and
   * wake again when that limit next changes (no polling). A limit of 0 suspends (SuspendedEVSE).
   */
  async energize(c: EvseState): Promise<void> {
    const s = c.session;
    c.limitTimer?.cancel();
    if (!s || s.stopping) return;
    let limitA = c.hw.maxCurrentA;
    if (this.deps.chargingLimits) {
      try {
        const lim = this.limitNow(c, { localId: s.record.localId, startedAt: s.record.startedAt });
        limitA = lim.limitA;
        if (this.b.running()) c.limitTimer = this.b.clock.setTimeout(() => void this.energize(c), Math.min(MAX_TIMER_MS, Math.max(0, lim.nextChangeAt - lim.at)));
      } catch (err) {
        this.b.log.error('charging limit could not be computed: offering the connector maximum', { evseId: c.id, err });
      }
    }
    if (s.suspendedByEvse || s.offeredA === limitA) return;
    const fromA = s.offeredA;
    if (fromA !== undefined) this.b.log.info('charging limit applied', { evseId: c.id, fromA, toA: limitA });
    s.offeredA = limitA;
    if (fromA !== undefined) this.onLimitChanged?.(c, fromA, limitA);
    try {
      await c.hw.powerPath.offer(limitA, limitA <= 0 ? { suspend: true } : undefined);
      this.deps.faults.clear(c, 'power-switch');
    } catch (err) {
      this.b.log.error('power path refused to energise', { evseId: c.id, err });
      this.deps.faults.set(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
    }
    this.deps.statuses.refresh(c);
  }

  /** Told when the limit offered to a running session changed (not its first offer): the metering records it. */
  onLimitChanged?: (c: EvseState, fromA: number, toA: number) => void;

  /** Smart-charging profiles or the sessions sharing the station changed: offer again. */
  applyAll(): void {
    if (!this.deps.chargingLimits) return;
    for (const c of this.b.evses.values()) if (c.session) void this.energize(c);
  }

  /**
   * What the connector offers the vehicle now (Current.Offered, Power.Offered): the limit in
   * force in a session (0 while suspended by the charger), at a session's start (`startingNow`)
   * the limit that will apply, and outside a session nothing (0).
   */
  offered(c: EvseState, startingNow = false): { currentA: number; powerW: number } {
    const s = c.session;
    let currentA = 0;
    if (s && !s.stopping) currentA = s.suspendedByEvse ? 0 : s.offeredA ?? this.limitBeforeFirstOffer(c);
    else if (startingNow) currentA = this.limitBeforeFirstOffer(c);
    const powerW = Math.min(c.hw.maxPowerW, currentA * c.hw.nominalVoltageV * c.hw.phases);
    return { currentA: Math.round(currentA * 10) / 10, powerW: Math.round(powerW) };
  }

  /** The connector's maximum, capped by the smart-charging limit a new session would get now. */
  private limitBeforeFirstOffer(c: EvseState): number {
    if (!this.deps.chargingLimits) return c.hw.maxCurrentA;
    try {
      return this.limitNow(c, { startedAt: this.b.clock.now() }).limitA;
    } catch {
      // energize() logs it when it applies the limit.
      return c.hw.maxCurrentA;
    }
  }

  /**
   * The connector's maximum capped by the smart-charging limit in force for it now, shared with
   * the other running sessions, and when that limit next changes. Throws when it cannot be computed.
   */
  private limitNow(c: EvseState, transaction: SessionRef): { limitA: number; at: number; nextChangeAt: number } {
    const at = this.b.clock.now();
    const sharedBy = [...this.b.evses.values()].filter((x) => x !== c && x.session && !x.session.stopping).length + 1;
    const lim = this.deps.chargingLimits!.limitAt({ evseId: c.id, at, sharedBy, transaction });
    return { limitA: Math.min(c.hw.maxCurrentA, lim.limitA), at, nextChangeAt: lim.nextChangeAt };
  }
}
