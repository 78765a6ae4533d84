/**
 * Structured logs on pino: one JSON object a line (journald collects stdout), with pino's
 * numeric levels, epoch-ms `time`, `pid` and `hostname`, so pino-pretty and every pino tool
 * read them; errors under `err` carry their type, message, code and stack (pino's err
 * serializer). Context goes in fields through child loggers, never into the message string.
 *
 * No transport (no extra worker thread per logger): lines are written in the calling thread,
 * which matters for a fleet whose worker threads each host thousands of chargers. A child
 * logger is pino's own child (its bindings serialised once) behind a two-field wrapper, and a
 * call below the level is pino's no-op.
 */
import { createRequire } from 'node:module';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
/** pino's numbers for our levels (trace 10 and fatal 60 are not used). */
export const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity } as const satisfies Record<LogLevel, number>;

export type LogFields = Record<string, unknown>;
/** One record as written (a parsed line). */
export interface LogRecord extends LogFields {
  level: number;
  /** Epoch ms. */
  time: number;
  pid: number;
  hostname: string;
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

/**
 * Where lines go. `level` is the lowest level written and may change at run time (lines are
 * then filtered here; the logger's own level is the sink's at creation). `write` gets the
 * serialised line (JSON ending in a newline), its numeric level and the call's fields object
 * (without the child's bindings), so a sink can count or inspect records without parsing.
 */
export interface LogSink {
  level: LogLevel;
  write(line: string, level: number, fields: LogFields | undefined): void;
}

/** pino sets lastLevel/lastObj on a destination that carries this symbol before each write. */
const METADATA = Symbol.for('pino.metadata');

interface MetadataDestination extends DestinationStream {
  [METADATA]: true;
  lastLevel: number;
  lastObj: LogFields | undefined;
}

function destinationOf(sink: LogSink): MetadataDestination {
  return {
    [METADATA]: true,
    lastLevel: 0,
    lastObj: undefined,
    write(line: string) {
      if (this.lastLevel >= LEVELS[sink.level]) sink.write(line, this.lastLevel, this.lastObj);
    },
  };
}

class PinoLog implements Log {
  constructor(readonly p: Logger) {}
  debug(msg: string, fields?: LogFields): void {
    if (fields) this.p.debug(fields, msg);
    else this.p.debug(msg);
  }
  info(msg: string, fields?: LogFields): void {
    if (fields) this.p.info(fields, msg);
    else this.p.info(msg);
  }
  warn(msg: string, fields?: LogFields): void {
    if (fields) this.p.warn(fields, msg);
    else this.p.warn(msg);
  }
  error(msg: string, fields?: LogFields): void {
    if (fields) this.p.error(fields, msg);
    else this.p.error(msg);
  }
  child(fields: LogFields): Log {
    return new LazyChildLog(this.p, undefined, fields);
  }
  isLevelEnabled(level: LogLevel): boolean {
    return level !== 'silent' && this.p.isLevelEnabled(level);
  }
}

/**
 * A child logger whose pino child (its bindings serialised) is made on the first record at an
 * enabled level: a charger makes one per presented token, and most never write a line (a
 * fleet logs at warn). A child of a child is lazy too: a fleet's charger hands a child of its
 * own (cp) to each of its parts (component), and none of them is made until one writes (some
 * 600 bytes of heap per charger). A child has its root's level (pino sets a child's level once,
 * at creation, from its parent's), so asking the root is the same answer; the lines written are
 * the same as an eager child's.
 */
class LazyChildLog implements Log {
  private real: PinoLog | undefined;
  constructor(
    /** The nearest pino logger above: it answers for the level. */
    private readonly root: Logger,
    /** The lazy child this one is a child of, if any (made first, when this one is). */
    private readonly parent: LazyChildLog | undefined,
    private readonly fields: LogFields,
  ) {}
  private made(): PinoLog {
    return (this.real ??= new PinoLog((this.parent ? this.parent.made().p : this.root).child(this.fields)));
  }
  debug(msg: string, fields?: LogFields): void {
    if (this.real || this.root.isLevelEnabled('debug')) this.made().debug(msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.real || this.root.isLevelEnabled('info')) this.made().info(msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.real || this.root.isLevelEnabled('warn')) this.made().warn(msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    if (this.real || this.root.isLevelEnabled('error')) this.made().error(msg, fields);
  }
  child(fields: LogFields): Log {
    return this.real ? this.real.child(fields) : new LazyChildLog(this.root, this, fields);
  }
  isLevelEnabled(level: LogLevel): boolean {
    return level !== 'silent' && this.root.isLevelEnabled(level);
  }
}

/** A logger writing to `sink` at its level, with `fields` bound to every record. */
export function createLog(sink: LogSink, fields: LogFields = {}): Log {
  const root = pino(
    {
      level: sink.level,
      // `err` is pino's default; `error` too, for the odd call site that names it so.
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
    },
    destinationOf(sink),
  );
  return new PinoLog(Object.keys(fields).length ? root.child(fields) : root);
}

/**
 * Lines to stdout (or `fd`), written synchronously by pino's SonicBoom; a reader that went away
 * (EPIPE) silences it instead of taking the charger down. On a terminal (stdout a TTY, and
 * `pretty` not false) pino-pretty formats them: loaded only then.
 */
export function streamSink(level: LogLevel, o: { fd?: number; pretty?: boolean } = {}): LogSink {
  const fd = o.fd ?? 1;
  const tty = fd === 1 ? process.stdout.isTTY : fd === 2 ? process.stderr.isTTY : false;
  let out: { write(line: string): unknown };
  if (o.pretty ?? tty) {
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as (opts: object) => { write(line: string): unknown };
    out = pretty({ destination: fd, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  } else {
    out = pino.destination({ fd, sync: true });
  }
  return { level, write: (line) => void out.write(line) };
}

/** Keeps records in memory (parsed): the last `max`, for tests and for `log/tail`. */
export class MemorySink implements LogSink {
  readonly records: LogRecord[] = [];
  constructor(public level: LogLevel = 'debug', private readonly max = 10_000) {}
  write(line: string): void {
    this.records.push(JSON.parse(line) as LogRecord);
    if (this.records.length > this.max) this.records.shift();
  }
}

/** Every line to each sink whose level it reaches; the tee's level is the lowest of theirs at creation. */
export function teeSink(...sinks: LogSink[]): LogSink {
  const level = sinks.reduce<LogLevel>((lo, s) => (LEVELS[s.level] < LEVELS[lo] ? s.level : lo), 'silent');
  return {
    level,
    write: (line, n, fields) => {
      for (const s of sinks) if (n >= LEVELS[s.level]) s.write(line, n, fields);
    },
  };
}

/** The level's name for a numeric level (pino's trace and fatal map to the nearest of ours). */
export function levelName(level: number): Exclude<LogLevel, 'silent'> {
  return level >= LEVELS.error ? 'error' : level >= LEVELS.warn ? 'warn' : level >= LEVELS.info ? 'info' : 'debug';
}

export const silentLog: Log = createLog({ level: 'silent', write: () => {} });
