/**
 * Where a charger keeps its security settings, whatever the version that set them: the
 * security profile in force (1.6 SecurityProfile, 2.0.1 SecurityCtrlr.SecurityProfile) and the
 * Basic auth password 2.0.1 sets (SecurityCtrlr.BasicAuthPassword, 16–40 characters, used as it
 * is; 1.6's AuthorizationKey is kept apart, as its hex form decodes to other bytes). The
 * application's CSMS security reads them to connect; nothing reports the password.
 */
export const SECURITY_PROFILE_KEY = 'SecurityProfile';
export const BASIC_AUTH_PASSWORD_KEY = 'evse-edge.BasicAuthPassword';

/** 2.0.1's NetworkConfigurationPriority (OCPPCommCtrlr): the slots tried in order, comma-separated. */
export const NETWORK_PRIORITY_KEY = 'evse-edge.NetworkConfigurationPriority';
/** The slot the connection uses (OCPPCommCtrlr.ActiveNetworkProfile). */
export const ACTIVE_NETWORK_PROFILE_KEY = 'evse-edge.ActiveNetworkProfile';
/** OCPPCommCtrlr.NetworkProfileConnectionAttempts: failed connections in a row before the next slot is tried (B10). */
export const NETWORK_PROFILE_ATTEMPTS_KEY = 'evse-edge.NetworkProfileConnectionAttempts';
/** The slot (or 'config': the config file's csms block) of the last connection that opened: where a failed new profile falls back to. */
export const LAST_WORKING_NETWORK_KEY = 'evse-edge.NetworkProfile.lastWorking';
/** A network connection profile set by SetNetworkProfile (JSON {url, securityProfile, messageTimeoutS}). */
export const networkProfileKey = (slot: number): string => `evse-edge.NetworkProfile.${slot}`;

export interface NetworkProfile {
  url: string;
  securityProfile: number;
  messageTimeoutS: number;
}
