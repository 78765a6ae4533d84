import { EventEmitter } from 'node:events';
import type { Log } from '../../lib/log.js';
import type { Clock } from '../ports.js';
import { compositeSchedule, limitNow } from './composite.js';
import { sameTarget, type ActiveTransaction, type CompositeSchedule, type Electrical, type InstalledLimit, type LimitProfile, type LimitPurpose, type LimitTarget, type RateUnit } from './types.js';

/** Where installed profiles are kept (SQLite in the agent, memory in tests and the fleet). */
export interface ChargingProfileStore {
  all(): InstalledLimit[];
  put(p: InstalledLimit): void;
  remove(profileIds: number[]): void;
}

/** A session as the ChargePoint names it: by its local id (none yet: a session that would start now). */
export interface SessionRef {
  localId?: string;
  /** Epoch ms: the anchor of Relative schedules. */
  startedAt: number;
}

/** What the ChargePoint asks of smart charging: the current limit on an EVSE, and when it changes. */
export interface ChargingLimits {
  limitAt(q: { evseId: number; at: number; transaction?: SessionRef; sharedBy: number }): { limitA: number; nextChangeAt: number };
  /** Profiles changed: the ChargePoint applies the limits again. */
  onChange(listener: () => void): () => void;
}

/** Which profiles to clear: by id, or by every criterion given. */
export interface ClearCriteria {
  id?: number;
  target?: LimitTarget;
  purpose?: LimitPurpose;
  stackLevel?: number;
}

/** What a limit means electrically on each EVSE and on the station as a whole. */
export interface StationElectrical {
  station: Electrical;
  evses: ReadonlyMap<number, Electrical>;
}

export class MemoryChargingProfileStore implements ChargingProfileStore {
  private readonly items = new Map<number, InstalledLimit>();
  all() { return [...this.items.values()]; }
  put(p: InstalledLimit) { this.items.set(p.profile.id, p); }
  remove(ids: number[]) { for (const id of ids) this.items.delete(id); }
}

const targetField = (t: LimitTarget): number | 'station' => (t.kind === 'station' ? 'station' : t.evseId);

/**
 * The installed charging profiles of one charge point and the limits they give. Policy about
 * what a central system may install (stack levels, period counts, units) is the version
 * binding's; this keeps the profiles, applies the replacement rule and answers limits.
 */
export class SmartCharging implements ChargingLimits {
  private readonly events = new EventEmitter<{ change: [] }>();

  constructor(private readonly o: {
    store: ChargingProfileStore;
    clock: Pick<Clock, 'now'>;
    electrical: StationElectrical;
    log: Log;
  }) {}

  profiles(): InstalledLimit[] {
    return this.o.store.all();
  }

  private enabled = true;

  /** Whether profiles limit the charging (2.0.1 SmartChargingCtrlr.Enabled; always on 1.6). */
  get isEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Smart charging switched on or off: off, no profile limits the charging or the composite
   * schedule (they stay installed, and limit again once it is switched back on).
   */
  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    this.o.log.info(on ? 'smart charging enabled' : 'smart charging disabled: no profile limits the charging');
    this.events.emit('change');
  }

  /** The profiles in force: every one installed, none while smart charging is disabled. */
  private inForce(): InstalledLimit[] {
    return this.enabled ? this.o.store.all() : [];
  }

  /**
   * The profiles `profile` would replace on `target`: the same id (1.6 §5.16, 2.0.1 K01.FR.05),
   * or the same purpose and stack level there (1.6 §5.16; 2.0.1 refuses an overlapping one
   * instead, K01.FR.06, and keeps the others: `sameStackLevel` false).
   */
  private replacedBy(target: LimitTarget, profile: Pick<LimitProfile, 'id' | 'purpose' | 'stackLevel'>, sameStackLevel = true): number[] {
    return this.o.store.all()
      .filter((ip) => ip.profile.id === profile.id
        || (sameStackLevel && sameTarget(ip.target, target) && ip.profile.purpose === profile.purpose && ip.profile.stackLevel === profile.stackLevel))
      .map((ip) => ip.profile.id);
  }

  /**
   * Install a profile where it applies. Returns the ids it replaced: the same id, and unless
   * `replaceSameStackLevel` is false, the same purpose and stack level on the target.
   */
  install(target: LimitTarget, profile: LimitProfile, o: { replaceSameStackLevel?: boolean } = {}): number[] {
    const replaced = this.replacedBy(target, profile, o.replaceSameStackLevel ?? true);
    if (replaced.length) this.o.store.remove(replaced);
    this.o.store.put({ target, profile, installedAt: this.o.clock.now() });
    this.o.log.info('charging profile installed', {
      target: targetField(target), profileId: profile.id, purpose: profile.purpose, stackLevel: profile.stackLevel, replaced,
    });
    this.events.emit('change');
    return replaced;
  }

  /** Whether installing `profile` would replace an existing one (so it does not add to the count). */
  wouldReplace(target: LimitTarget, profile: Pick<LimitProfile, 'id' | 'purpose' | 'stackLevel'>): boolean {
    return this.replacedBy(target, profile).length > 0;
  }

  /** Clear profiles: by id, or by every criterion given. Returns the ids removed. */
  clear(c: ClearCriteria): number[] {
    const hit = this.o.store.all().filter((ip) => {
      if (c.id !== undefined) return ip.profile.id === c.id;
      return (c.target === undefined || sameTarget(ip.target, c.target))
        && (c.purpose === undefined || ip.profile.purpose === c.purpose)
        && (c.stackLevel === undefined || ip.profile.stackLevel === c.stackLevel);
    }).map((ip) => ip.profile.id);
    if (hit.length) {
      this.o.store.remove(hit);
      this.o.log.info('charging profiles cleared', { ids: hit });
      this.events.emit('change');
    }
    return hit;
  }

  /** A session on an EVSE ended: the Transaction profiles there go (1.6 §3.13.2, 2.0.1 K01.FR.05). */
  transactionEnded(evseId: number): void {
    const ids = this.o.store.all().filter((ip) => ip.target.kind === 'evse' && ip.target.evseId === evseId && ip.profile.purpose === 'Transaction')
      .map((ip) => ip.profile.id);
    if (ids.length) {
      this.o.store.remove(ids);
      this.o.log.info('TxProfiles of an ended transaction removed', { evseId, ids });
      this.events.emit('change');
    }
  }

  composite(q: { target: LimitTarget; durationS: number; unit: RateUnit; transaction?: ActiveTransaction; sharedBy?: number; startMs?: number }): CompositeSchedule {
    return compositeSchedule({
      profiles: this.inForce(), target: q.target, startMs: q.startMs ?? this.o.clock.now(), durationS: q.durationS, unit: q.unit,
      electrical: this.electricalOf(q.target), transaction: q.transaction, sharedBy: q.sharedBy,
    });
  }

  limitAt(q: { evseId: number; at: number; transaction?: SessionRef; sharedBy: number }): { limitA: number; nextChangeAt: number } {
    const target: LimitTarget = { kind: 'evse', evseId: q.evseId };
    const transaction = q.transaction && { startedAt: q.transaction.startedAt, ...(q.transaction.localId !== undefined ? { sessionId: q.transaction.localId } : {}) };
    return limitNow({ profiles: this.inForce(), target, startMs: q.at, electrical: this.electricalOf(target), transaction, sharedBy: q.sharedBy });
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private electricalOf(target: LimitTarget): Electrical {
    if (target.kind === 'station') return this.o.electrical.station;
    const e = this.o.electrical.evses.get(target.evseId);
    if (!e) throw new Error(`no EVSE ${target.evseId}`);
    return e;
  }
}

/** Re-evaluate at a boundary no further than this ahead (timers beyond ~24.8 days misfire in Node). */
export const MAX_TIMER_MS = 86_400_000;

