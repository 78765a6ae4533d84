/**
 * Structured JSON logs, one object a line (journald collects stdout). Context goes in fields
 * through child loggers, never into the message string.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;
export interface LogRecord extends LogFields {
  time: string;
  level: Exclude<LogLevel, 'silent'>;
  msg: string;
}

export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Log;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LogSink {
  level: LogLevel;
  write(record: LogRecord): void;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: value.message, name: value.name };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  return value;
}

class SinkLog implements Log {
  constructor(
    private readonly sink: LogSink,
    private readonly bound: LogFields,
  ) {}
  private emit(level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void {
    if (rank[level] < rank[this.sink.level]) return;
    const record: LogRecord = { time: new Date().toISOString(), level, msg, ...this.bound };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serialise(v);
    this.sink.write(record);
  }
  debug(msg: string, fields?: LogFields) { this.emit('debug', msg, fields); }
  info(msg: string, fields?: LogFields) { this.emit('info', msg, fields); }
  warn(msg: string, fields?: LogFields) { this.emit('warn', msg, fields); }
  error(msg: string, fields?: LogFields) { this.emit('error', msg, fields); }
  child(fields: LogFields): Log { return new SinkLog(this.sink, { ...this.bound, ...fields }); }
  isLevelEnabled(level: LogLevel): boolean { return rank[level] >= rank[this.sink.level]; }
}

export function createLog(sink: LogSink, fields: LogFields = {}): Log {
  return new SinkLog(sink, fields);
}

/** JSON lines to a stream (stdout by default). */
export function streamSink(level: LogLevel, stream: NodeJS.WritableStream = process.stdout): LogSink {
  // A log reader that went away (EPIPE) must not take the charger down with it.
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  return { level, write: (r) => void (broken || stream.write(JSON.stringify(r) + '\n')) };
}

/** Keeps records in memory: the last `max`, for tests and for `log/tail`. */
export class MemorySink implements LogSink {
  readonly records: LogRecord[] = [];
  constructor(public level: LogLevel = 'debug', private readonly max = 10_000) {}
  write(record: LogRecord): void {
    this.records.push(record);
    if (this.records.length > this.max) this.records.shift();
  }
}

export function teeSink(...sinks: LogSink[]): LogSink {
  const level = sinks.reduce<LogLevel>((lo, s) => (rank[s.level] < rank[lo] ? s.level : lo), 'silent');
  return {
    level,
    write: (r) => {
      for (const s of sinks) if (rank[r.level] >= rank[s.level]) s.write(r);
    },
  };
}

export const silentLog: Log = createLog({ level: 'silent', write: () => {} });
