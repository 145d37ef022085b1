// COCOeval's accumulate() + summarize() over per-image partial statistics: what evaluate() leaves for each kept
// detection (rank < 100 in its (image, category)): its image's position in sorted image-id order, score, category,
// rank, and per area range and IoU threshold whether it is a true positive, a false positive or ignored. Images can be
// matched one at a time (or a chunk at a time, in any order) and their detections pushed here; result() merges them as
// accumulate() does (per category, by score descending, ties by image then input order) and gives the 12 stats.
// Memory: 33 bytes per kept detection (21 when only the mAP is wanted); nothing per image.
import { OrderScratch } from '../sort';
import { A, M, MAX_DETS, R, RECALL_THRESHOLDS, T, pairwiseSum } from './coco-params';

const EPS = 2.220446049250313e-16; // np.spacing(1)

/** Per area range, the bits of one detection's outcome: bit t = true positive at IoU threshold t, bit 16 + t = ignored. */
export const TP_BIT = 1;
export const IGNORED_BIT = 1 << 16;

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

/** An accumulator's detections as plain arrays (n long): what crosses between threads. */
export interface AccumulatorRecords {
  n: number;
  areas: number;
  imageRank: Int32Array;
  score: Float64Array;
  category: Int32Array;
  rank: Uint8Array;
  /** areas per detection. */
  codes: Uint32Array;
}

/**
 * The kept detections of one evaluation (grow-only buffers: reset() and reuse it for the next). `areas` = how many
 * area ranges are kept per detection: 4 for result(), 1 (the 'all' range) for map(): 21 bytes per detection.
 */
export class CocoAccumulator {
  n = 0;
  private imageRank = new Int32Array(0);
  private score = new Float64Array(0);
  private category = new Int32Array(0);
  private rank = new Uint8Array(0);
  /** codes[areas * d + a]: outcome bits of detection d in area range a. */
  private codes = new Uint32Array(0);
  private readonly s = new AccumulateScratch();

  constructor(readonly areas = A) {}

  reset(): void {
    this.n = 0;
  }

  /**
   * Add one kept detection. Within an image, push in input order (the tie-break after the score); images may come in
   * any order (`imageRank` = the image's position among the ground truth's sorted image ids). c0..c3: the outcome bits
   * per area range (those beyond `areas` are not kept).
   */
  push(
    imageRank: number,
    score: number,
    category: number,
    rank: number,
    c0: number,
    c1: number,
    c2: number,
    c3: number,
  ): void {
    const d = this.n;
    if (d === this.imageRank.length) this.grow(d + 1);
    this.imageRank[d] = imageRank;
    this.score[d] = score;
    this.category[d] = category;
    this.rank[d] = rank;
    const W = this.areas,
      c = W * d;
    this.codes[c] = c0;
    if (W > 1) {
      this.codes[c + 1] = c1;
      this.codes[c + 2] = c2;
      this.codes[c + 3] = c3;
    }
    this.n = d + 1;
  }

  /** Push every detection of `r` (same `areas`), in its order. */
  append(r: AccumulatorRecords | CocoAccumulator): void {
    const src = r instanceof CocoAccumulator ? r.view() : r;
    if (src.areas !== this.areas)
      throw new Error(`accumulator records of ${src.areas} area ranges appended to one of ${this.areas}`);
    const m = src.n,
      d = this.n;
    if (d + m > this.imageRank.length) this.grow(d + m);
    this.imageRank.set(src.imageRank.subarray(0, m), d);
    this.score.set(src.score.subarray(0, m), d);
    this.category.set(src.category.subarray(0, m), d);
    this.rank.set(src.rank.subarray(0, m), d);
    this.codes.set(src.codes.subarray(0, this.areas * m), this.areas * d);
    this.n = d + m;
  }

  /** The detections as views of this accumulator's buffers (valid until it changes). */
  view(): AccumulatorRecords {
    const n = this.n;
    return {
      n,
      areas: this.areas,
      imageRank: this.imageRank.subarray(0, n),
      score: this.score.subarray(0, n),
      category: this.category.subarray(0, n),
      rank: this.rank.subarray(0, n),
      codes: this.codes.subarray(0, this.areas * n),
    };
  }

  /** The detections as fresh arrays of their own (to transfer to another thread). */
  export(): AccumulatorRecords {
    const v = this.view();
    return {
      n: v.n,
      areas: v.areas,
      imageRank: v.imageRank.slice(),
      score: v.score.slice(),
      category: v.category.slice(),
      rank: v.rank.slice(),
      codes: v.codes.slice(),
    };
  }

  private grow(min: number): void {
    const size = Math.max(1024, min, 2 * this.imageRank.length);
    const ir = new Int32Array(size),
      sc = new Float64Array(size),
      ca = new Int32Array(size),
      rk = new Uint8Array(size),
      co = new Uint32Array(this.areas * size);
    ir.set(this.imageRank);
    sc.set(this.score);
    ca.set(this.category);
    rk.set(this.rank);
    co.set(this.codes);
    this.imageRank = ir;
    this.score = sc;
    this.category = ca;
    this.rank = rk;
    this.codes = co;
  }

  /**
   * accumulate() + summarize(): `npig[k * 4 + a]` = non-ignored ground truths of category k in area range a over all
   * images; `categoryIds[k]` names category k (for perCategory).
   */
  result(npig: Int32Array, categoryIds: readonly number[], opts: EvaluateOptions = {}): CocoMetrics {
    if (this.areas !== A) throw new Error('CocoAccumulator.result needs the outcomes of all 4 area ranges');
    const K = categoryIds.length;
    this.accumulate(npig, K, A, true);
    const s = this.s;
    const stats = [
      ap(s, K, 0),
      ap(s, K, 0, 0),
      ap(s, K, 0, 5),
      ap(s, K, 1),
      ap(s, K, 2),
      ap(s, K, 3),
      ar(s, K, 0, 0),
      ar(s, K, 0, 1),
      ar(s, K, 0, 2),
      ar(s, K, 1, 2),
      ar(s, K, 2, 2),
      ar(s, K, 3, 2),
    ];
    const out: CocoMetrics = {
      map: stats[0]!,
      ap50: stats[1]!,
      ap75: stats[2]!,
      apSmall: stats[3]!,
      apMedium: stats[4]!,
      apLarge: stats[5]!,
      ar1: stats[6]!,
      ar10: stats[7]!,
      ar100: stats[8]!,
      arSmall: stats[9]!,
      arMedium: stats[10]!,
      arLarge: stats[11]!,
      stats,
    };
    if (opts.perCategory) {
      const vals = s.vals,
        precision = s.precision;
      out.perCategory = categoryIds.map((categoryId, k) => {
        let cnt = 0;
        for (let t = 0; t < T; t++) {
          for (let r = 0; r < R; r++) {
            const v = precision[((t * R + r) * K + k) * A]!;
            if (v > -1) vals[cnt++] = v;
          }
        }
        return { categoryId, ap: cnt ? pairwiseSum(vals, 0, cnt) / cnt : -1 };
      });
    }
    return out;
  }

  /**
   * stats[0] alone (AP@[.50:.95], all areas, 100 dets): what search scores by. It reads only the 'all' area range, so
   * detections matched with matchImage(..., areas = 1) suffice; the number is result().map's, bit for bit.
   */
  map(npig: Int32Array, K: number): number {
    this.accumulate(npig, K, 1, false);
    return ap(this.s, K, 0);
  }

  /**
   * accumulate(): precision at maxDets 100 (no stat reads the others) for area ranges 0 .. areas-1, and recall per
   * (t, k, a, m) when asked. Precision is only computed where it can be read: the recall thresholds sample the first
   * position whose recall reaches them, which (above 0) is a true positive, and the right-to-left max envelope at a
   * true positive is the max over the later true positives (between them precision only falls), so tp / (tp + fp +
   * eps) is evaluated at true positives only. Same numbers as evaluating it at every position.
   */
  private accumulate(npig: Int32Array, K: number, areas: number, withRecall: boolean): void {
    const n = this.n;
    const s = this.s;
    s.ensure(n, K);

    // 1. The merge order: score descending, then image rank, then push order (within an image: input order).
    const byImage = s.byImage;
    let sorted = true;
    for (let d = 1; d < n && sorted; d++) if (this.imageRank[d]! < this.imageRank[d - 1]!) sorted = false;
    if (sorted) for (let d = 0; d < n; d++) byImage[d] = d;
    else stableCountingOrder(this.imageRank, n, byImage);
    const seqScore = s.seqScore;
    for (let q = 0; q < n; q++) seqScore[q] = this.score[byImage[q]!]!;
    s.order.orderF64Desc(seqScore, n, s.merged);
    // 2. Per category, the detections in that order.
    const catStart = s.catStart;
    catStart.fill(0, 0, K + 1);
    for (let d = 0; d < n; d++) catStart[this.category[d]! + 1]!++;
    for (let k = 0; k < K; k++) catStart[k + 1]! += catStart[k]!;
    const fill = s.catFill;
    fill.set(catStart.subarray(0, K));
    const catDets = s.catDets;
    for (let q = 0; q < n; q++) {
      const d = byImage[s.merged[q]!]!;
      catDets[fill[this.category[d]!]!++] = d;
    }

    // 3. Per (category, area, threshold): the precision samples and recalls.
    const precision = s.precision; // [T][R][K][A], m = 100
    const recall = s.recall; // [T][K][A][M]
    if (areas === A) precision.fill(-1, 0, T * R * K * A);
    else for (let q = 0; q < T * R * K; q++) for (let a = 0; a < areas; a++) precision[A * q + a] = -1;
    if (withRecall) recall.fill(-1, 0, T * K * A * M);
    const codes = this.codes,
      rank = this.rank,
      W = this.areas;
    const tpAt = s.tpAt,
      tpPr = s.pr,
      catCodes = s.rc;
    for (let k = 0; k < K; k++) {
      const c0 = catStart[k]!,
        c1 = catStart[k + 1]!;
      const nd = c1 - c0;
      for (let a = 0; a < areas; a++) {
        const gts = npig[k * A + a]!;
        if (gts === 0) continue;
        if (withRecall) {
          // maxDets 1 and 10: only recall is read, rc[-1] = tp / npig over the detections ranked below maxDet.
          for (let mi = 0; mi < M - 1; mi++) {
            const maxDet = MAX_DETS[mi]!;
            tpAt.fill(0);
            let n = 0;
            for (let c = c0; c < c1; c++) {
              const d = catDets[c]!;
              if (rank[d]! >= maxDet) continue;
              n++;
              const w = codes[W * d + a]!;
              if (w & 0x3ff) for (let t = 0; t < T; t++) if ((w >>> t) & 1) tpAt[t]!++;
            }
            for (let t = 0; t < T; t++) recall[((t * K + k) * A + a) * M + mi] = n ? tpAt[t]! / gts : 0;
          }
        }
        // This category's outcome bits in merge order, contiguous (read once per threshold below).
        for (let c = 0; c < nd; c++) catCodes[c] = codes[W * catDets[c0 + c]! + a]!;
        for (let t = 0; t < T; t++) {
          const tpBit = TP_BIT << t,
            igBit = IGNORED_BIT << t;
          let tp = 0,
            fp = 0;
          for (let c = 0; c < nd; c++) {
            const w = catCodes[c]!;
            if (w & tpBit) {
              tpPr[tp] = (tp + 1) / (fp + tp + 1 + EPS);
              tp++;
            } else if (!(w & igBit)) fp++;
          }
          if (withRecall) recall[((t * K + k) * A + a) * M + (M - 1)] = nd ? tp / gts : 0;
          for (let q = tp - 1; q > 0; q--) if (tpPr[q]! > tpPr[q - 1]!) tpPr[q - 1] = tpPr[q]!;
          // r = 0 samples position 0: the max over every true positive (0 without one, or without detections).
          precision[(t * R * K + k) * A + a] = tp > 0 ? tpPr[0]! : 0;
          // r > 0: the first true positive whose recall (q + 1) / npig reaches the threshold: found from
          // ceil(thr * npig), checked with the division accumulate() does (recall only changes at true positives).
          let q = 0;
          for (let r = 1; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r]!;
            q = Math.max(q, Math.ceil(thr * gts) - 3);
            while (q < tp && (q + 1) / gts < thr) q++;
            precision[((t * R + r) * K + k) * A + a] = q < tp ? tpPr[q]! : 0;
          }
        }
      }
    }
  }
}

/** summarize()'s AP: mean of the precision entries > -1 of area a (one IoU threshold, or all). */
function ap(s: AccumulateScratch, K: number, a: number, t?: number): number {
  const precision = s.precision,
    vals = s.vals;
  let cnt = 0;
  for (let ti = t ?? 0; ti < (t === undefined ? T : t + 1); ti++) {
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < K; k++) {
        const v = precision[((ti * R + r) * K + k) * A + a]!;
        if (v > -1) vals[cnt++] = v;
      }
    }
  }
  return cnt ? pairwiseSum(vals, 0, cnt) / cnt : -1;
}

/** summarize()'s AR: mean of the recall entries > -1 of area a and maxDets index mi. */
function ar(s: AccumulateScratch, K: number, a: number, mi: number): number {
  const recall = s.recall,
    vals = s.vals;
  let cnt = 0;
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < K; k++) {
      const v = recall[((t * K + k) * A + a) * M + mi]!;
      if (v > -1) vals[cnt++] = v;
    }
  }
  return cnt ? pairwiseSum(vals, 0, cnt) / cnt : -1;
}

/** order[0..n) = 0..n-1 stably sorted by key ascending (small non-negative integers). */
function stableCountingOrder(key: Int32Array, n: number, order: Int32Array): void {
  let max = 0;
  for (let d = 0; d < n; d++) if (key[d]! > max) max = key[d]!;
  const count = new Int32Array(max + 2);
  for (let d = 0; d < n; d++) count[key[d]! + 1]!++;
  for (let v = 0; v <= max; v++) count[v + 1]! += count[v]!;
  for (let d = 0; d < n; d++) order[count[key[d]!]!++] = d;
}

/** Grow-only buffers of result(). */
class AccumulateScratch {
  readonly order = new OrderScratch();
  byImage = new Int32Array(0);
  seqScore = new Float64Array(0);
  merged = new Int32Array(0);
  catDets = new Int32Array(0);
  /** Per category: the outcome bits in merge order (reused), and precision at each true positive. */
  rc = new Uint32Array(0);
  pr = new Float64Array(0);
  catStart = new Int32Array(1);
  catFill = new Int32Array(0);
  precision = new Float64Array(0);
  recall = new Float64Array(0);
  vals = new Float64Array(0);
  readonly tpAt = new Int32Array(T);

  ensure(n: number, cats: number): void {
    if (this.byImage.length < n) {
      const size = Math.max(n, 2 * this.byImage.length);
      this.byImage = new Int32Array(size);
      this.seqScore = new Float64Array(size);
      this.merged = new Int32Array(size);
      this.catDets = new Int32Array(size);
      this.rc = new Uint32Array(size);
      this.pr = new Float64Array(size);
    }
    if (this.catFill.length < cats) {
      this.catStart = new Int32Array(cats + 1);
      this.catFill = new Int32Array(cats);
      this.precision = new Float64Array(T * R * cats * A);
      this.recall = new Float64Array(T * cats * A * M);
      this.vals = new Float64Array(T * R * cats);
    }
  }
}
