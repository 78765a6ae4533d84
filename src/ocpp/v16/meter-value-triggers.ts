/**
 * California Pricing's meter-value triggers (the application note's RunningCost
 * triggerMeterValue): the central system asks for a MeterValues of a transaction at a time, when
 * the energy register reaches a value, when the power crosses a level, or when the connector
 * enters a status, so that it can tell the cost at a price change. Per EVSE, replaced by each
 * RunningCost and dropped when the session ends. Sending is the link's (`send`).
 */
import type { Clock, EvseId, Timer } from '../../core/ports.js';
import type { ChargePointStatus } from './mapping.js';

export interface MeterValueTrigger {
  /** Epoch ms: once, at that time. */
  atTime?: number;
  /** Once, when the import register reaches it, Wh. */
  atEnergyWh?: number;
  /** Each time the power crosses it (up or down), W. */
  atPowerW?: number;
  /** Each time the connector enters one of these statuses. */
  atStatuses?: readonly ChargePointStatus[];
}

/** Why a MeterValues was sent (for the log). */
export type TriggerCause = 'atTime' | 'atEnergykWh' | 'atPowerkW' | 'atCPStatus';

/** Longest single timer; a later time is reached in steps (Node's timers overflow past 24.8 days). */
const MAX_WAIT_MS = 6 * 3_600_000;

interface Armed {
  localId: string;
  trigger: MeterValueTrigger;
  timer?: Timer;
  lastPowerW?: number;
  lastStatus?: ChargePointStatus;
}

export class MeterValueTriggers {
  private armed?: Map<EvseId, Armed>;

  constructor(private readonly o: {
    clock: Pick<Clock, 'now' | 'setTimeout'>;
    send: (evseId: EvseId, localId: string, cause: TriggerCause) => void;
  }) {}

  /** The EVSE's session's triggers, replacing the ones it had (none given: none kept). */
  set(evseId: EvseId, localId: string, trigger: MeterValueTrigger | undefined): void {
    this.clear(evseId);
    if (!trigger || (trigger.atTime === undefined && trigger.atEnergyWh === undefined && trigger.atPowerW === undefined && !trigger.atStatuses?.length)) return;
    const a: Armed = { localId, trigger: { ...trigger } };
    (this.armed ??= new Map()).set(evseId, a);
    if (trigger.atTime !== undefined) this.schedule(evseId, a, trigger.atTime);
  }

  /** What is armed for an EVSE (for a test or a diagnostic). */
  of(evseId: EvseId): MeterValueTrigger | undefined {
    return this.armed?.get(evseId)?.trigger;
  }

  clear(evseId: EvseId): void {
    this.armed?.get(evseId)?.timer?.cancel();
    this.armed?.delete(evseId);
  }

  clearAll(): void {
    for (const id of [...(this.armed?.keys() ?? [])]) this.clear(id);
  }

  /** A meter reading of the EVSE: the energy and power triggers. */
  reading(evseId: EvseId, energyWh: number, powerW: number | undefined): void {
    const a = this.armed?.get(evseId);
    if (!a) return;
    const t = a.trigger;
    if (t.atEnergyWh !== undefined && energyWh >= t.atEnergyWh) {
      t.atEnergyWh = undefined;
      this.o.send(evseId, a.localId, 'atEnergykWh');
    }
    if (t.atPowerW === undefined || powerW === undefined) return;
    const before = a.lastPowerW;
    a.lastPowerW = powerW;
    if (before !== undefined && (before < t.atPowerW) !== (powerW < t.atPowerW)) this.o.send(evseId, a.localId, 'atPowerkW');
  }

  /** The EVSE's connector's 1.6 status changed: the status trigger. */
  status(evseId: EvseId, status: ChargePointStatus): void {
    const a = this.armed?.get(evseId);
    if (!a) return;
    const entered = a.lastStatus !== status;
    a.lastStatus = status;
    if (entered && a.trigger.atStatuses?.includes(status)) this.o.send(evseId, a.localId, 'atCPStatus');
  }

  private schedule(evseId: EvseId, a: Armed, at: number): void {
    const wait = at - this.o.clock.now();
    a.timer = this.o.clock.setTimeout(() => {
      a.timer = undefined;
      if (this.armed?.get(evseId) !== a) return;
      if (this.o.clock.now() < at) {
        this.schedule(evseId, a, at);
        return;
      }
      a.trigger.atTime = undefined;
      this.o.send(evseId, a.localId, 'atTime');
    }, Math.max(0, Math.min(MAX_WAIT_MS, wait)));
  }
}
