import { EvseError } from '../../lib/errors.js';

export class ShardError extends EvseError {}

export interface Shard {
  index: number;
  total: number;
}

/**
 * "I/N" (0-based I). Without it, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX gives I and
 * SIM_SHARD_TOTAL (or the N of "/N") gives N; otherwise the whole fleet (0/1).
 */
export function parseShard(text: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard {
  let index: number | undefined;
  let total: number | undefined;
  if (text) {
    const m = /^(\d*)\/(\d+)$/.exec(text.trim());
    if (!m) throw new ShardError('ERR_SHARD_SYNTAX', `--shard takes I/N (e.g. 0/4) or /N with JOB_COMPLETION_INDEX set, got "${text}"`);
    if (m[1] !== '') index = Number(m[1]);
    total = Number(m[2]);
  }
  if (index === undefined && env.JOB_COMPLETION_INDEX !== undefined) index = Number(env.JOB_COMPLETION_INDEX);
  if (total === undefined && env.SIM_SHARD_TOTAL !== undefined) total = Number(env.SIM_SHARD_TOTAL);
  if (index === undefined && total === undefined) return { index: 0, total: 1 };
  if (total === undefined) throw new ShardError('ERR_SHARD_TOTAL', 'JOB_COMPLETION_INDEX is set: give the shard count as --shard /N or SIM_SHARD_TOTAL');
  index ??= 0;
  if (!Number.isInteger(index) || !Number.isInteger(total) || total < 1 || index < 0 || index >= total) {
    throw new ShardError('ERR_SHARD_RANGE', `shard ${index}/${total}: need 0 ≤ I < N`);
  }
  return { index, total };
}

/** The charger id of fleet position `n` (0-based): SIM-00001 for 0. */
export function chargerId(prefix: string, n: number, digits = 5): string {
  return `${prefix}${String(n + 1).padStart(digits, '0')}`;
}

/**
 * The fleet positions (0-based) of a shard: a contiguous block, so each pod holds a range of
 * ids and the blocks of 0..N-1 cover the fleet exactly once.
 */
export function shardPositions(count: number, shard: Shard): number[] {
  const lo = Math.floor((count * shard.index) / shard.total);
  const hi = Math.floor((count * (shard.index + 1)) / shard.total);
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}
