import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const BIN = resolve(import.meta.dirname, '../../bin/evse-edge.js');
const RUNS = 7;

/** Wall time (s) and maximum RSS (KiB) of one command, as GNU time -v reports them. */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ wallS: number; maxRssKiB: number }> {
  const { stderr } = await promisify(execFile)('/usr/bin/time', ['-v', ...args], { env });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (!wall || !rss) throw new Error(`cannot read /usr/bin/time -v output:\n${stderr}`);
  return { wallS: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), maxRssKiB: Number(rss[1]) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * `evse-edge --version` as a user's shell runs it: the built CLI, then for comparison the
 * sources through tsx (how every command ran before there was a build) and a bare `node -e 0`.
 * Median of several runs of /usr/bin/time -v (apt-get install time if it is missing).
 */
export async function benchCli(): Promise<Record<string, number | string>> {
  const { EVSE_EDGE_SOURCES: _, NODE_OPTIONS: __, ...env } = process.env;
  const out: Record<string, number | string> = {};
  const cases: [string, string[], NodeJS.ProcessEnv][] = [
    ['evse-edge --version (built)', [process.execPath, BIN, '--version'], env],
    ['evse-edge --version (the sources through tsx, for comparison)', [process.execPath, BIN, '--version'], { ...env, EVSE_EDGE_SOURCES: '1' }],
    ['node -e 0', [process.execPath, '-e', '0'], env],
  ];
  for (const [name, args, e] of cases) {
    const runs: { wallS: number; maxRssKiB: number }[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await timed(args, e));
    out[`${name}: wall, median of ${RUNS} (ms)`] = Math.round(median(runs.map((r) => r.wallS)) * 1000);
    out[`${name}: max RSS, median of ${RUNS} (MiB)`] = Math.round(median(runs.map((r) => r.maxRssKiB)) / 102.4) / 10;
  }
  return out;
}
