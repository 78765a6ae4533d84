/**
 * OCPP 1.6J behind the version seam (../version.ts): its subprotocol, the core's policy over its
 * configuration keys, its link (the OCPP session, link.ts, and transaction delivery,
 * delivery.ts), its incoming handler table (incoming.ts) and its mapping (mapping.ts).
 */
import type { OcppVersion } from '../version.js';
import type { KeyDefinition } from './configuration.js';
import type { FeatureServices } from './features.js';
import { INCOMING_ACTIONS } from './incoming.js';
import { CsmsLink } from './link.js';
import { fromV16IdTagInfo, toV16Reason, toV16Status, type IdTagInfo } from './mapping.js';
import { policyFromSettings } from './policy.js';

export const v16: OcppVersion<KeyDefinition[], FeatureServices> = {
  subprotocol: 'ocpp1.6',
  policy: policyFromSettings,
  createLink: (d) => new CsmsLink({
    connection: d.connection, chargePoint: d.chargePoint, ledger: d.ledger, outbox: d.outbox, settings: d.settings,
    authData: d.authData, definitions: d.definitions, clock: d.clock, ...(d.runStartedAt !== undefined ? { runStartedAt: d.runStartedAt } : {}), log: d.log, identity: d.identity, onReset: d.onReset,
    timing: d.timing, features: d.features,
  }),
  incomingActions: INCOMING_ACTIONS,
  mapping: { status: toV16Status, stopReason: toV16Reason, authorization: (info: IdTagInfo) => fromV16IdTagInfo(info) },
};

export { CsmsLink } from './link.js';
export type { KeyDefinition } from './configuration.js';
export type { FeatureServices } from './features.js';
