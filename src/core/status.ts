/**
 * Connector condition: from availability, vehicle, authorisation, session, faults and
 * reservations to the core's own condition of each connector and of the station (availability,
 * charging state, fault, reservation), and the status events when it changes. A version binding
 * derives its protocol's status from it (src/ocpp/v16/mapping.ts).
 */
import type { EvseState, CoreBase, StatusChange } from './core-state.js';
import type { ChargingState, Condition, EvseCondition, EvseId, FaultReport, StationCondition } from './ports.js';
import { ONLY_CONNECTOR_ID } from './ports.js';
import type { ReservationPolicy } from './reservations.js';

export class StatusBoard {
  constructor(private readonly b: CoreBase, private readonly reservations?: ReservationPolicy) {}

  /**
   * An EVSE's condition now. The fault it names is the EVSE's own (a station fault that stops
   * charging makes it faulted, and is named in the status events).
   */
  evseCondition(c: EvseState): StatusChange {
    return this.derive(c, firstOf(c.faults));
  }

  /** Whether a new session may start on the connector (free, operative, not faulted). */
  usable(c: EvseState): boolean {
    return !c.session && !c.starting && c.availability === 'Operative' && c.faults.size === 0 && !this.blockingStationFault() && !c.finishing;
  }

  /** EVSEs anyone may use now (for reservations of any EVSE). */
  freeEvseIds(): EvseId[] {
    return [...this.b.evses.values()].filter((c) => this.usable(c) && !c.pending).map((c) => c.id);
  }

  /**
   * A station fault that stops charging (the store). A dead reader or screen does not:
   * remote starts still work; it shows as the station's fault while it is not faulted.
   */
  blockingStationFault(): FaultReport | undefined {
    for (const f of this.b.station.faults.values()) if (f.errorCode !== 'ReaderFailure') return f;
    return undefined;
  }

  /** Emit the connector's condition if it changed. */
  refresh(c: EvseState): void {
    const condition = this.derive(c, firstOf(c.faults) ?? this.blockingStationFault());
    c.lastCondition = condition;
    if (c.lastEmitted && sameCondition(condition, c.lastEmitted)) return;
    c.lastEmitted = condition;
    if (this.b.running()) this.b.emit('status', condition);
    // An EVSE that became inoperative loses its reservations (after its status went out).
    if ((condition.faulted || condition.availability !== 'Operative') && this.b.running()) this.reservations?.evseInoperative?.(c.id);
    // A reservation of any EVSE holds whichever connectors are left free: the others may change too.
    if (this.reservations) for (const o of this.b.evses.values()) if (o !== c) this.refresh(o);
  }

  /** Emit the station's condition if it changed, then every connector's. */
  refreshStation(): void {
    const now = this.stationCondition();
    const last = this.b.station.lastCondition;
    if (!(last && sameCondition(now, last)) && this.b.running()) {
      this.b.station.lastCondition = now;
      this.b.emit('station-status', now);
    }
    for (const c of this.b.evses.values()) this.refresh(c);
  }

  /** The conditions last announced (the station's, and each EVSE's), for a listener that joins late. */
  announced(): { station?: StationCondition; evses: EvseCondition[] } {
    const station = this.b.station.lastCondition;
    const evses = [...this.b.evses.values()].flatMap((c) => (c.lastCondition ? [c.lastCondition] : []));
    return { ...(station ? { station } : {}), evses };
  }

  /** The station's condition now: its own availability and faults. */
  stationCondition(): StationCondition {
    const fault = firstOf(this.b.station.faults);
    return {
      station: true, availability: this.b.station.availability, chargingState: 'Idle', faulted: Boolean(this.blockingStationFault()),
      ...(fault ? { fault: faultOf(fault) } : {}), reserved: false, at: this.b.clock.now(),
    };
  }

  /** One object per call: this runs at every meter reading of every EVSE of a fleet. */
  private derive(c: EvseState, fault: FaultReport | undefined): EvseCondition {
    const s = c.session;
    const faulted = c.faults.size > 0 || Boolean(this.blockingStationFault());
    // While a session is being stopped its condition holds until Finishing/Idle (a fault shows at once).
    const held = s?.stopping ? c.lastCondition : undefined;
    const condition: EvseCondition = {
      evseId: c.id, connectorId: ONLY_CONNECTOR_ID,
      availability: held ? held.availability : c.availability,
      chargingState: held ? held.chargingState : this.chargingState(c),
      faulted: held ? faulted || held.faulted : faulted,
      reserved: held ? held.reserved : !s && !c.pending && !c.finishing && Boolean(this.reservations?.holding(c.id, this.freeEvseIds())),
      at: this.b.clock.now(),
    };
    if (c.scheduledAvailability) condition.scheduledAvailability = c.scheduledAvailability;
    if (fault) condition.fault = faultOf(fault);
    return condition;
  }

  /** An EVSE's charging state now (its session's, or why it has none). */
  chargingStateOf(c: EvseState): ChargingState {
    return this.chargingState(c);
  }

  private chargingState(c: EvseState): ChargingState {
    const s = c.session;
    if (s) {
      if (s.suspendedByEvse || s.offeredA === 0) return 'SuspendedEVSE';
      if (c.vehicle === 'charging') return 'Charging';
      return 'SuspendedEV';
    }
    if (c.vehicle !== 'disconnected') return c.finishing ? 'Finishing' : c.pending ? 'Authorized' : 'EVConnected';
    if (c.pending) return 'Authorized';
    return 'Idle';
  }
}

function faultOf(f: FaultReport): { errorCode: FaultReport['errorCode']; info?: string } {
  return { errorCode: f.errorCode, ...(f.info !== undefined ? { info: f.info } : {}) };
}

function firstOf<V>(m: ReadonlyMap<string, V>): V | undefined {
  for (const v of m.values()) return v;
  return undefined;
}

/** Whether two conditions say the same (their times aside): a status event only when they do not. */
function sameCondition(a: Condition, b: Condition): boolean {
  return a.availability === b.availability && a.scheduledAvailability === b.scheduledAvailability && a.chargingState === b.chargingState
    && a.faulted === b.faulted && a.reserved === b.reserved && a.fault?.errorCode === b.fault?.errorCode && a.fault?.info === b.fault?.info;
}
