// Matches the (scale, ratio) pairs a config lists for one level to the baseline's anchors on that level, with the
// tolerance the paper's own files need (1.26 written for 1.2599, 0.224 for mmdetection's 0.2225).
import { InternalError, PrunedetError } from '../../errors';
import type { AnchorPair } from '../types';
import { formatPair, type BaselineAnchors } from './types';
import { levelName } from '../../format/levels';

/** Relative tolerance on scale and on ratio. */
const PAIR_TOLERANCE = 1e-2;

export interface WantedPair {
  pair: AnchorPair;
  /** `file:line:col` of the pair in its config. */
  where: string;
}

/**
 * Baseline indices (ascending) of `wanted` on level `level` (0-based). Each pair goes to the nearest baseline pair
 * within PAIR_TOLERANCE (distance = the larger relative error); it is ambiguous when the runner-up is within the
 * tolerance too and not at least twice as far. Missing, ambiguous and repeated pairs are E_CONFIG_MISMATCH.
 */
export function matchLevelPairs(
  level: number,
  wanted: WantedPair[],
  baseline: BaselineAnchors,
  levelWhere: string,
): number[] {
  if (wanted.length === 0) return [];
  const L = levelName(level);
  const base = baseline.pairs?.[level];
  if (!base) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `${levelWhere}: ${L} is given as (scale, ratio) pairs but the baseline${baseline.source ? ` (${baseline.source})` : ''} has no known pairs on that level`,
      'pass --baseline-config with the baseline anchor generator config, or give anchor indices (--remove or a JSON "keep" list)',
    );
  }
  if (base.length !== baseline.counts[level]) {
    throw new InternalError(`baseline ${L} has ${baseline.counts[level]} anchors but ${base.length} pairs`);
  }
  const taken = new Map<number, string>();
  for (const w of wanted) {
    const near = base
      .map((b, i) => ({ i, ds: rel(w.pair.scale, b.scale), dr: rel(w.pair.ratio, b.ratio) }))
      .filter((c) => c.ds <= PAIR_TOLERANCE && c.dr <= PAIR_TOLERANCE)
      .map((c) => ({ i: c.i, d: Math.max(c.ds, c.dr) }))
      .sort((a, b) => a.d - b.d || a.i - b.i);
    const best = near[0];
    if (!best) {
      throw new PrunedetError(
        'E_CONFIG_MISMATCH',
        `${w.where}: ${L} pair ${formatPair(w.pair)} is not one of the baseline's anchors on that level: ${base.map(formatPair).join(' ')}`,
        `use a baseline pair (scale and ratio may differ by ${PAIR_TOLERANCE * 100}%)`,
      );
    }
    const second = near[1];
    if (second && second.d <= 2 * best.d + 1e-9) {
      throw new PrunedetError(
        'E_CONFIG_MISMATCH',
        `${w.where}: ${L} pair ${formatPair(w.pair)} is ambiguous: baseline anchors ${best.i} ${formatPair(base[best.i]!)} and ${second.i} ${formatPair(base[second.i]!)} are both close`,
        'write the pair exactly as the baseline lists it, or give anchor indices with --remove',
      );
    }
    const before = taken.get(best.i);
    if (before !== undefined) {
      throw new PrunedetError(
        'E_CONFIG_MISMATCH',
        `${w.where}: ${L} pair ${formatPair(w.pair)} names baseline anchor ${best.i} ${formatPair(base[best.i]!)} again (first at ${before})`,
        'list each anchor once',
      );
    }
    taken.set(best.i, w.where);
  }
  return [...taken.keys()].sort((a, b) => a - b);
}

function rel(a: number, b: number): number {
  const m = Math.max(Math.abs(a), Math.abs(b));
  return m === 0 ? 0 : Math.abs(a - b) / m;
}
