import { OCPP_SUBPROTOCOLS, type OcppSubprotocol } from '../../ocpp/version.js';
import { seedOf } from '../../sim/prng.js';
import { EvseError } from '../../lib/errors.js';

export class OcppMixError extends EvseError {}

/** One OCPP version's share of a fleet's chargers. */
export interface OcppShare {
  version: OcppSubprotocol;
  /** Percent of the chargers (the shares of a mix add up to 100). */
  percent: number;
}

/** The OCPP versions a fleet's chargers speak, by share (every charger speaks one). */
export type OcppMix = OcppShare[];

/** Today's fleet: every charger on OCPP 1.6. */
export const DEFAULT_OCPP_MIX: OcppMix = [{ version: 'ocpp1.6', percent: 100 }];

/** "1.6", "2.0.1", "ocpp2.0.1" (the subprotocol) as the subprotocol, or undefined. */
function subprotocolOf(text: string): OcppSubprotocol | undefined {
  const t = text.trim().toLowerCase();
  const name = t.startsWith('ocpp') ? t : `ocpp${t}`;
  return OCPP_SUBPROTOCOLS.find((p) => p === name);
}

/**
 * `--ocpp`: one version ("2.0.1": every charger) or a mix by share of the chargers
 * ("1.6=70,2.0.1=30", percent, adding up to 100). Throws ERR_FLEET_OCPP on anything else.
 */
export function parseOcppMix(text: string): OcppMix {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  const known = OCPP_SUBPROTOCOLS.map((p) => p.slice(4)).join(', ');
  if (parts.length === 0) throw new OcppMixError('ERR_FLEET_OCPP', `expected a version (${known}) or a mix like 1.6=70,2.0.1=30, got "${text}"`);
  const mix: OcppMix = [];
  for (const part of parts) {
    const m = /^([^=]+?)(?:\s*=\s*([0-9]*\.?[0-9]+)\s*%?)?$/.exec(part);
    const version = m ? subprotocolOf(m[1]!) : undefined;
    if (!m || !version) throw new OcppMixError('ERR_FLEET_OCPP', `"${part}" is not an OCPP version the fleet speaks (${known}), e.g. 2.0.1 or 1.6=70,2.0.1=30`);
    if (mix.some((s) => s.version === version)) throw new OcppMixError('ERR_FLEET_OCPP', `${version.slice(4)} is given twice`);
    if (m[2] === undefined && parts.length > 1) throw new OcppMixError('ERR_FLEET_OCPP', `in a mix each version takes its share, e.g. 1.6=70,2.0.1=30 (got "${part}")`);
    mix.push({ version, percent: m[2] === undefined ? 100 : Number(m[2]) });
  }
  const total = mix.reduce((n, s) => n + s.percent, 0);
  if (Math.abs(total - 100) > 1e-9) throw new OcppMixError('ERR_FLEET_OCPP', `the shares add up to ${total}, not 100`);
  return mix.filter((s) => s.percent > 0);
}

/**
 * The version charger `id` speaks in a run of `seed`: drawn from the mix by a hash of both, so
 * the same charger speaks the same version in every run of the seed, on any shard or process.
 */
export function versionOf(mix: OcppMix | undefined, id: string, seed: number): OcppSubprotocol {
  if (!mix || mix.length === 0) return 'ocpp1.6';
  if (mix.length === 1) return mix[0]!.version;
  const u = (seedOf(`${id}/ocpp`, seed) / 0x1_0000_0000) * 100;
  let acc = 0;
  for (const s of mix) {
    acc += s.percent;
    if (u < acc) return s.version;
  }
  return mix[mix.length - 1]!.version;
}
