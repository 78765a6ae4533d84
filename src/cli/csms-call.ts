import { Command } from 'commander';
import { UsageError } from '../lib/errors.js';
import { CALLABLE_ACTIONS, CALLABLE_ACTIONS_V201, callThroughControl, isCallableInAnyVersion } from '../app/tools/csms-call.js';

/** Where `evse-edge csms` serves its control endpoint unless told otherwise (--port 9220 + 1). */
export const DEFAULT_CONTROL_PORT = 9221;

/** `evse-edge csms call <chargePointId> <action> [json]`: one call to a charger through a running csms. */
export function csmsCallCommand(): Command {
  return new Command('call')
    .description(`call a charger connected to a running \`evse-edge csms\` (through its loopback control endpoint) and print its answer as JSON; actions: OCPP 1.6 ${CALLABLE_ACTIONS.join(', ')}; OCPP 2.0.1 ${CALLABLE_ACTIONS_V201.join(', ')}`)
    .argument('<chargePointId>', 'the charger, e.g. CP-0001')
    .argument('<action>', 'the OCPP action, e.g. RemoteStartTransaction')
    .argument('[json]', 'the payload as a JSON object, e.g. \'{"idTag":"DEMO0001","connectorId":1}\'', '{}')
    .option('--control <url>', 'the control endpoint the csms printed at start', `http://127.0.0.1:${DEFAULT_CONTROL_PORT}`)
    .option('--timeout <ms>', 'how long to wait for the answer', (v) => Number(v), 65_000)
    .action(async (chargePointId: string, action: string, json: string, o: { control: string; timeout: number }) => {
      if (!isCallableInAnyVersion(action)) throw new UsageError(`no action ${action}; one of OCPP 1.6 ${CALLABLE_ACTIONS.join(', ')}; OCPP 2.0.1 ${CALLABLE_ACTIONS_V201.join(', ')}`);
      let params: unknown;
      try {
        params = JSON.parse(json);
      } catch (err) {
        throw new UsageError(`the payload is not JSON: ${(err as Error).message}`);
      }
      if (!params || typeof params !== 'object' || Array.isArray(params)) throw new UsageError('the payload must be a JSON object, e.g. \'{"type":"Soft"}\'');
      if (!Number.isFinite(o.timeout) || o.timeout <= 0) throw new UsageError('--timeout: a number of milliseconds > 0');
      let base: URL;
      try {
        base = new URL(o.control);
      } catch {
        throw new UsageError(`--control: not a URL: ${o.control}`);
      }
      const outcome = await callThroughControl({ control: base, chargePointId, action, params, timeoutMs: o.timeout });
      switch (outcome.kind) {
        case 'unreachable':
          process.stderr.write(`evse-edge: no central system answers at ${o.control} (${outcome.cause}): is \`evse-edge csms\` running, and is this its control endpoint (printed at its start)?\n`);
          process.exitCode = 1;
          return;
        case 'not-control':
          process.stderr.write(`evse-edge: ${o.control} is not an evse-edge csms control endpoint (HTTP ${outcome.httpStatus})\n`);
          process.exitCode = 1;
          return;
        case 'result':
          process.stdout.write(JSON.stringify(outcome.result, null, 2) + '\n');
          return;
        case 'error':
          process.stderr.write(`evse-edge: ${outcome.error.message} (${outcome.error.code})\n`);
          // A request the OCPP schema refuses, or an unknown action, is the caller's usage.
          process.exitCode = outcome.httpStatus === 400 ? 2 : 1;
      }
    });
}
