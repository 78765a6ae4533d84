import { parentPort, workerData } from 'node:worker_threads';
import { FleetHost, type HostOptions } from './host.js';

/** Messages between the runner and a worker thread. */
export type ToWorker = { type: 'snapshot' } | { type: 'stop' };
export type FromWorker =
  | { type: 'snapshot'; snapshot: ReturnType<FleetHost['snapshot']> }
  | { type: 'stopped'; snapshot: ReturnType<FleetHost['snapshot']>; events: string[] }
  | { type: 'error'; message: string };

const port = parentPort!;
try {
  const host = new FleetHost(workerData as HostOptions);
  host.start();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'snapshot') port.postMessage({ type: 'snapshot', snapshot: host.snapshot() } satisfies FromWorker);
    else if (m.type === 'stop') {
      void host.stop().then((snapshot) => {
        port.postMessage({ type: 'stopped', snapshot, events: host.events } satisfies FromWorker);
        port.close();
      });
    }
  });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) } satisfies FromWorker);
}
