// Which level an anchor (on the concatenated anchor axis, levels finest first) belongs to, and detections per level:
// what verify and search report as the evidence a level gave.
import { levelOffsets, type LevelShape } from './reference';
import type { Detection } from './spec';

/** Level of anchor `n`, given levelOffsets(levels) (the last entry is the total). */
export function levelOfAnchor(offsets: readonly number[], n: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= n) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Detections per level of `levels` (anchors in their numbering), summed over `images`. */
export function detectionsPerLevel(images: readonly (readonly Detection[])[], levels: readonly LevelShape[]): number[] {
  const offsets = levelOffsets([...levels]);
  const out = new Array<number>(levels.length).fill(0);
  for (const dets of images) for (const d of dets) out[levelOfAnchor(offsets, d.anchor)]!++;
  return out;
}
