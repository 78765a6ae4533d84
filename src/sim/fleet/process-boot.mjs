// A fleet child process: register the fleet's TypeScript loader (see loader-hooks.mjs), then run.
import './register-loader.mjs';

await import('./process-child.ts');
