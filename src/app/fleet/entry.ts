import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The fleet's worker threads and child processes start from the module beside this one: the
 * built `<name>.js` in dist/, or `<name>.ts` when the sources run (tests, `tsx`), through tsx,
 * a development dependency that is never loaded from the built files.
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The young generation's semi-space of a fleet thread, MB; 0 (the default): V8's own, which grows
 * it to 16 MB. A smaller one makes each scavenge shorter (at 8,000 chargers in one thread, 4 MB:
 * scavenges of 7-15 ms instead of 20-45 ms, --trace-gc), but promotes more of a round trip's
 * messages into the old generation. On `npm run bench:fleet` (20,000 chargers, 150 s, quiet
 * machine, two runs each), 4 MB cost CPU and stalled longer: steady messages per CPU-second
 * 5,879 and 5,995 against 7,040 and 6,380 with V8's default, lag max 1.5 and 2.9 s against 0.9
 * and 0.9 s. Kept as EVSE_EDGE_FLEET_SEMI_SPACE_MB for experiments; only a flag at an isolate's
 * start sets it (setFlagsFromString later does not).
 */
export const FLEET_SEMI_SPACE_MB = Number(process.env.EVSE_EDGE_FLEET_SEMI_SPACE_MB ?? 0);

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
