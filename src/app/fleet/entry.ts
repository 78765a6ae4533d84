import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The fleet's worker threads and child processes start from the module beside this one: the
 * built `<name>.js` in dist/, or `<name>.ts` when the sources run (tests, `tsx`), through tsx,
 * a development dependency that is never loaded from the built files.
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

function entry(name: string): URL {
  return new URL(`./${name}.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url);
}

/** A worker thread running the fleet module `name` (e.g. 'worker'). */
export function startWorker(name: string, options: WorkerOptions): Worker {
  if (!FROM_SOURCES) return new Worker(entry(name), options);
  // A worker thread does not inherit the loader of the thread that starts it: register tsx first.
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry(name).href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/** A child process running the fleet module `name` (e.g. 'process-child'), with an IPC channel. */
export function forkProcess(name: string, options: ForkOptions): ChildProcess {
  const execArgv = FROM_SOURCES ? [...(options.execArgv ?? []), '--import', import.meta.resolve('tsx')] : options.execArgv;
  return fork(entry(name), [], { ...options, execArgv });
}
