/**
 * SecurityCtrlr's SecurityProfile and BasicAuthPassword as views of the charger's security
 * settings (../security-keys.ts): the profile the application's CSMS security has in force, and
 * the password it connects with, written by SetVariables (WriteOnly: the device model never
 * reads it back); CertificateEntries, the number of certificates the charger keeps; and
 * OCPPCommCtrlr's NetworkConfigurationPriority, ActiveNetworkProfile and
 * NetworkProfileConnectionAttempts, which the application reads to choose the connection and to
 * fall back from one that fails (SetNetworkProfile, A05/B09/B10).
 */
import { ACTIVE_NETWORK_PROFILE_KEY, BASIC_AUTH_PASSWORD_KEY, NETWORK_PRIORITY_KEY, NETWORK_PROFILE_ATTEMPTS_KEY, SECURITY_PROFILE_KEY } from '../security-keys.js';
import type { CertificateService } from '../certificates.js';
import type { ConfigurationStore } from '../store-ports.js';
import type { VariableKey, VariableStore } from './device-model.js';

const isSecurityCtrlr = (k: VariableKey) => k.attribute === 'Actual' && k.evseId === undefined && !k.componentInstance && k.component.toLowerCase() === 'securityctrlr';

const settingOf = (k: VariableKey): string | undefined => {
  if (k.attribute !== 'Actual' || k.evseId !== undefined || k.componentInstance) return undefined;
  const c = k.component.toLowerCase();
  const v = k.variable.toLowerCase();
  if (c === 'securityctrlr') return v === 'securityprofile' ? SECURITY_PROFILE_KEY : v === 'basicauthpassword' ? BASIC_AUTH_PASSWORD_KEY : undefined;
  if (c === 'ocppcommctrlr') {
    return v === 'networkconfigurationpriority' ? NETWORK_PRIORITY_KEY : v === 'activenetworkprofile' ? ACTIVE_NETWORK_PROFILE_KEY
      : v === 'networkprofileconnectionattempts' ? NETWORK_PROFILE_ATTEMPTS_KEY : undefined;
  }
  return undefined;
};

export function securityVariableStore(settings: Pick<ConfigurationStore, 'get' | 'set'>, inner: VariableStore, certificates?: Pick<CertificateService, 'count'>): VariableStore {
  return {
    get: (k) => {
      if (certificates && isSecurityCtrlr(k) && k.variable.toLowerCase() === 'certificateentries') return String(certificates.count());
      const key = settingOf(k);
      if (key === BASIC_AUTH_PASSWORD_KEY) return undefined; // write-only: never read back
      return key ? settings.get(key) ?? inner.get(k) : inner.get(k);
    },
    set: (k, value, meta) => {
      const key = settingOf(k);
      if (key) settings.set(key, value);
      else inner.set(k, value, meta);
    },
  };
}
