// What every anchor-configuration form (.py, --remove, .json) resolves to, what it is resolved against, and the
// checks all forms share (level count, "everything removed").
import { PrunedetError } from '../../errors';
import type { AnchorPair, AnchorSet } from '../types';

/** Per level the baseline anchor indices (within the level) that stay, ascending; `name` labels reports and C files. */
export interface ResolvedConfig {
  kept: number[][];
  name: string;
}

/** The unpruned model's anchors: how many per cell on each level and, when known, their (scale, ratio) pairs. */
export interface BaselineAnchors {
  counts: number[];
  pairs?: (AnchorPair[] | undefined)[];
  /** Size the pairs' scales are relative to, when known (anchor_base_size); .py configs are rescaled to it. */
  pairBase?: number;
  /** Where the baseline came from (model or config file), for messages. */
  source?: string;
}

/** Counts and pairs of an AnchorSet (pairs only where every anchor of the level carries one). */
export function baselineFromSet(set: AnchorSet, pairBase?: number): BaselineAnchors {
  const b: BaselineAnchors = {
    counts: set.levels.map((l) => l.base.length),
    pairs: set.levels.map((l) => (l.base.every((a) => a.pair) ? l.base.map((a) => a.pair!) : undefined)),
    source: set.source,
  };
  if (pairBase !== undefined) b.pairBase = pairBase;
  return b;
}

export function checkLevelCount(levels: number, baseline: BaselineAnchors, where: string): void {
  const want = baseline.counts.length;
  if (levels !== want) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `${where}: config has ${levels} level${levels === 1 ? '' : 's'} but the baseline${baseline.source ? ` (${baseline.source})` : ''} has ${want}`,
      `write one entry per level (${want}), finest first; an empty entry removes a whole level`,
    );
  }
}

/** The shared final check: at least one anchor must survive somewhere. */
export function finishConfig(name: string, kept: number[][], where: string): ResolvedConfig {
  if (kept.every((k) => k.length === 0)) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `${where}: config ${name} removes every anchor on every level`,
      'keep at least one anchor on one level',
    );
  }
  return { kept, name };
}

/** `(0.15, 0.333333)`: a pair as messages print it. */
export function formatPair(p: AnchorPair): string {
  const f = (v: number) => String(Number(v.toPrecision(6)));
  return `(${f(p.scale)}, ${f(p.ratio)})`;
}
