/**
 * The EVSE-WB control board driver against a pymodbus slave holding the board's registers.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FaultReport, VehicleState } from '../../src/core/ports.js';
import { PROFILES_DIR } from '../../src/config/profiles.js';
import { createEvseBoard, loadEvseProfile, ModbusBus } from '../../src/drivers/modbus/index.js';
import { ptyPair, startRtuSlave, startTcpSlave, tempDir } from '../helpers/modbus-slave.js';
import { writeFileSync } from 'node:fs';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function until<T>(fn: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Registers the board holds at power-on: 16 A configured, no vehicle (1). */
function boardValues(dir: string): string {
  const file = join(dir, 'evse-wb.values.json');
  writeFileSync(file, JSON.stringify({ 'hr:1000': 16, 'hr:1001': 0, 'hr:1002': 1, 'hr:1003': 32, 'hr:1005': 18, 'hr:1006': 1 }));
  return file;
}

describe('EvseBoard (EVSE-WB profile) over RTU', () => {
  it('sets the current, stops charging, and follows the vehicle state', async () => {
    const t = tempDir();
    cleanups.push(t.remove);
    const line = await ptyPair(t.dir, 'slave', 'agent');
    cleanups.push(line.stop);
    const slave = await startRtuSlave(line.a, [{ unitId: 3, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues(t.dir) }]);
    cleanups.push(slave.stop);
    const bus = new ModbusBus({ kind: 'rtu', path: line.b, baudRate: 9600, parity: 'none' });
    cleanups.push(() => bus.stop());
    const board = createEvseBoard({ bus, profile: 'evse-wb', unitId: 3, connectorId: 1, pollIntervalMs: 30 });
    const states: VehicleState[] = [];
    board.onVehicleChange((s) => states.push(s));

    await board.offer(0);
    expect(await slave.command('get 3 3 1000 1')).toBe('= 0');
    await board.offer(13.4);
    expect(await slave.command('get 3 3 1000 1')).toBe('= 13');
    expect(await board.currentSetpointA()).toBe(13);
    await board.offer(200);
    expect(await slave.command('get 3 3 1000 1')).toBe('= 80');
    await board.offer(4);
    expect(await slave.command('get 3 3 1000 1')).toBe('= 0');
    expect(await board.currentSetpointA()).toBe(0);

    board.start();
    cleanups.push(() => board.stop());
    expect(board.vehicle()).toBe('disconnected');
    await slave.command('set 3 3 1002 2');
    await until(() => board.vehicle() === 'connected', 'state B');
    await slave.command('set 3 3 1002 3');
    await until(() => board.vehicle() === 'charging', 'state C');
    await slave.command('set 3 3 1002 4');
    await new Promise((r) => setTimeout(r, 100));
    expect(board.vehicle()).toBe('charging');
    await slave.command('set 3 3 1002 5');
    await until(() => board.vehicle() === 'error', 'state E/F');
    await slave.command('set 3 3 1002 1');
    await until(() => board.vehicle() === 'disconnected', 'state A');
    expect(states).toEqual(['connected', 'charging', 'error', 'disconnected']);
    expect(await board.unlock()).toBe('NotSupported');
  });

  it('raises InternalError for evse:<connector> when a board does not answer; the bus carries on', async () => {
    const t = tempDir();
    cleanups.push(t.remove);
    const slave = await startTcpSlave([{ unitId: 1, profileFile: join(PROFILES_DIR, 'evse', 'evse-wb.json'), valuesFile: boardValues(t.dir) }]);
    cleanups.push(slave.stop);
    const bus = new ModbusBus({ kind: 'tcp', host: '127.0.0.1', port: slave.port });
    cleanups.push(() => bus.stop());
    const board = createEvseBoard({ bus, profile: loadEvseProfile('evse-wb'), unitId: 1, connectorId: 2, timeoutMs: 150, retries: 0, pollIntervalMs: 30 });
    const seen: FaultReport[] = [];
    board.onFault((f) => seen.push(f));
    expect(await board.poll()).toBe('disconnected');
    // Unit 9 does not exist: pymodbus answers nothing (no exception for a missing unit).
    const ghost = createEvseBoard({ bus, profile: 'evse-wb', unitId: 9, connectorId: 2, timeoutMs: 150, retries: 0 });
    ghost.onFault((f) => seen.push(f));
    await expect(ghost.poll()).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_MODBUS_/) });
    expect(seen).toMatchObject([{ source: 'evse:2', errorCode: 'InternalError', active: true }]);
    await expect(ghost.offer(16)).rejects.toBeDefined();
    expect(seen).toHaveLength(1);
    // And the real board keeps working on the same bus.
    await board.offer(10);
    expect(await slave.command('get 1 3 1000 1')).toBe('= 10');
  });
});
