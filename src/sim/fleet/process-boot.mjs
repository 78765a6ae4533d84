// A fleet child process: register the TypeScript loader (as bin/evse-edge.js does), then run.
import { register } from 'tsx/esm/api';

register();
await import('./process-child.ts');
