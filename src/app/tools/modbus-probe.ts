/**
 * What a technician runs with a laptop on the RS-485 bus (`evse-edge modbus`): every value of a
 * meter profile read and decoded, and the unit ids that answer on a bus. The CLI parses the
 * line options and prints.
 */
import { decodeValues, loadMeterProfile, ModbusBus, planReads, RegisterImage, type BusOptions, type MeterProfile } from '../../drivers/modbus/index.js';

/** The bus: a serial line (Modbus RTU) or a TCP host. */
export type ModbusLine = BusOptions;

/** One decoded value of a meter, in its base unit (Wh, W, A, V, Hz). */
export interface MeterValueRow {
  measurand: string;
  phase: string;
  value: number;
  unit: string;
  address: number;
  type: string;
}

/** A meter profile by id (profiles/meters) or path; throws a ConfigError for a bad one. */
export function meterProfile(idOrPath: string): MeterProfile {
  return loadMeterProfile(idOrPath);
}

/** Every value of `profile` read from unit `unitId`, decoded, in the profile's order. */
export async function readMeter(o: { line: ModbusLine; profile: MeterProfile; unitId: number; timeoutMs: number }): Promise<MeterValueRow[]> {
  const { profile } = o;
  const bus = new ModbusBus(o.line);
  try {
    const image = new RegisterImage();
    for (const r of planReads(profile)) image.add(r.functionCode, r.address, await bus.read({ unitId: o.unitId, timeoutMs: o.timeoutMs, retries: 1 }, r.functionCode as 3 | 4, r.address, r.count));
    const values = decodeValues(profile, image);
    return profile.values.map((v) => {
      const base = values.get(`${v.measurand}|${v.phase ?? ''}`)!;
      const unit = { Wh: 'Wh', kWh: 'Wh', W: 'W', kW: 'W', A: 'A', V: 'V', Hz: 'Hz' }[v.unit as string] ?? v.unit;
      return { measurand: v.measurand, phase: v.phase ?? '', value: Number(base.toFixed(3)), unit, address: v.address, type: v.type };
    });
  } finally {
    await bus.stop();
  }
}

/** The unit ids from `from` to `to` that answer a read of `register` (holding, else input); a Modbus exception is an answer. */
export async function scanBus(o: { line: ModbusLine; from: number; to: number; register: number; timeoutMs: number }): Promise<number[]> {
  const bus = new ModbusBus(o.line);
  const found: number[] = [];
  try {
    for (let unit = o.from; unit <= o.to; unit++) {
      for (const fc of [3, 4] as const) {
        try {
          await bus.read({ unitId: unit, timeoutMs: o.timeoutMs, retries: 0 }, fc, o.register, 1);
          found.push(unit);
          break;
        } catch (err) {
          // A Modbus exception is an answer: the device is there, the register is not.
          if ((err as { code?: string }).code === 'ERR_MODBUS_EXCEPTION') {
            found.push(unit);
            break;
          }
        }
      }
    }
  } finally {
    await bus.stop();
  }
  return found;
}
