// The one error type users see, and the catalogue of its codes. Library code throws PrunedetError for anything the
// user can fix (bad input, a config that does not fit, an unsupported op); bin/ prints it as one line and exits 2.
// Anything else is a bug in prunedet: exit 1, stack only with --debug.

export const ErrorCodes = {
  E_USAGE: 'bad command-line usage',
  E_FILE_NOT_FOUND: 'input file missing',
  E_FILE_EMPTY: 'input file empty',
  E_ONNX_CORRUPT: 'not a readable ONNX model',
  E_ONNX_TRUNCATED: 'ONNX model cut short',
  E_ONNX_INVALID: 'ONNX model breaks an invariant',
  E_PATH_ESCAPES: 'a path leaves its folder',
  E_EXTERNAL_DATA: 'external tensor data missing or short',
  E_OP_UNSUPPORTED: 'an op prunedet cannot analyse',
  E_SHAPE: 'shape inference failed',
  E_NOT_DETECTOR: 'no detection head found',
  E_HEAD_AMBIGUOUS: 'detection head ambiguous',
  E_HEAD_SPEC: 'head spec does not match the model',
  E_CONFIG_PARSE: 'config file outside the supported subset',
  E_CONFIG_MISMATCH: 'config does not fit the model',
  E_OUTPUT: 'output location unusable',
  E_IMAGES: 'image folder or image unusable',
  E_ANNOTATIONS: 'annotations unusable',
  E_POSTPROCESS: 'post-processing spec invalid',
  E_TOOLCHAIN: 'a required tool (gcc) is missing',
  E_REPORT: 'compile report unreadable, malformed, or not of this model',
  E_IO: 'the system refused a file operation',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class PrunedetError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** What the user can do about it; printed after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PrunedetError';
  }

  /** The single line the CLI prints. */
  oneLine(): string {
    const text = this.hint ? `${this.message}; ${this.hint}` : this.message;
    // names from a damaged file may hold control characters: one printable line whatever they are
    return `prunedet: ${text.replace(/\s*\n\s*/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd')}`;
  }
}

/** A broken invariant inside prunedet (a pass produced an invalid graph, ...): a bug, not a user error. */
export class InternalError extends Error {
  override name = 'InternalError';
}

export function isPrunedetError(e: unknown): e is PrunedetError {
  return e instanceof PrunedetError;
}

/** Errno codes that name a condition of the machine (permissions, space, a read-only or busy file system), not a bug. */
const SYSTEM_ERRNOS = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOSPC',
  'EDQUOT',
  'EBUSY',
  'EMFILE',
  'ENFILE',
  'ENAMETOOLONG',
  'ELOOP',
  'EIO',
  'EXDEV',
]);

/** A Node file-system error the user can fix, as a PrunedetError (E_IO) naming the operation and path; else undefined. */
export function systemError(e: unknown): PrunedetError | undefined {
  const x = e as NodeJS.ErrnoException & { dest?: string };
  if (
    !(e instanceof Error) ||
    typeof x.code !== 'string' ||
    !SYSTEM_ERRNOS.has(x.code) ||
    typeof x.syscall !== 'string'
  )
    return undefined;
  const where = x.path ? ` ${x.path}${x.dest ? ` -> ${x.dest}` : ''}` : '';
  const hint =
    x.code === 'ENOSPC' || x.code === 'EDQUOT'
      ? 'free some disk space'
      : x.code === 'EMFILE' || x.code === 'ENFILE'
        ? 'raise the open-file limit (ulimit -n)'
        : 'check the path and its permissions';
  return new PrunedetError('E_IO', `${x.syscall}${where} failed (${x.code})`, hint);
}
