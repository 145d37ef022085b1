// Every resource bound prunedet enforces on its inputs, in one place (the README lists them). Each bound is checked
// before the memory or time it guards is spent, and a refusal is a PrunedetError: one line, exit 2.
import { totalmem } from 'node:os';
import { PrunedetError, type ErrorCode } from './errors';

export const LIMITS = {
  /** Bytes of a config file (.py, .json anchor config, head spec); the paper's are ~2 KB. */
  configBytes: 4 << 20,
  /** Nesting depth of brackets, calls and operator chains in a config file. */
  configDepth: 100,
  /** Values (list/tuple items, string characters) one config file may build, over all its expressions. */
  configValues: 1_000_000,
  /** Pixels an image may declare (PNG IHDR, JPEG SOF), in megapixels. */
  imageMegapixels: 100,
  /** Bytes of an image file. */
  imageFileBytes: 512 << 20,
  /** Timed runs per bench measurement. */
  benchRuns: 100_000,
  /** Memory a command may plan to hold for tensors it allocates from user-chosen sizes. */
  memoryBytes: Math.min(16 * 2 ** 30, Math.floor(totalmem() / 2)),
} as const;

/** Refuse a plan to hold `bytes` of tensors above LIMITS.memoryBytes, naming what and the fix. */
export function checkMemoryPlan(bytes: number, what: string, hint: string, code: ErrorCode = 'E_USAGE'): void {
  if (!(bytes <= LIMITS.memoryBytes)) {
    throw new PrunedetError(
      code,
      `${what} needs ${gib(bytes)} of memory, above prunedet's limit of ${gib(LIMITS.memoryBytes)} (half this machine's memory, at most 16 GiB)`,
      hint,
    );
  }
}

function gib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : 'unbounded';
}
