/**
 * Errors a person can act on. Each message is one line that names the field (or file, or flag) and the
 * fix; the CLI prints it without a stack trace and exits non-zero.
 */

/**
 * `s` on one line: runs of control characters (newlines, tabs, NULs — e.g. from a corrupt file that a parser
 * quotes back) become one space.
 */
export function oneLine(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

/** Base class: an expected failure with an actionable one-line message (made one line whatever it quotes). */
export class MoleError extends Error {
  override name = "MoleError";
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;

  constructor(message: string, options?: ErrorOptions) {
    super(oneLine(message), options);
  }
}

/** A bad command-line flag or positional argument (exit code 2). */
export class UsageError extends MoleError {
  override name = "UsageError";
  override readonly exitCode = 2;
}

/** A configuration value out of range, an unknown key or method (exit code 2). */
export class ConfigError extends MoleError {
  override name = "ConfigError";
  override readonly exitCode = 2;
}

/** A malformed data file or record. */
export class DataError extends MoleError {
  override name = "DataError";
}

/** A corrupt, truncated or mismatched checkpoint or cache file. */
export class CheckpointError extends MoleError {
  override name = "CheckpointError";
}

/** Training diverged: a NaN or infinite loss. */
export class NonFiniteLossError extends MoleError {
  override name = "NonFiniteLossError";
}

/** A write that failed for a reason the user can fix (full disk, quota, permissions, read-only). */
export class WriteError extends MoleError {
  override name = "WriteError";
}
