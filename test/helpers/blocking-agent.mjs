// `evse-edge` as a child process that blocks its own event loop for ever on SIGUSR2: what a
// hung agent looks like to systemd's watchdog. Usage: node blocking-agent.mjs agent --config FILE
import { register } from 'tsx/esm/api';

register();
process.on('SIGUSR2', () => {
  process.stdout.write('{"msg":"blocking the event loop"}\n'); // a pipe: written synchronously on Linux
  for (;;);
});
await import('../../src/cli/main.ts');
