// Worker threads do not inherit the main thread's loader: register the fleet's own (no tsx
// keepNames, see loader-hooks.mjs), then run the TypeScript worker.
import './register-loader.mjs';

await import('./worker.ts');
