/**
 * `evse-edge csms call`: one call to a charger through a running development central system's
 * loopback control endpoint, and what came back. The CLI checks the arguments and prints.
 */
import { CALLABLE_ACTIONS, CALLABLE_ACTIONS_V201, isCallableInAnyVersion, type ControlAnswer } from '../../csms/control.js';

export { CALLABLE_ACTIONS, CALLABLE_ACTIONS_V201, isCallableInAnyVersion };

/** What a call through the control endpoint came to. */
export type ControlCallOutcome =
  /** Nothing answers at the endpoint (`cause`: the connection error's code, or the abort's name). */
  | { kind: 'unreachable'; cause: string }
  /** Something answered, not with a control endpoint's JSON. */
  | { kind: 'not-control'; httpStatus: number }
  | { kind: 'result'; result: unknown }
  /** The call failed: HTTP 400 is a request the OCPP schema refuses, or an unknown action. */
  | { kind: 'error'; error: { code: string; message: string }; httpStatus: number };

/** POST <control>/call/<chargePointId>/<action> with the payload, within `timeoutMs`. */
export async function callThroughControl(o: { control: URL; chargePointId: string; action: string; params: unknown; timeoutMs: number }): Promise<ControlCallOutcome> {
  const base = o.control;
  const url = new URL(`call/${encodeURIComponent(o.chargePointId)}/${encodeURIComponent(o.action)}`, base.href.endsWith('/') ? base : `${base.href}/`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(o.params), signal: AbortSignal.timeout(o.timeoutMs) });
  } catch (err) {
    return { kind: 'unreachable', cause: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name };
  }
  let answer: ControlAnswer;
  try {
    answer = (await res.json()) as ControlAnswer;
  } catch {
    return { kind: 'not-control', httpStatus: res.status };
  }
  if ('result' in answer) return { kind: 'result', result: answer.result };
  return { kind: 'error', error: answer.error, httpStatus: res.status };
}
