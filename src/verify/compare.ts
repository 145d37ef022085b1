// The comparisons verify makes: compiled tensors against the original's gathered at the kept anchors, and two
// detection lists (compiled vs the paper's oracle; C module vs reference) item by item, naming the first difference.
import type { Detection } from '../postprocess/spec';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const TENSOR_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** Original anchor index (level-major, then y, x, a) of each anchor the compiled model keeps, in its order. */
export function keptAnchorIndices(featureMaps: readonly [number, number][], baselineCounts: readonly number[], kept: readonly (readonly number[])[]): Int32Array {
  const total = featureMaps.reduce((s, [h, w], i) => s + h * w * kept[i]!.length, 0);
  const out = new Int32Array(total);
  let k = 0;
  let offset = 0;
  featureMaps.forEach(([h, w], i) => {
    const A = baselineCounts[i]!;
    for (let p = 0; p < h * w; p++) for (const a of kept[i]!) out[k++] = offset + p * A + a;
    offset += h * w * A;
  });
  return out;
}

export interface TensorStats {
  elements: number;
  maxAbs: number;
  maxRel: number;
  mismatches: number;
  /** Position of the largest error: compiled row (anchor) or flat index. */
  worst: number;
}

export function emptyStats(): TensorStats {
  return { elements: 0, maxAbs: 0, maxRel: 0, mismatches: 0, worst: -1 };
}

/** Accumulate |got - want| over pairs (want[i] read through `index`). */
export function accumulate(s: TensorStats, got: Float32Array, want: Float32Array, index: (i: number) => number, rowOf: (i: number) => number, tol: Tolerance): void {
  for (let i = 0; i < got.length; i++) {
    const w = want[index(i)]!;
    const g = got[i]!;
    const d = Number.isNaN(w) && Number.isNaN(g) ? 0 : Math.abs(g - w);
    const bad = !(d <= tol.atol + tol.rtol * Math.abs(w));
    if (bad) s.mismatches++;
    if (d > s.maxAbs || (bad && Number.isNaN(d))) {
      s.maxAbs = Number.isNaN(d) ? Infinity : d;
      s.worst = rowOf(i);
    }
    const rel = d / Math.max(Math.abs(w), 1e-12);
    if (rel > s.maxRel && Math.abs(w) > tol.atol) s.maxRel = rel;
  }
  s.elements += got.length;
}

export interface DetectionDiff {
  /** Index in the list where they first differ (or -1). */
  at: number;
  detail: string;
  /** Anchor (in the first list's numbering) of the first difference. */
  anchor: number;
}

/**
 * First difference between detection lists `got` and `want`: count, then per rank the label, the anchor (after
 * mapping got's anchors into want's numbering), the score and the box within tolerance.
 */
export function diffDetections(got: readonly Detection[], want: readonly Detection[], mapAnchor: (a: number) => number, scoreTol: number, boxTol: Tolerance): DetectionDiff | undefined {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ga = mapAnchor(g.anchor);
    if (g.label !== w.label || ga !== w.anchor) {
      return { at: i, anchor: w.anchor, detail: `detection ${i}: label ${g.label}, anchor ${ga} vs label ${w.label}, anchor ${w.anchor}` };
    }
    if (!(Math.abs(g.score - w.score) <= scoreTol)) return { at: i, anchor: w.anchor, detail: `detection ${i} (anchor ${w.anchor}): score ${g.score} vs ${w.score}` };
    for (let k = 0; k < 4; k++) {
      const d = Math.abs(g.box[k]! - w.box[k]!);
      if (!(d <= boxTol.atol + boxTol.rtol * Math.abs(w.box[k]!))) {
        return { at: i, anchor: w.anchor, detail: `detection ${i} (anchor ${w.anchor}): box [${g.box.join(', ')}] vs [${w.box.join(', ')}]` };
      }
    }
  }
  if (got.length !== want.length) {
    const extra = got.length > want.length ? got[n]! : want[n]!;
    return { at: n, anchor: got.length > want.length ? mapAnchor(extra.anchor) : extra.anchor, detail: `${got.length} detections vs ${want.length}` };
  }
  return undefined;
}
