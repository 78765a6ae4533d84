import { EvseError } from '../lib/errors.js';
import type { LogLevel, LogRecord } from '../lib/log.js';

export type Role = 'viewer' | 'technician' | 'admin';
export const roleRank: Record<Role, number> = { viewer: 0, technician: 1, admin: 2 };

/** What the diagnostics may ask of the agent. Implemented by the application. */
export interface DiagnosticsContext {
  status(): Record<string, unknown>;
  configSummary(): Record<string, unknown>;
  ocppConfig(): Record<string, string>;
  setOcppConfig(key: string, value: string): 'Accepted' | 'Rejected' | 'NotSupported' | 'RebootRequired';
  meterRead(connectorId: number): Promise<Record<string, unknown>>;
  modbusRead(req: { connectorId: number; device: 'meter' | 'evse'; functionCode: 3 | 4; address: number; count: number }): Promise<number[]>;
  readerLast(): Record<string, unknown> | null;
  outboxList(limit: number): Record<string, unknown>;
  outboxRetry(): number;
  sessionsList(limit: number): Record<string, unknown>[];
  logTail(lines: number): LogRecord[];
  setLogLevel(level: LogLevel): void;
  ocppReconnect(): Promise<void>;
  restart(): Promise<void>;
  hasActiveSession(): boolean;
  startSession(connectorId: number, idTag: string): Promise<boolean>;
  stopSession(connectorId: number): Promise<boolean>;
  unlock(connectorId: number): Promise<string>;
  reset(type: 'Soft' | 'Hard'): Promise<void>;
}

export class DiagError extends EvseError {}

export interface CommandSpec {
  /** The least role that may run it. */
  role: Role;
  /** Moves energy or weakens security: offered only when the config enables admin commands. */
  dangerous?: boolean;
  /** Refused while a session is active unless `force: true`. */
  refusedDuringSession?: boolean;
  run(args: Record<string, unknown>, ctx: DiagnosticsContext, opts: { technicianWritable: readonly string[] }): Promise<unknown> | unknown;
}

const int = (args: Record<string, unknown>, name: string, def?: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
  const v = args[name] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DiagError('ERR_BAD_ARGUMENT', `${name}: expected an integer ${min}..${max}`);
  }
  return v;
};
const str = (args: Record<string, unknown>, name: string): string => {
  const v = args[name];
  if (typeof v !== 'string' || !v) throw new DiagError('ERR_BAD_ARGUMENT', `${name}: expected a string`);
  return v;
};

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** One handler per request, `<noun>/<verb>`. */
export const commands: Record<string, CommandSpec> = {
  'status/get': { role: 'technician', run: (_a, ctx) => ctx.status() },
  'config/get': { role: 'technician', run: (_a, ctx) => ({ summary: ctx.configSummary(), ocpp: ctx.ocppConfig() }) },
  'config/set': {
    role: 'technician',
    run: (a, ctx, { technicianWritable }) => {
      const asked = str(a, 'key');
      // OCPP configuration keys are case-insensitive (1.6 CiString, as ChangeConfiguration finds them): so is this list.
      const key = technicianWritable.find((k) => k.toLowerCase() === asked.toLowerCase());
      if (!key) throw new DiagError('ERR_NOT_WRITABLE', `${asked} is not technician-writable`);
      const value = a.value;
      if (!['string', 'number', 'boolean'].includes(typeof value)) throw new DiagError('ERR_BAD_ARGUMENT', 'value: expected a string, number or boolean');
      const status = ctx.setOcppConfig(key, String(value));
      if (status === 'Rejected' || status === 'NotSupported') throw new DiagError('ERR_CONFIG_REJECTED', `${key}: ${status}`);
      return { key, status };
    },
  },
  'meter/read': { role: 'technician', run: (a, ctx) => ctx.meterRead(int(a, 'connectorId', 1, 1, 32)) },
  'modbus/read': {
    role: 'technician',
    run: async (a, ctx) => {
      const functionCode = int(a, 'functionCode', 3, 3, 4) as 3 | 4;
      const req = { connectorId: int(a, 'connectorId', 1, 1, 32), device: (a.device === 'evse' ? 'evse' : 'meter') as 'meter' | 'evse', functionCode, address: int(a, 'address', undefined, 0, 65_535), count: int(a, 'count', 1, 1, 125) };
      return { ...req, registers: await ctx.modbusRead(req) };
    },
  },
  'reader/last': { role: 'technician', run: (_a, ctx) => ctx.readerLast() },
  'outbox/list': { role: 'technician', run: (a, ctx) => ctx.outboxList(int(a, 'limit', 20, 1, 500)) },
  'outbox/retry': { role: 'technician', run: (_a, ctx) => ({ requeued: ctx.outboxRetry() }) },
  'sessions/list': { role: 'technician', run: (a, ctx) => ctx.sessionsList(int(a, 'limit', 20, 1, 500)) },
  'log/tail': { role: 'technician', run: (a, ctx) => ctx.logTail(int(a, 'lines', 50, 1, 1000)) },
  'log/level': {
    role: 'technician',
    run: (a, ctx) => {
      const level = a.level as LogLevel;
      if (!LEVELS.includes(level)) throw new DiagError('ERR_BAD_ARGUMENT', `level: expected one of ${LEVELS.join(', ')}`);
      ctx.setLogLevel(level);
      return { level };
    },
  },
  'ocpp/reconnect': { role: 'technician', run: async (_a, ctx) => (await ctx.ocppReconnect(), { reconnecting: true }) },
  'agent/restart': { role: 'technician', refusedDuringSession: true, run: async (_a, ctx) => (void ctx.restart(), { restarting: true }) },
  'session/start': {
    role: 'admin', dangerous: true,
    run: async (a, ctx) => ({ accepted: await ctx.startSession(int(a, 'connectorId', 1, 1, 32), str(a, 'idTag')) }),
  },
  'session/stop': { role: 'admin', dangerous: true, run: async (a, ctx) => ({ stopped: await ctx.stopSession(int(a, 'connectorId', 1, 1, 32)) }) },
  'connector/unlock': {
    role: 'admin', dangerous: true, refusedDuringSession: true,
    run: async (a, ctx) => ({ result: await ctx.unlock(int(a, 'connectorId', 1, 1, 32)) }),
  },
  'agent/reset': {
    role: 'admin', dangerous: true, refusedDuringSession: true,
    run: async (a, ctx) => {
      const type = a.type === 'Hard' ? 'Hard' : 'Soft';
      void ctx.reset(type);
      return { resetting: type };
    },
  },
};
