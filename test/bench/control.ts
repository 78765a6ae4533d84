/**
 * The cost of the fleet's control plane: CPU per OCPP message with the control API off, on
 * (events batched, nothing traced), and on with every charger traced. One process, the
 * embedded central system in it (its CPU counts in every variant alike), runs interleaved.
 *   npx tsx test/bench/control.ts [chargers=1000] [simulated minutes=20] [rounds=2]
 */
import { FleetRunner } from '../../src/app/fleet/runner.js';
import { FrameTrace } from '../../src/app/fleet/control/trace.js';
import { chargerId } from '../../src/app/fleet/shard.js';

const count = Number(process.argv[2] ?? 1000);
const minutes = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 2);
const START = Date.UTC(2026, 0, 5, 8, 0, 0);

type Variant = 'off' | 'on' | 'trace-all';

async function once(variant: Variant): Promise<{ cpuUsPerMessage: number; messages: number; events: number }> {
  let events = 0;
  const ids = Array.from({ length: count }, (_, i) => chargerId('SIM-', i));
  const cpu0 = process.cpuUsage();
  const { report } = await new FleetRunner({
    count, scenario: 'smoke', workers: 0, timeScale: 300, durationMs: minutes * 60_000, startMs: START, seed: 5, rampPerSec: 0,
    ...(variant === 'off' ? {} : { control: variant === 'trace-all' ? { traceIds: ids, traceFrames: 100 } : {}, onControlEvents: (e) => (events += e.length) }),
  }).run();
  const cpu = process.cpuUsage(cpu0);
  const messages = report.stats.counters.messagesIn + report.stats.counters.messagesOut;
  return { cpuUsPerMessage: (cpu.user + cpu.system) / messages, messages, events };
}

/**
 * What a traced charger pays per frame (an untraced one pays nothing: its connection emits its
 * traffic only to a listener). The fleet runs below are noisy on a shared machine; this is not.
 */
function traceCostUs(): number {
  const t = new FrameTrace(200);
  const call = (i: number) => `[2,"${i}","MeterValues",{"connectorId":1,"transactionId":5,"meterValue":[{"timestamp":"2026-01-05T08:00:00.000Z","sampledValue":[{"value":"1234.5","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"11000","measurand":"Power.Active.Import","unit":"W"}]}]}]`;
  const res = (i: number) => `[3,"${i}",{}]`;
  const n = 200_000;
  for (let i = 0; i < 20_000; i++) { t.record('out', call(i)); t.record('in', res(i)); }
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { t.record('out', call(i)); t.record('in', res(i)); }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (2 * n);
}
process.stdout.write(`a traced frame: ${traceCostUs().toFixed(2)} µs CPU (FrameTrace.record, MeterValues and its answer, building the strings included)\n`);

const results: Record<Variant, number[]> = { off: [], on: [], 'trace-all': [] };
for (let r = 0; r < rounds; r++) {
  for (const v of ['off', 'on', 'trace-all'] as Variant[]) {
    const x = await once(v);
    results[v].push(x.cpuUsPerMessage);
    process.stdout.write(`${v.padEnd(9)} ${x.messages} messages, ${x.cpuUsPerMessage.toFixed(1)} µs CPU per message (both sides), ${x.events} events\n`);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const v of ['on', 'trace-all'] as Variant[]) {
  process.stdout.write(`${v}: ${((median(results[v]) / median(results.off) - 1) * 100).toFixed(1)} % CPU per message against off\n`);
}
