import { EventEmitter } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { RPCServer, createRPCError, type ServerClient } from '../ocpp/rpc.js';
import { randomBytes } from 'node:crypto';
import { EvseError } from '../lib/errors.js';
import type { Log } from '../lib/log.js';
import { pseudonymiser, type Pseudonymiser } from '../lib/pseudonym.js';
import type { CentralSystemCalls, ChargePointCalls, CpAction, CsAction } from '../ocpp/v16/messages.js';
import { v201StrictValidator } from '../ocpp/v201/errors.js';
import type { CsmsAction, CsmsCalls } from '../ocpp/v201/messages.js';
import { CsmsStore } from './csms-store.js';
import { v201Handlers } from './v201.js';

/** The OCPP versions the development central system speaks, as WebSocket subprotocols. */
export type CsmsProtocol = 'ocpp1.6' | 'ocpp2.0.1';

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
  /** Subprotocols served, in the central system's order of preference (default 1.6, then 2.0.1). */
  protocols?: CsmsProtocol[];
  /** Signs a station's CSR (SignCertificate, 2.0.1 and the 1.6 security whitepaper) into a PEM chain; absent: SignCertificate is Rejected. */
  certificateSigner?: (csr: string, certificateType: string) => Promise<string>;
}

export interface CsmsEvents {
  connected: [string];
  disconnected: [string];
  /** Every OCPP message in and out, as text. */
  traffic: [{ chargePointId: string; direction: 'in' | 'out'; message: string }];
  call: [{ chargePointId: string; action: string; params: unknown }];
}

/** A call the central system could not make: ERR_NOT_CONNECTED, or ERR_INVALID_CALL (the OCPP schema refuses the payload; nothing was sent). */
export class CsmsCallError extends EvseError {}

/**
 * The embedded development central system: accepts OCPP 1.6J and OCPP 2.0.1 charging stations
 * on ws://HOST:PORT/ocpp/<chargePointId> (the subprotocol decides the version, never the URL),
 * answers every Core request, and records transactions in its own SQLite file. A tool for
 * demos, tests and bringing up a charger; not a CSMS product.
 */
export class CentralSystem extends EventEmitter<CsmsEvents> {
  readonly store: CsmsStore;
  private readonly server: RPCServer;
  private readonly clients = new Map<string, ServerClient>();
  private httpServer?: Server;
  private readonly bootCounts = new Map<string, number>();
  /** idTags appear in the log only as pseudonyms (keyed per run). */
  private readonly pseudonym: Pseudonymiser = pseudonymiser(randomBytes(32));

  constructor(private readonly o: CentralSystemOptions) {
    super();
    this.store = new CsmsStore(o.dbPath ?? ':memory:');
    for (const tag of o.idTags ?? []) this.store.upsertIdTag(tag, 'Accepted');
    // A ping only after a minute without a message from the charger (a busy link needs none).
    // 2.0.1 calls that fail their schema are answered with 2.0.1's error codes (see ocpp/v201/errors.ts).
    this.server = new RPCServer({
      protocols: o.protocols ?? ['ocpp1.6', 'ocpp2.0.1'], strictMode: true, strictModeValidators: [v201StrictValidator()],
      callTimeoutMs: 30_000, pingIntervalMs: 60_000, deferPingsOnActivity: true,
    });
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

  /** The subprotocol a connected charger runs. */
  protocolOf(chargePointId: string): CsmsProtocol | undefined {
    return this.clients.get(chargePointId)?.protocol as CsmsProtocol | undefined;
  }

  /** Call a connected OCPP 1.6 charge point. */
  async call<A extends CsAction>(chargePointId: string, action: A, params: CentralSystemCalls[A][0]): Promise<CentralSystemCalls[A][1]> {
    return this.callAny(chargePointId, 'ocpp1.6', action, params) as Promise<CentralSystemCalls[A][1]>;
  }

  /** Call a connected OCPP 2.0.1 charging station. */
  async callV201<A extends CsmsAction>(chargePointId: string, action: A, params: CsmsCalls[A][0]): Promise<CsmsCalls[A][1]> {
    return this.callAny(chargePointId, 'ocpp2.0.1', action, params) as Promise<CsmsCalls[A][1]>;
  }

  private async callAny(chargePointId: string, protocol: CsmsProtocol, action: string, params: unknown): Promise<unknown> {
    const client = this.clients.get(chargePointId);
    if (!client) throw new CsmsCallError('ERR_NOT_CONNECTED', `charge point ${chargePointId} is not connected`);
    if (client.protocol !== protocol) throw new CsmsCallError('ERR_INVALID_CALL', `${action}: ${chargePointId} speaks ${client.protocol}, not ${protocol}`);
    // Strict mode checks the payload before sending: that failure is ours, not the charger's.
    let invalid: Error | undefined;
    const onInvalid = (f: { outbound: boolean; isCall: boolean; method: string; error: Error }) => {
      if (f.outbound && f.isCall && f.method === action) invalid = f.error;
    };
    client.on('strictValidationFailure', onInvalid);
    const log = this.o.log.child({ cp: chargePointId });
    log.info('call', { action });
    try {
      const result = await client.call(action, params);
      log.info('call answered', { action, result });
      return result;
    } catch (err) {
      if (invalid) throw new CsmsCallError('ERR_INVALID_CALL', `${action}: the ${client.protocol === 'ocpp2.0.1' ? 'OCPP 2.0.1' : 'OCPP 1.6'} schema refuses this payload: ${invalid.message}`, { cause: invalid });
      log.warn('call failed', { action, err });
      throw err;
    } finally {
      client.off('strictValidationFailure', onInvalid);
    }
  }

  private onClient(client: ServerClient): void {
    const cpId = client.identity;
    const old = this.clients.get(cpId);
    if (old && old !== client) void old.close({ code: 1000, reason: 'replaced by a new connection', force: true });
    this.clients.set(cpId, client);
    this.store.touchChargePoint(cpId, Date.now());
    const log = this.o.log.child({ cp: cpId });
    log.info('charge point connected', { remoteAddress: client.handshake?.remoteAddress, protocol: client.protocol });
    this.emit('connected', cpId);
    client.on('message', (m: { message: unknown; outbound: boolean }) =>
      this.emit('traffic', { chargePointId: cpId, direction: m.outbound ? 'out' : 'in', message: String(m.message) }));
    client.on('close', (e: { code?: number; reason?: unknown }) => {
      log.info('charge point disconnected', { code: e?.code, reason: e?.reason ? String(e.reason) : undefined });
      if (this.clients.get(cpId) === client) this.clients.delete(cpId);
      this.emit('disconnected', cpId);
    });
    if (client.protocol === 'ocpp2.0.1') {
      this.serveV201(client, cpId, log);
      return;
    }
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
      log.info('boot', { vendor: p.chargePointVendor, model: p.chargePointModel, firmwareVersion: p.firmwareVersion, status: pending ? 'Pending' : 'Accepted' });
      return { status: pending ? 'Pending' : 'Accepted', currentTime: now(), interval: pending ? 1 : (this.o.heartbeatIntervalS ?? 300) };
    });
    handle('Heartbeat', () => {
      this.store.touchChargePoint(cpId, Date.now());
      log.debug('heartbeat');
      return { currentTime: now() };
    });
    handle('Authorize', (p) => ({ idTagInfo: this.idTagInfo(p.idTag) }));
    handle('StartTransaction', (p) => {
      const idTagInfo = this.idTagInfo(p.idTag);
      const transactionId = this.store.startTransaction(cpId, p.connectorId, p.idTag, p.meterStart, p.timestamp, p.reservationId);
      if (log.isLevelEnabled('info')) {
        log.info('transaction started', { connectorId: p.connectorId, transactionId, customerRef: this.pseudonym(p.idTag), idTagStatus: idTagInfo.status, meterStartWh: p.meterStart, timestamp: p.timestamp });
      }
      return { transactionId, idTagInfo };
    });
    handle('StopTransaction', (p) => {
      if (!this.store.stopTransaction(cpId, p.transactionId, p.meterStop, p.timestamp, p.reason ?? 'Local', p.transactionData)) {
        log.warn('StopTransaction of an unknown transaction', { transactionId: p.transactionId });
        throw createRPCError('PropertyConstraintViolation', `unknown transactionId ${p.transactionId}`);
      }
      if (log.isLevelEnabled('info')) {
        const meterStart = this.store.meterStart(p.transactionId);
        log.info('transaction stopped', { transactionId: p.transactionId, reason: p.reason ?? 'Local', meterStopWh: p.meterStop, energyWh: meterStart === undefined ? null : p.meterStop - meterStart, timestamp: p.timestamp });
      }
      return p.idTag ? { idTagInfo: this.idTagInfo(p.idTag) } : {};
    });
    handle('MeterValues', (p) => {
      this.store.recordMeterValues(cpId, p.connectorId, p.transactionId ?? null, p.meterValue);
      if (log.isLevelEnabled('debug')) log.debug('meter values', { connectorId: p.connectorId, transactionId: p.transactionId, samples: p.meterValue.length, meterValue: p.meterValue });
      return {};
    });
    handle('StatusNotification', (p) => {
      this.store.recordStatus(cpId, p.connectorId, p.status, p.errorCode, p.timestamp ?? now());
      log.info('status', { connectorId: p.connectorId, status: p.status, errorCode: p.errorCode, ...(p.info ? { info: p.info } : {}) });
      return {};
    });
    handle('DataTransfer', () => ({ status: 'UnknownVendorId' }));
    handle('DiagnosticsStatusNotification', () => ({}));
    handle('FirmwareStatusNotification', () => ({}));
    handle('SecurityEventNotification', (p) => {
      log.info('security event', { type: p.type, timestamp: p.timestamp, ...(p.techInfo ? { techInfo: p.techInfo } : {}) });
      return {};
    });
    // The security whitepaper's: the signed update's and the log upload's progress, and a CSR
    // signed when a CA is configured (answer first; CertificateSigned follows), as on 2.0.1.
    handle('SignedFirmwareStatusNotification', (p) => {
      log.info('firmware status', { status: p.status, requestId: p.requestId });
      return {};
    });
    handle('LogStatusNotification', (p) => {
      log.info('log status', { status: p.status, requestId: p.requestId });
      return {};
    });
    handle('SignCertificate', (p) => {
      const signer = this.o.certificateSigner;
      if (!signer) {
        log.warn('SignCertificate refused: this central system has no CA to sign with');
        return { status: 'Rejected' };
      }
      void signer(p.csr, 'ChargePointCertificate').then(
        (certificateChain) => setImmediate(() => void this.call(cpId, 'CertificateSigned', { certificateChain }).catch((err: unknown) => log.warn('call failed', { action: 'CertificateSigned', err }))),
        (err: unknown) => log.warn('signing a CSR failed', { err }),
      );
      return { status: 'Accepted' };
    });
  }

  private serveV201(client: ServerClient, cpId: string, log: Log): void {
    const handlers = v201Handlers({
      chargePointId: cpId,
      store: this.store,
      log,
      pseudonym: this.pseudonym,
      countBoot: () => {
        const n = (this.bootCounts.get(cpId) ?? 0) + 1;
        this.bootCounts.set(cpId, n);
        return n;
      },
      pendingBoots: this.o.pendingBoots ?? 0,
      heartbeatIntervalS: this.o.heartbeatIntervalS ?? 300,
      acceptUnknownIdTags: this.o.acceptUnknownIdTags ?? false,
      ...(this.o.certificateSigner ? { certificateSigner: this.o.certificateSigner } : {}),
      callLater: (action, params) => {
        setImmediate(() => {
          this.callV201(cpId, action, params).catch((err: unknown) => log.warn('call failed', { action, err }));
        });
      },
      now: () => new Date().toISOString(),
    });
    for (const [action, fn] of Object.entries(handlers) as [string, (p: unknown) => unknown][]) {
      client.handle(action, async ({ params }) => {
        this.emit('call', { chargePointId: cpId, action, params });
        return fn(params);
      });
    }
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
