/**
 * SetNetworkProfile (A05 upgrade of the security profile, B09): a connection profile kept for a
 * configuration slot and used from the next connection once the slot leads
 * NetworkConfigurationPriority (after a Reset). A profile below the security profile in force
 * is Rejected (no downgrade), as is one the charger cannot use (a ws:// URL above profile 1, a
 * profile without its password or client certificate); only OCPP 2.0 over JSON.
 */
import type { StationSecurity } from '../certificates.js';
import type { Log } from '../../lib/log.js';
import type { DeviceModel } from './device-model.js';
import type { CsmsCalls } from './messages.js';

export interface NetworkProfileContext {
  security?: StationSecurity;
  model: DeviceModel;
  log: Log;
}

type Handlers = { [A in keyof CsmsCalls]?: (req: CsmsCalls[A][0], ctx: NetworkProfileContext) => Promise<CsmsCalls[A][1]> | CsmsCalls[A][1] };

/** The slots NetworkConfigurationPriority may name (its valuesList). */
const slotsOf = (model: DeviceModel): readonly string[] =>
  model.variables.find((v) => v.component === 'OCPPCommCtrlr' && v.variable === 'NetworkConfigurationPriority')?.characteristics.valuesList ?? ['0'];

export const networkProfileHandlers: Handlers = {
  SetNetworkProfile: (req, ctx) => {
    const d = req.connectionData;
    const refuse = (reasonCode: string, additionalInfo: string) => {
      ctx.log.warn('network profile refused', { slot: req.configurationSlot, securityProfile: d.securityProfile, reason: additionalInfo });
      return { status: 'Rejected' as const, statusInfo: { reasonCode, additionalInfo: additionalInfo.slice(0, 512) } };
    };
    if (!ctx.security?.setNetworkProfile) return { status: 'Rejected', statusInfo: { reasonCode: 'NotSupported' } };
    if (!slotsOf(ctx.model).includes(String(req.configurationSlot))) return refuse('InvalidSlot', `slot ${req.configurationSlot} does not exist`);
    if (d.ocppVersion !== 'OCPP20' || d.ocppTransport !== 'JSON') return refuse('UnsupportedVersion', 'only OCPP 2.0.1 over JSON');
    const problem = ctx.security.setNetworkProfile(req.configurationSlot, { url: d.ocppCsmsUrl, securityProfile: d.securityProfile, messageTimeoutS: d.messageTimeout });
    if (problem) return refuse(/lower/.test(problem) ? 'NoSecurityDowngrade' : 'InvalidProfile', problem);
    ctx.log.info('network profile set', { slot: req.configurationSlot, securityProfile: d.securityProfile });
    return { status: 'Accepted' };
  },
};
