import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../lib/errors.js';
import { meterProfile, readMeter, scanBus, type ModbusLine } from '../app/tools/modbus-probe.js';
import { formatTable } from '../lib/table.js';

const int = (lo: number, hi: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`expected an integer ${lo}..${hi}`);
  return n;
};

interface LineOptions { port?: string; host?: string; tcpPort: number; baud: number; parity: 'none' | 'even' | 'odd'; timeout: number }

function lineOptions(cmd: Command): Command {
  return cmd
    .option('--port <tty>', 'serial device (Modbus RTU), e.g. /dev/ttyUSB0')
    .option('--host <host>', 'Modbus TCP host')
    .option('--tcp-port <port>', 'Modbus TCP port', int(1, 65_535), 502)
    .option('--baud <rate>', 'RTU baud rate', int(300, 1_000_000), 9600)
    .option('--parity <p>', 'RTU parity: none, even or odd', 'none')
    .option('--timeout <ms>', 'answer timeout per request', int(10, 10_000), 500);
}

function lineFrom(o: LineOptions): ModbusLine {
  if (!o.port === !o.host) throw new UsageError('give exactly one of --port (RTU) or --host (TCP)');
  return o.port
    ? { kind: 'rtu', path: o.port, baudRate: o.baud, parity: o.parity }
    : { kind: 'tcp', host: o.host!, port: o.tcpPort };
}

/** What a technician runs with a laptop on the RS-485 bus. */
export function modbusCommand(): Command {
  const cmd = new Command('modbus').description('read meters and find devices on a Modbus bus');
  lineOptions(cmd.command('read'))
    .description('read every value of a meter profile, decoded, with units')
    .requiredOption('--unit <id>', 'unit (slave) id', int(0, 247))
    .requiredOption('--profile <id>', 'meter profile id (profiles/meters) or path')
    .option('--json', 'print JSON')
    .action(async (o: LineOptions & { unit: number; profile: string; json?: boolean }) => {
      const profile = meterProfile(o.profile);
      const rows = await readMeter({ line: lineFrom(o), profile, unitId: o.unit, timeoutMs: o.timeout });
      if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else process.stdout.write(formatTable(['measurand', 'phase', 'value', 'unit', 'address', 'type'], rows.map((r) => [r.measurand, r.phase, r.value, r.unit, r.address, r.type])) + '\n');
    });
  lineOptions(cmd.command('scan'))
    .description('find the unit ids that answer on a bus')
    .option('--from <id>', 'first unit id', int(1, 247), 1)
    .option('--to <id>', 'last unit id', int(1, 247), 247)
    .option('--register <address>', 'register to probe', int(0, 65_535), 0)
    .action(async (o: LineOptions & { from: number; to: number; register: number }) => {
      const found = await scanBus({ line: lineFrom(o), from: o.from, to: o.to, register: o.register, timeoutMs: o.timeout });
      process.stdout.write(found.length ? `units answering: ${found.join(', ')}\n` : 'no unit answered\n');
      if (!found.length) process.exitCode = 1;
    });
  return cmd;
}
