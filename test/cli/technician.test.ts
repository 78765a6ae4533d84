import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROFILES_DIR } from '../../src/config/index.js';
import { rdm6300Frame } from '../../src/drivers/rfid/index.js';
import { startTcpSlave } from '../helpers/modbus-slave.js';
import { startPtyPair, writeAll } from '../helpers/pty.js';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function run(args: string[], opts: { until?: (out: string) => boolean; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (opts.until?.(out)) child.kill('SIGINT');
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, out, err });
    });
  });
}

describe('technician commands', () => {
  it('modbus read prints every value of a profile, decoded, with units; modbus scan finds the units', async () => {
    const slave = await startTcpSlave([
      { unitId: 7, profileFile: join(PROFILES_DIR, 'meters', 'eastron-sdm630.json'), valuesFile: join(import.meta.dirname, '../fixtures/modbus/eastron-sdm630.values.json') },
    ]);
    cleanups.push(slave.stop);
    const read = await run(['modbus', 'read', '--host', '127.0.0.1', '--tcp-port', String(slave.port), '--unit', '7', '--profile', 'eastron-sdm630', '--json']);
    expect(read.code, read.err).toBe(0);
    const rows = JSON.parse(read.out) as { measurand: string; phase: string; value: number; unit: string }[];
    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ measurand: 'Energy.Active.Import.Register', value: expect.closeTo(12_345_670, 0), unit: 'Wh' }),
      expect.objectContaining({ measurand: 'Voltage', phase: 'L1-N', value: 230.1, unit: 'V' }),
    ]));
    const scan = await run(['modbus', 'scan', '--host', '127.0.0.1', '--tcp-port', String(slave.port), '--from', '5', '--to', '9', '--timeout', '200']);
    expect(scan.out).toContain('units answering: 7');
  });

  it('rfid watch prints normalised UIDs, pseudonymised unless --show-uid', async () => {
    const pty = await startPtyPair();
    cleanups.push(() => pty.cleanup());
    const uid = Buffer.from('0A1B2C3D4E', 'hex');
    const present = async () => {
      const dev = await pty.openDevice();
      for (let i = 0; i < 20; i++) {
        await writeAll(dev, rdm6300Frame(uid));
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    const clear = run(['rfid', 'watch', '--port', pty.host, '--protocol', 'rdm6300', '--show-uid'], { until: (o) => /idTag=/.test(o) });
    void present().catch(() => undefined);
    const r = await clear;
    expect(r.out).toContain('idTag=0A1B2C3D4E');
    const refused = await run(['rfid', 'watch', '--port', pty.host, '--protocol', 'rdm6300']);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/--show-uid/);
  });
});
