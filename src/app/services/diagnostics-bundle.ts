/**
 * The diagnostics bundle for GetDiagnostics: recent logs, the redacted configuration, database
 * health, an outbox summary and hardware error counters, as a tar.gz. What leaves the charger
 * never holds an idTag, a key or a password: fields that name one are pseudonymised or
 * redacted, and, as a second line of defence, every idTag the store knows and every secret
 * value is replaced wherever it still appears in the text.
 */
import type { ChargePoint } from '../../core/charge-point.js';
import type { LogRecord } from '../../lib/log.js';
import { tarGz } from '../../lib/tar.js';
import type { KeyDefinition } from '../../ocpp/v16/configuration.js';
import { v16StatusOf } from '../../ocpp/v16/mapping.js';
import { toV16ConnectorId, v16Conditions } from '../../ocpp/v16/topology.js';
import { checkHealth, type SqliteDatabase, type SqliteOutbox, type SqliteSettings } from '../../store/index.js';

export interface BundleSources {
  chargePointId: string;
  version: string;
  db: SqliteDatabase;
  outbox: SqliteOutbox;
  settings: SqliteSettings;
  definitions: KeyDefinition[];
  chargePoint: ChargePoint;
  /** The agent's config, already redacted (redactedConfig). */
  config: Record<string, unknown>;
  /** Secrets of the config in clear (passwords, keys), to be sure none slips through. */
  secrets: string[];
  logs: () => LogRecord[];
  pseudonym: (idTag: string) => string;
}

const SECRET_FIELD = /password|passwd|secret|token|credential|authorizationkey|privatekey|apikey|^key$/i;
const TAG_FIELD = /^(idTag|parentIdTag|id_tag|parent_id_tag|uid)$/i;

/** Replace secret fields and pseudonymise tag fields, at any depth. */
export function redactFields(value: unknown, pseudonym: (idTag: string) => string, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_FIELD.test(key)) return '(redacted)';
    if (TAG_FIELD.test(key)) return `ref:${pseudonym(value)}`;
    return value;
  }
  if (Array.isArray(value)) return value.map((x) => redactFields(x, pseudonym, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactFields(v, pseudonym, k)]));
  }
  return value;
}

function rows<T>(db: SqliteDatabase, sql: string, ...params: unknown[]): T[] {
  try {
    return db.prepare(sql).all(...params) as T[];
  } catch {
    return [];
  }
}

/** Every idTag the store holds in clear (local list, cache, sessions, queued messages). */
function knownIdTags(db: SqliteDatabase): Set<string> {
  const tags = new Set<string>();
  for (const sql of [
    'SELECT id_tag AS t FROM local_auth_list', 'SELECT parent_id_tag AS t FROM local_auth_list', 'SELECT id_tag AS t FROM auth_cache',
    'SELECT parent_id_tag AS t FROM auth_cache', 'SELECT DISTINCT id_tag AS t FROM sessions',
  ]) for (const r of rows<{ t: string | null }>(db, sql)) if (r.t) tags.add(r.t);
  for (const r of rows<{ payload: string }>(db, `SELECT payload FROM outbox WHERE payload LIKE '%idTag%' LIMIT 100000`)) {
    const m = r.payload.match(/"idTag":"((?:[^"\\]|\\.)*)"/g) ?? [];
    for (const x of m) tags.add(JSON.parse(x.slice(8)) as string);
  }
  return tags;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The second line of defence: no known tag or secret survives anywhere in the text. */
export function scrubText(text: string, tags: Iterable<string>, secrets: Iterable<string>, pseudonym: (idTag: string) => string): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('(redacted)');
  for (const t of tags) {
    if (t.length < 4) continue;
    out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escape(t)}(?![A-Za-z0-9])`, 'g'), `ref:${pseudonym(t)}`);
  }
  return out;
}

function databaseHealth(db: SqliteDatabase): Record<string, unknown> {
  const count = (table: string, where = '') => rows<{ n: number }>(db, `SELECT COUNT(*) AS n FROM ${table} ${where}`)[0]?.n ?? null;
  let health: Record<string, unknown>;
  try {
    health = checkHealth(db);
  } catch (err) {
    health = { ok: false, error: (err as Error).message };
  }
  return {
    ...health,
    schemaVersion: db.pragma('user_version', { simple: true }),
    sizeBytes: (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number),
    freePages: db.pragma('freelist_count', { simple: true }),
    rows: {
      sessions: count('sessions'), openSessions: count('sessions', 'WHERE stopped_at IS NULL'), meterSamples: count('meter_samples'),
      outboxQueued: count('outbox', "WHERE state = 'queued'"), outboxDead: count('outbox', "WHERE state = 'dead'"),
      localAuthList: count('local_auth_list'), authCache: count('auth_cache'), chargingProfiles: count('charging_profiles'), reservations: count('reservations'),
    },
  };
}

/** Build the bundle; `window` limits the logs to [startMs, stopMs]. */
export function buildDiagnosticsBundle(src: BundleSources, nowMs: number, window: { startMs?: number; stopMs?: number } = {}): { fileName: string; data: Buffer } {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const fileName = `${src.chargePointId.replace(/[^A-Za-z0-9._-]/g, '_')}-diagnostics-${stamp}.tar.gz`;
  const logs = src.logs().filter((r) => {
    const t = r.time;
    return (window.startMs === undefined || t >= window.startMs) && (window.stopMs === undefined || t <= window.stopMs);
  });
  const cp = src.chargePoint;
  const ocppConfig = Object.fromEntries(src.definitions.filter((d) => !d.writeOnly).map((d) => [d.key, src.settings.get(d.key) ?? '']));
  const writeOnlyValues = src.definitions.filter((d) => d.writeOnly).map((d) => src.settings.get(d.key) ?? '');
  const files: Record<string, unknown> = {
    'manifest.json': {
      chargePointId: src.chargePointId, version: src.version, createdAt: new Date(nowMs).toISOString(),
      window: { start: window.startMs !== undefined ? new Date(window.startMs).toISOString() : null, stop: window.stopMs !== undefined ? new Date(window.stopMs).toISOString() : null },
      contents: ['logs.jsonl', 'config.json', 'database.json', 'outbox.json', 'hardware.json'],
      privacy: 'idTags appear only as keyed pseudonyms (ref:…); keys and passwords are redacted',
    },
    'config.json': { agent: src.config, ocpp: ocppConfig },
    'database.json': databaseHealth(src.db),
    'outbox.json': {
      summary: src.outbox.summary(),
      deadLetters: src.outbox.deadLetters().map((e) => ({ ...e, createdAt: new Date(e.createdAt).toISOString() })),
    },
    'hardware.json': {
      // Numbered as OCPP 1.6 does (connector 0 the station, n EVSE n), as every release wrote it.
      statuses: v16Conditions(cp).map(v16StatusOf),
      connectors: cp.hardwareHealth().map(({ evseId, ...h }) => ({ connectorId: toV16ConnectorId(evseId), ...h })),
      chargePointFaults: cp.stationFaults(),
    },
  };
  const tags = knownIdTags(src.db);
  const secrets = [...src.secrets, ...writeOnlyValues];
  const text = (v: unknown) => scrubText(JSON.stringify(redactFields(v, src.pseudonym), null, 2) + '\n', tags, secrets, src.pseudonym);
  const entries = Object.entries(files).map(([name, v]) => ({ name, data: text(v), mtimeMs: nowMs }));
  const logText = logs.map((r) => JSON.stringify(redactFields(r, src.pseudonym))).join('\n') + (logs.length ? '\n' : '');
  entries.push({ name: 'logs.jsonl', data: scrubText(logText, tags, secrets, src.pseudonym), mtimeMs: nowMs });
  return { fileName, data: tarGz(entries.map((e) => ({ ...e, name: `diagnostics/${e.name}` }))) };
}
