// Option parsing shared by several commands (input shapes, paths), throwing usage errors users can act on.
import { PrunedetError } from '../errors';
import { checkMemoryPlan } from '../limits';

/** `1,3,300,300` -> [1, 3, 300, 300]. */
export function parseInputShape(s: string | undefined): number[] | undefined {
  if (s === undefined || s === '') return undefined;
  const dims = s.split(/[,x×]/).map((t) => Number(t.trim()));
  if (dims.length < 3 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new PrunedetError('E_USAGE', `--input-shape "${s}" is not a list of positive integers`, 'write it as N,C,H,W, e.g. --input-shape 1,3,300,300');
  }
  checkMemoryPlan(dims.reduce((a, b) => a * b, 4), `--input-shape ${dims.join(',')} (its float32 input tensor alone)`, 'pass the size the model is used at, e.g. --input-shape 1,3,300,300');
  return dims;
}
