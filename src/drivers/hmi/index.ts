/**
 * Touchscreens behind the core's IdReader and FaultSource ports, plus `show()` for
 * connector state.
 *
 * Config mapping (agent config `touchscreen`):
 *   { "driver": "nextion", "port": "/dev/ttyS1", "baudRate": 9600 } → new NextionHmi({...})
 *   { "driver": "json-lines", "port": "/dev/ttyACM0" }               → new JsonLinesHmi({...})
 */
export { formatCost, formatEnergy, formatPower, isValidCode, type ConnectorDisplay, type Hmi, type ScreenMessage } from './display.js';
export type { SerialHmiOptions } from './serial-hmi.js';
export {
  NextionHmi, defaultNextionFields, defaultNextionTiming,
  type NextionHmiOptions, type NextionFields, type NextionPinEntry,
} from './nextion.js';
export {
  NextionDecoder, nextionInstruction, nextionSetText, nextionString, nextionReturnCodes, NEXTION_TERMINATOR,
  type NextionEvent, type NextionEncoding,
} from './nextion-protocol.js';
export {
  JsonLinesHmi, JsonLinesDecoder, encodeJsonLine, JSON_LINES_PROTOCOL, MAX_JSON_LINE_BYTES,
  type JsonLinesHmiOptions, type HmiToAgent, type AgentToHmi,
} from './json-lines.js';

import type { Clock } from '../../core/ports.js';
import type { Log } from '../../lib/log.js';
import type { Hmi } from './display.js';
import { JsonLinesHmi, type JsonLinesHmiOptions } from './json-lines.js';
import { NextionHmi, type NextionHmiOptions } from './nextion.js';

/** The agent config's `touchscreen` block. */
export type TouchscreenConfig =
  | ({ driver: 'nextion' } & Omit<NextionHmiOptions, 'clock' | 'log'>)
  | ({ driver: 'json-lines' } & Omit<JsonLinesHmiOptions, 'clock' | 'log'>);

export function createHmi(config: TouchscreenConfig, deps: { clock?: Pick<Clock, 'setTimeout'>; log?: Log } = {}): Hmi {
  switch (config.driver) {
    case 'nextion': {
      const { driver: _d, ...opts } = config;
      return new NextionHmi({ ...opts, ...deps });
    }
    case 'json-lines': {
      const { driver: _d, ...opts } = config;
      return new JsonLinesHmi({ ...opts, ...deps });
    }
  }
}
