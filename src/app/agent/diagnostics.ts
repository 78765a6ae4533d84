import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChargePoint } from '../../core/charge-point.js';
import type { SystemClock } from '../../core/clock.js';
import type { EvseId, FaultReport } from '../../core/ports.js';
import type { LoadedAgentConfig } from '../../config/index.js';
import type { ConnectorState, DiagnosticsContext, EmbeddedBroker, MqttDiagnostics } from '../../diag/index.js';
import { EvseError } from '../../lib/errors.js';
import type { Log, LogLevel, LogRecord } from '../../lib/log.js';
import type { Pseudonymiser } from '../../lib/pseudonym.js';
import type { KeyDefinition } from '../../ocpp/v16/configuration.js';
import { changeConfiguration } from '../../ocpp/v16/incoming.js';
import { v16StatusOf } from '../../ocpp/v16/mapping.js';
import { evseOfV16Connector, fromV16ConnectorId, toV16ConnectorId } from '../../ocpp/v16/topology.js';
import type { SessionUnsynced, VersionLink } from '../../ocpp/version.js';
import { SqliteAuditLog, type SqliteDatabase, type SqliteLedger, type SqliteOutbox, type SqliteSettings } from '../../store/index.js';
import type { Hardware } from './hardware.js';
import { VERSION } from '../version.js';

export interface LogControl {
  tail(lines: number): LogRecord[];
  setLevel(level: LogLevel): void;
}

export interface DiagnosticsDeps {
  loaded: LoadedAgentConfig;
  db: SqliteDatabase;
  chargePoint: ChargePoint;
  link: VersionLink;
  outbox: SqliteOutbox;
  ledger: SqliteLedger;
  settings: SqliteSettings;
  definitions: KeyDefinition[];
  clock: SystemClock;
  pseudonym: Pseudonymiser;
  featureProfiles: string[];
  log: Log;
  logControl?: LogControl;
  restart(): Promise<void>;
  reset(type: 'Soft' | 'Hard'): Promise<void>;
  startedAt: number;
  /** Modbus devices per connector, for meter/read and modbus/read. */
  modbus?: Hardware['modbus'];
}

/** The config as a technician may see it: every secret replaced. */
export function redactedConfig(loaded: LoadedAgentConfig): Record<string, unknown> {
  const secret = /password|secret|key|token|authorization/i;
  const walk = (v: unknown, key = ''): unknown => {
    if (secret.test(key) && typeof v === 'string') return '(redacted)';
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    if (key === 'url' && typeof v === 'string') return v.replace(/\/\/[^/@]*@/, '//(redacted)@');
    return v;
  };
  return walk(loaded.config) as Record<string, unknown>;
}

/** Start MQTT diagnostics for an agent (and the embedded broker when asked for). */
export async function startDiagnostics(d: DiagnosticsDeps): Promise<{ stop(): Promise<void>; diagnostics: MqttDiagnostics }> {
  const m = d.loaded.config.mqtt!;
  const cpId = d.loaded.config.chargePointId;
  // Loaded here, not with this module: an agent without "mqtt" never loads mqtt or aedes.
  const { EmbeddedBroker, MqttDiagnostics } = await import('../../diag/index.js');
  let broker: EmbeddedBroker | undefined;
  let url = m.url;
  let protocolVersion = m.protocolVersion as 4 | 5;
  if (m.url === 'embedded') {
    broker = new EmbeddedBroker();
    url = await broker.start(m.embeddedPort, m.embeddedHost);
    protocolVersion = 4; // aedes speaks MQTT 3.1.1
    d.log.info('embedded MQTT broker started', { url, mqttVersion: '3.1.1', hint: `evse-edge diag --broker ${url} --username <login> ${cpId} status/get` });
  }
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  let lastToken: Record<string, unknown> | null = null;
  const cp = d.chargePoint;

  // The MQTT API numbers places as OCPP 1.6 does: connector 0 the station, connector n EVSE n.
  const connectorState = (evseId: EvseId): ConnectorState => {
    const st = v16StatusOf(cp.evseCondition(evseId));
    const s = cp.session(evseId);
    const id = toV16ConnectorId(evseId);
    return {
      connectorId: id, status: st.status, errorCode: st.errorCode,
      sessionEnergyWh: s ? Math.round(s.energyWh) : null, powerW: s?.powerW ?? cp.lastReading(evseId)?.powerW ?? null,
      sessionDurationS: s ? Math.round((d.clock.now() - s.startedAt) / 1000) : null,
    };
  };
  // The session and unlock commands take connector 1..32, never the station: EVSE n.
  const evseOfConnector = (connectorId: number): EvseId => {
    const place = fromV16ConnectorId(connectorId);
    if (place === 'station') throw new EvseError('ERR_BAD_ARGUMENT', 'connector 0 is the station');
    return place.evseId;
  };
  const health = () => {
    const o = d.outbox.summary();
    const mem = process.memoryUsage();
    return {
      ocpp: { state: d.link.state, since: new Date(d.link.stateSince).toISOString(), lastAcknowledgedAt: d.link.lastAcknowledgedAt ? new Date(d.link.lastAcknowledgedAt).toISOString() : null },
      outbox: { depth: o.depth, oldestAgeS: o.oldestCreatedAt ? Math.round((d.clock.now() - o.oldestCreatedAt) / 1000) : null, deadLetters: o.deadLetters },
      hardware: cp.hardwareHealth().map(({ evseId, ...h }) => ({
        connectorId: toV16ConnectorId(evseId), ...h, faults: h.faults.map((f) => ({ source: f.source, errorCode: f.errorCode, info: f.info })),
      })),
      chargePointFaults: cp.stationFaults().map((f) => ({ source: f.source, errorCode: f.errorCode })),
      clock: { trusted: d.clock.trusted(), offsetMs: d.clock.offset },
      uptimeS: Math.round((Date.now() - d.startedAt) / 1000),
      memory: { rssMiB: Math.round(mem.rss / 1048576), heapUsedMiB: Math.round(mem.heapUsed / 1048576) },
      eventLoopLagP99Ms: Math.round(lag.percentile(99) / 1e6),
    };
  };
  const ctx: DiagnosticsContext = {
    status: () => ({ connectors: [v16StatusOf(cp.stationCondition()), ...cp.evseIds.map(connectorState)], health: health() }),
    configSummary: () => redactedConfig(d.loaded),
    ocppConfig: () => Object.fromEntries(d.definitions.filter((k) => !k.writeOnly).map((k) => [k.key, d.settings.get(k.key) ?? ''])),
    // The same path as the central system's ChangeConfiguration, side effects included.
    setOcppConfig: (key, value) => changeConfiguration({ definitions: d.definitions, settings: d.settings, log: d.log, link: d.link }, key, value),
    meterRead: async (connectorId) => {
      const evseId = evseOfV16Connector(cp, connectorId);
      if (evseId === undefined) throw new EvseError('ERR_BAD_ARGUMENT', `no connector ${connectorId}`);
      const sample = await cp.triggerSample(evseId);
      const meter = d.modbus?.get(connectorId)?.meter;
      return {
        connectorId, reading: sample?.reading ?? null,
        ...(meter ? { registers: Object.fromEntries(meter.lastValues), profile: d.loaded.config.connectors?.find((c) => c.id === connectorId)?.meter } : {}),
      };
    },
    modbusRead: async (req) => {
      const dev = d.modbus?.get(req.connectorId);
      const target = req.device === 'evse' ? dev?.board : dev?.meter;
      const cfg = d.loaded.config.connectors?.find((c) => c.id === req.connectorId)?.[req.device];
      if (!dev?.bus || !target || !cfg || cfg.driver === 'sim') throw new EvseError('ERR_NO_MODBUS', `connector ${req.connectorId} has no Modbus ${req.device}`);
      const bytes = await dev.bus.read({ unitId: cfg.unitId, timeoutMs: cfg.timeoutMs, retries: 0 }, req.functionCode, req.address, req.count);
      return Array.from({ length: req.count }, (_, i) => bytes.readUInt16BE(i * 2));
    },
    readerLast: () => lastToken,
    outboxList: (limit) => ({
      summary: d.outbox.summary(),
      queued: d.outbox.head(limit).map((e) => ({ seq: e.seq, kind: e.kind, localId: e.localId, createdAt: new Date(e.createdAt).toISOString(), attempts: e.attempts, lastError: e.lastError })),
      deadLetters: d.outbox.deadLetters().slice(0, limit),
    }),
    outboxRetry: () => {
      const n = d.outbox.retryDeadLetters();
      d.link.kick();
      return n;
    },
    sessionsList: (limit) => d.ledger.recent(limit).map((r) => ({
      localId: r.localId, connectorId: toV16ConnectorId(r.evseId), transactionId: r.transactionId, customerRef: r.customerRef, authMethod: r.authMethod,
      startedAt: new Date(r.startedAt).toISOString(), stoppedAt: r.stoppedAt ? new Date(r.stoppedAt).toISOString() : null,
      energyWh: r.meterStopWh !== null ? r.meterStopWh - r.meterStartWh : Math.round(r.lastEnergyWh - r.meterStartWh), stopReason: r.stopReason,
    })),
    logTail: (lines) => d.logControl?.tail(lines) ?? [],
    setLogLevel: (level) => d.logControl?.setLevel(level),
    ocppReconnect: () => d.link.reconnect(),
    restart: () => d.restart(),
    hasActiveSession: () => cp.hasActiveSession(),
    startSession: (connectorId, idTag) => cp.remoteStart(idTag, evseOfConnector(connectorId)),
    stopSession: (connectorId) => cp.stopEvse(evseOfConnector(connectorId), 'Local'),
    unlock: (connectorId) => {
      const place = fromV16ConnectorId(connectorId);
      return place === 'station' ? Promise.resolve('NotSupported' as const) : cp.unlock(place);
    },
    reset: (type) => d.reset(type),
  };
  const diagnostics = new MqttDiagnostics({
    url, protocolVersion, clientId: m.clientId ?? `evse-edge-${cpId}`, username: m.username, password: m.password,
    tls: m.tls, prefix: m.topicPrefix ?? `evse/${cpId}`, healthIntervalMs: m.healthIntervalS * 1000, roles: m.roles,
    technicianWritable: m.technicianWritable, adminCommands: m.adminCommands, requireLoginTopic: m.requireLoginTopic,
    rateLimit: { requests: m.rateLimit.requests, perMs: m.rateLimit.perSeconds * 1000 }, maxRequestAgeMs: m.maxRequestAgeS * 1000,
    ctx, audit: new SqliteAuditLog(d.db, cpId), log: d.log,
    source: {
      info: () => ({
        version: VERSION, chargePointId: cpId, charger: d.loaded.charger.id, connectors: d.loaded.charger.connectors.map((c) => ({ id: c.id, type: c.type, maxPowerW: c.maxPowerW })),
        ocppUrl: d.loaded.config.csms.url.replace(/\/\/[^/@]*@/, '//'), featureProfiles: d.featureProfiles, config: redactedConfig(d.loaded),
      }),
      health,
      connectors: () => cp.evseIds.map(connectorState),
    },
  });
  const at = () => new Date(d.clock.now()).toISOString();
  const publishFault = (connectorId: number, f: FaultReport) =>
    diagnostics.publishEvent({ type: f.active ? 'fault-raised' : 'fault-cleared', at: at(), connectorId, source: f.source, errorCode: f.errorCode, info: f.info });
  const listeners: [string, (...a: any[]) => void][] = [
    ['status', (s: { evseId: EvseId }) => diagnostics.publishConnector(connectorState(s.evseId), true)],
    ['reading', (r: { evseId: EvseId }) => diagnostics.publishConnector(connectorState(r.evseId))],
    ['session-started', (e: { evseId: EvseId; localId: string; customerRef: string; authMethod: string }) =>
      diagnostics.publishEvent({ type: 'session-started', at: at(), connectorId: toV16ConnectorId(e.evseId), localId: e.localId, customerRef: e.customerRef, authMethod: e.authMethod })],
    ['session-stopped', (e: { evseId: EvseId; localId: string; reason: string; energyWh: number }) =>
      diagnostics.publishEvent({ type: 'session-stopped', at: at(), connectorId: toV16ConnectorId(e.evseId), localId: e.localId, reason: e.reason, energyWh: e.energyWh })],
    ['fault', (e: { evseId: EvseId; fault: FaultReport }) => publishFault(toV16ConnectorId(e.evseId), e.fault)],
    ['station-fault', (e: { fault: FaultReport }) => publishFault(toV16ConnectorId('station'), e.fault)],
    ['auth-refused', (e: { evseId?: EvseId; customerRef: string; status: string }) =>
      diagnostics.publishEvent({ type: 'auth-refused', at: at(), connectorId: e.evseId === undefined ? undefined : toV16ConnectorId(e.evseId), customerRef: e.customerRef, status: e.status })],
    ['token', (e: { evseId?: EvseId; customerRef: string; method: string; at: number }) => {
      lastToken = { at: new Date(e.at).toISOString(), customerRef: e.customerRef, method: e.method, connectorId: e.evseId === undefined ? null : toV16ConnectorId(e.evseId) };
    }],
  ];
  for (const [ev, fn] of listeners) cp.on(ev as 'status', fn);
  let wasAccepted = false;
  const onLink = (state: string) => {
    if (state === 'accepted') diagnostics.publishEvent({ type: wasAccepted ? 'reconnect' : 'boot', at: at() });
    if (state === 'offline' && wasAccepted) diagnostics.publishEvent({ type: 'disconnect', at: at() });
    if (state === 'accepted') wasAccepted = true;
    diagnostics.publishHealth();
  };
  const onDead = (e: { seq: number; kind: string; localId: string; error: string }) =>
    diagnostics.publishEvent({ type: 'dead-letter', at: at(), seq: e.seq, kind: e.kind, localId: e.localId, error: e.error });
  const onUnsynced = ({ evseId, ...e }: SessionUnsynced) => diagnostics.publishEvent({ ...e, connectorId: toV16ConnectorId(evseId), type: 'session-unsynced', at: at() });
  d.link.on('state', onLink);
  d.link.on('dead-letter', onDead);
  d.link.on('session-unsynced', onUnsynced);
  await diagnostics.start();
  return {
    diagnostics,
    async stop() {
      for (const [ev, fn] of listeners) cp.off(ev as 'status', fn);
      d.link.off('state', onLink);
      d.link.off('dead-letter', onDead);
      d.link.off('session-unsynced', onUnsynced);
      lag.disable();
      await diagnostics.stop();
      await broker?.stop();
    },
  };
}
