// Worker threads do not inherit the main thread's tsx loader: register it here, as
// bin/evse-edge.js does, then run the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
