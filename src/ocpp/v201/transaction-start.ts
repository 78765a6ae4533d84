/**
 * TxCtrlr.TxStartPoint (E01–E03): when the 2.0.1 transaction begins, decided by this binding from
 * the core's neutral facts (an EVSE's condition: a vehicle connected without an authorisation, an
 * authorisation waiting for the vehicle; a session opened). The core's session still opens when
 * both are there (the power path closes); a transaction that begins before it, at EVConnected
 * (the cable before the card) or Authorized (the card before the cable), is opened here in the
 * store (its Started queued, durable) and the session that opens next on the EVSE continues it
 * (same transactionId, the next seqNo: its opening becomes an Updated). Such a transaction that
 * ends before any session (the cable pulled before a card, the authorisation expired before a
 * cable) is closed with its Ended. PowerPathClosed: the session's opening is the Started.
 * The central system's calls know such a transaction (EarlyTransactions: RequestStopTransaction,
 * GetTransactionStatus, RequestStartTransaction in incoming.ts). This runs with the 2.0.1 link:
 * with several versions offered, from the first connection that selects 2.0.1; a condition that
 * began before (the cable already in) is taken as it is then, at start(), the Started timed when
 * the vehicle connected.
 * ParkingBayOccupancy, DataSigned and EnergyTransfer are not honoured (no bay sensor, no signed
 * meter; EnergyTransfer is not implemented): SetVariables refuses them (device-model.ts).
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { EvseCondition, EvseId, SessionStartCause } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { ConfigurationStore, TransactionRefs } from '../store-ports.js';
import { MemoryVariableStore } from './device-model.js';

/** TxCtrlr.TxStartPoint as settingsVariableStore keeps it (index.ts). */
export const TX_START_POINT_KEY = `ocpp2.0.1:${MemoryVariableStore.key({ component: 'TxCtrlr', variable: 'TxStartPoint', attribute: 'Actual' })}`;
export const DEFAULT_TX_START_POINTS = ['PowerPathClosed'];

export const txStartPoints = (settings: Pick<ConfigurationStore, 'list'>): string[] => {
  const stored = settings.list(TX_START_POINT_KEY);
  return stored.length ? stored : DEFAULT_TX_START_POINTS;
};

export interface TransactionStartDeps {
  chargePoint: Pick<ChargePoint, 'session' | 'pendingAuthorization' | 'lastReading' | 'evseConditions' | 'evseCondition' | 'withdrawAuthorization' | 'vehicleConnectedAt' | 'on' | 'off'>;
  ledger: TransactionRefs;
  settings: Pick<ConfigurationStore, 'list'>;
  clock: { now(): number; trusted(): boolean };
  log: Log;
  /** New events are in the queue: deliver. */
  queued: () => void;
}

/** What the central system's calls need of the transactions begun before their session (incoming.ts). */
export interface EarlyTransactions {
  /** The transaction open without a session on an EVSE (its transactionId), if any. */
  openOn(evseId: EvseId): string | undefined;
  /** Whether a transaction with this id is open without a session (E14 ongoingIndicator). */
  ongoing(transactionId: string): boolean;
  /** F03 for a transaction without a session: Ended (Remote) now; whether it was open here. */
  stopRemotely(transactionId: string): boolean;
}

export class TransactionStartPoints implements EarlyTransactions {
  /**
   * EVSEs whose early transaction the central system stopped while the cause is still there (the
   * cable in): none begins again until it has gone (the cable pulled), or a session has run.
   */
  private readonly stoppedUntilIdle = new Set<EvseId>();

  constructor(private readonly d: TransactionStartDeps) {}

  openOn(evseId: EvseId): string | undefined {
    return this.d.ledger.openedTransaction?.(evseId)?.localId;
  }

  ongoing(transactionId: string): boolean {
    return !!this.d.ledger.openedTransactions?.().some((t) => t.localId === transactionId);
  }

  stopRemotely(transactionId: string): boolean {
    const open = this.d.ledger.openedTransactions?.().find((t) => t.localId === transactionId);
    if (!open || !this.d.ledger.closeOpenedTransaction || this.d.chargePoint.session(open.evseId)) return false;
    const pending = this.d.chargePoint.pendingAuthorization(open.evseId);
    const state = this.d.chargePoint.evseCondition(open.evseId).chargingState;
    const vehicle = pending ? pending.vehicleConnected : state !== 'Idle' && state !== 'Authorized';
    this.close(open.evseId, open.localId, 'Remote', vehicle ? 'EVConnected' : 'Idle');
    if (vehicle) this.stoppedUntilIdle.add(open.evseId);
    // The authorisation that began it (a card, a remote start) goes with it: no session takes it up later.
    if (pending) this.d.chargePoint.withdrawAuthorization(open.evseId);
    return true;
  }

  /** Watch the EVSEs; settle the transactions the last run left open without a session. */
  start(): void {
    this.d.chargePoint.on('status', this.onStatus);
    if (!this.d.ledger.openedTransactions) return;
    for (const c of this.d.chargePoint.evseConditions()) this.onStatus(c, true);
  }

  stop(): void {
    this.d.chargePoint.off('status', this.onStatus);
  }

  private readonly onStatus = (s: EvseCondition, atStart = false): void => {
    try {
      this.decide(s, atStart);
    } catch (err) {
      this.d.log.error('transaction start point not recorded', { evseId: s.evseId, err });
    }
  };

  /** `atStart`: the last run's transactions, whose authorisation did not outlive it (ended PowerLoss). */
  private decide(s: EvseCondition, atStart: boolean): void {
    const { ledger, chargePoint } = this.d;
    if (!ledger.openTransaction || !ledger.openedTransaction || !ledger.closeOpenedTransaction) return;
    // A session runs (it took the open transaction, if any): its own events follow.
    if (chargePoint.session(s.evseId)) {
      this.stoppedUntilIdle.delete(s.evseId);
      return;
    }
    const open = ledger.openedTransaction(s.evseId);
    const pending = chargePoint.pendingAuthorization(s.evseId);
    if (!open && this.stoppedUntilIdle.has(s.evseId)) {
      // Stopped by the central system: nothing begins again before the vehicle has left.
      if (s.chargingState === 'Idle' && !pending) this.stoppedUntilIdle.delete(s.evseId);
      return;
    }
    if (open) {
      // Ended before a session: the vehicle left (EVConnected), or the authorisation went without a vehicle (Authorized).
      const vehicleGone = open.cause === 'EVConnected' && (s.chargingState === 'Idle' || (s.chargingState === 'Authorized' && !pending?.vehicleConnected));
      const authorisationGone = open.cause === 'Authorized' && !pending;
      if (vehicleGone || authorisationGone) this.close(s.evseId, open.localId, vehicleGone ? 'EVDisconnected' : atStart ? 'PowerLoss' : 'Timeout', pending?.vehicleConnected || s.chargingState === 'EVConnected' ? 'EVConnected' : 'Idle');
      return;
    }
    const points = txStartPoints(this.d.settings);
    // At start (with several versions offered, the first connection that selects 2.0.1) a cable plugged before: begun when it was.
    if (s.chargingState === 'EVConnected' && !pending && points.includes('EVConnected')) this.open(s.evseId, 'EVConnected', undefined, atStart ? chargePoint.vehicleConnectedAt(s.evseId) : undefined);
    else if (pending && !pending.vehicleConnected && points.includes('Authorized')) this.open(s.evseId, 'Authorized', pending);
  }

  private open(evseId: EvseId, cause: SessionStartCause, token?: { idTag: string; idTokenType?: string; remoteStartId?: number }, at?: number): void {
    const reading = this.d.chargePoint.lastReading(evseId);
    const localId = this.d.ledger.openTransaction!(evseId, {
      timestamp: at ?? this.d.clock.now(), clockTrusted: this.d.clock.trusted(), cause,
      ...(token ? { idTag: token.idTag, ...(token.idTokenType ? { idTokenType: token.idTokenType } : {}), ...(token.remoteStartId !== undefined ? { remoteStartId: token.remoteStartId } : {}) } : {}),
      ...(reading ? { meterWh: Math.round(reading.energyWh) } : {}),
    });
    this.d.log.info('transaction started before its session (TxStartPoint)', { evseId, cause, transactionId: localId });
    this.d.queued();
  }

  private close(evseId: EvseId, localId: string, reason: 'EVDisconnected' | 'Timeout' | 'PowerLoss' | 'Remote', chargingState: 'Idle' | 'EVConnected'): void {
    const reading = this.d.chargePoint.lastReading(evseId);
    this.d.ledger.closeOpenedTransaction!(localId, {
            // -1: no reading known (the Ended then carries no register; link.ts).
      timestamp: this.d.clock.now(), clockTrusted: this.d.clock.trusted(), reason, meterStopWh: reading ? Math.round(reading.energyWh) : -1, chargingState,
    });
    this.d.log.info('transaction ended before a session opened', { evseId, reason, transactionId: localId });
    this.d.queued();
  }
}
