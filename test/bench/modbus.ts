/**
 * Modbus throughput and cost: reads per second per bus (RTU at 9600 and 115200 baud through a
 * relay that delivers 10 bits per character, as a real RS-485 line; TCP), and this process's
 * CPU while two meters are polled at 1 Hz. Peers: pymodbus over socat ptys / TCP.
 */
import { join } from 'node:path';
import { PROFILES_DIR } from '../../src/config/profiles.js';
import { createModbusMeter, ModbusBus } from '../../src/drivers/modbus/index.js';
import { systemClock } from '../../src/drivers/modbus/meter.js';
import { PollLoop } from '../../src/drivers/modbus/poll-loop.js';
import { FIXTURES, ptyPair, relayedLine, startRtuSlave, startTcpSlave, tempDir, type UnitSpec } from '../helpers/modbus-slave.js';

const units: UnitSpec[] = [1, 2].map((unitId) => ({
  unitId,
  profileFile: join(PROFILES_DIR, 'meters', 'eastron-sdm630.json'),
  valuesFile: join(FIXTURES, 'eastron-sdm630.values.json'),
}));

async function readsPerSecond(bus: ModbusBus, ms: number, count = 2): Promise<number> {
  const req = { unitId: 1, timeoutMs: 1000, retries: 0 };
  await bus.read(req, 4, 0, count); // open the port
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await bus.read(req, 4, 0, count);
    n++;
  }
  return Math.round((n * 1000) / (performance.now() - start));
}

async function pacedRtu(baud: number, ms: number) {
  const t = tempDir();
  const line = await relayedLine(t.dir, baud);
  const slave = await startRtuSlave(line.slaveTty, units);
  const bus = new ModbusBus({ kind: 'rtu', path: line.agentTty, baudRate: baud, parity: 'none' });
  try {
    const small = await readsPerSecond(bus, ms, 2);
    const meter = createModbusMeter({ bus, profile: 'eastron-sdm630', unitId: 1, connectorId: 1 });
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < ms) {
      await meter.read();
      n++;
    }
    return { small, meterReadings: Math.round((n * 1000) / (performance.now() - start)) };
  } finally {
    await bus.stop();
    await slave.stop();
    await line.stop();
    t.remove();
  }
}

export async function benchModbus(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const ms = 2000;

  const r9600 = await pacedRtu(9600, ms);
  out['rtu_9600_reads_per_s_2_registers'] = r9600.small;
  out['rtu_9600_sdm630_readings_per_s'] = r9600.meterReadings;
  const r115 = await pacedRtu(115200, ms);
  out['rtu_115200_reads_per_s_2_registers'] = r115.small;
  out['rtu_115200_sdm630_readings_per_s'] = r115.meterReadings;

  {
    const slave = await startTcpSlave(units);
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: slave.port });
    try {
      out['tcp_reads_per_s_2_registers'] = await readsPerSecond(bus, ms, 2);
    } finally {
      await bus.stop();
      await slave.stop();
    }
  }

  {
    // Two meters (one per connector) on one RS-485 line, polled at 1 Hz.
    const t = tempDir();
    const line = await ptyPair(t.dir, 'slave', 'agent');
    const slave = await startRtuSlave(line.a, units);
    const bus = new ModbusBus({ kind: 'rtu', path: line.b, baudRate: 9600, parity: 'none' });
    const meters = [1, 2].map((unitId) => createModbusMeter({ bus, profile: 'eastron-sdm630', unitId, connectorId: unitId, pollIntervalMs: 1000 }));
    try {
      await Promise.all(meters.map((m) => m.read()));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      // Read at 1 Hz as the core's meter loop does while idle (the driver has no loop of its own).
      const loops = meters.map((m) => new PollLoop(systemClock, 1000, () => m.read()));
      for (const l of loops) l.start();
      await new Promise((r) => setTimeout(r, 10_000));
      for (const l of loops) l.stop();
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      out['poll_2_meters_1hz_cpu_pct'] = Number((((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(3));
      out['poll_2_meters_1hz_cpu_ms_per_reading'] = Number(((cpu.user + cpu.system) / 1000 / 20).toFixed(3));
    } finally {
      await bus.stop();
      await slave.stop();
      await line.stop();
      t.remove();
    }
  }
  out['peer'] = 'pymodbus 3.0 over socat ptys (paced relay for RTU) and TCP loopback';
  return out;
}

if (process.argv[1]?.endsWith('modbus.ts')) {
  benchModbus().then((r) => console.log(JSON.stringify(r, null, 2)));
}
