/**
 * `npm run bench [-- name…]`: prints the figures each issue's note quotes. Benchmarks measure;
 * they never fail a build because a machine is slow.
 */
import { existsSync } from 'node:fs';

type Bench = () => Promise<Record<string, number | string>>;

const benches: Record<string, { file: string; fn: string; args?: unknown }> = {
  cli: { file: './cli.ts', fn: 'benchCli' },
  agent: { file: './agent.ts', fn: 'benchAgent' },
  agent201: { file: './agent.ts', fn: 'benchAgentV201' },
  offline: { file: './offline.ts', fn: 'benchOffline' },
  modbus: { file: './modbus.ts', fn: 'benchModbus' },
  fleet: { file: './fleet.ts', fn: 'benchFleet' },
  export: { file: './export.ts', fn: 'benchExport' },
  mqtt: { file: './mqtt.ts', fn: 'benchMqtt' },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(benches);
for (const name of names) {
  const b = benches[name];
  if (!b) {
    console.error(`unknown benchmark ${name} (known: ${Object.keys(benches).join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  if (!existsSync(new URL(b.file, import.meta.url))) continue;
  const mod = (await import(b.file)) as Record<string, Bench>;
  const started = Date.now();
  const figures = await mod[b.fn]!();
  console.log(`\n## ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(72)} ${v}`);
}
process.exit(process.exitCode ?? 0);
