/** Errors carry a stable `code`; callers branch on the code, never on the message. */
export class EvseError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
}

/** Invalid config or profile: every problem at once, each with its file and field path. */
export class ConfigError extends EvseError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      'ERR_CONFIG_INVALID',
      problems.map((p) => `${p.file}: ${p.path || '(root)'}: ${p.message}`).join('\n'),
    );
    this.problems = problems;
  }
}

export class StoreError extends EvseError {}

/** A command line used wrongly (missing or contradictory options): printed, exit 2. */
export class UsageError extends EvseError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
