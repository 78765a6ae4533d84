/**
 * Security events as OCPP 2.0.1 names them (Part 2 appendix 1). The charger records them under
 * the names the 1.6 security whitepaper gave first; the two lists differ only where 1.6 says
 * "Central System" or "Charge Point" and 2.0.1 says "CSMS" or "Charging Station". Renamed when the queued event is delivered, so an
 * event queued before a version change goes with the right name.
 */
const V201_NAMES: Readonly<Record<string, string>> = {
  InvalidCentralSystemCertificate: 'InvalidCsmsCertificate',
  FailedToAuthenticateAtCentralSystem: 'FailedToAuthenticateAtCsms',
  CentralSystemFailedToAuthenticate: 'CsmsFailedToAuthenticate',
  InvalidChargePointCertificate: 'InvalidChargingStationCertificate',
};

export const v201SecurityEventType = (type: string): string => V201_NAMES[type] ?? type;
