/**
 * Metering: the one loop that reads a connector's meter (in a session, and idle when the meter
 * asks to be watched), the one sanity check every reading passes (meter-guard), samples (periodic, clock-aligned, triggered), checkpoints of the energy register
 * and the energy cap after a late rejection.
 */
import type { EvseState, CoreBase } from './core-state.js';
import type { Faults } from './faults.js';
import type { Limits } from './limits.js';
import { checkReading, frozenRegister } from './meter-guard.js';
import type { MeteringPolicy } from './policy.js';
import type { MeterReading, Sample, SessionLedger, SignedReadingKind } from './ports.js';
import type { StatusBoard } from './status.js';

export class Metering {
  constructor(
    private readonly b: CoreBase,
    private readonly deps: {
      ledger: SessionLedger;
      policy: MeteringPolicy;
      statuses: StatusBoard;
      faults: Faults;
      limits: Limits;
      /** A meter that failed at a session's start answers again. */
      meterBack(c: EvseState): void;
    },
  ) {}

  /**
   * A reading stamped with the station's clock (the one the central system set). `signed`: what
   * the reading marks in a transaction; a signing meter then signs it (its record keeps the
   * meter's own time), any other meter reads as usual.
   */
  async read(c: EvseState, signed?: SignedReadingKind): Promise<MeterReading> {
    const signer = c.hw.meter.signer;
    const reading = signer && signed ? await signer.readSigned(signed) : await c.hw.meter.read();
    if (reading.signed) c.meterPublicKey = reading.signed.publicKey;
    return { ...reading, takenAt: this.b.clock.now() };
  }

  sample(reading: MeterReading, context: Sample['context'], measurands: string[], c?: EvseState): Sample {
    const sample: Sample = { takenAt: reading.takenAt, clockTrusted: this.b.clock.trusted(), context, reading, measurands };
    if (c) sample.offered = this.deps.limits.offered(c);
    return sample;
  }

  /** The first deadlines of a session starting (or resumed) now. */
  deadlines(now: number): { nextSampleAt: number; nextAlignedAt: number; nextCheckpointAt: number; nextEndedSampleAt: number; nextEndedAlignedAt: number } {
    return {
      nextSampleAt: now + this.sampleIntervalMs(), nextAlignedAt: this.nextAligned(now), nextCheckpointAt: now + this.b.timing.checkpointIntervalMs,
      nextEndedSampleAt: now + this.endedSampleIntervalMs(), nextEndedAlignedAt: this.nextAligned(now, this.deps.policy.txEndedAlignedIntervalS ?? 0),
    };
  }

  /**
   * A fresh sample now (TriggerMessage MeterValues). `inSession`: only in a running session, and
   * queued among its events (2.0.1 TriggerMessage TransactionEvent: an Updated in the seqNo order).
   */
  async trigger(c: EvseState, inSession = false): Promise<Sample | undefined> {
    const wanted = c.session;
    if (inSession && (!wanted || wanted.stopping)) return undefined;
    const fresh = await this.read(c);
    // The session ended (or another began) during the read: nothing to add to it.
    if (inSession && (c.session !== wanted || wanted!.stopping)) return undefined;
    // A refused reading (backwards, implausible jump, stale) is never sent: the last good one is,
    // with its own time.
    const reading = this.accept(c, fresh) ? fresh : c.lastReading;
    if (!reading) return undefined;
    const sample = this.sample(reading, 'Trigger', this.deps.policy.sampledMeasurands, c);
    // In a session, recorded before it is sent: a session closed after a power cut never ends
    // below a value the central system already has.
    const s = c.session;
    if (s && !s.stopping) {
      try {
        this.deps.ledger.sample(s.record.localId, sample, inSession);
        if (inSession) this.b.emit('queued');
      } catch (err) {
        this.b.log.error('triggered meter sample could not be recorded: not sent', { evseId: c.id, err });
        return undefined;
      }
    }
    return sample;
  }

  /**
   * The connector's one meter loop: read again at the next deadline of its session, or, without
   * a session, at the meter's idle interval when it asks to be watched (idlePollIntervalMs).
   */
  schedule(c: EvseState): void {
    c.poll?.cancel();
    c.poll = undefined;
    const s = c.session;
    if (!this.b.running() || s?.stopping) return;
    const now = this.b.clock.now();
    let due: number;
    if (s) {
      c.nextIdleAlignedAt = undefined;
      due = Math.min(now + this.b.timing.meterPollIntervalMs, s.nextSampleAt, s.nextAlignedAt, s.nextCheckpointAt, s.nextEndedSampleAt, s.nextEndedAlignedAt);
    } else {
      const idleMs = c.hw.meter.idlePollIntervalMs;
      const aligned = this.idleAligned(c, now);
      if ((!idleMs || idleMs <= 0) && aligned === undefined) return;
      due = Math.min(idleMs && idleMs > 0 ? now + idleMs : Number.POSITIVE_INFINITY, aligned ?? Number.POSITIVE_INFINITY);
    }
    // Due already: the reading for a sample or checkpoint failed or was refused. Read again at the
    // poll interval, not at once (that would read the meter back to back until it answers well).
    const delayMs = due > now ? due - now : this.b.timing.meterPollIntervalMs;
    c.poll = this.b.clock.setTimeout(() => {
      c.poll = undefined;
      void (c.session ? this.poll(c) : this.pollIdle(c));
    }, delayMs);
  }

  /** The next clock-aligned instant of an EVSE without a session, when the policy asks for idle aligned samples. */
  private idleAligned(c: EvseState, now: number): number | undefined {
    if (!this.deps.policy.idleAlignedSamples || this.deps.policy.alignedIntervalS <= 0) {
      c.nextIdleAlignedAt = undefined;
      return undefined;
    }
    c.nextIdleAlignedAt ??= this.nextAligned(now);
    return c.nextIdleAlignedAt;
  }

  /**
   * The metering settings changed (e.g. the clock-aligned interval): the deadlines derived from
   * them are drawn again, for a running session's aligned samples and an idle EVSE's.
   */
  policyChanged(c: EvseState): void {
    const now = this.b.clock.now();
    c.nextIdleAlignedAt = undefined;
    if (c.session) {
      c.session.nextAlignedAt = this.nextAligned(now);
      c.session.nextEndedSampleAt = now + this.endedSampleIntervalMs();
      c.session.nextEndedAlignedAt = this.nextAligned(now, this.deps.policy.txEndedAlignedIntervalS ?? 0);
    }
    if (!c.session?.stopping) this.schedule(c);
  }

  /** A reading with no session: the meter's health (its driver reports faults) and live values; a clock-aligned sample when due. */
  private async pollIdle(c: EvseState): Promise<void> {
    try {
      const reading = await this.read(c);
      if (c.session) return;
      const accepted = this.accept(c, reading);
      const alignedAt = c.nextIdleAlignedAt;
      if (alignedAt !== undefined && this.b.clock.now() >= alignedAt) {
        c.nextIdleAlignedAt = this.nextAligned(this.b.clock.now());
        const measurands = this.deps.policy.alignedMeasurands;
        if (accepted && measurands.length > 0) this.b.emit('idle-sample', { evseId: c.id, sample: this.sample(reading, 'Sample.Clock', measurands, c) });
      }
      if (c.faults.has('meter-start')) this.meterAnswers(c);
    } catch (err) {
      c.meterErrors++;
      this.b.log.debug('meter read failed', { evseId: c.id, err });
    } finally {
      if (!c.session && !c.poll) this.schedule(c);
    }
  }

  /**
   * After a failed read at start: read again every few seconds and clear the fault once it answers.
   * A meter watched while idle needs no probe: its idle reads do that.
   */
  probeUntilBack(c: EvseState, delayMs = 5_000): void {
    c.probe?.cancel();
    if (c.hw.meter.idlePollIntervalMs) return;
    c.probe = this.b.clock.setTimeout(async () => {
      if (!this.b.running() || !c.faults.has('meter-start')) return;
      try {
        c.lastReading = await this.read(c);
        this.meterAnswers(c);
      } catch {
        this.probeUntilBack(c, Math.min(delayMs * 2, 60_000));
      }
    }, delayMs);
  }

  private meterAnswers(c: EvseState): void {
    this.b.log.info('meter answers again', { evseId: c.id });
    this.deps.faults.clear(c, 'meter-start');
    this.deps.meterBack(c);
  }

  private async poll(c: EvseState): Promise<void> {
    const s = c.session;
    if (!s || s.stopping) return;
    try {
      const previousAt = s.lastReading.takenAt;
      // A meter that signs between begin and end signs the periodic sample's reading.
      const signs = c.hw.meter.signer?.signsIntervals && this.b.clock.now() >= s.nextSampleAt && this.sampleIntervalMs() !== Number.POSITIVE_INFINITY;
      const reading = await this.read(c, signs ? 'interval' : undefined);
      if (c.session !== s || s.stopping) return;
      if (this.accept(c, reading)) {
        const now = this.b.clock.now();
        // The clock was set back (by the central system) since the last reading: the schedule
        // moves back with it, or samples and checkpoints would pause for as long as the correction.
        const setBackMs = previousAt - reading.takenAt;
        if (setBackMs > 0) {
          s.nextSampleAt -= setBackMs;
          s.nextCheckpointAt -= setBackMs;
          s.nextEndedSampleAt -= setBackMs;
          s.nextAlignedAt = this.nextAligned(now);
          s.nextEndedAlignedAt = this.nextAligned(now, this.deps.policy.txEndedAlignedIntervalS ?? 0);
        }
        if (now >= s.nextCheckpointAt) {
          this.deps.ledger.checkpoint(s.record.localId, reading.energyWh, reading.takenAt);
          s.nextCheckpointAt = now + this.b.timing.checkpointIntervalMs;
        }
        // A change of charging state goes before the periodic sample of the same reading.
        this.recordChargingState(c, reading);
        let periodic = false;
        let aligned = false;
        if (now >= s.nextSampleAt) {
          this.record(c, this.sample(reading, 'Sample.Periodic', this.deps.policy.sampledMeasurands, c));
          // The signed record goes with the sample that reports it, not with every later one.
          delete reading.signed;
          s.nextSampleAt = now + this.sampleIntervalMs();
          periodic = true;
        }
        if (now >= s.nextAlignedAt) {
          this.record(c, this.sample(reading, 'Sample.Clock', this.deps.policy.alignedMeasurands, c));
          s.nextAlignedAt = this.nextAligned(now);
          aligned = true;
        }
        // The samples the end message carries (its own intervals): recorded, not sent now. A
        // sample just recorded at the same reading serves (the store keeps the whole reading).
        if (now >= s.nextEndedSampleAt) {
          if (!periodic) this.record(c, this.sample(reading, 'Sample.Periodic', this.deps.policy.txEndedMeasurands, c), false);
          s.nextEndedSampleAt = now + this.endedSampleIntervalMs();
        }
        if (now >= s.nextEndedAlignedAt) {
          if (!aligned) this.record(c, this.sample(reading, 'Sample.Clock', this.deps.policy.txEndedAlignedMeasurands, c), false);
          s.nextEndedAlignedAt = this.nextAligned(now, this.deps.policy.txEndedAlignedIntervalS ?? 0);
        }
        this.enforceEnergyCap(c);
      }
    } catch (err) {
      c.meterErrors++;
      this.b.log.warn('meter read failed', { evseId: c.id, err });
    } finally {
      if (c.session === s) this.schedule(c);
    }
  }

  /**
   * policy.chargingStateSamples (2.0.1): a sample when the session's charging state changed since
   * the one last recorded. EVConnected (a session just started) to SuspendedEV is no change: the
   * EV has not begun to charge yet. A resumed session records nothing until its state changes.
   */
  private recordChargingState(c: EvseState, reading: MeterReading): void {
    const s = c.session;
    if (!s || s.stopping || !this.deps.policy.chargingStateSamples) return;
    const state = this.deps.statuses.chargingStateOf(c);
    const was = s.reportedChargingState;
    s.reportedChargingState = state === 'SuspendedEV' && was === 'EVConnected' ? was : state;
    if (was === undefined || s.reportedChargingState === was) return;
    const sample: Sample = { ...this.sample(reading, 'Sample.Periodic', this.deps.policy.sampledMeasurands, c), chargingStateChange: state };
    try {
      this.deps.ledger.sample(s.record.localId, sample, true);
      this.b.emit('queued');
    } catch (err) {
      s.reportedChargingState = was;
      this.b.log.error('charging state change could not be recorded', { evseId: c.id, err });
    }
  }

  /**
   * policy.limitChangeSignificance (2.0.1 ChargingRateChanged): a sample when the limit offered to
   * a running session changed by more than that fraction of the one last recorded (the first
   * offer of a session is its reference, not a change). Once per change: the meter loop's own
   * samples never record one.
   */
  recordLimitChange(c: EvseState, fromA: number, toA: number): void {
    const s = c.session;
    const significance = this.deps.policy.limitChangeSignificance;
    if (!s || s.stopping || !this.deps.policy.chargingStateSamples || significance === undefined) return;
    const reference = s.reportedLimitA ?? fromA;
    const changed = reference === 0 ? toA !== 0 : Math.abs(toA - reference) / reference > significance;
    if (!changed || !c.lastReading) {
      // Small changes add up against the limit last recorded (or the session's first).
      s.reportedLimitA = reference;
      return;
    }
    s.reportedLimitA = toA;
    const sample: Sample = { ...this.sample(c.lastReading, 'Sample.Periodic', this.deps.policy.sampledMeasurands, c), chargingRateChange: { fromA: reference, toA } };
    try {
      this.deps.ledger.sample(s.record.localId, sample, true);
      this.b.emit('queued');
    } catch (err) {
      s.reportedLimitA = reference;
      this.b.log.error('charging rate change could not be recorded', { evseId: c.id, err });
    }
  }

  /** A session's sample into the ledger; `send` false: kept for the end message only, never queued. */
  private record(c: EvseState, sample: Sample, send = true): void {
    const localId = c.session!.record.localId;
    try {
      this.deps.ledger.sample(localId, sample, send && sample.measurands.length > 0);
      if (send) this.b.emit('queued');
    } catch (err) {
      this.b.log.error('meter sample could not be recorded', { localId, err });
    }
  }

  /** Check a reading; a plausible one becomes the connector's last reading. */
  accept(c: EvseState, reading: MeterReading): boolean {
    const problem = checkReading(c.lastReading, reading, c.hw.maxPowerW, Boolean(c.session && !c.session.suspendedByEvse));
    if (problem) {
      this.b.log.warn('implausible meter reading refused', { evseId: c.id, problem });
      this.deps.faults.set(c, 'meter-plausibility', 'PowerMeterFailure', problem);
      return false;
    }
    this.deps.faults.clear(c, 'meter-plausibility');
    // A register that stops moving while power flows is a stale meter: never bill it, never
    // republish its value with a fresh timestamp.
    const prev = c.lastReading;
    if (c.energyChangedAt === undefined || !prev || reading.energyWh !== prev.energyWh || !(reading.powerW && reading.powerW > 0)) c.energyChangedAt = reading.takenAt;
    if (c.session && !c.session.suspendedByEvse && !c.session.stopping) {
      const frozen = frozenRegister(c.energyChangedAt ?? reading.takenAt, reading);
      if (frozen) {
        this.b.log.warn('stale meter reading refused', { evseId: c.id, problem: frozen });
        this.deps.faults.set(c, 'meter-stale', 'PowerMeterFailure', frozen);
        return false;
      }
    }
    this.deps.faults.clear(c, 'meter-stale');
    c.lastReading = reading;
    if (c.session) c.session.lastReading = reading;
    this.b.emit('reading', { evseId: c.id, reading, sessionEnergyWh: c.session ? reading.energyWh - c.session.record.meterStartWh : undefined });
    this.deps.statuses.refresh(c);
    return true;
  }

  private enforceEnergyCap(c: EvseState): void {
    const s = c.session;
    if (!s || s.maxEnergyWh === undefined || s.stopping) return;
    if (s.lastReading.energyWh - s.record.meterStartWh >= s.maxEnergyWh) {
      // policy.transaction.stopOnInvalidToken false (1.6 StopTransactionOnInvalidId): only energy delivery stops; the
      // transaction goes on (SuspendedEVSE) until the driver ends it.
      this.b.log.info('energy cap after late rejection reached: energy delivery stopped', { evseId: c.id, capWh: s.maxEnergyWh });
      s.maxEnergyWh = undefined;
      s.suspendedByEvse = true;
      c.hw.powerPath.offer(0).catch((err) => {
        this.b.log.error('power path refused to open', { evseId: c.id, err });
        this.deps.faults.set(c, 'power-switch', 'PowerSwitchFailure', (err as Error).message);
      });
      this.deps.statuses.refresh(c);
    }
  }

  /** A late rejection caps the session's energy (policy.transaction.maxEnergyOnInvalidWh): enforced now and at every reading. */
  capEnergy(c: EvseState, capWh: number): void {
    if (!c.session) return;
    c.session.maxEnergyWh = capWh;
    this.enforceEnergyCap(c);
  }

  private sampleIntervalMs(): number {
    const s = this.deps.policy.sampleIntervalS;
    return s > 0 ? s * 1000 : Number.POSITIVE_INFINITY;
  }

  private endedSampleIntervalMs(): number {
    const s = this.deps.policy.txEndedSampleIntervalS ?? 0;
    return s > 0 ? s * 1000 : Number.POSITIVE_INFINITY;
  }

  private nextAligned(now: number, s = this.deps.policy.alignedIntervalS): number {
    if (s <= 0) return Number.POSITIVE_INFINITY;
    const ms = s * 1000;
    return Math.floor(now / ms) * ms + ms;
  }
}
