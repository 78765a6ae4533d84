/**
 * Modbus drivers: profile-driven energy meters and the EVSE control board.
 *
 *   const bus = new ModbusBus({ kind: 'rtu', path: '/dev/ttyUSB0', baudRate: 9600, parity: 'none' });
 *   const meter = createModbusMeter({ bus, profile: 'eastron-sdm630', unitId: 1, connectorId: 1 });
 *   const board = createEvseBoard({ bus, profile: 'evse-wb', unitId: 3, connectorId: 1 });
 *   meter.start(); board.start();   // polling; stop() both, then await bus.stop()
 */
import { ModbusMeter, type ModbusMeterOptions } from './meter.js';
import { EvseBoard, type EvseBoardOptions } from './evse-board.js';
import { loadMeterProfile, type MeterProfile } from './meter-profile.js';
import { loadEvseProfile, type EvseProfile } from './evse-profile.js';

export { ModbusBus, type BusOptions, type RequestOptions, type BusStats } from './bus.js';
export { ModbusMeter, METER_DEFAULTS, READING_MEASURANDS, toReading, type ModbusMeterOptions } from './meter.js';
export { EvseBoard, EVSE_DEFAULTS, type EvseBoardOptions } from './evse-board.js';
export { ModbusError, type ModbusErrorCode } from './errors.js';
export {
  meterProfileSchema,
  meterProfileJsonSchema,
  parseMeterProfile,
  loadMeterProfile,
  checkMeterProfile,
  type MeterProfile,
  type MeterValue,
} from './meter-profile.js';
export { evseProfileSchema, evseProfileJsonSchema, parseEvseProfile, loadEvseProfile, type EvseProfile } from './evse-profile.js';
export { planReads, decodeRaw, decodeValues, crc16, buildReadRequest, RtuResponseAssembler, RegisterImage } from './codec.js';
export { writeProfileSchemas } from './write-schemas.js';

/** A meter from a profile object, or a profile id / path loaded and validated here. */
export function createModbusMeter(opts: Omit<ModbusMeterOptions, 'profile'> & { profile: MeterProfile | string }): ModbusMeter {
  const profile = typeof opts.profile === 'string' ? loadMeterProfile(opts.profile) : opts.profile;
  return new ModbusMeter({ ...opts, profile });
}

export function createEvseBoard(opts: Omit<EvseBoardOptions, 'profile'> & { profile: EvseProfile | string }): EvseBoard {
  const profile = typeof opts.profile === 'string' ? loadEvseProfile(opts.profile) : opts.profile;
  return new EvseBoard({ ...opts, profile });
}
