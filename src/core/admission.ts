/**
 * Admission: who may start (or stop) where. A presented token or a remote start is authorised
 * (local list, cache, central system, offline rules), checked against reservations, and becomes
 * an authorisation waiting on a connector for a vehicle; a token of a running session, or of its
 * group, stops it. The central system's later verdicts on a token arrive here too.
 */
import { authorizeIdTag, localEntry, rememberVerdict, type AuthorizationDecision } from './authorization.js';
import type { EvseState, CoreBase, PendingAuthorization, ActiveSession } from './core-state.js';
import type { Metering } from './metering.js';
import type { ChargingPolicy } from './policy.js';
import type { AuthorizationData, AuthorizationInfo, EvseId, IdTokenType, PresentedToken, RemoteAuthorizer } from './ports.js';
import type { ReservationPolicy } from './reservations.js';
import type { Sessions } from './sessions.js';
import type { StatusBoard } from './status.js';

export class Admission {
  constructor(
    private readonly b: CoreBase,
    private readonly deps: {
      policy: ChargingPolicy;
      authData: AuthorizationData;
      remote: RemoteAuthorizer;
      statuses: StatusBoard;
      sessions: Sessions;
      meter: Metering;
      reservations?: ReservationPolicy;
      pseudonym: (idTag: string) => string;
      stopOnSecondPresentation: boolean;
    },
  ) {}

  /** An RFID card or a touchscreen code was presented. */
  async presentToken(presented: PresentedToken): Promise<AuthorizationDecision | 'stopped' | 'ignored'> {
    // The core decides by the token's id (a 1.6 idTag); its type is the reader's.
    const token = { idTag: presented.token.id, method: presented.method, evseId: presented.evseId };
    if (token.idTag.length > this.deps.policy.authorization.maxTokenChars) {
      this.b.log.warn('token too long for the protocol: ignored', { method: token.method, chars: token.idTag.length, maxChars: this.deps.policy.authorization.maxTokenChars });
      return 'ignored';
    }
    const customerRef = this.deps.pseudonym(token.idTag);
    const log = this.b.log.child({ customerRef, method: token.method });
    this.b.emit('token', { evseId: token.evseId, customerRef, method: token.method, at: this.b.clock.now() });
    const stopByTag = this.deps.stopOnSecondPresentation;
    const owner = this.findSessionOf(token.idTag, token.evseId);
    if (owner && stopByTag) {
      log.info('tag presented again: stopping its session', { evseId: owner.id });
      await this.deps.sessions.stop(owner, 'Local', token.idTag);
      return 'stopped';
    }
    // Another tag may stop a session of its group (the same groupId, OCPP 1.6 §3.5, §4.10),
    // or start one: either way it is authorised first (list, cache or Authorize.req), which is
    // how its groupId becomes known. Not asked when it could do neither.
    const groupSessions = stopByTag ? this.sessionsWithGroup(token.evseId) : [];
    // A master pass (C16) may stop transactions whoever started them: it is authorised while any runs.
    const masterPass = this.deps.policy.authorization.masterPassGroupId || undefined;
    const masterPassMayStop = masterPass !== undefined && this.runningSessions().length > 0;
    if (groupSessions.length === 0 && !masterPassMayStop && !this.pickEvseFor(token.evseId, token.idTag)) {
      log.info('tag presented but no connector can take a session');
      return 'ignored';
    }
    const decision = await this.authorize(token.idTag, presented.token.type);
    if (masterPass !== undefined && decision.accepted && decision.info.groupId === masterPass) {
      // C16: every transaction stops (stoppedReason MasterPass); a master pass never starts one.
      const running = this.runningSessions();
      log.info('master pass presented', { stopping: running.map((c) => c.id) });
      if (running.length === 0) return 'ignored';
      await Promise.all(running.map((c) => this.deps.sessions.stop(c, 'MasterPass', token.idTag)));
      return 'stopped';
    }
    const group = stopByTag ? this.sessionOfGroup(decision.info, token.evseId) : undefined;
    if (group) {
      log.info('tag of the same group presented: stopping its session', { evseId: group.id, source: decision.source });
      await this.deps.sessions.stop(group, 'Local', token.idTag);
      return 'stopped';
    }
    // Chosen again now the tag's groupId is known (a reservation may be its group's).
    const target = this.pickEvseFor(token.evseId, token.idTag, decision.info.groupId);
    if (!decision.accepted) {
      log.info('authorisation refused', { status: decision.info.status, source: decision.source });
      this.b.emit('auth-refused', { evseId: target?.id ?? token.evseId, customerRef, status: decision.info.status, source: decision.source });
      return decision;
    }
    if (!target) {
      log.info('tag authorised but no connector can take a session', { source: decision.source });
      return 'ignored';
    }
    const admitted = this.admit(target, token.idTag, decision.info.groupId);
    if (!admitted.allowed) {
      log.info('connector reserved for another tag', { evseId: target.id });
      this.b.emit('auth-refused', { evseId: target.id, customerRef, status: 'Reserved', source: 'reservation' });
      return { ...decision, accepted: false };
    }
    log.info('authorised', { evseId: target.id, source: decision.source });
    this.setPending(target, { idTag: token.idTag, method: token.method, info: decision.info, offline: decision.offline, reservationId: admitted.reservationId, idTokenType: presented.token.type });
    return decision;
  }

  /** A remote start (`remoteStartId`: the central system's id of it, recorded with the session). Returns whether it was accepted. */
  async remoteStart(idTag: string, evseId?: EvseId, remoteStartId?: number, type?: IdTokenType, groupId?: string): Promise<boolean> {
    let target = this.pickEvseFor(evseId, idTag, groupId);
    if (!target || target.session || target.pending) return false;
    // The central system's group for the start (2.0.1 groupIdToken): a reservation of that group is the tag's.
    let info: AuthorizationInfo = { status: 'Accepted', ...(groupId !== undefined ? { groupId } : {}) };
    let offline = false;
    if (this.deps.policy.transaction.authorizeRemoteStart) {
      const decision = await this.authorize(idTag, type);
      if (!decision.accepted || this.isMasterPass(decision.info.groupId)) return false;
      info = decision.info.groupId === undefined && groupId !== undefined ? { ...decision.info, groupId } : decision.info;
      offline = decision.offline;
      // Chosen again now the tag's groupId is known (a reservation may be its group's).
      target = this.pickEvseFor(evseId, idTag, info.groupId);
      if (!target || target.session || target.pending) return false;
    }
    // A master pass never starts a transaction (C16), not even remotely: its group as far as it is known here.
    if (this.isMasterPass(info.groupId ?? this.localEntryOf(idTag)?.info.groupId)) return false;
    const admitted = this.admit(target, idTag, info.groupId);
    if (!admitted.allowed) return false;
    this.setPending(target, {
      idTag, method: 'app', info, offline, reservationId: admitted.reservationId, ...(remoteStartId !== undefined ? { remoteStartId } : {}), ...(type ? { idTokenType: type } : {}),
    });
    return true;
  }

  /** A vehicle plugged into a free-vend connector: authorised as the free-vend tag. */
  freeVend(c: EvseState, idTag: string): void {
    this.setPending(c, { idTag, method: 'free', info: { status: 'Accepted' }, offline: false });
  }

  /** The central system's late verdict on a tag that started a session (1.6 StartTransaction.conf). */
  async transactionConfirmed(localId: string, info: AuthorizationInfo, idTag: string | null): Promise<void> {
    if (idTag) this.tagVerdict(idTag, info);
    const c = [...this.b.evses.values()].find((x) => x.session?.record.localId === localId);
    if (!c?.session) return;
    // An answer without groupId does not say the tag has none: keep the one Authorize gave.
    if (info.groupId) c.session.groupId = info.groupId;
    if (info.status === 'Accepted') return;
    this.b.log.warn('central system refused the tag of a running session', { evseId: c.id, localId, status: info.status });
    const policy = this.deps.policy.transaction;
    if (policy.stopOnInvalidToken) {
      await this.deps.sessions.stop(c, 'DeAuthorized');
    } else {
      const capWh = policy.maxEnergyOnInvalidWh;
      if (capWh >= 0) this.deps.meter.capEnergy(c, capWh);
    }
  }

  /** The central system's word on a tag in a transaction answer: into the authorisation cache. */
  tagVerdict(idTag: string, info: AuthorizationInfo): void {
    rememberVerdict({ policy: this.deps.policy.authorization, data: this.deps.authData, now: () => this.b.clock.now() }, idTag, info, 'transaction');
  }

  private isMasterPass(groupId: string | undefined): boolean {
    const masterPass = this.deps.policy.authorization.masterPassGroupId;
    return !!masterPass && groupId === masterPass;
  }

  private localEntryOf(idTag: string): ReturnType<typeof localEntry> {
    return localEntry(idTag, { policy: this.deps.policy.authorization, data: this.deps.authData, now: () => this.b.clock.now() });
  }

  /** Running sessions, not already stopping. */
  private runningSessions(): EvseState[] {
    return [...this.b.evses.values()].filter((c) => c.session && !c.session.stopping);
  }

  private authorize(idTag: string, type?: IdTokenType): Promise<AuthorizationDecision> {
    return authorizeIdTag(idTag, {
      policy: this.deps.policy.authorization, data: this.deps.authData, remote: this.deps.remote, now: () => this.b.clock.now(),
    }, type);
  }

  private findSessionOf(idTag: string, evseId?: EvseId): EvseState | undefined {
    for (const c of this.b.evses.values()) {
      if (!c.session || c.session.stopping) continue;
      if (evseId !== undefined && c.id !== evseId) continue;
      if (c.session.record.idTag === idTag) return c;
    }
    return undefined;
  }

  /** Running sessions (on `evseId`, if given) whose tag belongs to a group. */
  private sessionsWithGroup(evseId?: EvseId): EvseState[] {
    return [...this.b.evses.values()].filter((c) => c.session && !c.session.stopping
      && (evseId === undefined || c.id === evseId) && this.groupOf(c.session) !== undefined);
  }

  /** The running session a tag with this authorisation may stop as a member of its group. */
  private sessionOfGroup(info: AuthorizationInfo, evseId?: EvseId): EvseState | undefined {
    // A valid tag of the group: Accepted, or ConcurrentTx (valid, its group is in a transaction).
    if (!info.groupId || (info.status !== 'Accepted' && info.status !== 'ConcurrentTx')) return undefined;
    return this.sessionsWithGroup(evseId).find((c) => this.groupOf(c.session!) === info.groupId);
  }

  /**
   * The groupId of a session's tag: as its authorisation gave it, or else (a remote start, a
   * session resumed after a restart) from the local list or the cache.
   */
  private groupOf(s: ActiveSession): string | undefined {
    if (s.groupId) return s.groupId;
    if (!s.record.idTag) return undefined;
    return this.localEntryOf(s.record.idTag)?.info.groupId;
  }

  private pickEvseFor(evseId?: EvseId, idTag?: string, groupId?: string): EvseState | undefined {
    const statuses = this.deps.statuses;
    if (evseId !== undefined) {
      const c = this.b.evses.get(evseId);
      return c && statuses.usable(c) ? c : undefined;
    }
    let candidates = [...this.b.evses.values()].filter((c) => statuses.usable(c));
    const res = this.deps.reservations;
    if (res && idTag !== undefined) {
      // The tag's own reservation first, then connectors free for anyone; one reserved for
      // someone else only as a last resort (the tag may still match by its groupId).
      const free = statuses.freeEvseIds();
      const rank = (c: EvseState) => {
        const a = res.admission(c.id, free, idTag, groupId);
        return a.reservationId !== undefined ? 0 : a.allowed ? 1 : 2;
      };
      const best = Math.min(...candidates.map(rank));
      candidates = candidates.filter((c) => rank(c) === best);
    }
    // A plugged connector waiting for authorisation first, then a free one.
    return candidates.find((c) => c.vehicle !== 'disconnected' && !c.pending) ?? candidates.find((c) => !c.pending);
  }

  private admit(c: EvseState, idTag: string, groupId?: string): { allowed: boolean; reservationId?: number } {
    return this.deps.reservations?.admission(c.id, this.deps.statuses.freeEvseIds(), idTag, groupId) ?? { allowed: true };
  }

  private setPending(c: EvseState, p: Omit<PendingAuthorization, 'expires'>): void {
    c.dropPending();
    const timeoutS = this.deps.policy.transaction.connectionTimeoutS;
    const expires = this.b.clock.setTimeout(() => {
      if (c.pending?.idTag === p.idTag && !c.session) {
        this.b.log.info('no vehicle connected in time: authorisation dropped', { evseId: c.id });
        c.pending = undefined;
        this.deps.statuses.refresh(c);
      }
    }, timeoutS * 1000);
    c.pending = { ...p, expires };
    this.deps.statuses.refresh(c);
    if (c.vehicle === 'disconnected') c.hw.powerPath.invite();
    void this.deps.sessions.maybeStart(c);
  }
}
