import { EventEmitter } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { RPCServer, createRPCError, type ServerClient } from 'ocpp-rpc';
import type { Log } from '../lib/log.js';
import type { CentralSystemCalls, ChargePointCalls, CpAction, CsAction } from '../ocpp/v16/messages.js';
import { CsmsStore } from './csms-store.js';

export interface CentralSystemOptions {
  port?: number;
  host?: string;
  dbPath?: string;
  log: Log;
  heartbeatIntervalS?: number;
  /** Answer the first BootNotification of each charger Pending (to exercise the boot sequence). */
  pendingBoots?: number;
  /** Accept every idTag, known or not. */
  acceptUnknownIdTags?: boolean;
  /** idTags to accept, added to the list at start. */
  idTags?: string[];
}

export interface CsmsEvents {
  connected: [string];
  disconnected: [string];
  /** Every OCPP message in and out, as text. */
  traffic: [{ chargePointId: string; direction: 'in' | 'out'; message: string }];
  call: [{ chargePointId: string; action: string; params: unknown }];
}

/**
 * The embedded development central system: accepts OCPP 1.6J charge points on
 * ws://HOST:PORT/ocpp/<chargePointId>, answers every Core request, and records transactions in
 * its own SQLite file. A tool for demos, tests and bringing up a charger; not a CSMS product.
 */
export class CentralSystem extends EventEmitter<CsmsEvents> {
  readonly store: CsmsStore;
  private readonly server: RPCServer;
  private readonly clients = new Map<string, ServerClient>();
  private httpServer?: Server;
  private readonly bootCounts = new Map<string, number>();

  constructor(private readonly o: CentralSystemOptions) {
    super();
    this.store = new CsmsStore(o.dbPath ?? ':memory:');
    for (const tag of o.idTags ?? []) this.store.upsertIdTag(tag, 'Accepted');
    // A ping only after a minute without a message from the charger (a busy link needs none).
    this.server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true, callTimeoutMs: 30_000, pingIntervalMs: 60_000, deferPingsOnActivity: true });
    this.server.auth((accept, reject, handshake) => {
      // Only /ocpp/<id> (or /<id>) is served.
      accept({ identity: handshake.identity });
    });
    this.server.on('client', (client) => this.onClient(client));
  }

  async listen(): Promise<number> {
    this.httpServer = await this.server.listen(this.o.port ?? 9220, this.o.host ?? '127.0.0.1');
    const port = (this.httpServer.address() as AddressInfo).port;
    this.o.log.info('central system listening', { url: `ws://${this.o.host ?? '127.0.0.1'}:${port}/ocpp` });
    return port;
  }

  connectedIds(): string[] {
    return [...this.clients.keys()];
  }

  /** Call a connected charge point. */
  async call<A extends CsAction>(chargePointId: string, action: A, params: CentralSystemCalls[A][0]): Promise<CentralSystemCalls[A][1]> {
    const client = this.clients.get(chargePointId);
    if (!client) throw new Error(`charge point ${chargePointId} is not connected`);
    return client.call(action, params);
  }

  private onClient(client: ServerClient): void {
    const cpId = client.identity;
    const old = this.clients.get(cpId);
    if (old && old !== client) void old.close({ code: 1000, reason: 'replaced by a new connection', force: true });
    this.clients.set(cpId, client);
    this.store.touchChargePoint(cpId, Date.now());
    this.emit('connected', cpId);
    client.on('message', (m: { message: unknown; outbound: boolean }) =>
      this.emit('traffic', { chargePointId: cpId, direction: m.outbound ? 'out' : 'in', message: String(m.message) }));
    client.on('close', () => {
      if (this.clients.get(cpId) === client) this.clients.delete(cpId);
      this.emit('disconnected', cpId);
    });
    const handle = <A extends CpAction>(action: A, fn: (p: ChargePointCalls[A][0]) => ChargePointCalls[A][1]) =>
      client.handle(action, async ({ params }) => {
        this.emit('call', { chargePointId: cpId, action, params });
        return fn(params as ChargePointCalls[A][0]);
      });
    const now = () => new Date().toISOString();

    handle('BootNotification', (p) => {
      const n = (this.bootCounts.get(cpId) ?? 0) + 1;
      this.bootCounts.set(cpId, n);
      this.store.recordBoot(cpId, p.chargePointVendor, p.chargePointModel, Date.now());
      const pending = n <= (this.o.pendingBoots ?? 0);
      return { status: pending ? 'Pending' : 'Accepted', currentTime: now(), interval: pending ? 1 : (this.o.heartbeatIntervalS ?? 300) };
    });
    handle('Heartbeat', () => {
      this.store.touchChargePoint(cpId, Date.now());
      return { currentTime: now() };
    });
    handle('Authorize', (p) => ({ idTagInfo: this.idTagInfo(p.idTag) }));
    handle('StartTransaction', (p) => {
      const idTagInfo = this.idTagInfo(p.idTag);
      const transactionId = this.store.startTransaction(cpId, p.connectorId, p.idTag, p.meterStart, p.timestamp, p.reservationId);
      return { transactionId, idTagInfo };
    });
    handle('StopTransaction', (p) => {
      if (!this.store.stopTransaction(cpId, p.transactionId, p.meterStop, p.timestamp, p.reason ?? 'Local', p.transactionData)) {
        throw createRPCError('PropertyConstraintViolation', `unknown transactionId ${p.transactionId}`);
      }
      return p.idTag ? { idTagInfo: this.idTagInfo(p.idTag) } : {};
    });
    handle('MeterValues', (p) => {
      this.store.recordMeterValues(cpId, p.connectorId, p.transactionId ?? null, p.meterValue);
      return {};
    });
    handle('StatusNotification', (p) => {
      this.store.recordStatus(cpId, p.connectorId, p.status, p.errorCode, p.timestamp ?? now());
      return {};
    });
    handle('DataTransfer', () => ({ status: 'UnknownVendorId' }));
    handle('DiagnosticsStatusNotification', () => ({}));
    handle('FirmwareStatusNotification', () => ({}));
    handle('SecurityEventNotification', () => ({}));
  }

  private idTagInfo(idTag: string): { status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' } {
    const known = this.store.idTagStatus(idTag);
    if (known) return { status: known };
    return { status: this.o.acceptUnknownIdTags ? 'Accepted' : 'Invalid' };
  }

  async close(): Promise<void> {
    await this.server.close({ force: true, awaitPending: false });
    this.store.close();
  }
}
