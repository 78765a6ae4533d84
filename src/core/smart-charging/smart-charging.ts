import { EventEmitter } from 'node:events';
import type { Log } from '../../lib/log.js';
import type { Clock } from '../ports.js';
import { compositeSchedule, limitNow } from './composite.js';
import type { ActiveTransaction, ChargingProfile, ChargingProfilePurpose, ChargingRateUnit, CompositeSchedule, Electrical, InstalledProfile } from './types.js';

/** Where installed profiles are kept (SQLite in the agent, memory in tests and the fleet). */
export interface ChargingProfileStore {
  all(): InstalledProfile[];
  put(p: InstalledProfile): void;
  remove(chargingProfileIds: number[]): void;
}

/** A session as the ChargePoint names it: by its local id (none yet: a session that would start now). */
export interface SessionRef {
  localId?: string;
  /** Epoch ms: the anchor of Relative schedules. */
  startedAt: number;
}

/** What the ChargePoint asks of smart charging: the current limit on a connector, and when it changes. */
export interface ChargingLimits {
  limitAt(q: { connectorId: number; at: number; transaction?: SessionRef; sharedBy: number }): { limitA: number; nextChangeAt: number };
  /** Profiles changed: the ChargePoint applies the limits again. */
  onChange(listener: () => void): () => void;
}

export interface ClearCriteria {
  id?: number;
  connectorId?: number;
  chargingProfilePurpose?: ChargingProfilePurpose;
  stackLevel?: number;
}

export class MemoryChargingProfileStore implements ChargingProfileStore {
  private readonly items = new Map<number, InstalledProfile>();
  all() { return [...this.items.values()]; }
  put(p: InstalledProfile) { this.items.set(p.profile.chargingProfileId, p); }
  remove(ids: number[]) { for (const id of ids) this.items.delete(id); }
}

/**
 * The installed charging profiles of one charge point and the limits they give. Policy about
 * what a central system may install (stack levels, period counts, units) is the OCPP side's;
 * this keeps the profiles, applies the replacement rule and answers limits.
 */
export class SmartCharging implements ChargingLimits {
  private readonly events = new EventEmitter<{ change: [] }>();
  private readonly electrical: Map<number, Electrical>;

  constructor(private readonly o: {
    store: ChargingProfileStore;
    clock: Pick<Clock, 'now'>;
    /** Per connector id (0: the charge point as a whole). */
    electrical: Map<number, Electrical>;
    /** The protocol's transaction id of a session (a TxProfile names it), held by the version binding. */
    transactionIdOf?: (localId: string) => number | undefined;
    log: Log;
  }) {
    this.electrical = o.electrical;
  }

  profiles(): InstalledProfile[] {
    return this.o.store.all();
  }

  /**
   * Install a profile. It replaces one with the same chargingProfileId, or with the same
   * purpose and stackLevel on the same connector (§5.16). Returns the ids it replaced.
   */
  install(connectorId: number, profile: ChargingProfile): number[] {
    const replaced = this.o.store.all()
      .filter((ip) => ip.profile.chargingProfileId === profile.chargingProfileId
        || (ip.connectorId === connectorId && ip.profile.chargingProfilePurpose === profile.chargingProfilePurpose && ip.profile.stackLevel === profile.stackLevel))
      .map((ip) => ip.profile.chargingProfileId);
    if (replaced.length) this.o.store.remove(replaced);
    this.o.store.put({ connectorId, profile, installedAt: this.o.clock.now() });
    this.o.log.info('charging profile installed', {
      connectorId, chargingProfileId: profile.chargingProfileId, purpose: profile.chargingProfilePurpose, stackLevel: profile.stackLevel, replaced,
    });
    this.events.emit('change');
    return replaced;
  }

  /** Whether installing `profile` would replace an existing one (so it does not add to the count). */
  wouldReplace(connectorId: number, profile: ChargingProfile): boolean {
    return this.o.store.all().some((ip) => ip.profile.chargingProfileId === profile.chargingProfileId
      || (ip.connectorId === connectorId && ip.profile.chargingProfilePurpose === profile.chargingProfilePurpose && ip.profile.stackLevel === profile.stackLevel));
  }

  /** ClearChargingProfile: by id, or by every criterion given. Returns the ids removed. */
  clear(c: ClearCriteria): number[] {
    const hit = this.o.store.all().filter((ip) => {
      if (c.id !== undefined) return ip.profile.chargingProfileId === c.id;
      return (c.connectorId === undefined || ip.connectorId === c.connectorId)
        && (c.chargingProfilePurpose === undefined || ip.profile.chargingProfilePurpose === c.chargingProfilePurpose)
        && (c.stackLevel === undefined || ip.profile.stackLevel === c.stackLevel);
    }).map((ip) => ip.profile.chargingProfileId);
    if (hit.length) {
      this.o.store.remove(hit);
      this.o.log.info('charging profiles cleared', { ids: hit });
      this.events.emit('change');
    }
    return hit;
  }

  /** A transaction ended: its TxProfiles go (§3.13.2). */
  transactionEnded(connectorId: number): void {
    const ids = this.o.store.all().filter((ip) => ip.connectorId === connectorId && ip.profile.chargingProfilePurpose === 'TxProfile')
      .map((ip) => ip.profile.chargingProfileId);
    if (ids.length) {
      this.o.store.remove(ids);
      this.o.log.info('TxProfiles of an ended transaction removed', { connectorId, ids });
      this.events.emit('change');
    }
  }

  composite(q: { connectorId: number; durationS: number; unit: ChargingRateUnit; transaction?: ActiveTransaction; sharedBy?: number; startMs?: number }): CompositeSchedule {
    return compositeSchedule({
      profiles: this.o.store.all(), connectorId: q.connectorId, startMs: q.startMs ?? this.o.clock.now(), durationS: q.durationS, unit: q.unit,
      electrical: this.electricalOf(q.connectorId), transaction: q.transaction, sharedBy: q.sharedBy,
    });
  }

  limitAt(q: { connectorId: number; at: number; transaction?: SessionRef; sharedBy: number }): { limitA: number; nextChangeAt: number } {
    return limitNow({ profiles: this.o.store.all(), connectorId: q.connectorId, startMs: q.at, electrical: this.electricalOf(q.connectorId), transaction: this.transactionOf(q.transaction), sharedBy: q.sharedBy });
  }

  private transactionOf(ref: SessionRef | undefined): ActiveTransaction | undefined {
    if (!ref) return undefined;
    const transactionId = ref.localId !== undefined ? this.o.transactionIdOf?.(ref.localId) : undefined;
    return { transactionId, startedAt: ref.startedAt };
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private electricalOf(connectorId: number): Electrical {
    const e = this.electrical.get(connectorId);
    if (!e) throw new Error(`no connector ${connectorId}`);
    return e;
  }
}

/** Re-evaluate at a boundary no further than this ahead (timers beyond ~24.8 days misfire in Node). */
export const MAX_TIMER_MS = 86_400_000;

