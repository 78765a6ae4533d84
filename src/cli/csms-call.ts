import { Command } from 'commander';
import { UsageError } from '../lib/errors.js';
import { CALLABLE_ACTIONS, CALLABLE_ACTIONS_V201, isCallableInAnyVersion, type ControlAnswer } from '../csms/control.js';

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
      const url = new URL(`call/${encodeURIComponent(chargePointId)}/${encodeURIComponent(action)}`, base.href.endsWith('/') ? base : `${base.href}/`);
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params), signal: AbortSignal.timeout(o.timeout) });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        process.stderr.write(`evse-edge: no central system answers at ${o.control} (${cause}): is \`evse-edge csms\` running, and is this its control endpoint (printed at its start)?\n`);
        process.exitCode = 1;
        return;
      }
      let answer: ControlAnswer;
      try {
        answer = (await res.json()) as ControlAnswer;
      } catch {
        process.stderr.write(`evse-edge: ${o.control} is not an evse-edge csms control endpoint (HTTP ${res.status})\n`);
        process.exitCode = 1;
        return;
      }
      if ('result' in answer) {
        process.stdout.write(JSON.stringify(answer.result, null, 2) + '\n');
        return;
      }
      process.stderr.write(`evse-edge: ${answer.error.message} (${answer.error.code})\n`);
      // A request the OCPP schema refuses, or an unknown action, is the caller's usage.
      process.exitCode = res.status === 400 ? 2 : 1;
    });
}
