import { EvseError } from '../../lib/errors.js';

/**
 * Stable codes: ERR_MODBUS_TIMEOUT (no answer in time), ERR_MODBUS_CRC (corrupt frame),
 * ERR_MODBUS_EXCEPTION (the device refused; `modbusCode` says why), ERR_MODBUS_PORT (the port
 * or connection is closed or cannot be opened), ERR_MODBUS_UNEXPECTED (an answer that is not
 * ours: wrong unit, function or length), ERR_MODBUS_SHORT (fewer registers than asked),
 * ERR_MODBUS_STOPPED (the bus was stopped). The values a meter gives are checked by the core
 * (core/meter-guard.ts), not here.
 */
export type ModbusErrorCode =
  | 'ERR_MODBUS_TIMEOUT'
  | 'ERR_MODBUS_CRC'
  | 'ERR_MODBUS_EXCEPTION'
  | 'ERR_MODBUS_PORT'
  | 'ERR_MODBUS_UNEXPECTED'
  | 'ERR_MODBUS_SHORT'
  | 'ERR_MODBUS_STOPPED';

export class ModbusError extends EvseError {
  declare readonly code: ModbusErrorCode;
  readonly modbusCode?: number;
  constructor(code: ModbusErrorCode, message: string, options?: { cause?: unknown; modbusCode?: number }) {
    super(code, message, options);
    if (options?.modbusCode !== undefined) this.modbusCode = options.modbusCode;
  }
}

/** Map an error from modbus-serial or the port to a ModbusError with a stable code. */
export function toModbusError(err: unknown): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = err as { message?: string; errno?: string; name?: string; modbusCode?: number };
  const message = e?.message ?? String(err);
  if (e?.name === 'TransactionTimedOutError' || e?.errno === 'ETIMEDOUT' || message === 'Timed out')
    return new ModbusError('ERR_MODBUS_TIMEOUT', 'no answer in time', { cause: err });
  if (message.startsWith('CRC error')) return new ModbusError('ERR_MODBUS_CRC', 'CRC error in response', { cause: err });
  if (e?.modbusCode !== undefined) return new ModbusError('ERR_MODBUS_EXCEPTION', message, { cause: err, modbusCode: e.modbusCode });
  if (message.startsWith('Unexpected data') || message.startsWith('Data length'))
    return new ModbusError('ERR_MODBUS_UNEXPECTED', message, { cause: err });
  return new ModbusError('ERR_MODBUS_PORT', message, { cause: err });
}
