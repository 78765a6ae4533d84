/**
 * RFID reader bring-up (`evse-edge rfid watch`): the cards presented to a serial reader,
 * normalised as the agent sees them and pseudonymised with the installation's secret (the one
 * next to the agent's database, or a given file) unless shown in clear.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadAgentConfig } from '../../config/index.js';
import { RFID_PROTOCOLS, watchRfid, type RfidProtocol, type RfidWatch } from '../../drivers/rfid/index.js';
import { pseudonymiser } from '../../lib/pseudonym.js';

export { RFID_PROTOCOLS, type RfidProtocol };

/** The pseudonym secret file: the given one, else the one beside the database of the agent's config, else none. */
export function pseudonymSecretFile(o: { secret?: string; config?: string }): string | undefined {
  if (o.secret) return o.secret;
  if (o.config) return join(dirname(resolve(loadAgentConfig(o.config).config.store.path)), 'pseudonym.key');
  return undefined;
}

/** Watch a reader: each card presented is written to `out` (pseudonymised with `secretFile`, or in clear with `showUid`). */
export function watchCards(o: { port: string; protocol: RfidProtocol; baudRate?: number; showUid: boolean; secretFile?: string; out: NodeJS.WritableStream }): Promise<RfidWatch> {
  const pseudonym = o.secretFile ? pseudonymiser(Buffer.from(readFileSync(o.secretFile, 'utf8').trim(), 'hex')) : undefined;
  return watchRfid({ port: o.port, protocol: o.protocol, baudRate: o.baudRate, showUid: o.showUid, pseudonym, out: o.out });
}
