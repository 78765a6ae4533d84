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
    const own = [...c.faults.values()][0];
    return this.derive(c, own);
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
    const fault = [...c.faults.values()][0] ?? this.blockingStationFault();
    const condition = this.derive(c, fault);
    const key = conditionKey(condition);
    c.lastCondition = condition;
    if (key === c.lastConditionKey) return;
    c.lastConditionKey = key;
    if (this.b.running()) this.b.emit('status', condition);
    // A reservation of any EVSE holds whichever connectors are left free: the others may change too.
    if (this.reservations) for (const o of this.b.evses.values()) if (o !== c) this.refresh(o);
  }

  /** Emit the station's condition if it changed, then every connector's. */
  refreshStation(): void {
    const now = this.stationCondition();
    const key = conditionKey(now);
    if (key !== this.b.station.lastConditionKey && this.b.running()) {
      this.b.station.lastConditionKey = key;
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
    const fault = [...this.b.station.faults.values()][0];
    return {
      station: true, availability: this.b.station.availability, chargingState: 'Idle', faulted: Boolean(this.blockingStationFault()),
      ...(fault ? { fault: faultOf(fault) } : {}), reserved: false, at: this.b.clock.now(),
    };
  }

  private derive(c: EvseState, fault: FaultReport | undefined): EvseCondition {
    const s = c.session;
    const faulted = c.faults.size > 0 || Boolean(this.blockingStationFault());
    const base = {
      evseId: c.id, connectorId: ONLY_CONNECTOR_ID, availability: c.availability, ...(c.scheduledAvailability ? { scheduledAvailability: c.scheduledAvailability } : {}),
      ...(fault ? { fault: faultOf(fault) } : {}), at: this.b.clock.now(),
    };
    // While a session is being stopped its condition holds until Finishing/Idle (a fault shows at once).
    const held = s?.stopping ? c.lastCondition : undefined;
    if (held) return { ...base, availability: held.availability, chargingState: held.chargingState, faulted: faulted || held.faulted, reserved: held.reserved };
    const reserved = !s && !c.pending && !c.finishing && Boolean(this.reservations?.holding(c.id, this.freeEvseIds()));
    return { ...base, chargingState: this.chargingState(c), faulted, reserved };
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

/** What a status event is about (not its time). */
function conditionKey(c: Condition): string {
  return JSON.stringify([c.availability, c.scheduledAvailability ?? null, c.chargingState, c.faulted, c.fault?.errorCode ?? null, c.fault?.info ?? null, c.reserved]);
}
