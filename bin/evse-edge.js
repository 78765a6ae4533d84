#!/usr/bin/env node
// The command line: the JavaScript that `npm run build` compiles to dist/ (`npm ci` builds it).
// EVSE_EDGE_SOURCES=1 (set by the test configuration) runs the TypeScript sources instead,
// through tsx, a development dependency that an installed package does not have.
if (process.env.EVSE_EDGE_SOURCES === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else {
  const main = new URL('../dist/cli/main.js', import.meta.url);
  try {
    await import(main.href);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && err.url === main.href) {
      process.stderr.write('evse-edge: dist/ is missing: run `npm run build` (npm ci runs it)\n');
      process.exit(1);
    }
    throw err;
  }
}
