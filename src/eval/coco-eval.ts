// COCO bbox mAP with the exact semantics (and float64 arithmetic) of pycocotools' COCOeval with default parameters:
// evaluate() + accumulate() + summarize() -> the 12 stats. Built for a search loop: the ground truth is grouped once
// (prepareGroundTruth), each image is matched on its own (matchImage: evaluate()'s per-image work, whose kept
// detections and outcomes go to a CocoAccumulator, so a search can stream images), and accumulate() merges them
// (coco-accumulate.ts). Not for segm/keypoints or custom Params.
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
import { OrderScratch } from '../sort';
import { validateCocoGroundTruth, type CocoDetection, type CocoGroundTruth } from './coco-data';
import { CocoAccumulator, IGNORED_BIT, TP_BIT, type CocoMetrics, type EvaluateOptions } from './coco-accumulate';
import { A, AREA_RANGES, IOU_THRESHOLDS, MAX_DET, T } from './coco-params';

export { loadCocoAnnotations, detectionsAsGroundTruth, validateCocoGroundTruth } from './coco-data';
export type {
  CocoAnnotation,
  CocoCategory,
  CocoDetection,
  CocoGroundTruth,
  CocoImage,
  DetectionsAsGroundTruthOptions,
} from './coco-data';
export { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS, pairwiseSum } from './coco-params';
export { CocoAccumulator, type CocoMetrics, type EvaluateOptions } from './coco-accumulate';

/**
 * Ground truth as arrays, for callers that make it from detections (fidelity mode) without building objects. Ids are
 * sorted ascending and unique; annotation g belongs to image imageIds[image[g]] and category categoryIds[category[g]].
 */
export interface GroundTruthArrays {
  imageIds: readonly number[];
  categoryIds: readonly number[];
  n: number;
  image: Int32Array;
  category: Int32Array;
  /** 4 per annotation: x, y, w, h. */
  bbox: Float64Array;
  area: Float64Array;
  crowd: Uint8Array;
  /** 1 where the annotation's id is 0 (see the pycocotools quirk above). */
  idZero: Uint8Array;
}

/** One image's detections in input order (arrays of length >= n). */
export interface ImageDetections {
  n: number;
  /** Index into the ground truth's categoryIds; -1 = a category the ground truth does not have (skipped). */
  category: Int32Array;
  score: Float64Array;
  /** 4 per detection: x, y, w, h. */
  box: Float64Array;
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
  readonly npig: Int32Array;
  private readonly s = new Scratch();
  private readonly acc = new CocoAccumulator();

  constructor(source: CocoGroundTruth | GroundTruthArrays) {
    const arrays = 'annotations' in source ? groundTruthArrays(source) : source;
    this.imageIds = arrays.imageIds;
    this.categoryIds = arrays.categoryIds;
    this.imageIds.forEach((id, i) => this.imageIndex.set(id, i));
    this.categoryIds.forEach((id, k) => this.categoryIndex.set(id, k));
    const I = this.imageIds.length;
    const K = this.categoryIds.length;
    const G = arrays.n;

    // Counting sort of the annotations into buckets, stable (= pycocotools' per-(image, category) list order).
    const bucketOf = new Int32Array(G);
    const counts = new Int32Array(K * I + 1);
    for (let j = 0; j < G; j++) {
      const b = arrays.category[j]! * I + arrays.image[j]!;
      bucketOf[j] = b;
      counts[b + 1]!++;
    }
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
    for (let j = 0; j < G; j++) {
      const g = counts[bucketOf[j]!]!++;
      const x = arrays.bbox[4 * j]!,
        y = arrays.bbox[4 * j + 1]!,
        w = arrays.bbox[4 * j + 2]!,
        h = arrays.bbox[4 * j + 3]!;
      this.gtX1[g] = x;
      this.gtY1[g] = y;
      this.gtX2[g] = w + x;
      this.gtY2[g] = h + y;
      this.gtBoxArea[g] = w * h;
      this.gtArea[g] = arrays.area[j]!;
      this.gtCrowd[g] = arrays.crowd[j]!;
      this.gtIdZero[g] = arrays.idZero[j]!;
    }
    this.xOrder = new Int32Array(G);
    this.xSorted = new Float64Array(G);
    this.crowdStart = new Int32Array(K * I);
    for (let b = 0; b < K * I; b++) {
      const g0 = this.gtStart[b]!,
        g1 = this.gtStart[b + 1]!;
      // The non-crowd gts in annotation order, insertion-sorted by x1 (stable), then the crowd ones.
      let p = g0;
      for (let g = g0; g < g1; g++) {
        if (this.gtCrowd[g]) continue;
        const x = this.gtX1[g]!;
        let q = p++;
        while (q > g0 && this.gtX1[this.xOrder[q - 1]!]! > x) {
          this.xOrder[q] = this.xOrder[q - 1]!;
          q--;
        }
        this.xOrder[q] = g;
      }
      this.crowdStart[b] = p;
      for (let q = g0; q < p; q++) this.xSorted[q] = this.gtX1[this.xOrder[q]!]!;
      for (let g = g0; g < g1; g++) if (this.gtCrowd[g]) this.xOrder[p++] = g;
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

  /** Position of an image id among the sorted image ids (undefined if absent). */
  indexOfImage(id: number): number | undefined {
    return this.imageIndex.get(id);
  }

  /** Position of a category id among the sorted category ids (undefined if absent). */
  indexOfCategory(id: number): number | undefined {
    return this.categoryIndex.get(id);
  }

  /** COCOeval(gt, dets, 'bbox').evaluate(); accumulate(); summarize() -> stats. Detections of unknown categories are
   * skipped (as pycocotools does); detections on images missing from the ground truth are an error. */
  evaluate(dets: readonly CocoDetection[], opts: EvaluateOptions = {}): CocoMetrics {
    const I = this.imageIds.length;
    const N = dets.length;
    const s = this.s;
    s.ensureDets(N, I);

    // 1. Resolve ids (in input order, so the first bad detection is the one reported); count per image.
    const perImage = s.imageStart;
    perImage.fill(0, 0, I + 1);
    let n = 0;
    for (let j = 0; j < N; j++) {
      const d = dets[j]!;
      const k = this.categoryIndex.get(d.category_id);
      if (k === undefined) continue;
      const i = this.imageIndex.get(d.image_id);
      if (i === undefined) {
        throw new PrunedetError(
          'E_ANNOTATIONS',
          `detection ${j} refers to image_id ${d.image_id}, which is not in the ground-truth images`,
          'evaluate on the images the ground truth lists',
        );
      }
      const bb = d.bbox;
      const x = bb[0]!,
        y = bb[1]!,
        w = bb[2]!,
        h = bb[3]!;
      if (
        !Number.isFinite(d.score) ||
        !Number.isFinite(x) ||
        !Number.isFinite(y) ||
        !Number.isFinite(w) ||
        !Number.isFinite(h)
      ) {
        throw new PrunedetError(
          'E_ANNOTATIONS',
          `detection ${j} (image_id ${d.image_id}) has a non-finite score or bbox`,
          'emit finite [x, y, w, h] boxes and scores',
        );
      }
      s.detImage[n] = i;
      s.detIndex[n] = j;
      s.detCat[n] = k;
      n++;
      perImage[i + 1]!++;
    }
    // 2. Group per image, keeping input order (pycocotools' per-image lists), and match image by image.
    for (let i = 0; i < I; i++) perImage[i + 1]! += perImage[i]!;
    const fill = s.imageFill;
    fill.set(perImage.subarray(0, I));
    for (let q = 0; q < n; q++) {
      const p = fill[s.detImage[q]!]!++;
      const d = dets[s.detIndex[q]!]!;
      s.byCat[p] = s.detCat[q]!;
      s.byScore[p] = d.score;
      const bb = d.bbox;
      s.byBox[4 * p] = bb[0]!;
      s.byBox[4 * p + 1] = bb[1]!;
      s.byBox[4 * p + 2] = bb[2]!;
      s.byBox[4 * p + 3] = bb[3]!;
    }
    const acc = this.acc;
    acc.reset();
    for (let i = 0; i < I; i++) {
      const p0 = perImage[i]!,
        p1 = perImage[i + 1]!;
      if (p1 === p0) continue;
      this.matchImage(
        i,
        i,
        {
          n: p1 - p0,
          category: s.byCat.subarray(p0, p1),
          score: s.byScore.subarray(p0, p1),
          box: s.byBox.subarray(4 * p0, 4 * p1),
        },
        acc,
      );
    }
    return acc.result(this.npig, this.categoryIds, opts);
  }

  /**
   * evaluate()'s work on image i (index among the sorted image ids) alone: rank its detections per category (score
   * desc, input order), keep the first 100, match them against the image's gts for every IoU threshold and the first
   * `areas` area ranges (all 4 for result(); 1, the 'all' range, is enough for CocoAccumulator.map()), and push the
   * kept ones (in input order) to `acc` under `imageRank`. Scores and boxes must be finite.
   */
  matchImage(i: number, imageRank: number, d: ImageDetections, acc: CocoAccumulator, areas = A): void {
    const I = this.imageIds.length;
    const K = this.categoryIds.length;
    const G = this.gtArea.length;
    const n = d.n;
    const s = this.s;
    s.ensureImage(n, K);

    // Rank per category in score order; the kept ones (rank < 100) grouped per category, in rank order.
    const order = s.imgOrder;
    let sorted = true;
    for (let j = 1; j < n && sorted; j++) if (d.score[j]! > d.score[j - 1]!) sorted = false;
    if (sorted)
      for (let j = 0; j < n; j++) order[j] = j; // already in score order (a post-processing's output is)
    else s.order.orderF64Desc(d.score, n, order);
    const rank = s.rank;
    const catCount = s.catCount;
    let kept = 0;
    for (let q = 0; q < n; q++) {
      const j = order[q]!;
      const k = d.category[j]!;
      if (k < 0) {
        rank[j] = MAX_DET;
        continue;
      }
      const r = catCount[k]!++;
      rank[j] = r;
      if (r < MAX_DET) kept++;
    }
    if (kept === 0) {
      for (let q = 0; q < n; q++) if (d.category[q]! >= 0) catCount[d.category[q]!] = 0;
      return;
    }
    // catStart over the categories present: counting sort of the kept dets by category, stable (rank order).
    const keptStart = s.keptStart;
    keptStart.fill(0, 0, K + 1);
    for (let q = 0; q < n; q++) {
      const k = d.category[q]!;
      if (k >= 0) {
        catCount[k] = 0;
        if (rank[q]! < MAX_DET) keptStart[k + 1]!++;
      }
    }
    for (let k = 0; k < K; k++) keptStart[k + 1]! += keptStart[k]!;
    const keptFill = s.keptFill;
    keptFill.set(keptStart.subarray(0, K));
    const keptDets = s.keptDets;
    for (let q = 0; q < n; q++) {
      const j = order[q]!;
      if (rank[j]! < MAX_DET) keptDets[keptFill[d.category[j]!]!++] = j;
    }

    // Per category: IoU candidates (>= the lowest threshold), then greedy matching per area range and threshold.
    const ign = this.gtIgnore,
      crowd = this.gtCrowd;
    const codes = s.codes;
    const box = d.box;
    for (let k = 0; k < K; k++) {
      const p0 = keptStart[k]!;
      const D = keptStart[k + 1]! - p0;
      if (D === 0) continue;
      const b = k * I + i;
      const g0 = this.gtStart[b]!;
      const Gb = this.gtStart[b + 1]! - g0;
      this.collectCandidates(keptDets, p0, D, b, box);
      s.ensureGt(Gb);
      for (let a = 0; a < areas; a++) {
        const [lo, hi] = AREA_RANGES[a]!;
        const ig0 = a * G + g0; // gtIgnore offset of this bucket's first gt
        for (let q = 0; q < D; q++) codes[4 * keptDets[p0 + q]! + a] = 0;
        for (let t = 0; t < T; t++) {
          const thr = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
          const gtm = s.gtm;
          gtm.fill(0, 0, Gb);
          for (let q = 0; q < D; q++) {
            const c0 = s.candStart[q]!,
              c1 = s.candStart[q + 1]!;
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
            const j = keptDets[p0 + q]!;
            const area = box[4 * j + 2]! * box[4 * j + 3]!;
            const outside = area < lo || area > hi;
            let bit: number;
            if (m >= 0) {
              gtm[m] = 1;
              if (ign[ig0 + m]) bit = IGNORED_BIT;
              else if (this.gtIdZero[g0 + m]) bit = outside ? IGNORED_BIT : 0;
              else bit = TP_BIT;
            } else {
              bit = outside ? IGNORED_BIT : 0;
            }
            codes[4 * j + a]! |= bit << t;
          }
        }
      }
    }
    for (let j = 0; j < n; j++) {
      if (rank[j]! >= MAX_DET) continue;
      acc.push(
        imageRank,
        d.score[j]!,
        d.category[j]!,
        rank[j]!,
        codes[4 * j]!,
        codes[4 * j + 1]!,
        codes[4 * j + 2]!,
        codes[4 * j + 3]!,
      );
    }
  }

  /**
   * Candidates of the D kept dets keptDets[p0..] against bucket b's gts: every gt with IoU >= 0.5, in gt order.
   * Pruning (exact, with a margin): IoU >= 1/2 implies the 1-D IoU of the x intervals is >= 1/2 (IoU2 <= IoU_x because
   * ih <= min(dh, gh)), hence 3 iw >= dw + gw, gw <= 2 dw and x1 of the gt within [dx - dw, dx + 2dw/3]. Crowd gts
   * (IoU over the det area) are few and always scanned.
   */
  private collectCandidates(keptDets: Int32Array, p0: number, D: number, b: number, box: Float64Array): void {
    const s = this.s;
    const g0 = this.gtStart[b]!,
      gEnd = this.gtStart[b + 1]!,
      gCrowd = this.crowdStart[b]!;
    s.ensureCand(D, D * (gEnd - g0));
    const gx1 = this.gtX1,
      gy1 = this.gtY1,
      gx2 = this.gtX2,
      gy2 = this.gtY2,
      garea = this.gtBoxArea;
    const order = this.xOrder,
      xs = this.xSorted,
      candGt = s.candGt,
      candIou = s.candIou;
    let c = 0;
    for (let q = 0; q < D; q++) {
      s.candStart[q] = c;
      if (gEnd === g0) continue;
      const j = keptDets[p0 + q]!;
      const dx = box[4 * j]!,
        dy = box[4 * j + 1]!,
        dw = box[4 * j + 2]!,
        dh = box[4 * j + 3]!;
      const dx2 = dw + dx,
        dy2 = dh + dy,
        da = dw * dh;
      if (!(dx2 > dx && dy2 > dy)) continue; // empty det: every intersection width or height is <= 0
      const margin = 1e-6 * (Math.abs(dx) + dw + 1);
      const lo = dx - dw - margin,
        hi = dx + (2 * dw) / 3 + margin;
      let a = g0,
        z = gCrowd; // first sorted position with x1 >= lo
      while (a < z) {
        const mid = (a + z) >>> 1;
        if (xs[mid]! < lo) a = mid + 1;
        else z = mid;
      }
      for (let g1 = a; g1 < gEnd; g1++) {
        if (g1 < gCrowd && xs[g1]! > hi) g1 = gCrowd; // jump to the crowd part
        if (g1 >= gEnd) break;
        const g = order[g1]!;
        // maskApi.c bbIou: iw = min(D[2]+D[0], G[2]+G[0]) - max(D[0], G[0]), skipped when <= 0 (same for h).
        // min(a, b) - max(c, e) > 0 exactly when a > c, a > e, b > c and b > e.
        const ax = gx1[g]!,
          bx = gx2[g]!;
        if (!(dx2 > ax && bx > dx && bx > ax)) continue;
        const ay = gy1[g]!,
          by = gy2[g]!;
        if (!(dy2 > ay && by > dy && by > ay)) continue;
        const inter = (Math.min(dx2, bx) - Math.max(dx, ax)) * (Math.min(dy2, by) - Math.max(dy, ay));
        const iou = inter / (g1 >= gCrowd ? da : da + garea[g]! - inter);
        if (!(iou >= 0.5)) continue;
        // Insert in gt order (lists are short).
        let e = c++;
        const local = g - g0;
        while (e > s.candStart[q]! && candGt[e - 1]! > local) {
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

/** The arrays of a validated ground truth (ids sorted, annotations in file order). */
function groundTruthArrays(gt: CocoGroundTruth): GroundTruthArrays {
  validateCocoGroundTruth(gt);
  const imageIds = [...new Set(gt.images.map((im) => im.id))].sort((a, b) => a - b);
  const categoryIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, k) => [id, k]));
  const n = gt.annotations.length;
  const a: GroundTruthArrays = {
    imageIds,
    categoryIds,
    n,
    image: new Int32Array(n),
    category: new Int32Array(n),
    bbox: new Float64Array(4 * n),
    area: new Float64Array(n),
    crowd: new Uint8Array(n),
    idZero: new Uint8Array(n),
  };
  gt.annotations.forEach((ann, j) => {
    a.image[j] = imageIndex.get(ann.image_id)!;
    a.category[j] = categoryIndex.get(ann.category_id)!;
    const [x, y, w, h] = ann.bbox as number[];
    a.bbox.set([x!, y!, w!, h!], 4 * j);
    a.area[j] = ann.area;
    a.crowd[j] = ann.iscrowd ? 1 : 0;
    a.idZero[j] = ann.id === 0 ? 1 : 0;
  });
  return a;
}

/** Group `gt` once for many evaluations (validates it; throws E_ANNOTATIONS). */
export function prepareGroundTruth(gt: CocoGroundTruth): PreparedGroundTruth {
  return new PreparedGroundTruth(gt);
}

/** pycocotools COCOeval bbox stats of `dets` against `gt` (raw or prepared). */
export function evaluateCoco(
  gt: CocoGroundTruth | PreparedGroundTruth,
  dets: readonly CocoDetection[],
  opts?: EvaluateOptions,
): CocoMetrics {
  const prepared = gt instanceof PreparedGroundTruth ? gt : new PreparedGroundTruth(gt);
  return prepared.evaluate(dets, opts);
}

/** Grow-only buffers reused by every evaluate() / matchImage() call of one PreparedGroundTruth. */
class Scratch {
  readonly order = new OrderScratch();
  detImage = new Int32Array(0);
  detIndex = new Int32Array(0);
  detCat = new Int32Array(0);
  byCat = new Int32Array(0);
  byScore = new Float64Array(0);
  byBox = new Float64Array(0);
  imageStart = new Int32Array(1);
  imageFill = new Int32Array(0);
  imgOrder = new Int32Array(0);
  rank = new Int32Array(0);
  codes = new Uint32Array(0);
  keptDets = new Int32Array(0);
  catCount = new Int32Array(0);
  keptStart = new Int32Array(1);
  keptFill = new Int32Array(0);
  candStart = new Int32Array(1);
  candGt = new Int32Array(0);
  candIou = new Float64Array(0);
  gtm = new Uint8Array(0);

  ensureDets(n: number, images: number): void {
    if (this.detImage.length < n) {
      this.detImage = new Int32Array(n);
      this.detIndex = new Int32Array(n);
      this.detCat = new Int32Array(n);
      this.byCat = new Int32Array(n);
      this.byScore = new Float64Array(n);
      this.byBox = new Float64Array(4 * n);
    }
    if (this.imageFill.length < images) {
      this.imageStart = new Int32Array(images + 1);
      this.imageFill = new Int32Array(images);
    }
  }

  ensureImage(n: number, cats: number): void {
    if (this.imgOrder.length < n) {
      const size = Math.max(n, 2 * this.imgOrder.length);
      this.imgOrder = new Int32Array(size);
      this.rank = new Int32Array(size);
      this.codes = new Uint32Array(4 * size);
      this.keptDets = new Int32Array(size);
    }
    if (this.keptFill.length < cats) {
      this.catCount = new Int32Array(cats);
      this.keptStart = new Int32Array(cats + 1);
      this.keptFill = new Int32Array(cats);
    }
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
