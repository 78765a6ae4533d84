import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../lib/log.js';
import type { CsAction } from '../ocpp/v16/messages.js';
import { CSMS_ACTIONS } from '../ocpp/v201/messages.js';
import { CsmsCallError, type CentralSystem } from './central-system.js';

/** Every call a central system may make to an OCPP 1.6 charge point. */
export const CALLABLE_ACTIONS = [
  'RemoteStartTransaction', 'RemoteStopTransaction', 'Reset', 'ChangeConfiguration', 'GetConfiguration', 'ChangeAvailability',
  'UnlockConnector', 'ClearCache', 'DataTransfer', 'TriggerMessage', 'GetLocalListVersion', 'SendLocalList', 'SetChargingProfile',
  'ClearChargingProfile', 'GetCompositeSchedule', 'ReserveNow', 'CancelReservation', 'GetDiagnostics', 'UpdateFirmware',
] as const satisfies readonly CsAction[];

export const isCallableAction = (a: string): a is (typeof CALLABLE_ACTIONS)[number] => (CALLABLE_ACTIONS as readonly string[]).includes(a);

/** Every call a CSMS may make to an OCPP 2.0.1 charging station. */
export const CALLABLE_ACTIONS_V201 = CSMS_ACTIONS;
export const isCallableActionV201 = (a: string): a is (typeof CSMS_ACTIONS)[number] => (CSMS_ACTIONS as readonly string[]).includes(a);

/** An action some connected charger might take: 1.6 or 2.0.1. */
export const isCallableInAnyVersion = (a: string): boolean => isCallableAction(a) || isCallableActionV201(a);

/** The control endpoint's answers: `{result}`, or `{error: {code, message}}` with an HTTP status saying whose fault it is. */
export type ControlAnswer = { result: unknown } | { error: { code: string; message: string } };

const MAX_BODY_BYTES = 1 << 20;

/**
 * A small HTTP endpoint of a running development central system, on loopback only, that lets
 * another terminal call a connected charger, 1.6 or 2.0.1 (`evse-edge csms call`):
 * `POST /call/<chargePointId>/<action>` with the JSON payload, and `GET /chargers`.
 * 200 the charger's answer; 400 a bad request (not JSON, unknown action, a payload the OCPP
 * schema refuses); 404 the charger is not connected; 502 the charger answered a CALLERROR;
 * 504 it did not answer in time.
 */
export class ControlEndpoint {
  private server?: Server;

  constructor(private readonly o: { csms: CentralSystem; port: number; host?: string; log: Log }) {}

  async listen(): Promise<string> {
    const host = this.o.host ?? '127.0.0.1';
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, host, () => resolve());
    });
    const url = `http://${host}:${(server.address() as AddressInfo).port}`;
    this.o.log.info('control endpoint listening', { url, hint: `evse-edge csms call --control ${url} <chargePointId> <action> '<json>'` });
    return url;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: ControlAnswer | Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      if (req.method === 'GET' && url.pathname === '/chargers') return send(200, { connected: this.o.csms.connectedIds() });
      const m = /^\/call\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!m) return fail(404, 'ERR_NOT_FOUND', 'POST /call/<chargePointId>/<action> or GET /chargers');
      if (req.method !== 'POST') return fail(405, 'ERR_METHOD', 'POST a JSON payload');
      const chargePointId = decodeURIComponent(m[1]!);
      const action = decodeURIComponent(m[2]!);
      // The charger's version decides which actions it takes (one not connected: 404 below, whatever the action).
      const protocol = this.o.csms.protocolOf(chargePointId);
      const v201 = protocol === 'ocpp2.0.1';
      const known = protocol === undefined ? isCallableInAnyVersion(action) : v201 ? isCallableActionV201(action) : isCallableAction(action);
      if (!known) {
        const [version, list] = v201 ? ['OCPP 2.0.1', CALLABLE_ACTIONS_V201] : ['OCPP 1.6', CALLABLE_ACTIONS];
        return fail(400, 'ERR_UNKNOWN_ACTION', `no ${version} action ${action} from a central system; one of ${list.join(', ')}`);
      }
      let text = '';
      for await (const chunk of req) {
        text += chunk;
        if (text.length > MAX_BODY_BYTES) return fail(413, 'ERR_TOO_LARGE', 'payload over 1 MiB');
      }
      let params: unknown;
      try {
        params = text.trim() ? JSON.parse(text) : {};
      } catch {
        return fail(400, 'ERR_BAD_JSON', 'the payload is not JSON');
      }
      if (!params || typeof params !== 'object' || Array.isArray(params)) return fail(400, 'ERR_BAD_JSON', 'the payload must be a JSON object');
      const result = v201 ? await this.o.csms.callV201(chargePointId, action as (typeof CSMS_ACTIONS)[number], params as never) : await this.o.csms.call(chargePointId, action as CsAction, params as never);
      send(200, { result });
    } catch (err) {
      const e = err as Error & { code?: string; rpcErrorCode?: string };
      if (err instanceof CsmsCallError) return fail(err.code === 'ERR_NOT_CONNECTED' ? 404 : 400, err.code, err.message);
      if (e.rpcErrorCode) return fail(502, e.rpcErrorCode, `the charger answered ${e.rpcErrorCode}: ${e.message}`);
      if (e.name === 'TimeoutError') return fail(504, 'ERR_TIMEOUT', `the charger did not answer: ${e.message}`);
      this.o.log.error('control request failed', { err });
      fail(500, 'ERR_INTERNAL', e.message);
    }
  }
}
