import type { Log } from '../lib/log.js';
import type { Pseudonymiser } from '../lib/pseudonym.js';
import type { ChargingStationCalls, IdTokenInfoType, IdTokenType, StationAction } from '../ocpp/v201/messages.js';
import type { CsmsStore } from './csms-store.js';

/** What the 2.0.1 handlers of one connected station need from the central system. */
export interface V201Context {
  chargePointId: string;
  store: CsmsStore;
  log: Log;
  pseudonym: Pseudonymiser;
  /** This station's BootNotification count in this run, the current one included. */
  countBoot(): number;
  pendingBoots: number;
  heartbeatIntervalS: number;
  acceptUnknownIdTags: boolean;
  /** Signs a station's CSR (PEM chain out); absent: SignCertificate is Rejected. */
  certificateSigner?: (csr: string, certificateType: string) => Promise<string>;
  /** Make a call to the station after the current answer has gone (CertificateSigned). */
  callLater(action: 'CertificateSigned', params: { certificateChain: string; certificateType?: 'ChargingStationCertificate' | 'V2GCertificate' }): void;
  now(): string;
}

type Handlers = { [A in StationAction]?: (p: ChargingStationCalls[A][0]) => ChargingStationCalls[A][1] | Promise<ChargingStationCalls[A][1]> };

/** The answer to a token: the central system's list; unknown tokens Unknown unless every token is accepted. */
function idTokenInfo(c: V201Context, token: IdTokenType): IdTokenInfoType {
  const known = c.store.idTagStatus(token.idToken);
  if (known) return { status: known };
  return { status: c.acceptUnknownIdTags ? 'Accepted' : 'Unknown' };
}

/** The OCPP 2.0.1 handler table: one handler per action a charging station sends. */
export function v201Handlers(c: V201Context): Handlers {
  const cp = c.chargePointId;
  const log = c.log;
  return {
    BootNotification: (p) => {
      const n = c.countBoot();
      c.store.recordBoot(cp, p.chargingStation.vendorName, p.chargingStation.model, Date.now());
      const pending = n <= c.pendingBoots;
      log.info('boot', { vendor: p.chargingStation.vendorName, model: p.chargingStation.model, firmwareVersion: p.chargingStation.firmwareVersion, reason: p.reason, status: pending ? 'Pending' : 'Accepted' });
      return { status: pending ? 'Pending' : 'Accepted', currentTime: c.now(), interval: pending ? 1 : c.heartbeatIntervalS };
    },
    Heartbeat: () => {
      c.store.touchChargePoint(cp, Date.now());
      log.debug('heartbeat');
      return { currentTime: c.now() };
    },
    StatusNotification: (p) => {
      c.store.recordStatusV201(cp, p.evseId, p.connectorId, p.connectorStatus, p.timestamp);
      log.info('status', { evseId: p.evseId, connectorId: p.connectorId, status: p.connectorStatus });
      return {};
    },
    Authorize: (p) => {
      const info = idTokenInfo(c, p.idToken);
      if (log.isLevelEnabled('info')) log.info('authorize', { customerRef: c.pseudonym(p.idToken.idToken), tokenType: p.idToken.type, status: info.status });
      return { idTokenInfo: info };
    },
    TransactionEvent: (p) => {
      const fresh = c.store.recordTransactionEvent(cp, p, Date.now());
      if (log.isLevelEnabled('info')) {
        log.info('transaction event', {
          transactionId: p.transactionInfo.transactionId, eventType: p.eventType, seqNo: p.seqNo, triggerReason: p.triggerReason,
          ...(p.transactionInfo.chargingState ? { chargingState: p.transactionInfo.chargingState } : {}),
          ...(p.transactionInfo.stoppedReason ? { stoppedReason: p.transactionInfo.stoppedReason } : {}),
          ...(p.offline ? { offline: true } : {}), ...(fresh ? {} : { repeat: true }),
        });
      }
      // idTokenInfo answers the events that carry an idToken: the central system's decision on it.
      return p.idToken ? { idTokenInfo: idTokenInfo(c, p.idToken) } : {};
    },
    MeterValues: (p) => {
      c.store.recordMeterValuesV201(cp, p.evseId, p.meterValue);
      if (log.isLevelEnabled('debug')) log.debug('meter values', { evseId: p.evseId, samples: p.meterValue.length });
      return {};
    },
    NotifyReport: (p) => {
      c.store.recordReportPart(cp, p.requestId, p.seqNo, p.tbc ?? false, p.reportData ?? []);
      log.info('report part', { requestId: p.requestId, seqNo: p.seqNo, tbc: p.tbc ?? false, items: p.reportData?.length ?? 0 });
      return {};
    },
    NotifyEvent: (p) => {
      log.info('event', { seqNo: p.seqNo, tbc: p.tbc ?? false, events: p.eventData.length });
      return {};
    },
    // O03: the display messages a GetDisplayMessages asked for (the log names them; the content stays with the station).
    NotifyDisplayMessages: (p) => {
      log.info('display messages', { requestId: p.requestId, tbc: p.tbc ?? false, ids: (p.messageInfo ?? []).map((m) => m.id) });
      return {};
    },
    // H04: a reservation ended unused (Expired, Removed); nothing to record beyond the log.
    ReservationStatusUpdate: (p) => {
      log.info('reservation status', { reservationId: p.reservationId, status: p.reservationUpdateStatus });
      return {};
    },
    SecurityEventNotification: (p) => {
      log.info('security event', { type: p.type, timestamp: p.timestamp, ...(p.techInfo ? { techInfo: p.techInfo } : {}) });
      return {};
    },
    FirmwareStatusNotification: (p) => {
      log.info('firmware status', { status: p.status, requestId: p.requestId });
      return {};
    },
    LogStatusNotification: (p) => {
      log.info('log status', { status: p.status, requestId: p.requestId });
      return {};
    },
    SignCertificate: async (p) => {
      const type = p.certificateType ?? 'ChargingStationCertificate';
      if (!c.certificateSigner) {
        log.warn('SignCertificate refused: this central system has no CA to sign with', { certificateType: type });
        return { status: 'Rejected', statusInfo: { reasonCode: 'NoCA', additionalInfo: 'the development central system was started without a signing CA' } };
      }
      const signer = c.certificateSigner;
      // Answer first; CertificateSigned follows (A02: the CSMS signs, then sends the chain).
      void signer(p.csr, type).then(
        (chain) => c.callLater('CertificateSigned', { certificateChain: chain, certificateType: type }),
        (err: unknown) => log.warn('signing a CSR failed', { err }),
      );
      return { status: 'Accepted' };
    },
    DataTransfer: () => ({ status: 'UnknownVendorId' }),
  };
}
