import { parentPort, workerData } from 'node:worker_threads';
import { FleetHost, type AppStart, type HostOptions } from './host.js';

/** Messages between the runner and a worker thread. */
export type ToWorker = { type: 'snapshot' } | { type: 'stop'; fast?: boolean; catchUp?: boolean } | { type: 'app-start-result'; id: number; ok: boolean };
export type FromWorker =
  | { type: 'snapshot'; snapshot: ReturnType<FleetHost['snapshot']> }
  | { type: 'stopped'; snapshot: ReturnType<FleetHost['snapshot']>; events: string[] }
  | { type: 'error'; message: string }
  /** Ask the central system (through the runner) to send RemoteStartTransaction. */
  | { type: 'app-start'; id: number; chargePointId: string; idTag: string; connectorId: number };

const port = parentPort!;
try {
  const opts = workerData as HostOptions & { appStartByRunner?: boolean };
  const pending = new Map<number, (ok: boolean) => void>();
  let nextId = 0;
  const appStart: AppStart | undefined = opts.appStartByRunner
    ? (chargePointId, idTag, connectorId) => new Promise<boolean>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      port.postMessage({ type: 'app-start', id, chargePointId, idTag, connectorId } satisfies FromWorker);
    })
    : undefined;
  const host = new FleetHost(opts, appStart);
  host.start();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'app-start-result') {
      pending.get(m.id)?.(m.ok);
      pending.delete(m.id);
    } else if (m.type === 'snapshot') port.postMessage({ type: 'snapshot', snapshot: host.snapshot() } satisfies FromWorker);
    else if (m.type === 'stop') {
      void host.stop(undefined, m.fast, m.catchUp).then((snapshot) => {
        port.postMessage({ type: 'stopped', snapshot, events: host.events } satisfies FromWorker);
        port.close();
      });
    }
  });
} catch (err) {
  port.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) } satisfies FromWorker);
}
