/**
 * OCPP 1.6J message types: one map from action to request and response, for both directions.
 * Field names are the wire names. ocpp-rpc validates every message against the OCA schemas.
 */
import type { ChargePointErrorCode, ChargePointStatus, IdTagInfo, Reason } from './mapping.js';
import type { CompositePeriod } from '../../core/smart-charging/index.js';
import type { ChargingProfile, ChargingProfilePurpose, ChargingRateUnit } from './charging-profiles.js';

export type FirmwareStatus = 'Downloaded' | 'DownloadFailed' | 'Downloading' | 'Idle' | 'InstallationFailed' | 'Installing' | 'Installed';
export type DiagnosticsStatus = 'Idle' | 'Uploaded' | 'UploadFailed' | 'Uploading';

export interface SampledValue {
  value: string;
  context?: string;
  format?: 'Raw' | 'SignedData';
  measurand?: string;
  phase?: string;
  location?: 'Cable' | 'EV' | 'Inlet' | 'Outlet' | 'Body';
  unit?: string;
}
export interface MeterValue {
  timestamp: string;
  sampledValue: SampledValue[];
}
export interface KeyValue {
  key: string;
  readonly: boolean;
  value?: string;
}
type Status<T extends string> = { status: T };

/** Calls from the charge point to the central system. */
export interface ChargePointCalls {
  BootNotification: [
    { chargePointVendor: string; chargePointModel: string; chargePointSerialNumber?: string; chargeBoxSerialNumber?: string; firmwareVersion?: string; meterType?: string; meterSerialNumber?: string },
    { status: 'Accepted' | 'Pending' | 'Rejected'; currentTime: string; interval: number },
  ];
  Heartbeat: [Record<string, never>, { currentTime: string }];
  Authorize: [{ idTag: string }, { idTagInfo: IdTagInfo }];
  StartTransaction: [
    { connectorId: number; idTag: string; meterStart: number; timestamp: string; reservationId?: number },
    { transactionId: number; idTagInfo: IdTagInfo },
  ];
  StopTransaction: [
    { transactionId: number; idTag?: string; meterStop: number; timestamp: string; reason?: Reason; transactionData?: MeterValue[] },
    { idTagInfo?: IdTagInfo },
  ];
  MeterValues: [{ connectorId: number; transactionId?: number; meterValue: MeterValue[] }, Record<string, never>];
  StatusNotification: [
    { connectorId: number; errorCode: ChargePointErrorCode; status: ChargePointStatus; info?: string; timestamp?: string; vendorId?: string; vendorErrorCode?: string },
    Record<string, never>,
  ];
  DataTransfer: [{ vendorId: string; messageId?: string; data?: string }, { status: 'Accepted' | 'Rejected' | 'UnknownMessageId' | 'UnknownVendorId'; data?: string }];
  DiagnosticsStatusNotification: [{ status: DiagnosticsStatus }, Record<string, never>];
  FirmwareStatusNotification: [{ status: FirmwareStatus }, Record<string, never>];
  /** From the OCPP 1.6 security whitepaper (ocpp-rpc's ocpp1.6 schemas include it). */
  SecurityEventNotification: [{ type: string; timestamp: string; techInfo?: string }, Record<string, never>];
  /** Security whitepaper: a CSR for the charge point's certificate (PEM). */
  SignCertificate: [{ csr: string }, Status<'Accepted' | 'Rejected'>];
  /** Security whitepaper: the progress of a SignedUpdateFirmware. */
  SignedFirmwareStatusNotification: [{ status: SignedFirmwareStatus; requestId?: number }, Record<string, never>];
  /** Security whitepaper: the progress of a GetLog upload. */
  LogStatusNotification: [{ status: UploadLogStatus; requestId?: number }, Record<string, never>];
}

/** The security whitepaper's FirmwareStatusEnumType (SignedFirmwareStatusNotification). */
export type SignedFirmwareStatus =
  | 'Downloaded' | 'DownloadFailed' | 'Downloading' | 'DownloadScheduled' | 'DownloadPaused' | 'Idle' | 'InstallationFailed' | 'Installing'
  | 'Installed' | 'InstallRebooting' | 'InstallScheduled' | 'InstallVerificationFailed' | 'InvalidSignature' | 'SignatureVerified';
export type UploadLogStatus = 'BadMessage' | 'Idle' | 'NotSupportedOperation' | 'PermissionDenied' | 'Uploaded' | 'UploadFailure' | 'Uploading';
/** The security whitepaper's CertificateUseEnumType. */
export type V16CertificateUse = 'CentralSystemRootCertificate' | 'ManufacturerRootCertificate';
export interface V16CertificateHashData {
  hashAlgorithm: 'SHA256' | 'SHA384' | 'SHA512';
  issuerNameHash: string;
  issuerKeyHash: string;
  serialNumber: string;
}
export type ExtendedTriggerableMessage =
  | 'BootNotification' | 'LogStatusNotification' | 'FirmwareStatusNotification' | 'Heartbeat' | 'MeterValues' | 'SignChargePointCertificate' | 'StatusNotification';

export type TriggerableMessage = 'BootNotification' | 'DiagnosticsStatusNotification' | 'FirmwareStatusNotification' | 'Heartbeat' | 'MeterValues' | 'StatusNotification';

/** Calls from the central system to the charge point. */
export interface CentralSystemCalls {
  RemoteStartTransaction: [{ connectorId?: number; idTag: string; chargingProfile?: ChargingProfile }, Status<'Accepted' | 'Rejected'>];
  RemoteStopTransaction: [{ transactionId: number }, Status<'Accepted' | 'Rejected'>];
  Reset: [{ type: 'Hard' | 'Soft' }, Status<'Accepted' | 'Rejected'>];
  ChangeConfiguration: [{ key: string; value: string }, Status<'Accepted' | 'Rejected' | 'RebootRequired' | 'NotSupported'>];
  GetConfiguration: [{ key?: string[] }, { configurationKey?: KeyValue[]; unknownKey?: string[] }];
  ChangeAvailability: [{ connectorId: number; type: 'Inoperative' | 'Operative' }, Status<'Accepted' | 'Rejected' | 'Scheduled'>];
  UnlockConnector: [{ connectorId: number }, Status<'Unlocked' | 'UnlockFailed' | 'NotSupported'>];
  ClearCache: [Record<string, never>, Status<'Accepted' | 'Rejected'>];
  DataTransfer: ChargePointCalls['DataTransfer'];
  TriggerMessage: [{ requestedMessage: TriggerableMessage; connectorId?: number }, Status<'Accepted' | 'Rejected' | 'NotImplemented'>];
  GetLocalListVersion: [Record<string, never>, { listVersion: number }];
  SendLocalList: [
    { listVersion: number; updateType: 'Differential' | 'Full'; localAuthorizationList?: { idTag: string; idTagInfo?: IdTagInfo }[] },
    Status<'Accepted' | 'Failed' | 'NotSupported' | 'VersionMismatch'>,
  ];
  SetChargingProfile: [{ connectorId: number; csChargingProfiles: ChargingProfile }, Status<'Accepted' | 'Rejected' | 'NotSupported'>];
  ClearChargingProfile: [
    { id?: number; connectorId?: number; chargingProfilePurpose?: ChargingProfilePurpose; stackLevel?: number },
    Status<'Accepted' | 'Unknown'>,
  ];
  GetCompositeSchedule: [
    { connectorId: number; duration: number; chargingRateUnit?: ChargingRateUnit },
    {
      status: 'Accepted' | 'Rejected'; connectorId?: number; scheduleStart?: string;
      chargingSchedule?: { duration?: number; startSchedule?: string; chargingRateUnit: ChargingRateUnit; chargingSchedulePeriod: CompositePeriod[]; minChargingRate?: number };
    },
  ];
  ReserveNow: [
    { connectorId: number; expiryDate: string; idTag: string; parentIdTag?: string; reservationId: number },
    Status<'Accepted' | 'Faulted' | 'Occupied' | 'Rejected' | 'Unavailable'>,
  ];
  CancelReservation: [{ reservationId: number }, Status<'Accepted' | 'Rejected'>];
  GetDiagnostics: [
    { location: string; retries?: number; retryInterval?: number; startTime?: string; stopTime?: string },
    { fileName?: string },
  ];
  UpdateFirmware: [{ location: string; retries?: number; retrieveDate: string; retryInterval?: number }, Record<string, never>];
  // The security whitepaper (edition 3); ocpp-rpc's ocpp1.6 schemas hold these messages.
  ExtendedTriggerMessage: [{ requestedMessage: ExtendedTriggerableMessage; connectorId?: number }, Status<'Accepted' | 'Rejected' | 'NotImplemented'>];
  CertificateSigned: [{ certificateChain: string }, Status<'Accepted' | 'Rejected'>];
  InstallCertificate: [{ certificateType: V16CertificateUse; certificate: string }, Status<'Accepted' | 'Failed' | 'Rejected'>];
  GetInstalledCertificateIds: [{ certificateType: V16CertificateUse }, { status: 'Accepted' | 'NotFound'; certificateHashData?: V16CertificateHashData[] }];
  DeleteCertificate: [{ certificateHashData: V16CertificateHashData }, Status<'Accepted' | 'Failed' | 'NotFound'>];
  SignedUpdateFirmware: [
    {
      requestId: number; retries?: number; retryInterval?: number;
      firmware: { location: string; retrieveDateTime: string; installDateTime?: string; signingCertificate: string; signature: string };
    },
    Status<'Accepted' | 'Rejected' | 'AcceptedCanceled' | 'InvalidCertificate' | 'RevokedCertificate'>,
  ];
  GetLog: [
    {
      logType: 'DiagnosticsLog' | 'SecurityLog'; requestId: number; retries?: number; retryInterval?: number;
      log: { remoteLocation: string; oldestTimestamp?: string; latestTimestamp?: string };
    },
    { status: 'Accepted' | 'Rejected' | 'AcceptedCanceled'; filename?: string },
  ];
}

export type CpAction = keyof ChargePointCalls;
/** Every call a charge point may make to the central system (the list `CpAction` names, at run time). */
export const CHARGE_POINT_ACTIONS = [
  'Authorize', 'BootNotification', 'DataTransfer', 'DiagnosticsStatusNotification', 'FirmwareStatusNotification', 'Heartbeat',
  'LogStatusNotification', 'MeterValues', 'SecurityEventNotification', 'SignCertificate', 'SignedFirmwareStatusNotification',
  'StartTransaction', 'StatusNotification', 'StopTransaction',
] as const satisfies readonly CpAction[];
// Every CpAction is listed (a new one added to ChargePointCalls must be added here too).
type MissingCpAction = Exclude<CpAction, (typeof CHARGE_POINT_ACTIONS)[number]>;
const everyCpActionListed: [MissingCpAction] extends [never] ? true : MissingCpAction = true;
void everyCpActionListed;
export type CsAction = keyof CentralSystemCalls;
export type CpRequest<A extends CpAction> = ChargePointCalls[A][0];
export type CpResponse<A extends CpAction> = ChargePointCalls[A][1];
export type CsRequest<A extends CsAction> = CentralSystemCalls[A][0];
export type CsResponse<A extends CsAction> = CentralSystemCalls[A][1];
