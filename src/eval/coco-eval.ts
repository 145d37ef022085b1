// COCO bbox mAP with the exact semantics (and float64 arithmetic) of pycocotools' COCOeval with default parameters:
// evaluate() + accumulate() + summarize() -> the 12 stats. Built for a search loop: the ground truth is grouped once
// (prepareGroundTruth) and each evaluate() call reuses grow-only scratch buffers. Not for segm/keypoints or custom Params.
//
// Semantics reproduced, in pycocotools' own terms:
// - per (image, category): dts sorted by score desc (stable), cut to maxDets[-1] = 100; gts stable-sorted by the area
//   range's ignore flag (ignore = iscrowd || area outside [lo, hi], both ends inclusive).
// - IoU on [x,y,w,h] without +1; a crowd gt's IoU = intersection / det area.
// - greedy matching per IoU threshold t (.50:.05:.95 from np.linspace): a dt takes the gt with the highest IoU >= t
//   (later gt wins a tie), non-crowd gts match once, once a regular gt is matched ignored gts are not considered;
//   a dt matched to an ignored gt is ignored, an unmatched dt whose own area (w*h) is outside the range is ignored.
// - accumulate per category: all images' dts (each image cut to maxDet) merged by score desc, stable in image-id order;
//   precision = tp / (tp + fp + eps), its right-to-left max envelope sampled at recall np.linspace(0, 1, 101) via
//   searchsorted(side='left') (0 past the last recall); -1 where a category has no non-ignored gt.
// - summarize: mean of the entries > -1 (numpy's pairwise summation order), -1 if none.
// - quirk kept on purpose: a dt matched to a gt whose id is 0 counts as unmatched (pycocotools stores gt ids in the
//   match matrix and tests them for truthiness).
import { PrunedetError } from '../errors';
import { validateCocoGroundTruth, type CocoDetection, type CocoGroundTruth } from './coco-data';

export { loadCocoAnnotations, detectionsAsGroundTruth, validateCocoGroundTruth } from './coco-data';
export type { CocoAnnotation, CocoCategory, CocoDetection, CocoGroundTruth, CocoImage, DetectionsAsGroundTruthOptions } from './coco-data';

/** np.linspace(start, stop, num) bit for bit: i * ((stop - start) / (num - 1)) + start, last element = stop. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
export const MAX_DETS: readonly number[] = [1, 10, 100];
/** all, small, medium, large: [lo, hi] on the annotation's `area`, both ends inclusive. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]];

const T = 10;
const R = 101;
const A = 4;
const M = 3;
const MAX_DET = 100;
const EPS = 2.220446049250313e-16; // np.spacing(1)
const FP = 0;
const TP = 1;
const IGNORED = 2;

export interface CocoMetrics {
  /** AP@[.50:.05:.95], all areas, 100 dets (stats[0]). */
  map: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
  ar1: number;
  ar10: number;
  ar100: number;
  arSmall: number;
  arMedium: number;
  arLarge: number;
  /** The 12 numbers of COCOeval.stats, same order. -1 where pycocotools prints -1 (nothing to average). */
  stats: number[];
  /** With `perCategory: true`: AP@[.50:.95] per category (all areas, 100 dets), -1 for a category without gt. */
  perCategory?: { categoryId: number; ap: number }[];
}

export interface EvaluateOptions {
  perCategory?: boolean;
}

/** Ground truth grouped per (category, image) and per area range, reusable across many evaluate() calls. */
export class PreparedGroundTruth {
  readonly imageIds: readonly number[];
  readonly categoryIds: readonly number[];
  private readonly imageIndex = new Map<number, number>();
  private readonly categoryIndex = new Map<number, number>();
  /** Buckets b = k * I + i; gts of bucket b are gtStart[b] .. gtStart[b+1]-1, in annotation order. */
  private readonly gtStart: Int32Array;
  /** Box edges as maskApi.c computes them (x2 = w + x, y2 = h + y) and the box area w*h. */
  private readonly gtX1: Float64Array;
  private readonly gtY1: Float64Array;
  private readonly gtX2: Float64Array;
  private readonly gtY2: Float64Array;
  private readonly gtBoxArea: Float64Array;
  /** Per bucket, the non-crowd gts sorted by x1 (gtStart[b] .. crowdStart[b]-1), then the crowd gts: lets a det
   * visit only the gts whose x1 can give IoU >= 0.5. xSorted holds the x1 of the non-crowd part. */
  private readonly xOrder: Int32Array;
  private readonly xSorted: Float64Array;
  private readonly crowdStart: Int32Array;
  private readonly gtArea: Float64Array;
  private readonly gtCrowd: Uint8Array;
  private readonly gtIdZero: Uint8Array;
  /** gtIgnore[a * G + g]. */
  private readonly gtIgnore: Uint8Array;
  /** Non-ignored gts per (category, area): npig[k * A + a]. */
  private readonly npig: Int32Array;
  private readonly s = new Scratch();

  constructor(gt: CocoGroundTruth) {
    validateCocoGroundTruth(gt);
    this.imageIds = [...new Set(gt.images.map((im) => im.id))].sort((a, b) => a - b);
    this.categoryIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
    this.imageIds.forEach((id, i) => this.imageIndex.set(id, i));
    this.categoryIds.forEach((id, k) => this.categoryIndex.set(id, k));
    const I = this.imageIds.length;
    const K = this.categoryIds.length;
    const G = gt.annotations.length;

    // Counting sort of the annotations into buckets, stable (= pycocotools' per-(image, category) list order).
    const bucketOf = new Int32Array(G);
    const counts = new Int32Array(K * I + 1);
    gt.annotations.forEach((ann, j) => {
      const b = this.categoryIndex.get(ann.category_id)! * I + this.imageIndex.get(ann.image_id)!;
      bucketOf[j] = b;
      counts[b + 1]!++;
    });
    for (let b = 0; b < K * I; b++) counts[b + 1]! += counts[b]!;
    this.gtStart = counts.slice();
    this.gtX1 = new Float64Array(G);
    this.gtY1 = new Float64Array(G);
    this.gtX2 = new Float64Array(G);
    this.gtY2 = new Float64Array(G);
    this.gtBoxArea = new Float64Array(G);
    this.gtArea = new Float64Array(G);
    this.gtCrowd = new Uint8Array(G);
    this.gtIdZero = new Uint8Array(G);
    gt.annotations.forEach((ann, j) => {
      const g = counts[bucketOf[j]!]!++;
      const [x, y, w, h] = ann.bbox as number[];
      this.gtX1[g] = x!;
      this.gtY1[g] = y!;
      this.gtX2[g] = w! + x!;
      this.gtY2[g] = h! + y!;
      this.gtBoxArea[g] = w! * h!;
      this.gtArea[g] = ann.area;
      this.gtCrowd[g] = ann.iscrowd ? 1 : 0;
      this.gtIdZero[g] = ann.id === 0 ? 1 : 0;
    });
    this.xOrder = new Int32Array(G);
    this.xSorted = new Float64Array(G);
    this.crowdStart = new Int32Array(K * I);
    for (let b = 0; b < K * I; b++) {
      const g0 = this.gtStart[b]!, g1 = this.gtStart[b + 1]!;
      const members = Array.from({ length: g1 - g0 }, (_, q) => g0 + q);
      const plain = members.filter((g) => !this.gtCrowd[g]).sort((p, q) => this.gtX1[p]! - this.gtX1[q]! || p - q);
      const crowd = members.filter((g) => this.gtCrowd[g]);
      this.crowdStart[b] = g0 + plain.length;
      [...plain, ...crowd].forEach((g, q) => (this.xOrder[g0 + q] = g));
      plain.forEach((g, q) => (this.xSorted[g0 + q] = this.gtX1[g]!));
    }
    this.gtIgnore = new Uint8Array(A * G);
    this.npig = new Int32Array(K * A);
    for (let k = 0; k < K; k++) {
      for (let g = this.gtStart[k * I]!; g < this.gtStart[(k + 1) * I]!; g++) {
        for (let a = 0; a < A; a++) {
          const [lo, hi] = AREA_RANGES[a]!;
          const ig = this.gtCrowd[g] || this.gtArea[g]! < lo || this.gtArea[g]! > hi ? 1 : 0;
          this.gtIgnore[a * G + g] = ig;
          if (!ig) this.npig[k * A + a]!++;
        }
      }
    }
  }

  /** COCOeval(gt, dets, 'bbox').evaluate(); accumulate(); summarize() -> stats. Detections of unknown categories are
   * skipped (as pycocotools does); detections on images missing from the ground truth are an error. */
  evaluate(dets: readonly CocoDetection[], opts: EvaluateOptions = {}): CocoMetrics {
    const I = this.imageIds.length;
    const K = this.categoryIds.length;
    const G = this.gtArea.length;
    const N = dets.length;
    const s = this.s;
    s.ensureDets(N, K * I, K);

    // 1. Resolve ids; collect the detections that take part.
    let n = 0;
    for (let j = 0; j < N; j++) {
      const d = dets[j]!;
      const k = this.categoryIndex.get(d.category_id);
      if (k === undefined) continue;
      const i = this.imageIndex.get(d.image_id);
      if (i === undefined) {
        throw new PrunedetError('E_ANNOTATIONS', `detection ${j} refers to image_id ${d.image_id}, which is not in the ground-truth images`, 'evaluate on the images the ground truth lists');
      }
      const bb = d.bbox;
      const x = bb[0]!, y = bb[1]!, w = bb[2]!, h = bb[3]!;
      if (!Number.isFinite(d.score) || !Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(w) || !Number.isFinite(h)) {
        throw new PrunedetError('E_ANNOTATIONS', `detection ${j} (image_id ${d.image_id}) has a non-finite score or bbox`, 'emit finite [x, y, w, h] boxes and scores');
      }
      s.detBucket[j] = k * I + i;
      s.detScore[j] = d.score;
      s.detBox[4 * j] = x;
      s.detBox[4 * j + 1] = y;
      s.detBox[4 * j + 2] = w;
      s.detBox[4 * j + 3] = h;
      s.order[n++] = j;
    }

    // 2. One stable order for everything: score desc, then image (sorted ids), then input order. Restricted to one
    //    (image, category) it is pycocotools' per-image mergesort; restricted to one category it is accumulate()'s
    //    mergesort over the image-ordered concatenation.
    const score = s.detScore;
    const bucket = s.detBucket;
    const order = s.order.subarray(0, n);
    order.sort((p, q) => {
      const sp = score[p]!, sq = score[q]!;
      if (sp !== sq) return sp > sq ? -1 : 1;
      const ip = bucket[p]! % I, iq = bucket[q]! % I;
      return ip !== iq ? ip - iq : p - q;
    });

    // 3. Rank inside each bucket; keep the first 100; lay the kept ones out per bucket (slots) and per category.
    const bucketCount = s.bucketCount;
    bucketCount.fill(0, 0, K * I);
    const catCount = s.catStart;
    catCount.fill(0, 0, K + 1);
    let S = 0;
    for (let o = 0; o < n; o++) {
      const j = order[o]!;
      const b = bucket[j]!;
      const rank = bucketCount[b]!++;
      s.detRank[j] = rank;
      if (rank < MAX_DET) {
        S++;
        catCount[Math.floor(b / I) + 1]!++;
      }
    }
    const slotStart = s.slotStart;
    slotStart[0] = 0;
    for (let b = 0; b < K * I; b++) slotStart[b + 1] = slotStart[b]! + Math.min(bucketCount[b]!, MAX_DET);
    for (let k = 0; k < K; k++) catCount[k + 1]! += catCount[k]!;
    s.ensureSlots(S);
    const catFill = s.catFill;
    catFill.set(catCount.subarray(0, K));
    for (let o = 0; o < n; o++) {
      const j = order[o]!;
      const rank = s.detRank[j]!;
      if (rank >= MAX_DET) continue;
      const b = bucket[j]!;
      const p = slotStart[b]! + rank;
      s.slotDet[p] = j;
      s.slotRank[p] = rank;
      s.catSlots[catFill[Math.floor(b / I)]!++] = p;
    }

    // 4. Per bucket: IoU candidates (>= the lowest threshold), then greedy matching per area range and threshold.
    const ign = this.gtIgnore, crowd = this.gtCrowd;
    for (let b = 0; b < K * I; b++) {
      const p0 = slotStart[b]!;
      const D = slotStart[b + 1]! - p0;
      if (D === 0) continue;
      const g0 = this.gtStart[b]!;
      const Gb = this.gtStart[b + 1]! - g0;
      this.collectCandidates(p0, D, b);
      s.ensureGt(Gb);
      for (let a = 0; a < A; a++) {
        const [lo, hi] = AREA_RANGES[a]!;
        const ig0 = a * G + g0; // gtIgnore offset of this bucket's first gt
        for (let t = 0; t < T; t++) {
          const thr = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
          const gtm = s.gtm;
          gtm.fill(0, 0, Gb);
          const resBase = (a * T + t) * S;
          for (let d = 0; d < D; d++) {
            const c0 = s.candStart[d]!, c1 = s.candStart[d + 1]!;
            let best = thr;
            let m = -1;
            // Regular gts first (pycocotools sorts ignored gts last and stops at them once a regular gt matched).
            for (let c = c0; c < c1; c++) {
              const g = s.candGt[c]!;
              if (ign[ig0 + g] || (gtm[g] && !crowd[g0 + g])) continue;
              const iou = s.candIou[c]!;
              if (iou < best) continue;
              best = iou;
              m = g;
            }
            if (m < 0) {
              for (let c = c0; c < c1; c++) {
                const g = s.candGt[c]!;
                if (!ign[ig0 + g] || (gtm[g] && !crowd[g0 + g])) continue;
                const iou = s.candIou[c]!;
                if (iou < best) continue;
                best = iou;
                m = g;
              }
            }
            const p = p0 + d;
            const j = s.slotDet[p]!;
            const area = s.detBox[4 * j + 2]! * s.detBox[4 * j + 3]!;
            const outside = area < lo || area > hi;
            let code: number;
            if (m >= 0) {
              gtm[m] = 1;
              if (ign[ig0 + m]) code = IGNORED;
              else if (this.gtIdZero[g0 + m]) code = outside ? IGNORED : FP;
              else code = TP;
            } else {
              code = outside ? IGNORED : FP;
            }
            s.res[resBase + p] = code;
          }
        }
      }
    }

    // 5. accumulate(): precision (maxDets 100 only: no stat reads the others) and recall per (t, k, a, m).
    const precision = s.precision; // [T][R][K][A], m = 100
    const recall = s.recall; // [T][K][A][M]
    precision.fill(-1, 0, T * R * K * A);
    recall.fill(-1, 0, T * K * A * M);
    for (let k = 0; k < K; k++) {
      const c0 = catCount[k]!, c1 = catCount[k + 1]!;
      for (let a = 0; a < A; a++) {
        const npig = this.npig[k * A + a]!;
        if (npig === 0) continue;
        for (let mi = 0; mi < M; mi++) {
          const maxDet = MAX_DETS[mi]!;
          for (let t = 0; t < T; t++) {
            const resBase = (a * T + t) * S;
            let tp = 0, fp = 0, nd = 0;
            if (mi !== M - 1) {
              // Only recall is read at maxDets 1 and 10: rc[-1] = tp / npig.
              for (let c = c0; c < c1; c++) {
                const p = s.catSlots[c]!;
                if (s.slotRank[p]! >= maxDet) continue;
                nd++;
                if (s.res[resBase + p] === TP) tp++;
              }
              recall[((t * K + k) * A + a) * M + mi] = nd ? tp / npig : 0;
              continue;
            }
            for (let c = c0; c < c1; c++) {
              const p = s.catSlots[c]!;
              if (s.slotRank[p]! >= maxDet) continue;
              const code = s.res[resBase + p]!;
              if (code === TP) tp++;
              else if (code === FP) fp++;
              s.rc[nd] = tp / npig;
              s.pr[nd] = tp / (fp + tp + EPS);
              nd++;
            }
            recall[((t * K + k) * A + a) * M + mi] = nd ? s.rc[nd - 1]! : 0;
            const pr = s.pr, rc = s.rc;
            for (let q = nd - 1; q > 0; q--) if (pr[q]! > pr[q - 1]!) pr[q - 1] = pr[q]!;
            let q = 0;
            for (let r = 0; r < R; r++) {
              const thr = RECALL_THRESHOLDS[r]!;
              while (q < nd && rc[q]! < thr) q++;
              precision[((t * R + r) * K + k) * A + a] = q < nd ? pr[q]! : 0;
            }
          }
        }
      }
    }

    // 6. summarize().
    const ap = (a: number, t?: number): number => {
      let cnt = 0;
      for (let ti = t ?? 0; ti < (t === undefined ? T : t + 1); ti++) {
        for (let r = 0; r < R; r++) {
          for (let k = 0; k < K; k++) {
            const v = precision[((ti * R + r) * K + k) * A + a]!;
            if (v > -1) s.vals[cnt++] = v;
          }
        }
      }
      return cnt ? pairwiseSum(s.vals, 0, cnt) / cnt : -1;
    };
    const ar = (a: number, mi: number): number => {
      let cnt = 0;
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < K; k++) {
          const v = recall[((t * K + k) * A + a) * M + mi]!;
          if (v > -1) s.vals[cnt++] = v;
        }
      }
      return cnt ? pairwiseSum(s.vals, 0, cnt) / cnt : -1;
    };
    const stats = [ap(0), ap(0, 0), ap(0, 5), ap(1), ap(2), ap(3), ar(0, 0), ar(0, 1), ar(0, 2), ar(1, 2), ar(2, 2), ar(3, 2)];
    const out: CocoMetrics = {
      map: stats[0]!, ap50: stats[1]!, ap75: stats[2]!, apSmall: stats[3]!, apMedium: stats[4]!, apLarge: stats[5]!,
      ar1: stats[6]!, ar10: stats[7]!, ar100: stats[8]!, arSmall: stats[9]!, arMedium: stats[10]!, arLarge: stats[11]!,
      stats,
    };
    if (opts.perCategory) {
      out.perCategory = this.categoryIds.map((categoryId, k) => {
        let cnt = 0;
        for (let t = 0; t < T; t++) {
          for (let r = 0; r < R; r++) {
            const v = precision[((t * R + r) * K + k) * A]!;
            if (v > -1) s.vals[cnt++] = v;
          }
        }
        return { categoryId, ap: cnt ? pairwiseSum(s.vals, 0, cnt) / cnt : -1 };
      });
    }
    return out;
  }

  /**
   * Candidates of the D kept dets at slots p0.. against bucket b's gts: every gt with IoU >= 0.5, in gt order.
   * Pruning (exact, with a margin): IoU >= 1/2 implies the 1-D IoU of the x intervals is >= 1/2 (IoU2 <= IoU_x because
   * ih <= min(dh, gh)), hence 3 iw >= dw + gw, gw <= 2 dw and x1 of the gt within [dx - dw, dx + 2dw/3]. Crowd gts
   * (IoU over the det area) are few and always scanned.
   */
  private collectCandidates(p0: number, D: number, b: number): void {
    const s = this.s;
    const g0 = this.gtStart[b]!, gEnd = this.gtStart[b + 1]!, gCrowd = this.crowdStart[b]!;
    s.ensureCand(D, D * (gEnd - g0));
    const gx1 = this.gtX1, gy1 = this.gtY1, gx2 = this.gtX2, gy2 = this.gtY2, garea = this.gtBoxArea;
    const order = this.xOrder, xs = this.xSorted, candGt = s.candGt, candIou = s.candIou;
    let c = 0;
    for (let d = 0; d < D; d++) {
      s.candStart[d] = c;
      const j = s.slotDet[p0 + d]!;
      const dx = s.detBox[4 * j]!, dy = s.detBox[4 * j + 1]!, dw = s.detBox[4 * j + 2]!, dh = s.detBox[4 * j + 3]!;
      const dx2 = dw + dx, dy2 = dh + dy, da = dw * dh;
      if (!(dx2 > dx && dy2 > dy)) continue; // empty det: every intersection width or height is <= 0
      const margin = 1e-6 * (Math.abs(dx) + dw + 1);
      const lo = dx - dw - margin, hi = dx + (2 * dw) / 3 + margin;
      let a = g0, z = gCrowd; // first sorted position with x1 >= lo
      while (a < z) {
        const mid = (a + z) >>> 1;
        if (xs[mid]! < lo) a = mid + 1;
        else z = mid;
      }
      for (let q = a; q < gEnd; q++) {
        if (q < gCrowd && xs[q]! > hi) q = gCrowd; // jump to the crowd part
        if (q >= gEnd) break;
        const g = order[q]!;
        // maskApi.c bbIou: iw = min(D[2]+D[0], G[2]+G[0]) - max(D[0], G[0]), skipped when <= 0 (same for h).
        // min(a, b) - max(c, e) > 0 exactly when a > c, a > e, b > c and b > e.
        const ax = gx1[g]!, bx = gx2[g]!;
        if (!(dx2 > ax && bx > dx && bx > ax)) continue;
        const ay = gy1[g]!, by = gy2[g]!;
        if (!(dy2 > ay && by > dy && by > ay)) continue;
        const inter = (Math.min(dx2, bx) - Math.max(dx, ax)) * (Math.min(dy2, by) - Math.max(dy, ay));
        const iou = inter / (q >= gCrowd ? da : da + garea[g]! - inter);
        if (!(iou >= 0.5)) continue;
        // Insert in gt order (lists are short).
        let e = c++;
        const local = g - g0;
        while (e > s.candStart[d]! && candGt[e - 1]! > local) {
          candGt[e] = candGt[e - 1]!;
          candIou[e] = candIou[e - 1]!;
          e--;
        }
        candGt[e] = local;
        candIou[e] = iou;
      }
    }
    s.candStart[D] = c;
  }
}

/** Group `gt` once for many evaluations (validates it; throws E_ANNOTATIONS). */
export function prepareGroundTruth(gt: CocoGroundTruth): PreparedGroundTruth {
  return new PreparedGroundTruth(gt);
}

/** pycocotools COCOeval bbox stats of `dets` against `gt` (raw or prepared). */
export function evaluateCoco(gt: CocoGroundTruth | PreparedGroundTruth, dets: readonly CocoDetection[], opts?: EvaluateOptions): CocoMetrics {
  const prepared = gt instanceof PreparedGroundTruth ? gt : new PreparedGroundTruth(gt);
  return prepared.evaluate(dets, opts);
}

/**
 * numpy's pairwise summation (np.add.reduce on a contiguous float64 array, as np.mean uses it): below 8 elements a
 * plain loop, up to 128 eight interleaved accumulators, above that split in halves at a multiple of 8.
 */
export function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!, r1 = a[start + 1]!, r2 = a[start + 2]!, r3 = a[start + 3]!;
    let r4 = a[start + 4]!, r5 = a[start + 5]!, r6 = a[start + 6]!, r7 = a[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const o = start + i;
      r0 += a[o]!; r1 += a[o + 1]!; r2 += a[o + 2]!; r3 += a[o + 3]!;
      r4 += a[o + 4]!; r5 += a[o + 5]!; r6 += a[o + 6]!; r7 += a[o + 7]!;
    }
    let res = (r0 + r1 + (r2 + r3)) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** Grow-only buffers reused by every evaluate() call of one PreparedGroundTruth. */
class Scratch {
  detBucket = new Int32Array(0);
  detScore = new Float64Array(0);
  detBox = new Float64Array(0);
  detRank = new Int32Array(0);
  order = new Int32Array(0);
  bucketCount = new Int32Array(0);
  slotStart = new Int32Array(1);
  catStart = new Int32Array(1);
  catFill = new Int32Array(0);
  slotDet = new Int32Array(0);
  slotRank = new Int32Array(0);
  catSlots = new Int32Array(0);
  res = new Uint8Array(0);
  rc = new Float64Array(0);
  pr = new Float64Array(0);
  candStart = new Int32Array(1);
  candGt = new Int32Array(0);
  candIou = new Float64Array(0);
  gtm = new Uint8Array(0);
  precision = new Float64Array(0);
  recall = new Float64Array(0);
  vals = new Float64Array(0);

  ensureDets(n: number, buckets: number, cats: number): void {
    if (this.detBucket.length < n) {
      this.detBucket = new Int32Array(n);
      this.detScore = new Float64Array(n);
      this.detBox = new Float64Array(4 * n);
      this.detRank = new Int32Array(n);
      this.order = new Int32Array(n);
    }
    if (this.bucketCount.length < buckets) {
      this.bucketCount = new Int32Array(buckets);
      this.slotStart = new Int32Array(buckets + 1);
    }
    if (this.catFill.length < cats) {
      this.catStart = new Int32Array(cats + 1);
      this.catFill = new Int32Array(cats);
      this.precision = new Float64Array(T * R * cats * A);
      this.recall = new Float64Array(T * cats * A * M);
      this.vals = new Float64Array(T * R * cats);
    }
  }

  ensureSlots(n: number): void {
    if (this.slotDet.length < n) {
      this.slotDet = new Int32Array(n);
      this.slotRank = new Int32Array(n);
      this.catSlots = new Int32Array(n);
      this.rc = new Float64Array(n);
      this.pr = new Float64Array(n);
    }
    if (this.res.length < A * T * n) this.res = new Uint8Array(A * T * n);
  }

  ensureCand(d: number, pairs: number): void {
    if (this.candStart.length < d + 1) this.candStart = new Int32Array(d + 1);
    if (this.candGt.length < pairs) {
      const size = Math.max(pairs, 2 * this.candGt.length);
      this.candGt = new Int32Array(size);
      this.candIou = new Float64Array(size);
    }
  }

  ensureGt(g: number): void {
    if (this.gtm.length < g) this.gtm = new Uint8Array(g);
  }
}
