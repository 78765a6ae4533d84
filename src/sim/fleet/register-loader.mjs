// Register the fleet's TypeScript loader (loader-hooks.mjs) in this thread, with source maps
// for stack traces. Worker threads and child processes each call this first.
import { register } from 'node:module';

process.setSourceMapsEnabled(true);
register('./loader-hooks.mjs', import.meta.url);
