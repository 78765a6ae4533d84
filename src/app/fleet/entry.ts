import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The fleet's worker threads and child processes start from the module beside this one: the
 * built `<name>.js` in dist/, or `<name>.ts` when the sources run (tests, `tsx`), through tsx,
 * a development dependency that is never loaded from the built files.
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The young generation's semi-space of a fleet thread, MB (V8 lets it grow to 16). A fleet's
 * calls keep their messages alive across a round trip, so a scavenge copies many survivors: with
 * the default, scavenges of 20-45 ms and up to 145 ms at 8,000 chargers in one thread
 * (--trace-gc); with 4 MB, four times as many of 7-15 ms, at most 43 ms, for the same CPU per
 * message. Only a flag at an isolate's start sets it (setFlagsFromString later does not).
 */
export const FLEET_SEMI_SPACE_MB = Number(process.env.EVSE_EDGE_FLEET_SEMI_SPACE_MB ?? 4);

function entry(name: string): URL {
  return new URL(`./${name}.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url);
}

/** A worker thread running the fleet module `name` (e.g. 'worker'). */
export function startWorker(name: string, options: WorkerOptions): Worker {
  // A young generation is two semi-spaces and a large-object space of the same size.
  if (FLEET_SEMI_SPACE_MB > 0) options = { ...options, resourceLimits: { maxYoungGenerationSizeMb: 3 * FLEET_SEMI_SPACE_MB, ...options.resourceLimits } };
  if (!FROM_SOURCES) return new Worker(entry(name), options);
  // A worker thread does not inherit the loader of the thread that starts it: register tsx first.
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry(name).href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/** A child process running the fleet module `name` (e.g. 'process-child'), with an IPC channel. */
export function forkProcess(name: string, options: ForkOptions): ChildProcess {
  const semi = FLEET_SEMI_SPACE_MB > 0 ? [`--max-semi-space-size=${FLEET_SEMI_SPACE_MB}`] : [];
  const execArgv = [...semi, ...(options.execArgv ?? []), ...(FROM_SOURCES ? ['--import', import.meta.resolve('tsx')] : [])];
  return fork(entry(name), [], { ...options, execArgv });
}
