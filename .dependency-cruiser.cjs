/**
 * The import boundaries of src/ (README "Layout", ../shared/STYLE.md "The shape we aim for"),
 * checked by `npm test` (`depcruise src --config .dependency-cruiser.cjs`): dependencies point
 * inward, cli → app → everything; the core knows only itself and lib; simulated devices and
 * real drivers are siblings that know the core's ports, never OCPP nor each other.
 *
 * Type-only imports count (tsPreCompilationDeps): a cycle of types is still a cycle, and a
 * boundary crossed by a type is still crossed.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included: move the shared type to where it belongs.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'ocpp-rpc-through-src-ocpp-rpc',
      severity: 'error',
      comment: 'ocpp-rpc is imported through src/ocpp/rpc.ts only, which builds its standard validators on first use; a direct import loaded first builds all three versions at import.',
      from: { path: '^src/', pathNot: '^src/ocpp/rpc\\.ts$' },
      to: { path: 'node_modules/ocpp-rpc/' },
    },
    {
      name: 'core-imports-core-and-lib',
      severity: 'error',
      comment: 'The core knows its own files and lib only: never hardware, OCPP, SQLite, MQTT or the simulator.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/(core|lib)/' },
    },
    {
      name: 'sim-imports-core-ports',
      severity: 'error',
      comment:
        'Simulated devices and scenarios know the core (its ports), lib and config (profiles, schema): never a driver, OCPP, the store, the app or the development central system.',
      from: { path: '^src/sim/' },
      to: { path: '^src/', pathNot: '^src/(sim|core|lib|config)/' },
    },
    {
      name: 'drivers-not-sim-ocpp-store-app',
      severity: 'error',
      comment: 'Real drivers are siblings of the simulated devices: they know the core\'s ports, never the simulator, OCPP, the store or the app.',
      from: { path: '^src/drivers/' },
      to: { path: '^src/(sim|ocpp|store|app|cli|csms|diag)/' },
    },
    {
      name: 'ocpp-not-drivers-diag-sim-app-store',
      severity: 'error',
      comment:
        'The OCPP side knows the core\'s vocabulary and ports; the store reaches it through ports the store implements, devices and diagnostics through the app.',
      from: { path: '^src/ocpp/' },
      to: { path: '^src/(drivers|diag|sim|app|cli|store)/' },
    },
    {
      name: 'store-not-ocpp-app-sim-drivers',
      severity: 'error',
      comment: 'The store keeps opaque payloads: it never imports a protocol version, the app, the simulator or a driver.',
      from: { path: '^src/store/' },
      to: { path: '^src/(ocpp|app|sim|drivers|cli|csms|diag)/' },
    },
    {
      name: 'csms-and-diag-composed-by-app',
      severity: 'error',
      comment: 'The development central system and the MQTT diagnostics are tools the app and the CLI compose; no device, core or protocol code imports them.',
      from: { path: '^src/', pathNot: '^src/(app|cli|csms|diag)/' },
      to: { path: '^src/(csms|diag)/' },
    },
    {
      name: 'cli-imports-app-config-lib',
      severity: 'error',
      comment:
        'The CLI parses arguments, formats output and sets exit codes: it calls the app (and reads config, lib), never a driver, the store, OCPP, diagnostics or the central system directly.',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli|app|config|lib)/' },
    },
    {
      name: 'cli-uses-commander-only',
      severity: 'error',
      comment: 'Of the libraries, the CLI uses commander only: MQTT, WebSocket, SQLite, serial or Modbus clients belong to the app it calls.',
      from: { path: '^src/cli/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'], pathNot: '(^|/)node_modules/commander/' },
    },
    {
      name: 'only-cli-imports-cli',
      severity: 'error',
      comment: 'The CLI parses arguments and calls the app; nothing calls the CLI.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'lib-imports-nothing-of-ours',
      severity: 'error',
      comment: 'lib holds leaves (errors, log, pseudonyms, tables, tar) that everything may use.',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing (a path left behind by a move).',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Match package.json's "type": "module" and the TypeScript NodeNext resolution ('./x.js' → x.ts).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
