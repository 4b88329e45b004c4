/**
 * Two tiers of errors (STYLE.md §8): a stable internal `code` per failed check, and a small set of
 * outside categories mapped once to CLI exit codes and HTTP statuses. Every module throws
 * `McdnError`; the CLI prints `error: <message>` plus the remedy, never a stack trace.
 * Never put secrets (tokens, presigned query strings) into messages or details.
 */
export type ErrorCategory =
  | 'input' // the user's file or argument is wrong (bad format, truncated, out of range)
  | 'integrity' // a hash or signature did not match
  | 'not_found'
  | 'auth'
  | 'config'
  | 'network'
  | 'io'
  | 'conflict'
  | 'cancelled'
  | 'internal';

export const EXIT_CODES: Record<ErrorCategory, number> = {
  internal: 1,
  input: 2,
  config: 2,
  integrity: 3,
  not_found: 4,
  network: 5,
  auth: 6,
  io: 7,
  conflict: 8,
  cancelled: 130,
};

/** Exit code of `modelcdn diff --method auto` when no patch beats the packed full file (documented). */
export const EXIT_NO_BENEFIT = 10;

export const HTTP_STATUS: Record<ErrorCategory, number> = {
  internal: 500,
  input: 400,
  config: 500,
  integrity: 502,
  not_found: 404,
  auth: 401,
  network: 502,
  io: 500,
  conflict: 409,
  cancelled: 499,
};

export class McdnError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details: Record<string, unknown>;
  /** what the user can do about it, one short sentence */
  readonly remedy?: string;
  constructor(
    code: string,
    category: ErrorCategory,
    message: string,
    opts: { details?: Record<string, unknown>; remedy?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'McdnError';
    this.code = code;
    this.category = category;
    this.details = opts.details ?? {};
    if (opts.remedy !== undefined) this.remedy = opts.remedy;
  }
}

export function isMcdnError(e: unknown): e is McdnError {
  return e instanceof McdnError;
}

/** Shorthand for the most common case: malformed input. */
export function inputError(code: string, message: string, details?: Record<string, unknown>, remedy?: string): McdnError {
  return new McdnError(code, 'input', message, { details: details ?? {}, ...(remedy ? { remedy } : {}) });
}

export function integrityError(code: string, message: string, details?: Record<string, unknown>): McdnError {
  return new McdnError(code, 'integrity', message, { details: details ?? {} });
}

/** Wrap a Node.js system error (ENOENT, EACCES, ENOSPC…) as an McdnError naming the path. */
export function fromSystemError(e: unknown, path: string): McdnError {
  if (e instanceof McdnError) return e;
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return new McdnError('FILE_NOT_FOUND', 'not_found', `${path}: no such file or directory`, { cause: e, remedy: 'check the path' });
    case 'EISDIR':
      return new McdnError('IS_A_DIRECTORY', 'input', `${path}: is a directory, expected a file`, { cause: e });
    case 'EACCES':
    case 'EPERM':
      return new McdnError('PERMISSION_DENIED', 'io', `${path}: permission denied`, { cause: e });
    case 'ENOSPC':
      return new McdnError('DISK_FULL', 'io', `${path}: no space left on device`, { cause: e, remedy: 'free disk space and retry' });
    default:
      return new McdnError('IO_ERROR', 'io', `${path}: ${err?.message ?? String(e)}`, { cause: e });
  }
}
