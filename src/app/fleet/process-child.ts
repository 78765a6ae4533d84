import { FleetRunner } from './runner.js';
import type { FromChild, ToChild } from './processes.js';
import { emptyAnswer, type ControlAnswer } from './control/protocol.js';

/** One process of a multi-process fleet: runs its sub-shard and reports to the parent over IPC. */
const send = (m: FromChild, then?: () => void) => {
  if (process.connected) process.send!(m, undefined, undefined, then);
};
const finish = (m: FromChild) => send(m, () => {
  process.disconnect();
  // Whatever still holds the loop (a socket closing late) must not keep the process.
  setTimeout(() => process.exit(0), 2_000).unref();
});
let runner: FleetRunner | undefined;
// Ctrl-C reaches the whole process group: the parent asks each child to stop, so that every
// report is still written; a parent that goes away stops the child too.
process.on('SIGINT', () => {});
process.on('disconnect', () => {
  if (runner) runner.stop();
  else process.exit(1);
});
process.on('message', (m: ToChild) => {
  if (m.type === 'stop') {
    runner?.stop();
    return;
  }
  if (m.type === 'finish') {
    runner?.finish();
    return;
  }
  if (m.type === 'control') {
    const reply = (answer: ControlAnswer) => send({ type: 'control-answer', id: m.id, answer });
    if (!runner) reply(emptyAnswer(m.req));
    else runner.control(m.req).then(reply, () => reply(emptyAnswer(m.req)));
    return;
  }
  if (m.type !== 'run' || runner) return;
  try {
    runner = new FleetRunner({
      ...m.options,
      onStatus: (status) => send({ type: 'status', status }),
      onWarning: (message) => send({ type: 'warning', message }),
      onControlEvents: (events) => send({ type: 'control-events', events }),
    });
  } catch (err) {
    finish({ type: 'error', code: (err as { code?: string }).code, message: (err as Error).message });
    return;
  }
  runner.run().then(
    ({ report, events }) => finish({ type: 'done', report, events }),
    (err: Error & { code?: string }) => finish({ type: 'error', code: err.code, message: err.message }),
  );
});
