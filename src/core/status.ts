/**
 * Connector status derivation: from availability, vehicle, authorisation, session, faults and
 * reservations to a status and error code, and the status events when they change.
 */
import type { ConnectorState, CoreBase, StatusChange } from './core-state.js';
import type { ConnectorStatus, FaultReport } from './ports.js';
import type { ReservationPolicy } from './reservations.js';

export class StatusBoard {
  constructor(private readonly b: CoreBase, private readonly reservations?: ReservationPolicy) {}

  /** A connector's status now; 0 the station's. */
  status(connectorId: number, connector: ConnectorState | undefined): StatusChange {
    const at = this.b.clock.now();
    if (connectorId === 0) {
      const fault = [...this.b.station.faults.values()][0];
      return { connectorId: 0, status: this.stationStatus(), errorCode: fault?.errorCode ?? 'NoError', info: fault?.info, at };
    }
    const c = connector!;
    const fault = [...c.faults.values()][0];
    return { connectorId, status: this.derive(c), errorCode: fault?.errorCode ?? 'NoError', info: fault?.info, at };
  }

  /** Whether a new session may start on the connector (free, operative, not faulted). */
  usable(c: ConnectorState): boolean {
    return !c.session && !c.starting && c.availability === 'Operative' && c.faults.size === 0 && !this.blockingStationFault() && !c.finishing;
  }

  /** Connectors anyone may use now (for reservations of connector 0). */
  freeConnectorIds(): number[] {
    return [...this.b.connectors.values()].filter((c) => this.usable(c) && !c.pending).map((c) => c.id);
  }

  /**
   * A station fault that stops charging (the store). A dead reader or screen does not:
   * remote starts still work; it shows as connector 0's errorCode (ReaderFailure) while Available.
   */
  blockingStationFault(): FaultReport | undefined {
    for (const f of this.b.station.faults.values()) if (f.errorCode !== 'ReaderFailure') return f;
    return undefined;
  }

  /** Emit the connector's status if it changed. */
  refresh(c: ConnectorState): void {
    const status = this.derive(c);
    const fault = [...c.faults.values()][0] ?? this.blockingStationFault();
    const errorCode = fault?.errorCode ?? 'NoError';
    if (status === c.lastStatus && errorCode === c.lastErrorCode) return;
    c.lastStatus = status;
    c.lastErrorCode = errorCode;
    if (this.b.running()) this.b.emit('status', { connectorId: c.id, status, errorCode, info: fault?.info, at: this.b.clock.now() });
    // A connector-0 reservation holds whichever connectors are left free: the others may change too.
    if (this.reservations) for (const o of this.b.connectors.values()) if (o !== c) this.refresh(o);
  }

  /** Emit the station's status if it changed, then every connector's. */
  refreshStation(): void {
    const now = this.status(0, undefined);
    const key = `${now.status}/${now.errorCode}`;
    if (key !== this.b.station.lastStatusKey && this.b.running()) {
      this.b.station.lastStatusKey = key;
      this.b.emit('status', now);
    }
    for (const c of this.b.connectors.values()) this.refresh(c);
  }

  private stationStatus(): ConnectorStatus {
    if (this.blockingStationFault()) return 'Faulted';
    return this.b.station.availability === 'Inoperative' ? 'Unavailable' : 'Available';
  }

  private derive(c: ConnectorState): ConnectorStatus {
    if (c.faults.size > 0 || this.blockingStationFault()) return 'Faulted';
    const s = c.session;
    if (s) {
      // While a session is being stopped its status holds until Finishing/Available.
      if (s.stopping && c.lastStatus) return c.lastStatus;
      if (s.suspendedByEvse || s.offeredA === 0) return 'SuspendedEVSE';
      if (c.vehicle === 'charging') return 'Charging';
      return 'SuspendedEV';
    }
    if (c.availability === 'Inoperative') return 'Unavailable';
    if (!c.pending && !c.finishing && this.reservations?.holding(c.id, this.freeConnectorIds())) return 'Reserved';
    if (c.vehicle !== 'disconnected') return c.finishing ? 'Finishing' : 'Preparing';
    if (c.pending) return 'Preparing';
    return 'Available';
  }
}
