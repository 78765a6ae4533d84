import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../config/index.js';
import { CentralSystem } from '../csms/central-system.js';
import { sessionsTable } from '../csms/report.js';
import { createLog, levelName, type LogRecord, type LogSink } from '../lib/log.js';
import type { Condition, EvseCondition, StationCondition } from '../core/ports.js';
import { V16StatusChanges, v16StatusOf } from '../ocpp/v16/mapping.js';
import { v16Announced, type V16Condition } from '../ocpp/v16/topology.js';
import { toV201Status } from '../ocpp/v201/mapping.js';
import { Agent } from './agent/controller.js';

export interface DemoOptions {
  out: NodeJS.WritableStream;
  /** How long the vehicles charge, ms. */
  chargeMs: number;
  /** The OCPP version the charger and the embedded central system speak (default 1.6). */
  ocpp?: DemoOcppVersion;
  keepFiles?: boolean;
  /** Ctrl-C: the demo stops its charger and central system and removes its files (unless kept), then rejects with the reason. */
  signal?: AbortSignal;
}

export type DemoOcppVersion = '1.6' | '2.0.1';
export const DEMO_OCPP_VERSIONS: readonly DemoOcppVersion[] = ['1.6', '2.0.1'];

const time = () => new Date().toISOString().slice(11, 23);

/**
 * The demo: the embedded central system and one agent with a simulated two-connector AC
 * charger. Connector 1 is started by an RFID card, connector 2 from the app (a remote start);
 * both charge, both stop, and the central system's session table is printed. On OCPP 1.6 or
 * 2.0.1 (`ocpp`): the same core, the version's own messages (StartTransaction or TransactionEvent,
 * RemoteStartTransaction or RequestStartTransaction) and its own statuses.
 */
export async function runDemo(o: DemoOptions): Promise<{ transactions: number; energyWh: number }> {
  o.signal?.throwIfAborted();
  const dir = mkdtempSync(join(tmpdir(), 'evse-edge-demo-'));
  const running: { agent?: Agent; csms?: CentralSystem } = {};
  try {
    return await demo(o, dir, running);
  } finally {
    // Reached on success, on a failed step and on Ctrl-C alike: nothing left running, no files left behind.
    await running.agent?.stop().catch(() => undefined);
    await running.csms?.close().catch(() => undefined);
    if (!o.keepFiles) rmSync(dir, { recursive: true, force: true });
    else o.out.write(`\nfiles kept in ${dir}\n`);
  }
}

async function demo(o: DemoOptions, dir: string, running: { agent?: Agent; csms?: CentralSystem }): Promise<{ transactions: number; energyWh: number }> {
  const sleep = (ms: number) => pause(ms, o.signal);
  const until = (cond: () => boolean, timeoutMs: number) => waitUntil(cond, timeoutMs, o.signal);
  const say = (what: string, text: string) => o.out.write(`${time()}  ${what.padEnd(8)} ${text}\n`);
  const warnings: LogSink = { level: 'warn', write: (line, level) => say('log', `${levelName(level)}: ${(JSON.parse(line) as LogRecord).msg}`) };
  const log = createLog(warnings);
  const csms = new CentralSystem({ port: 0, dbPath: join(dir, 'csms.db'), log, heartbeatIntervalS: 60 });
  running.csms = csms;
  const port = await csms.listen();
  say('csms', `embedded central system on ws://127.0.0.1:${port}/ocpp`);

  const v201 = o.ocpp === '2.0.1';
  const loaded = parseAgentConfig({
    chargePointId: 'CP-DEMO-1',
    csms: { url: `ws://127.0.0.1:${port}/ocpp`, ocppVersions: [v201 ? 'ocpp2.0.1' : 'ocpp1.6'] },
    store: { path: join(dir, 'agent.db') },
    ocpp: { MeterValueSampleInterval: 5 },
    simulation: { arrivalDelayMs: 1_000, departureDelayMs: 1_500 },
  });
  const agent = new Agent({ loaded, log });
  running.agent = agent;
  let pseudonym = (t: string) => t;
  // 1.6 idTag, 2.0.1 idToken: shown only as their pseudonyms.
  const redact = (msg: string) => msg.replace(/"(idTag|idToken)":"([^"]*)"/g, (_m, field: string, tag: string) => `"${field}":"${pseudonym(tag)}"`);
  csms.on('traffic', (t) => {
    const text = redact(t.message);
    say(t.direction === 'in' ? 'ocpp →' : 'ocpp ←', text.length > 150 ? text.slice(0, 147) + '...' : text);
  });

  await agent.start();
  pseudonym = agent.pseudonym!;
  const cp = agent.chargePoint!;
  if (v201) {
    // Said as 2.0.1 says it: the EVSE's connector status, and its charging state beside it.
    const last = new Map<string, string>();
    const onCondition = (c: EvseCondition | StationCondition) => {
      const where = 'station' in c ? 'station' : `evse ${c.evseId}`;
      const text = `${toV201Status(c)}${'station' in c ? '' : ` (${c.chargingState})`}${c.fault ? ` (${c.fault.errorCode})` : ''}`;
      if (last.get(where) === text) return;
      last.set(where, text);
      say('status', `${where}: ${text}`);
    };
    cp.on('station-status', onCondition);
    cp.on('status', onCondition);
  } else {
    const changes = new V16StatusChanges();
    for (const s of v16Announced(cp)) changes.changed(s);
    // Said as 1.6 says it: the station is connector 0.
    const onCondition = (condition: V16Condition) => {
      if (!changes.changed(condition)) return;
      const s = v16StatusOf(condition);
      say('status', `connector ${s.connectorId}: ${s.status}${s.errorCode !== 'NoError' ? ` (${s.errorCode})` : ''}`);
    };
    cp.on('station-status', onCondition);
    cp.on('status', onCondition);
  }
  let lastShown = 0;
  cp.on('reading', (r) => {
    if (Date.now() - lastShown < 2_000 || r.sessionEnergyWh === undefined) return;
    lastShown = Date.now();
    const lines = cp.evseIds.map((id) => {
      const s = cp.session(id);
      return s ? `c${id} ${(s.energyWh / 1000).toFixed(3)} kWh ${((s.powerW ?? 0) / 1000).toFixed(1)} kW` : `c${id} idle`;
    });
    say('meter', lines.join(' | '));
  });

  const charging = (evseId: number) => cp.evseCondition(evseId).chargingState === 'Charging';
  const idle = (c: Condition) => c.chargingState === 'Idle' && c.availability === 'Operative' && !c.faulted;
  await until(() => agent.link?.state === 'accepted', 20_000);
  say('demo', `card ${pseudonym('DEMO0001')} presented at connector 1 (RFID)`);
  agent.sim.reader.present({ token: { id: 'DEMO0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
  await until(() => charging(1), 15_000);
  if (v201) {
    say('demo', 'the app starts EVSE 2 (RequestStartTransaction)');
    await csms.callV201('CP-DEMO-1', 'RequestStartTransaction', { evseId: 2, remoteStartId: 1, idToken: { idToken: 'DEMO0002', type: 'Central' } });
  } else {
    say('demo', 'the app starts connector 2 (RemoteStartTransaction)');
    await csms.call('CP-DEMO-1', 'RemoteStartTransaction', { connectorId: 2, idTag: 'DEMO0002' });
  }
  await until(() => charging(2), 15_000);
  await sleep(o.chargeMs);

  say('demo', `card ${pseudonym('DEMO0001')} presented again: stops connector 1`);
  agent.sim.reader.present({ token: { id: 'DEMO0001', type: 'ISO14443' }, method: 'rfid', evseId: 1 });
  if (v201) {
    const tx2 = csms.store.transactionsV201('CP-DEMO-1').find((t) => t.evseId === 2 && !t.endedAt);
    if (tx2) {
      say('demo', `the app stops EVSE 2 (RequestStopTransaction ${tx2.transactionId})`);
      await csms.callV201('CP-DEMO-1', 'RequestStopTransaction', { transactionId: tx2.transactionId });
    }
  } else {
    const tx2 = csms.store.transactions().find((t) => t.connectorId === 2 && !t.stoppedAt);
    if (tx2) {
      say('demo', `the app stops connector 2 (RemoteStopTransaction ${tx2.transactionId})`);
      await csms.call('CP-DEMO-1', 'RemoteStopTransaction', { transactionId: tx2.transactionId });
    }
  }
  await until(() => csms.store.sessions().every((t) => t.stoppedAt) && (agent.outbox?.summary().depth ?? 1) === 0, 15_000);
  await until(() => idle(cp.evseCondition(1)) && idle(cp.evseCondition(2)), 10_000).catch(() => undefined);

  const rows = csms.store.sessions();
  running.agent = undefined;
  await agent.stop();
  running.csms = undefined;
  await csms.close();
  o.out.write('\nSessions recorded by the central system:\n' + sessionsTable(rows.map((r) => ({ ...r, idTag: r.idTag === null ? null : pseudonym(r.idTag) }))) + '\n');
  return { transactions: rows.length, energyWh: rows.reduce((a, r) => a + (r.energyWh ?? 0), 0) };
}

/** Wait `ms`; an abort ends the wait at once with the signal's reason. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function waitUntil(cond: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('demo: a step did not happen in time');
    await pause(50, signal);
  }
}
