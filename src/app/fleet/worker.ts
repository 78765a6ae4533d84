import { parentPort, workerData } from 'node:worker_threads';
import { FleetHost, type AppStart, type HostOptions } from './host.js';
import { emptyAnswer, type ControlAnswer, type ControlEvent, type ControlRequest } from './control/protocol.js';

/** Messages between the runner and a worker thread. */
export type ToWorker = { type: 'snapshot' } | { type: 'stop'; fast?: boolean; catchUp?: boolean } | { type: 'app-start-result'; id: number; ok: boolean }
  | { type: 'control'; id: number; req: ControlRequest };
export type FromWorker =
  | { type: 'snapshot'; snapshot: ReturnType<FleetHost['snapshot']> }
  | { type: 'stopped'; snapshot: ReturnType<FleetHost['snapshot']>; events: string[] }
  | { type: 'error'; message: string }
  /** The control API: an answer to a request, and what happened to the chargers (in batches). */
  | { type: 'control-answer'; id: number; answer: ControlAnswer }
  | { type: 'control-events'; events: ControlEvent[] }
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
  const control = opts.control ? host.attachControl((events) => port.postMessage({ type: 'control-events', events } satisfies FromWorker)) : undefined;
  host.start();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'app-start-result') {
      pending.get(m.id)?.(m.ok);
      pending.delete(m.id);
    } else if (m.type === 'control') {
      const reply = (answer: ControlAnswer) => port.postMessage({ type: 'control-answer', id: m.id, answer } satisfies FromWorker);
      if (!control) reply(emptyAnswer(m.req));
      else control.control(m.req).then(reply, () => reply(emptyAnswer(m.req)));
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
