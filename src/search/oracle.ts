// The paper's oracle: a pruned model's detections = the original model's post-processing with the removed anchors'
// scores forced to zero (no re-inference). Two forms that must agree exactly: `oracleDetections` (the reference
// post-processing with a suppressed mask; what verify compares against) and the candidate tables below, which do the
// same work once per image so each search candidate costs only a walk over pre-ranked candidates plus NMS.
//
// Why the tables are exact: a suppressed anchor contributes no (anchor, label) pair, and the reference ranks pairs by a
// total order (score desc, anchor asc, label asc) before any cut. So the pairs of a candidate are the full model's
// pairs minus the removed anchors, in the same order; top-k per level / global keeps the first k survivors; the
// boxes of survivors are decoded by the same function; greedy NMS in rank order keeps a pair iff no earlier kept pair
// (same label unless agnostic) overlaps it by IoU > thr, stopping at max detections: the reference's loop exactly.
import type { Detection, PostprocessSpec } from '../postprocess/spec';
import { foregroundCount } from '../postprocess/spec';
import { f32 } from '../postprocess/float32';
import {
  anchorsCenterSize,
  compareRank,
  decodeBox,
  levelOffsets,
  postprocess,
  scoreAnchor,
  type LevelShape,
  type PostprocessContext,
  type PostprocessInput,
  levelMaps,
} from '../postprocess/reference';
import { InternalError } from '../errors';

/**
 * Per anchor on the anchor axis: 1 when its base anchor is removed. `removed` are global base-anchor indices,
 * level-major (level l's anchors are offset_l .. offset_l + A_l - 1, offset = sum of earlier A), as the paper prints.
 */
export function suppressedMask(levels: readonly LevelShape[], removed: Iterable<number>): Uint8Array {
  const gone = new Set(removed);
  const n = levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
  const mask = new Uint8Array(n);
  let base = 0;
  let offset = 0;
  for (const l of levels) {
    const A = l.anchorsPerLocation;
    for (let a = 0; a < A; a++) {
      if (!gone.has(base + a)) continue;
      for (let p = 0; p < l.h * l.w; p++) mask[offset + p * A + a] = 1;
    }
    base += A;
    offset += l.h * l.w * A;
  }
  return mask;
}

/** The reference oracle for one image: `postprocess` with every grid anchor of the removed base anchors suppressed. */
export function oracleDetections(
  spec: PostprocessSpec,
  input: PostprocessInput,
  ctx: PostprocessContext,
  removed: Iterable<number>,
): Detection[] {
  return postprocess(spec, input, { ...ctx, suppressed: suppressedMask(ctx.levels, removed) });
}

/**
 * Every (anchor, label) pair of one image that passes the score threshold in the full model, in rank order, with
 * its decoded (and clipped) box. Built once per image; a candidate only filters it.
 */
export interface CandidateList {
  anchor: Int32Array;
  label: Int32Array;
  level: Int32Array;
  /** Global base-anchor index of the pair's anchor (what a candidate removes). */
  base: Int32Array;
  score: Float64Array;
  /** x1, y1, x2, y2 in the model's box units, float32 values. */
  box: Float32Array;
  /** Box area as iouF computes it (float32), so NMS does not recompute it. */
  area: Float32Array;
}

/** Scratch of candidate-list building that depends only on the model: anchor centres and level bounds. */
export interface OracleModel {
  spec: PostprocessSpec;
  ctx: PostprocessContext;
  /** Anchor table as center-size rows (what decodeBox reads), or the raw table for decoder none. */
  centers: Float32Array;
  offsets: number[];
  /** First global base-anchor index of each level. */
  baseOffsets: number[];
}

export function oracleModel(spec: PostprocessSpec, ctx: PostprocessContext): OracleModel {
  const baseOffsets: number[] = [];
  let b = 0;
  for (const l of ctx.levels) {
    baseOffsets.push(b);
    b += l.anchorsPerLocation;
  }
  return {
    spec,
    ctx,
    centers: spec.decoder.type === 'none' ? ctx.anchors : anchorsCenterSize(ctx.anchors, spec.anchorFormat),
    offsets: levelOffsets(ctx.levels),
    baseOffsets,
  };
}

const pos = (v: number) => (v > 0 ? v : 0);

/**
 * iouF(kept box j, candidate box i) over xyxy boxes at 4*index with their areas, float32 operation for operation in
 * the reference's operand order (a = the earlier kept box, b = the later one). Shared by the oracle's NMS and the
 * streamed evaluator's.
 */
export function keptIou(box: Float32Array, area: Float32Array, j: number, i: number): number {
  const a0 = box[4 * i]!,
    a1 = box[4 * i + 1]!,
    a2 = box[4 * i + 2]!,
    a3 = box[4 * i + 3]!;
  const b0 = box[4 * j]!,
    b1 = box[4 * j + 1]!,
    b2 = box[4 * j + 2]!,
    b3 = box[4 * j + 3]!;
  const iw = pos(f32((b2 < a2 ? b2 : a2) - (b0 > a0 ? b0 : a0)));
  const ih = pos(f32((b3 < a3 ? b3 : a3) - (b1 > a1 ? b1 : a1)));
  const inter = f32(iw * ih);
  const union = f32(f32(area[j]! + area[i]!) - inter);
  return union > 0 ? f32(inter / union) : 0;
}

/** Build the candidate list of one image (the reference's steps 1 and 3, for every pair above the threshold). */
export function buildCandidateList(m: OracleModel, input: PostprocessInput): CandidateList {
  const { spec, ctx, offsets } = m;
  const C = ctx.numClasses;
  const K = foregroundCount(spec, C);
  const thr = f32(spec.scoreThreshold);
  const scores = new Float64Array(K);
  const pairs: { score: number; anchor: number; label: number; level: number }[] = [];
  ctx.levels.forEach((l, li) => {
    const hw = l.h * l.w;
    const A = l.anchorsPerLocation;
    for (let n = offsets[li]!; n < offsets[li + 1]!; n++) {
      let col: (j: number) => number;
      if (input.form === 'concat') {
        const s = input.scores,
          o = n * C;
        col = (j) => s[o + j]!;
      } else {
        const p = n - offsets[li]!;
        const a = p % A;
        const s = levelMaps(input, 'search')[li]!.cls,
          o = a * C * hw + (p - a) / A;
        col = (j) => s[o + j * hw]!;
      }
      scoreAnchor(spec, C, col, scores);
      for (let k = 0; k < K; k++)
        if (scores[k]! > thr) pairs.push({ score: scores[k]!, anchor: n, label: k, level: li });
    }
  });
  pairs.sort(compareRank);
  const N = pairs.length;
  const out: CandidateList = {
    anchor: new Int32Array(N),
    label: new Int32Array(N),
    level: new Int32Array(N),
    base: new Int32Array(N),
    score: new Float64Array(N),
    box: new Float32Array(4 * N),
    area: new Float32Array(N),
  };
  const decoded = new Map<number, number>(); // anchor -> first entry with its box
  pairs.forEach((c, i) => {
    const l = ctx.levels[c.level]!;
    out.anchor[i] = c.anchor;
    out.label[i] = c.label;
    out.level[i] = c.level;
    out.base[i] = m.baseOffsets[c.level]! + ((c.anchor - offsets[c.level]!) % l.anchorsPerLocation);
    out.score[i] = c.score;
    const prev = decoded.get(c.anchor);
    if (prev !== undefined) {
      out.box.copyWithin(4 * i, 4 * prev, 4 * prev + 4);
    } else {
      decoded.set(c.anchor, i);
      out.box.set(
        decodeBox(spec, deltas(input, m, c.level, c.anchor), m.centers.subarray(4 * c.anchor, 4 * c.anchor + 4)),
        4 * i,
      );
    }
    const b = out.box;
    out.area[i] = f32(pos(f32(b[4 * i + 2]! - b[4 * i]!)) * pos(f32(b[4 * i + 3]! - b[4 * i + 1]!)));
  });
  return out;
}

function deltas(input: PostprocessInput, m: OracleModel, level: number, n: number): [number, number, number, number] {
  if (input.form === 'concat')
    return [input.boxes[4 * n]!, input.boxes[4 * n + 1]!, input.boxes[4 * n + 2]!, input.boxes[4 * n + 3]!];
  const l = m.ctx.levels[level]!;
  const hw = l.h * l.w;
  const p = n - m.offsets[level]!;
  const a = p % l.anchorsPerLocation;
  const r = levelMaps(input, 'search')[level]!.reg,
    o = a * 4 * hw + (p - a) / l.anchorsPerLocation;
  return [r[o]!, r[o + hw]!, r[o + 2 * hw]!, r[o + 3 * hw]!];
}

/** The cuts and NMS settings a candidate walk needs (plain data: it crosses to worker threads). */
export interface SelectParams {
  topKScope: 'per-level' | 'global';
  preNmsTopK: number;
  agnostic: boolean;
  /** float32-rounded IoU threshold. */
  iouThreshold: number;
  maxDetections: number;
  levels: number;
}

export function selectParams(spec: PostprocessSpec, levels: number): SelectParams {
  return {
    topKScope: spec.topKScope,
    preNmsTopK: spec.preNmsTopK,
    agnostic: spec.nms === 'agnostic',
    iouThreshold: f32(spec.iouThreshold),
    maxDetections: spec.maxDetections,
    levels,
  };
}

/** A view of candidate lists: one image's entries are lo .. hi - 1 of the arrays. */
export interface ListView {
  level: Int32Array;
  base: Int32Array;
  label: Int32Array;
  box: Float32Array;
  area: Float32Array;
}

/**
 * The detections of a candidate on one image: indices of the kept entries of `t` (range lo..hi), in output order,
 * written to `out`; returns how many. `removed[b]` = 1 for removed global base anchors. `perLevel` is scratch of
 * length p.levels.
 */
export function selectDetections(
  t: ListView,
  lo: number,
  hi: number,
  removed: Uint8Array,
  p: SelectParams,
  out: Int32Array,
  perLevel: Int32Array,
): number {
  const K = p.preNmsTopK;
  const perLevelCut = K > 0 && p.topKScope === 'per-level';
  const globalCut = K > 0 && p.topKScope === 'global';
  if (perLevelCut) perLevel.fill(0);
  let taken = 0;
  let kept = 0;
  const box = t.box,
    area = t.area,
    label = t.label,
    thr = p.iouThreshold;
  for (let i = lo; i < hi && kept < p.maxDetections; i++) {
    if (removed[t.base[i]!]) continue;
    if (perLevelCut) {
      const l = t.level[i]!;
      if (perLevel[l]! >= K) continue;
      perLevel[l]!++;
    } else if (globalCut) {
      if (taken >= K) break;
      taken++;
    }
    // Greedy NMS: i survives iff no kept box of the same label (any label when agnostic) has IoU > thr with it.
    let suppressed = false;
    for (let q = 0; q < kept; q++) {
      const j = out[q]!;
      if (!p.agnostic && label[j] !== label[i]) continue;
      if (keptIou(box, area, j, i) > thr) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) out[kept++] = i;
  }
  return kept;
}

/** Removed global base anchors as a lookup table over all `total` base anchors. */
export function removedLookup(removed: Iterable<number>, total: number): Uint8Array {
  const r = new Uint8Array(total);
  for (const b of removed) {
    if (!(b >= 0 && b < total)) throw new InternalError(`removed base anchor ${b} is outside 0..${total - 1}`);
    r[b] = 1;
  }
  return r;
}
