// Small helpers the anchor generators share (and the OpenCV-exact image resizer: roundHalfEven).
import { PrunedetError } from '../errors';
import type { Stride } from './types';

/** A stride as [w, h] (a fresh pair). */
export function pairOf(s: Stride): [number, number] {
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

/** Generator settings that do not fit together. */
export function configError(message: string): PrunedetError {
  return new PrunedetError('E_CONFIG_PARSE', message, 'fix the anchor generator settings');
}

export function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** Round half to even, as torch.round (float tensors) and cvRound / lrint do. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
