import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The project root, wherever this file is run from.
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    // bin/evse-edge.js, as the tests start it, runs the sources (through tsx), not dist/: the
    // build is tested by test/build/package.test.ts.
    env: { EVSE_EDGE_SOURCES: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests start real peers and child processes; two cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
