// Option parsing shared by several commands (input shapes, paths), throwing usage errors users can act on.
import { PrunedetError } from './errors';
import { checkMemoryPlan } from './limits';

/** `1,3,300,300` -> [1, 3, 300, 300]. */
export function parseInputShape(s: string | undefined): number[] | undefined {
  if (s === undefined || s === '') return undefined;
  const dims = s.split(/[,x×]/).map((t) => Number(t.trim()));
  if (dims.length < 3 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new PrunedetError(
      'E_USAGE',
      `--input-shape "${s}" is not a list of positive integers`,
      'write it as N,C,H,W, e.g. --input-shape 1,3,300,300',
    );
  }
  checkMemoryPlan(
    dims.reduce((a, b) => a * b, 4),
    `--input-shape ${dims.join(',')} (its float32 input tensor alone)`,
    'pass the size the model is used at, e.g. --input-shape 1,3,300,300',
  );
  return dims;
}

/** A whole-number flag given as text: its value (range checks are the command's); not a number is a usage error. */
export function parseCount(flag: string, text: string): number {
  const v = String(text).trim() === '' ? NaN : Number(text);
  if (!Number.isInteger(v))
    throw new PrunedetError('E_USAGE', `${flag} ${text} is not a whole number`, `write e.g. ${flag} 4`);
  return v;
}

/**
 * verify's --atol/--rtol, Polygraphy style: `1e-5` for every output, `NAME:1e-5` for one (repeatable). Returns the
 * overrides; a value that is not a number >= 0 is a usage error.
 */
export function parseToleranceFlags(
  atol: readonly string[] = [],
  rtol: readonly string[] = [],
): { all?: { atol?: number; rtol?: number }; byOutput?: Record<string, { atol?: number; rtol?: number }> } | undefined {
  const all: { atol?: number; rtol?: number } = {};
  const byOutput: Record<string, { atol?: number; rtol?: number }> = {};
  for (const [key, list] of [
    ['atol', atol],
    ['rtol', rtol],
  ] as const) {
    for (const text of list) {
      const at = String(text).lastIndexOf(':');
      const name = at >= 0 ? String(text).slice(0, at) : undefined;
      const raw = at >= 0 ? String(text).slice(at + 1) : String(text);
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!(Number.isFinite(v) && v >= 0)) {
        throw new PrunedetError(
          'E_USAGE',
          `--${key} ${text} is not a number >= 0`,
          `write e.g. --${key} 1e-5, or --${key} OUTPUT:1e-5 for one output`,
        );
      }
      if (name === undefined) all[key] = v;
      else (byOutput[name] ??= {})[key] = v;
    }
  }
  const some = Object.keys(all).length > 0 || Object.keys(byOutput).length > 0;
  return some
    ? { ...(Object.keys(all).length ? { all } : {}), ...(Object.keys(byOutput).length ? { byOutput } : {}) }
    : undefined;
}
