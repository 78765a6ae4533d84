/** The inputs of the recorded signed transaction (test/fixtures/modbus/iskra-wm3m4c.signing.hex): generator and replay share them. */
export const SIGNING_FIXTURE = Object.freeze({
  /** The charger's clock, written to the meter before the begin command: 2026-01-05 08:00:00 UTC. */
  clockMs: Date.UTC(2026, 0, 5, 8, 0, 0),
  /** And before the end command, 90 minutes later. */
  endClockMs: Date.UTC(2026, 0, 5, 9, 30, 0),
  /** The OCMF fields the charger owns, as the agent writes them (src/app/agent/hardware.ts). */
  metadata: { FV: '1.0', GI: 'evse-edge', GS: 'CP-FIXTURE-1', IS: false, IT: 'NONE', CT: 'EVSEID', CI: 'CP-FIXTURE-1*1' } as Readonly<Record<string, string | boolean>>,
  /** The meter's import register at the begin and at the end, Wh. */
  beginWh: 1_234_567.8,
  endWh: 1_251_250.4,
});
