// COCOeval's accumulate() + summarize() over per-image partial statistics: what evaluate() leaves for each kept
// detection (rank < 100 in its (image, category)): its image's position in sorted image-id order, score, category,
// rank, and per area range and IoU threshold whether it is a true positive, a false positive or ignored. Images can be
// matched one at a time (or a chunk at a time, in any order) and their detections pushed here; result() merges them as
// accumulate() does (per category, by score descending, ties by image then input order) and gives the 12 stats.
// Memory: 33 bytes per kept detection; nothing per image.
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

/** The kept detections of one evaluation (grow-only buffers: reset() and reuse it for the next). */
export class CocoAccumulator {
  n = 0;
  private imageRank = new Int32Array(0);
  private score = new Float64Array(0);
  private category = new Int32Array(0);
  private rank = new Uint8Array(0);
  /** codes[4 * d + a]: outcome bits of detection d in area range a. */
  private codes = new Uint32Array(0);
  private readonly s = new AccumulateScratch();

  reset(): void {
    this.n = 0;
  }

  /** Bytes held for detections (for memory accounting). */
  get bytes(): number {
    return this.imageRank.length * 33;
  }

  /**
   * Add one kept detection. Within an image, push in input order (the tie-break after the score); images may come in
   * any order (`imageRank` = the image's position among the ground truth's sorted image ids).
   */
  push(imageRank: number, score: number, category: number, rank: number, c0: number, c1: number, c2: number, c3: number): void {
    const d = this.n;
    if (d === this.imageRank.length) this.grow();
    this.imageRank[d] = imageRank;
    this.score[d] = score;
    this.category[d] = category;
    this.rank[d] = rank;
    const c = 4 * d;
    this.codes[c] = c0;
    this.codes[c + 1] = c1;
    this.codes[c + 2] = c2;
    this.codes[c + 3] = c3;
    this.n = d + 1;
  }

  private grow(): void {
    const size = Math.max(1024, 2 * this.imageRank.length);
    const ir = new Int32Array(size), sc = new Float64Array(size), ca = new Int32Array(size), rk = new Uint8Array(size), co = new Uint32Array(4 * size);
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
    const K = categoryIds.length;
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

    // 3. accumulate(): precision (maxDets 100 only: no stat reads the others) and recall per (t, k, a, m).
    const precision = s.precision; // [T][R][K][A], m = 100
    const recall = s.recall; // [T][K][A][M]
    precision.fill(-1, 0, T * R * K * A);
    recall.fill(-1, 0, T * K * A * M);
    const codes = this.codes, rank = this.rank;
    const tpAt = s.tpAt;
    for (let k = 0; k < K; k++) {
      const c0 = catStart[k]!, c1 = catStart[k + 1]!;
      for (let a = 0; a < A; a++) {
        const gts = npig[k * A + a]!;
        if (gts === 0) continue;
        // maxDets 1 and 10: only recall is read, rc[-1] = tp / npig over the detections ranked below maxDet.
        for (let mi = 0; mi < M - 1; mi++) {
          const maxDet = MAX_DETS[mi]!;
          tpAt.fill(0);
          let nd = 0;
          for (let c = c0; c < c1; c++) {
            const d = catDets[c]!;
            if (rank[d]! >= maxDet) continue;
            nd++;
            const w = codes[4 * d + a]!;
            if (w & 0x3ff) for (let t = 0; t < T; t++) if ((w >>> t) & 1) tpAt[t]!++;
          }
          for (let t = 0; t < T; t++) recall[((t * K + k) * A + a) * M + mi] = nd ? tpAt[t]! / gts : 0;
        }
        for (let t = 0; t < T; t++) {
          const tpBit = TP_BIT << t, igBit = IGNORED_BIT << t;
          let tp = 0, fp = 0, nd = 0;
          const rc = s.rc, pr = s.pr;
          for (let c = c0; c < c1; c++) {
            const w = codes[4 * catDets[c]! + a]!;
            if (w & tpBit) tp++;
            else if (!(w & igBit)) fp++;
            rc[nd] = tp / gts;
            pr[nd] = tp / (fp + tp + EPS);
            nd++;
          }
          recall[((t * K + k) * A + a) * M + (M - 1)] = nd ? rc[nd - 1]! : 0;
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

    // 4. summarize().
    const vals = s.vals;
    const ap = (a: number, t?: number): number => {
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
    };
    const ar = (a: number, mi: number): number => {
      let cnt = 0;
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < K; k++) {
          const v = recall[((t * K + k) * A + a) * M + mi]!;
          if (v > -1) vals[cnt++] = v;
        }
      }
      return cnt ? pairwiseSum(vals, 0, cnt) / cnt : -1;
    };
    const stats = [ap(0), ap(0, 0), ap(0, 5), ap(1), ap(2), ap(3), ar(0, 0), ar(0, 1), ar(0, 2), ar(1, 2), ar(2, 2), ar(3, 2)];
    const out: CocoMetrics = {
      map: stats[0]!, ap50: stats[1]!, ap75: stats[2]!, apSmall: stats[3]!, apMedium: stats[4]!, apLarge: stats[5]!,
      ar1: stats[6]!, ar10: stats[7]!, ar100: stats[8]!, arSmall: stats[9]!, arMedium: stats[10]!, arLarge: stats[11]!,
      stats,
    };
    if (opts.perCategory) {
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
  rc = new Float64Array(0);
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
      this.rc = new Float64Array(size);
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
