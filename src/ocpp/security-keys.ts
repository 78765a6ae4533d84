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
/** A network connection profile set by SetNetworkProfile (JSON {url, securityProfile, messageTimeoutS}). */
export const networkProfileKey = (slot: number): string => `evse-edge.NetworkProfile.${slot}`;

export interface NetworkProfile {
  url: string;
  securityProfile: number;
  messageTimeoutS: number;
}
