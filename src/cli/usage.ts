import type { Command } from 'commander';

/**
 * Commander's own errors (an unknown option, a missing argument, an invalid value) throw a
 * CommanderError from every command, not only the top one, so that main can exit 2 for them as
 * for our own usage errors. Help and --version keep exit 0.
 */
export function throwOnUsageErrors(cmd: Command): void {
  cmd.exitOverride();
  cmd.showHelpAfterError('(add --help for usage)');
  for (const sub of cmd.commands) throwOnUsageErrors(sub);
}

/** The exit status for a CommanderError: 0 for help and version, 2 for a usage error. */
export const usageExitCode = (err: { exitCode: number }): number => (err.exitCode === 0 ? 0 : 2);
