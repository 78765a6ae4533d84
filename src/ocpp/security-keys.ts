/**
 * Where a charger keeps its security settings, whatever the version that set them: the
 * security profile in force (1.6 SecurityProfile, 2.0.1 SecurityCtrlr.SecurityProfile) and the
 * Basic auth password 2.0.1 sets (SecurityCtrlr.BasicAuthPassword, 16–40 characters, used as it
 * is; 1.6's AuthorizationKey is kept apart, as its hex form decodes to other bytes). The
 * application's CSMS security reads them to connect; nothing reports the password.
 */
export const SECURITY_PROFILE_KEY = 'SecurityProfile';
export const BASIC_AUTH_PASSWORD_KEY = 'evse-edge.BasicAuthPassword';
