import { isoMs } from '../../core/clock.js';
import type { ChargingState, Sample, SignedMeterValue, SessionStartCause, StopReason } from '../../core/ports.js';
import type { CpRequest } from './messages.js';
import type { QueuedEvent, TransactionRef } from './store-ports.js';
import { toMeterValue, type PublicKeyPolicy } from './render.js';
import { toV16Reason } from './mapping.js';
import { v16SecurityEventType } from './security.js';

/** The protocol version that assigns the transaction ids this binding knows. */
export const OCPP16 = 'ocpp1.6';

/**
 * The queued events' bodies this binding renders (format 'event/1', written by the store's
 * ledger and security events, and by every release before: the fields never change). The
 * transactionId is not in them: it is the central system's, known once StartTransaction.conf
 * came (R5), and put in at delivery.
 */
export const KNOWN_FORMAT = 'event/1';

export interface OpenedBody {
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reservationId?: number;
  /** The central system's id of the remote start that began the session (2.0.1; absent in rows written before it was recorded). */
  remoteStartId?: number;
  /** What completed the start and the charging state then (2.0.1; absent in 1.6 and in older rows). */
  startedBy?: SessionStartCause;
  chargingState?: ChargingState;
  /** The token's kind when it is not an RFID card's ISO14443 (a KeyCode, a remote start's Central…); absent in rows written before it was recorded. */
  idTokenType?: string;
  /** The session continues a transaction begun before it on its EVSE (2.0.1 TxStartPoint EVConnected/Authorized), by this cause. */
  continues?: SessionStartCause;
  /** The meter's signed start value (a signing meter's; absent otherwise and in older rows): 2.0.1 puts it in Started. */
  signedBegin?: SignedMeterValue;
}
export interface SampledBody {
  connectorId: number;
  sample: Sample;
}
export interface ClosedBody {
  idTag?: string;
  meterStopWh: number;
  timestamp: number;
  clockTrusted: boolean;
  reason: StopReason | null;
  transactionData: Sample[];
  /** The charging state once closed, when the closer knew it (2.0.1: a transaction ended before its session). */
  chargingState?: ChargingState;
}
export interface SecurityBody {
  type: string;
  timestamp: number;
  clockTrusted: boolean;
  techInfo?: string;
}

/** An event this binding cannot render (a format from a newer program): set aside, never guessed at. */
export class UnknownEventFormatError extends Error {
  readonly code = 'ERR_OCPP_EVENT_FORMAT';
  constructor(e: QueuedEvent) {
    super(`event ${e.seq} (${e.kind}) is in format ${e.format}, which OCPP 1.6 delivery does not know`);
  }
}

function body<T>(e: QueuedEvent): T {
  if (e.format !== KNOWN_FORMAT) throw new UnknownEventFormatError(e);
  return JSON.parse(e.payload) as T;
}

export const opened = (e: QueuedEvent) => body<OpenedBody>(e);
export const sampled = (e: QueuedEvent) => body<SampledBody>(e);
export const closed = (e: QueuedEvent) => body<ClosedBody>(e);
export const security = (e: QueuedEvent) => body<SecurityBody>(e);

/** 1.6 knows a transaction by the central system's integer; an id another version assigned is none. */
export function transactionIdOf(ref: TransactionRef | null | undefined): number | undefined {
  if (!ref || ref.version !== OCPP16) return undefined;
  const n = Number(ref.id);
  return Number.isInteger(n) ? n : undefined;
}

export function startTransaction(b: OpenedBody): CpRequest<'StartTransaction'> {
  return {
    connectorId: b.connectorId, idTag: b.idTag, meterStart: b.meterStartWh, timestamp: isoMs(b.timestamp),
    ...(b.reservationId !== undefined ? { reservationId: b.reservationId } : {}),
  };
}

/** The PublicKeyWithSignedMeterValue key's value as a policy (an unknown value: the default, with the begin value). */
export function publicKeyPolicy(value: string | undefined): PublicKeyPolicy {
  return value === 'Never' || value === 'EveryMeterValue' ? value : 'OncePerTransaction';
}

/** `keys`: when a signed value carries the meter's public key (PublicKeyWithSignedMeterValue). */
export function meterValues(transactionId: number, bodies: SampledBody[], keys: PublicKeyPolicy = 'OncePerTransaction'): CpRequest<'MeterValues'> {
  return { connectorId: bodies[0]!.connectorId, transactionId, meterValue: bodies.map((b) => toMeterValue(b.sample, { publicKey: keys })) };
}

export function stopTransaction(transactionId: number, b: ClosedBody, keys: PublicKeyPolicy = 'OncePerTransaction'): CpRequest<'StopTransaction'> {
  return {
    transactionId, meterStop: b.meterStopWh, timestamp: isoMs(b.timestamp),
    ...(b.idTag ? { idTag: b.idTag } : {}),
    ...(b.reason ? { reason: toV16Reason(b.reason) } : {}),
    ...(b.transactionData.length ? { transactionData: b.transactionData.map((sample) => toMeterValue(sample, { publicKey: keys })) } : {}),
  };
}

export function securityEventNotification(b: SecurityBody): CpRequest<'SecurityEventNotification'> {
  return { type: v16SecurityEventType(b.type).slice(0, 50), timestamp: isoMs(b.timestamp), ...(b.techInfo ? { techInfo: b.techInfo.slice(0, 255) } : {}) };
}
