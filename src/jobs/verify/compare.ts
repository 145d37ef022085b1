// The comparisons verify makes: compiled tensors against the original's gathered at the kept anchors, element by
// element against a per-element tolerance (keeping the worst element), and two detection lists item by item.
import type { Detection } from '../../postprocess/spec';

/** |got − expected| <= atol + rtol·|expected| (Polygraphy's and numpy's form). */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface ToleranceOverrides {
  /** For every output. */
  all?: Partial<Tolerance>;
  /** By output name (wins over `all`). */
  byOutput?: Record<string, Partial<Tolerance>>;
}

/** The user's override for output `name`, if any: per-output values win over global ones, each of atol and rtol. */
export function overrideFor(t: ToleranceOverrides | undefined, name: string): Tolerance | undefined {
  const own = t?.byOutput?.[name];
  const atol = own?.atol ?? t?.all?.atol;
  const rtol = own?.rtol ?? t?.all?.rtol;
  return atol !== undefined || rtol !== undefined ? { atol: atol ?? 0, rtol: rtol ?? 0 } : undefined;
}

/** How an override reads: "atol 1e-5 + rtol 0.001·|expected|". */
export function describeTolerance(t: Tolerance): string {
  return `atol ${t.atol}${t.rtol ? ` + rtol ${t.rtol}·|expected|` : ''}`;
}

/** The element of a comparison with the largest error relative to its tolerance. */
export interface WorstElement {
  /** Index of the input (and its name). */
  input: number;
  /** Flat index in the compiled tensor. */
  index: number;
  expected: number;
  got: number;
  absError: number;
  relError: number;
  tolerance: number;
}

export interface TensorStats {
  elements: number;
  maxAbs: number;
  /** Elements over their tolerance. */
  mismatches: number;
  /** Largest per-element tolerance used. */
  maxTolerance: number;
  /** Largest error / tolerance (Infinity: a difference where the tolerance is 0). */
  worstRatio: number;
  worst?: WorstElement;
}

export function emptyStats(): TensorStats {
  return { elements: 0, maxAbs: 0, mismatches: 0, maxTolerance: 0, worstRatio: 0 };
}

/**
 * Accumulate got[i] against want[index(i)] with per-element tolerance tol(i, want) into `s`. Two NaNs are equal; a
 * NaN against a number is a mismatch. The worst element is the one with the largest error / tolerance.
 */
export function accumulate(
  s: TensorStats,
  input: number,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  index: (i: number) => number,
  tol: (i: number, want: number) => number,
): void {
  for (let i = 0; i < got.length; i++) {
    const w = want[index(i)]!;
    const g = got[i]!;
    const d = Number.isNaN(w) && Number.isNaN(g) ? 0 : Math.abs(g - w);
    const t = tol(i, w);
    const bad = !(d <= t);
    if (bad) s.mismatches++;
    if (t > s.maxTolerance) s.maxTolerance = t;
    const ratio = d === 0 ? 0 : t > 0 && !Number.isNaN(d) ? d / t : Infinity;
    const abs = Number.isNaN(d) ? Infinity : d;
    if (abs > s.maxAbs) s.maxAbs = abs;
    if (ratio > s.worstRatio || (ratio === s.worstRatio && ratio > 0 && abs > (s.worst?.absError ?? 0))) {
      s.worstRatio = ratio;
      s.worst = {
        input,
        index: i,
        expected: w,
        got: g,
        absError: abs,
        relError: w !== 0 ? abs / Math.abs(w) : abs === 0 ? 0 : Infinity,
        tolerance: t,
      };
    }
  }
  s.elements += got.length;
}

export interface DetectionDiff {
  /** Index in the list where they first differ (or -1). */
  at: number;
  detail: string;
  /** Anchor (in the second list's numbering) of the first difference. */
  anchor: number;
}

/**
 * First difference between detection lists `got` and `want`, bit for bit: per rank the label, the anchor (after
 * mapping got's anchors into want's numbering), the score and the box; then the count.
 */
export function diffDetections(
  got: readonly Detection[],
  want: readonly Detection[],
  mapAnchor: (a: number) => number,
): DetectionDiff | undefined {
  const n = Math.min(got.length, want.length);
  const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));
  for (let i = 0; i < n; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ga = mapAnchor(g.anchor);
    if (g.label !== w.label || ga !== w.anchor) {
      return {
        at: i,
        anchor: w.anchor,
        detail: `detection ${i}: label ${g.label}, anchor ${ga} vs label ${w.label}, anchor ${w.anchor}`,
      };
    }
    if (!same(g.score, w.score))
      return { at: i, anchor: w.anchor, detail: `detection ${i} (anchor ${w.anchor}): score ${g.score} vs ${w.score}` };
    if (g.box.some((v, k) => !same(v, w.box[k]!))) {
      return {
        at: i,
        anchor: w.anchor,
        detail: `detection ${i} (anchor ${w.anchor}): box [${g.box.join(', ')}] vs [${w.box.join(', ')}]`,
      };
    }
  }
  if (got.length !== want.length) {
    const extra = got.length > want.length ? got[n]! : want[n]!;
    return {
      at: n,
      anchor: got.length > want.length ? mapAnchor(extra.anchor) : extra.anchor,
      detail: `${got.length} detections vs ${want.length}`,
    };
  }
  return undefined;
}

/** How many of `got` have a detection of `want` with the same label and (mapped) anchor, and how many equal it bit for bit. */
export function matchDetections(
  got: readonly Detection[],
  want: readonly Detection[],
  mapAnchor: (a: number) => number,
): { matched: number; identical: number } {
  const byKey = new Map(want.map((w) => [`${w.label}/${w.anchor}`, w]));
  let matched = 0;
  let identical = 0;
  for (const g of got) {
    const w = byKey.get(`${g.label}/${mapAnchor(g.anchor)}`);
    if (!w) continue;
    matched++;
    if (w.score === g.score && w.box.every((v, k) => v === g.box[k])) identical++;
  }
  return { matched, identical };
}
