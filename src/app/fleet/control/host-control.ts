import type { ChargerProfile } from '../../../config/profiles.js';
import type { ConnectorErrorCode } from '../../../core/ports.js';
import type { OcppSubprotocol } from '../../../ocpp/version.js';
import type { FleetMetrics } from '../metrics.js';
import type { Hosted } from './hosted.js';
import {
  emptyByLink, emptyByState, selects,
  type ActResult, type ChargerAction, type ChargerDetail, type ChargerState, type ChargerSummary, type ControlAnswer, type ControlEvent,
  type ControlRequest, type FaultKind, type LinkStateName, type Selection,
} from './protocol.js';
import { FrameTrace, traceDefaults } from './trace.js';

/** What the control needs of the host it drives (FleetHost). */
export interface ControlledHost {
  readonly chargers: ReadonlyMap<string, Hosted>;
  readonly metrics: FleetMetrics;
  lagP99Ms(): number;
  reboot(h: Hosted): Promise<void>;
  remove(h: Hosted): Promise<void>;
  addAtRunTime(chargers: { id: string; index: number }[], charger?: ChargerProfile, version?: OcppSubprotocol, url?: string): Promise<string[]>;
  applyNetwork(h: Hosted): void;
  openNetworkLab(): Promise<void>;
  remoteStart(h: Hosted, idTag: string, connectorId: number): Promise<boolean>;
}

export const hostControlDefaults = {
  /** Events are sent up in batches, at most this often (one message per batch across threads and processes). */
  eventFlushMs: 100,
} as const;

const CHARGING = new Set(['Charging', 'SuspendedEV', 'SuspendedEVSE']);
const OCCUPIED = new Set(['Preparing', 'Finishing', 'Reserved', 'Occupied']);

/** The one-word state of a charger's connectors, the worst first. */
export function chargerStateOf(h: Hosted): ChargerState {
  const list = [...h.statuses.values()];
  if (list.length === 0) return 'unavailable';
  if (list.includes('Faulted')) return 'faulted';
  if (list.some((s) => CHARGING.has(s))) return 'charging';
  if (list.some((s) => OCCUPIED.has(s))) return 'occupied';
  if (list.every((s) => s === 'Unavailable')) return 'unavailable';
  return 'available';
}

export function linkStateOf(h: Hosted): LinkStateName {
  return !h.connected ? 'disconnected' : h.accepted ? 'accepted' : 'booting';
}

export function summaryOf(h: Hosted): ChargerSummary {
  return { id: h.id, version: h.version, state: chargerStateOf(h), link: linkStateOf(h), network: h.network };
}

/** A fault the control API injects: where it is reported and with which OCPP error code. */
function faultReportOf(kind: FaultKind, connectorId: number): { source: string; errorCode: ConnectorErrorCode; info: string } {
  switch (kind) {
    case 'meter-timeout': return { source: `meter:${connectorId}`, errorCode: 'PowerMeterFailure', info: 'simulated meter timeout' };
    case 'reader-failure': return { source: 'reader', errorCode: 'ReaderFailure', info: 'simulated reader failure' };
    case 'ground-fault': return { source: `ground:${connectorId}`, errorCode: 'GroundFailure', info: 'simulated ground fault' };
    case 'evse-error': return { source: `evse:${connectorId}`, errorCode: 'OtherError', info: 'simulated EVSE error' };
  }
}

class ActionError extends Error {}

/**
 * The control API's side of one host (a thread of the fleet): it answers control requests for
 * the chargers the host holds and batches what happens to them into events.
 */
export class HostControl {
  private queue: ControlEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  /** The state and link last told of, per charger (an event only on a change). */
  private readonly told = new Map<string, string>();
  /** Faults injected and not cleared, per charger. */
  private readonly injected = new Map<string, Set<string>>();
  private readonly traceListeners = new Map<string, (e: { direction: 'in' | 'out'; message: string }) => void>();

  constructor(
    private readonly host: ControlledHost,
    private readonly onEvents: (events: ControlEvent[]) => void,
    private readonly o: { traceIds?: string[]; traceFrames?: number } = {},
  ) {
    this.timer = setInterval(() => this.flush(), hostControlDefaults.eventFlushMs);
    this.timer.unref();
  }

  /** Whether charger `id` is traced from its start (--trace). */
  tracedFromStart(id: string): boolean {
    return this.o.traceIds?.includes(id) ?? false;
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }

  private flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.onEvents(batch);
  }

  private emit(e: ControlEvent): void {
    this.queue.push(e);
  }

  /** Charger h's state or link may have changed. */
  changed(h: Hosted): void {
    const s = chargerStateOf(h);
    const l = linkStateOf(h);
    const key = `${s}|${l}`;
    if (this.told.get(h.id) === key) return;
    this.told.set(h.id, key);
    this.emit({ type: 'charger', id: h.id, state: s, link: l, at: new Date().toISOString() });
  }

  error(h: Hosted, kind: 'connect-failed' | 'fault' | 'bad-message' | 'callerror', message: string): void {
    this.emit({ type: 'error', id: h.id, kind, message, at: new Date().toISOString() });
  }

  session(h: Hosted, e: { type: 'session-started'; evseId: number; localId: string } | { type: 'session-stopped'; evseId: number; localId: string; energyWh: number; reason: string }): void {
    this.emit({ ...e, id: h.id, at: new Date().toISOString() });
  }

  /** Listen to charger h's traffic into its trace (its runtime is new after a reboot). */
  attachTrace(h: Hosted): void {
    const trace = h.trace;
    if (!trace) return;
    const old = this.traceListeners.get(h.id);
    if (old) h.runtime.connection.off('traffic', old);
    const listener = (e: { direction: 'in' | 'out'; message: string }) => trace.record(e.direction, e.message);
    this.traceListeners.set(h.id, listener);
    h.runtime.connection.on('traffic', listener);
  }

  startTrace(h: Hosted, size = this.o.traceFrames ?? traceDefaults.frames): void {
    if (h.trace) return;
    h.trace = new FrameTrace(size, (frame) => this.emit({ type: 'frame', id: h.id, frame }));
    this.attachTrace(h);
  }

  private stopTrace(h: Hosted): void {
    const listener = this.traceListeners.get(h.id);
    if (listener) h.runtime.connection.off('traffic', listener);
    this.traceListeners.delete(h.id);
    h.trace = undefined;
  }

  private select(sel: Selection): Hosted[] {
    if (sel.ids) {
      return sel.ids.map((id) => this.host.chargers.get(id)).filter((h): h is Hosted => h !== undefined && selects(sel, summaryOf(h)));
    }
    return [...this.host.chargers.values()].filter((h) => selects(sel, summaryOf(h)));
  }

  async control(req: ControlRequest): Promise<ControlAnswer> {
    switch (req.op) {
      case 'list':
        return { op: 'list', chargers: this.select(req.selection).map(summaryOf) };
      case 'get': {
        const h = this.host.chargers.get(req.id);
        return { op: 'get', ...(h ? { charger: this.detail(h) } : {}) };
      }
      case 'trace': {
        const h = this.host.chargers.get(req.id);
        return { op: 'trace', ...(h ? { frames: h.trace?.frames() ?? [] } : {}) };
      }
      case 'act': {
        const list = this.select(req.selection);
        if (req.action.do === 'network') await this.host.openNetworkLab();
        const results = await Promise.all(list.map((h) => this.act(h, req.action)));
        return { op: 'act', results };
      }
      case 'add': {
        const added = await this.host.addAtRunTime(req.chargers, req.profile, req.version, req.url);
        const at = new Date().toISOString();
        for (const id of added) {
          this.emit({ type: 'added', id, at });
          const h = this.host.chargers.get(id);
          if (h) this.changed(h);
        }
        return { op: 'add', added };
      }
      case 'remove': {
        const list = this.select(req.selection);
        await Promise.all(list.map((h) => {
          this.stopTrace(h);
          return this.host.remove(h);
        }));
        const at = new Date().toISOString();
        for (const h of list) {
          this.told.delete(h.id);
          this.injected.delete(h.id);
          this.emit({ type: 'removed', id: h.id, at });
        }
        return { op: 'remove', removed: list.map((h) => h.id) };
      }
      case 'stats': {
        const byState = emptyByState();
        const byLink = emptyByLink();
        let sessionsOpen = 0;
        for (const h of this.host.chargers.values()) {
          byState[chargerStateOf(h)]++;
          byLink[linkStateOf(h)]++;
          for (const c of h.charger.connectors) if (h.runtime.chargePoint.session(c.id)) sessionsOpen++;
        }
        const m = this.host.metrics;
        return { op: 'stats', figures: { stats: m.toJSON(), gauges: { ...m.gauges }, byState, byLink, sessionsOpen, lagP99Ms: this.host.lagP99Ms(), shards: 1 } };
      }
    }
  }

  private detail(h: Hosted): ChargerDetail {
    const injected = this.injected.get(h.id);
    return {
      ...summaryOf(h), url: h.url, traced: Boolean(h.trace),
      connectors: h.charger.connectors.map((c) => {
        const s = h.runtime.chargePoint.session(c.id);
        return {
          id: c.id, status: h.statuses.get(c.id) ?? 'Unavailable', plugged: h.sims.get(c.id)?.vehicle !== undefined,
          ...(s ? { session: { localId: s.localId, energyWh: Math.round(s.energyWh), ...(s.powerW !== undefined ? { powerW: Math.round(s.powerW) } : {}), startedAt: new Date(s.startedAt).toISOString(), authMethod: s.authMethod } } : {}),
          faults: [...(injected ?? [])].filter((f) => f.endsWith(`:${c.id}`) || f === 'reader-failure').map((f) => f.split(':')[0]!),
        };
      }),
    };
  }

  private connectorOf(h: Hosted, connectorId: number | undefined): number {
    const id = connectorId ?? h.charger.connectors[0]!.id;
    if (!h.sims.has(id)) throw new ActionError(`${h.id} has no connector ${id} (it has ${h.charger.connectors.map((c) => c.id).join(', ')})`);
    return id;
  }

  private async act(h: Hosted, a: ChargerAction): Promise<ActResult> {
    try {
      await this.apply(h, a);
      return { id: h.id, ok: true };
    } catch (err) {
      return { id: h.id, ok: false, error: (err as Error).message };
    }
  }

  private async apply(h: Hosted, a: ChargerAction): Promise<void> {
    switch (a.do) {
      case 'plug': {
        // Without a connector: the first one free.
        const id = a.connectorId ?? h.charger.connectors.find((c) => !h.sims.get(c.id)!.vehicle)?.id;
        if (id === undefined) throw new ActionError(`every connector of ${h.id} has a vehicle plugged in`);
        const sim = h.sims.get(this.connectorOf(h, id))!;
        if (sim.vehicle) throw new ActionError(`connector ${id} of ${h.id} has a vehicle plugged in already`);
        sim.plug();
        return;
      }
      case 'unplug': {
        const ids = a.connectorId !== undefined ? [this.connectorOf(h, a.connectorId)] : h.charger.connectors.map((c) => c.id);
        const plugged = ids.filter((id) => h.sims.get(id)!.vehicle);
        if (plugged.length === 0) throw new ActionError(`no vehicle is plugged in ${a.connectorId !== undefined ? `at connector ${a.connectorId} of ` : 'at '}${h.id}`);
        for (const id of plugged) h.sims.get(id)!.unplug();
        return;
      }
      case 'present': {
        if (!a.token) throw new ActionError('a token is required');
        const evseId = a.connectorId === undefined ? undefined : this.connectorOf(h, a.connectorId);
        if (a.method === 'app') {
          const ok = await this.host.remoteStart(h, a.token, evseId ?? this.connectorOf(h, undefined));
          if (!ok) throw new ActionError(`the remote start of ${h.id} was refused`);
          return;
        }
        h.reader.present({
          token: { id: a.token, type: a.method === 'pin' ? 'KeyCode' : 'ISO14443' },
          method: a.method === 'pin' ? 'touchscreen' : 'rfid',
          ...(evseId !== undefined ? { evseId } : {}),
        });
        return;
      }
      case 'fault': {
        const connectorId = this.connectorOf(h, a.connectorId);
        const f = faultReportOf(a.fault, connectorId);
        const key = a.fault === 'reader-failure' ? a.fault : `${a.fault}:${connectorId}`;
        let set = this.injected.get(h.id);
        if (!set) this.injected.set(h.id, (set = new Set()));
        if (a.clear) set.delete(key);
        else set.add(key);
        // A meter that does not answer: its reads fail until cleared.
        if (a.fault === 'meter-timeout') h.sims.get(connectorId)!.failReads(a.clear ? 0 : Number.MAX_SAFE_INTEGER);
        h.faults.report({ ...f, active: !a.clear });
        if (!a.clear) this.error(h, 'fault', `${f.errorCode} (${f.info})`);
        return;
      }
      case 'network': {
        const conn = h.runtime.connection;
        h.network = a.cut;
        this.host.applyNetwork(h);
        // close: the link closes politely; refuse: it drops; either way no connection is accepted
        // until restored. black-hole: it stays open and nothing passes; new ones never complete.
        if (a.cut === 'close') await conn.reconnect({ graceful: true });
        else if (a.cut === 'refuse') await conn.reconnect();
        else conn.holdSocket();
        return;
      }
      case 'restore-network':
        h.network = 'up';
        this.host.applyNetwork(h);
        return;
      case 'set-url': {
        if (!/^wss?:\/\/[^\s/]+/.test(a.url ?? '')) throw new ActionError(`not a ws:// or wss:// URL: ${a.url}`);
        h.url = a.url;
        if (h.network === 'up') {
          this.host.applyNetwork(h);
          await h.runtime.connection.reconnect();
        }
        return;
      }
      case 'reboot':
        await this.host.reboot(h);
        return;
      case 'trace':
        if (a.on) this.startTrace(h, a.size);
        else this.stopTrace(h);
        return;
    }
  }
}
