/**
 * The session lifecycle: a session starts once an authorised connector has a vehicle, stops (on
 * any reason), and a session left open by the last run is resumed or closed at start (recovery).
 * Each change is recorded in the ledger before it is announced.
 */
import type { EvseState, CoreBase } from './core-state.js';
import { RefusedError } from './core-state.js';
import { STORE_FAULT, type Faults } from './faults.js';
import type { Limits } from './limits.js';
import { checkReading } from './meter-guard.js';
import type { Metering } from './metering.js';
import type { MeteringPolicy } from './policy.js';
import type { ChargingState, MeterReading, Sample, SessionLedger, SessionRecord, SessionStop, SessionStartCause, StopReason } from './ports.js';
import type { ReservationPolicy } from './reservations.js';
import type { StatusBoard } from './status.js';

export class Sessions {
  /** Stops that could not be written (store faulted), recorded when the store is back. */
  private unrecordedStops?: Map<string, SessionStop>;

  constructor(
    private readonly b: CoreBase,
    private readonly deps: {
      ledger: SessionLedger;
      metering: MeteringPolicy;
      meter: Metering;
      limits: Limits;
      faults: Faults;
      statuses: StatusBoard;
      reservations?: ReservationPolicy;
      pseudonym: (idTag: string) => string;
      resumePolicy: 'resume-or-stop' | 'stop';
    },
  ) {}

  /**
   * Start the session an authorised connector waits for, once a vehicle is there. `cause`: what
   * called, the vehicle plugged in or an authorisation (recorded when the policy asks for it).
   */
  async maybeStart(c: EvseState, cause: SessionStartCause = 'Authorized'): Promise<void> {
    const p = c.pending;
    if (!p || c.session || c.vehicle === 'disconnected' || !this.deps.statuses.usable(c) || !this.b.running()) return;
    // From here to the session's creation the only wait is the meter read: while it lasts the
    // connector takes no other authorisation (a card read twice, a remote start), or two sessions
    // open. The authorisation stays pending until the read succeeds: a meter that fails keeps it
    // (Faulted, probed), and the session starts once the meter answers again, unless
    // ConnectionTimeOut has ended it meanwhile.
    c.starting = true;
    let reading: MeterReading;
    try {
      // A signing meter begins its transaction here: its signed record is the session's start value.
      reading = await this.deps.meter.read(c, 'begin');
      const problem = checkReading(c.lastReading, reading, c.hw.maxPowerW, false);
      if (problem) throw new RefusedError('ERR_METER_IMPLAUSIBLE', problem);
    } catch (err) {
      this.b.log.error('cannot start: meter unreadable', { evseId: c.id, err });
      this.deps.faults.set(c, 'meter-start', 'PowerMeterFailure', (err as Error).message);
      this.deps.meter.probeUntilBack(c);
      return;
    } finally {
      c.starting = false;
    }
    if (c.pending === p) c.dropPending();
    c.lastReading = reading;
    const now = this.b.clock.now();
    // The reservation the authorisation was admitted under, if it still holds: one that expired
    // while the driver plugged in is not the one this transaction ends (1.6 §6.45).
    const reservationId = p.reservationId !== undefined && this.deps.reservations?.live(p.reservationId) ? p.reservationId : undefined;
    const begin: Sample = { ...this.deps.meter.sample(reading, 'Transaction.Begin', this.deps.metering.sampledMeasurands), offered: this.deps.limits.offered(c, true) };
    // 2.0.1: the EV is connected and not yet charging (Charging if it already draws); a change is recorded from here on.
    const chargingState: ChargingState | undefined = this.deps.metering.chargingStateSamples ? (c.vehicle === 'charging' ? 'Charging' : 'EVConnected') : undefined;
    let record: SessionRecord;
    try {
      record = this.deps.ledger.open({
        evseId: c.id, idTag: p.idTag, authMethod: p.method, startedAt: now, clockTrusted: this.b.clock.trusted(),
        meterStartWh: Math.round(reading.energyWh), begin, ...(reservationId !== undefined ? { reservationId } : {}),
        ...(reading.signed && this.deps.metering.signedBeginSample ? { reportBegin: true } : {}),
        ...(p.remoteStartId !== undefined ? { remoteStartId: p.remoteStartId } : {}),
        ...(chargingState ? { startedBy: cause, chargingState } : {}),
        // An RFID card's ISO14443 is what a token is unless said otherwise: recorded only when it is not.
        ...(p.idTokenType !== undefined && p.idTokenType !== 'ISO14443' ? { idTokenType: p.idTokenType } : {}),
      });
    } catch (err) {
      // Disk full or failing: a session we cannot record is a session we do not start. The
      // station is Faulted until the application reports the store writable again.
      this.b.log.error('cannot start: the session could not be recorded', { evseId: c.id, err });
      this.deps.faults.report({ ...STORE_FAULT });
      return;
    }
    if (reservationId !== undefined) this.deps.reservations?.consumed(reservationId);
    c.finishing = false;
    c.session = {
      record, lastReading: reading, suspendedByEvse: false, stopping: false, groupId: p.info.groupId, ...this.deps.meter.deadlines(now),
      ...(chargingState ? { reportedChargingState: chargingState } : {}),
    };
    this.b.emit('queued');
    this.b.emit('session-started', { evseId: c.id, localId: record.localId, customerRef: this.deps.pseudonym(p.idTag), authMethod: p.method, meterStartWh: record.meterStartWh });
    this.b.log.info('session started', { evseId: c.id, localId: record.localId, authMethod: p.method, meterStartWh: record.meterStartWh });
    await this.deps.limits.energize(c);
    this.deps.limits.applyAll();
    this.deps.statuses.refresh(c);
    this.deps.meter.schedule(c);
  }

  async stop(c: EvseState, reason: StopReason, idTag?: string): Promise<void> {
    const s = c.session;
    if (!s || s.stopping) return;
    s.stopping = true;
    c.poll?.cancel();
    c.limitTimer?.cancel();
    try {
      await c.hw.powerPath.offer(0);
    } catch (err) {
      this.b.log.error('power path refused to open', { evseId: c.id, err });
      this.deps.faults.set(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
    }
    // The last reading's signed record (the begin's, a periodic one's) is no end value.
    const { signed: _notTheEnd, ...lastReading } = s.lastReading;
    let reading: MeterReading = lastReading;
    try {
      const fresh = await this.deps.meter.read(c, 'end');
      if (!checkReading(s.lastReading, fresh, c.hw.maxPowerW, false)) reading = fresh;
    } catch (err) {
      this.b.log.warn('final meter read failed: stopping with the last reading', { evseId: c.id, err });
    }
    const now = this.b.clock.now();
    // The End sample: the power path is open by now, nothing is offered any more.
    const end: Sample = {
      ...this.deps.meter.sample({ ...reading, takenAt: Math.max(reading.takenAt, s.lastReading.takenAt) }, 'Transaction.End', this.deps.metering.sampledMeasurands),
      offered: { currentA: 0, powerW: 0 },
    };
    const stop: SessionStop = {
      stoppedAt: now, clockTrusted: this.b.clock.trusted(), meterStopWh: Math.max(Math.round(reading.energyWh), s.record.meterStartWh),
      reason, idTag, end, ...this.transactionData(),
    };
    try {
      this.deps.ledger.close(s.record.localId, stop);
    } catch (err) {
      // Disk full or failing: the stop is kept in memory and recorded as soon as the store takes
      // writes again (or, after a restart, the session is closed from its last checkpoint).
      this.b.log.error('session stop could not be recorded: will retry', { evseId: c.id, localId: s.record.localId, err });
      (this.unrecordedStops ??= new Map()).set(s.record.localId, stop);
      this.deps.faults.report({ ...STORE_FAULT });
    }
    c.session = undefined;
    c.lastReading = reading;
    c.finishing = c.vehicle !== 'disconnected';
    const energyWh = Math.max(0, Math.round(reading.energyWh) - s.record.meterStartWh);
    this.b.log.info('session stopped', { evseId: c.id, localId: s.record.localId, reason, energyWh });
    this.b.emit('queued');
    this.b.emit('session-stopped', { evseId: c.id, localId: s.record.localId, reason, energyWh });
    this.deps.limits.applyAll();
    if (c.scheduledAvailability) {
      c.availability = c.scheduledAvailability;
      c.scheduledAvailability = undefined;
    }
    this.deps.statuses.refresh(c);
    this.deps.meter.schedule(c);
  }

  /** What the end message carries, by the metering policy in force. */
  private transactionData(): Pick<SessionStop, 'transactionDataMeasurands' | 'transactionDataAlignedMeasurands' | 'transactionDataIntervalS' | 'transactionDataAlignedIntervalS'> {
    const m = this.deps.metering;
    return {
      transactionDataMeasurands: m.txEndedMeasurands, transactionDataAlignedMeasurands: m.txEndedAlignedMeasurands,
      ...(m.txEndedSampleIntervalS !== undefined ? { transactionDataIntervalS: m.txEndedSampleIntervalS } : {}),
      ...(m.txEndedAlignedIntervalS !== undefined ? { transactionDataAlignedIntervalS: m.txEndedAlignedIntervalS } : {}),
    };
  }

  /** The store takes writes again: record the stops it refused. */
  recordPendingStops(): void {
    for (const [localId, stop] of this.unrecordedStops ?? []) {
      try {
        this.deps.ledger.close(localId, stop);
        this.unrecordedStops!.delete(localId);
        this.b.log.info('session stop recorded after the store came back', { localId });
        this.b.emit('queued');
      } catch (err) {
        this.b.log.error('session stop still not recordable', { localId, err });
        queueMicrotask(() => this.deps.faults.report({ ...STORE_FAULT }));
        return;
      }
    }
  }

  /** At start: resume the sessions the last run left open, or close them (PowerLoss). */
  async recover(): Promise<void> {
    const { ledger } = this.deps;
    // A meter without non-volatile memory resumes at the highest register the store knows, so a
    // connector's energy register never goes backwards across restarts.
    for (const c of this.b.evses.values()) {
      if (!c.hw.meter.resume) continue;
      try {
        c.hw.meter.resume(ledger.highestRegisterWh(c.id));
      } catch (err) {
        this.b.log.error('meter register could not be resumed from the store', { evseId: c.id, err });
      }
    }
    for (const record of ledger.active()) {
      const c = this.b.evses.get(record.evseId);
      let reading: MeterReading | undefined;
      if (c) {
        try {
          reading = await this.deps.meter.read(c);
        } catch (err) {
          this.b.log.warn('meter unreadable while recovering a session', { evseId: record.evseId, err });
        }
      }
      // The highest durable reading: the last checkpoint or any sample recorded since (sent, or
      // queued to be sent), whichever is higher. No reading of the session may exceed its meterStop.
      const durable = ledger.highestReading(record.localId) ?? { takenAt: record.lastCheckpointAt, energyWh: record.lastEnergyWh };
      // The same meter, still counting: its register now is at or above every durable reading, and
      // no further than the connector's power allows since then. It is then the true meterStop (the
      // energy drawn while the controller was down was delivered); otherwise the durable reading is.
      const continuous = reading !== undefined && reading.energyWh >= durable.energyWh
        && (c === undefined || !checkReading(durable, reading, c.hw.maxPowerW, false));
      if (reading !== undefined && !continuous) {
        this.b.log.warn('meter reading at restart does not continue the session: closing at its highest durable reading', {
          evseId: record.evseId, localId: record.localId, readingWh: reading.energyWh, durableWh: durable.energyWh,
        });
      }
      const vehicle = c?.hw.powerPath.vehicle();
      const plugged = vehicle !== undefined && vehicle !== 'disconnected';
      if (c && continuous && plugged && vehicle !== 'error' && this.deps.resumePolicy === 'resume-or-stop') {
        const now = this.b.clock.now();
        c.lastReading = reading;
        c.session = { record, lastReading: reading!, suspendedByEvse: false, stopping: false, ...this.deps.meter.deadlines(now) };
        this.b.log.info('session resumed after restart', { evseId: c.id, localId: record.localId });
        await this.deps.limits.energize(c);
        this.deps.meter.schedule(c);
        continue;
      }
      // Power loss: close with the last trustworthy energy reading.
      // Whole Wh, as every meterStop: the checkpoint keeps the meter's fractions, OCPP takes an integer.
      let lastKnown: MeterReading = continuous ? reading! : durable;
      // A signing meter that still counts the same register ends its transaction now: the session
      // closes with the meter's signed end value (its record says the end came after a power loss).
      if (c?.hw.meter.signer && continuous) {
        try {
          const signed = await this.deps.meter.read(c, 'power-loss-end');
          if (signed.energyWh >= reading!.energyWh && !checkReading(reading!, signed, c.hw.maxPowerW, false)) lastKnown = signed;
          else this.b.log.warn('signed end value after power loss does not continue the session: not used', { evseId: c.id, localId: record.localId });
        } catch (err) {
          this.b.log.warn('signing meter gave no signed end value after power loss: closing unsigned', { evseId: c.id, localId: record.localId, err });
        }
      }
      const stopWh = Math.round(lastKnown.energyWh);
      const stoppedAt = continuous ? Math.max(durable.takenAt, Math.min(reading!.takenAt, this.b.clock.now())) : durable.takenAt;
      try {
        ledger.close(record.localId, {
          stoppedAt, clockTrusted: this.b.clock.trusted(), meterStopWh: Math.max(stopWh, record.meterStartWh), reason: 'PowerLoss',
          end: { ...this.deps.meter.sample(lastKnown, 'Transaction.End', this.deps.metering.sampledMeasurands), takenAt: stoppedAt, offered: { currentA: 0, powerW: 0 } },
          ...this.transactionData(),
        });
        this.b.log.warn('session left open by the last run closed (PowerLoss)', { evseId: record.evseId, localId: record.localId, meterStopWh: stopWh });
        this.b.emit('queued');
        this.b.emit('session-stopped', { evseId: record.evseId, localId: record.localId, reason: 'PowerLoss', energyWh: Math.max(0, stopWh - record.meterStartWh) });
      } catch (err) {
        this.b.log.error('could not close a session left open', { localId: record.localId, err });
      }
      if (c && plugged) c.finishing = true;
    }
  }
}
