// The post-processing semantics of prunedet, stated once: scores -> candidates -> top-k -> cap -> decode -> clip -> NMS
// -> max detections, in float32 arithmetic. The emitted C (src/emit/c) and verify must agree with this file exactly:
// same detections (count, labels, anchors, order), coordinates within 1e-4. It is written for clarity, not speed.
//
// Rules (each is a choice implementations disagree on; see design.md "Post-processing semantics"):
// - Scores per anchor over its C score columns. softmax: float32, max subtracted, the sum as four interleaved partial sums (see scoreAnchor); a row with a NaN
//   has no candidates; a row whose maximum is +Inf gives 1/(number of +Inf columns) to those and 0 elsewhere; a row of
//   only -Inf has no candidates. sigmoid: 1/(1+expf(-x)) (NaN -> NaN, -Inf -> 0, +Inf -> 1). probabilities: as given
//   (NaN never passes; +Inf passes and sorts first).
// - Labels are 0-based foreground labels: the background column (first / last) is not counted and never a candidate.
// - Candidate = (anchor, label) with score > scoreThreshold (strict, threshold rounded to float). A suppressed anchor
//   (ctx.suppressed, verify's oracle) has every score forced to 0, which never passes since thresholds are >= 0.
// - Rank order, used everywhere: score descending, then anchor ascending, then label ascending (a total order).
// - preNmsTopK (0 = off) keeps the top-k candidates of each level (per-level) or of all levels (global); then
//   ctx.candidateCap (the C workspace) keeps the top-cap of what remains. Boxes are decoded after both cuts.
// - Decoding (all in float): t = decoder-specific transform of the 4 deltas; cx = acx + aw·tx, cy = acy + ah·ty,
//   w = aw·expf(tw), h = ah·expf(th); box = (cx - 0.5w, cy - 0.5h, cx + 0.5w, cy + 0.5h); then clip to [0,w]x[0,h].
// - NMS: greedy in rank order; a box is suppressed iff IoU with an already kept box (same label unless agnostic) is
//   > iouThreshold. IoU uses the box units as given (no +1); negative widths count as 0; IoU is 0 when the union is not
//   > 0 or a coordinate of either box is NaN (so NaN boxes suppress nothing and are never suppressed). Output in rank order, truncated to maxDetections.
import { PrunedetError } from '../errors';
import { expF, f32, sigmoidF } from './float32';
import {
  foregroundCount,
  isDecodedInput,
  isYoloDecoder,
  labelColumn,
  validatePostprocessSpec,
  type Decoder,
  type Detection,
  type PostprocessSpec,
} from './spec';

export type PostprocessInput =
  /** scores [N, C] row-major; boxes [N, 4] (deltas, or xyxy boxes for decoder none). */
  | { form: 'concat'; scores: Float32Array; boxes: Float32Array }
  /** Per level l, NCHW with N = 1: cls [A·C, H, W], reg [A·4, H, W]; channel c = a·K + k (anchor-major). */
  | { form: 'per-level'; levels: { cls: Float32Array; reg: Float32Array }[] }
  /**
   * YOLO rows, per level [A, H, W, 4 + C] (anchors listed (a, y, x), as YOLO exports write them): box values 0..3,
   * then the C score columns (objectness first). A fused output [Σ A·H·W, 4 + C] is the levels one after another.
   */
  | { form: 'yolo'; levels: Float32Array[] };

/** The per-level maps of a maps input; YOLO rows are refused by the callers that read only maps or concat rows. */
export function levelMaps(input: PostprocessInput, purpose: string): { cls: Float32Array; reg: Float32Array }[] {
  if (input.form === 'per-level') return input.levels;
  throw new PrunedetError(
    'E_POSTPROCESS',
    `${purpose} does not read ${input.form === 'yolo' ? 'YOLO rows' : 'concatenated rows as maps'} yet`,
    'use verify and compile for YOLO heads',
  );
}

export interface LevelShape {
  h: number;
  w: number;
  anchorsPerLocation: number;
  /** [h, w] in input pixels: what the yolov5 / yolov3 decoders scale grid offsets by. */
  pixelStride?: [number, number];
}

export interface PostprocessContext {
  /** [N, 4] in spec.anchorFormat; anchor n = offset_l + (y·W + x)·A + a. Unused for decoder none. */
  anchors: Float32Array;
  levels: LevelShape[];
  /** Score columns C, background included. */
  numClasses: number;
  /** Per anchor: 1 = every score forced to 0. */
  suppressed?: Uint8Array;
  /** Keep at most this many candidates after top-k (what the C workspace holds). */
  candidateCap?: number;
}

/** One anchor's slice of the inputs: element i of its scores is s[sBase + i·sStride], delta j is b[bBase + j·bStride]. */
interface AnchorView {
  s: Float32Array;
  sBase: number;
  sStride: number;
  b: Float32Array;
  bBase: number;
  bStride: number;
}

interface Candidate {
  score: number;
  anchor: number;
  label: number;
}

/** The rank order: score descending, anchor ascending, label ascending. */
export function compareRank(a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  return a.anchor - b.anchor || a.label - b.label;
}

export function levelOffsets(levels: LevelShape[]): number[] {
  const offsets: number[] = [];
  let n = 0;
  for (const l of levels) {
    offsets.push(n);
    n += l.h * l.w * l.anchorsPerLocation;
  }
  offsets.push(n);
  return offsets;
}

/** Anchor rows as float center-size (cx, cy, w, h): w = x2 - x1, cx = x1 + 0.5·w (the C anchor table holds these). */
export function anchorsCenterSize(anchors: Float32Array, format: PostprocessSpec['anchorFormat']): Float32Array {
  if (format === 'cxcywh') return Float32Array.from(anchors);
  const out = new Float32Array(anchors.length);
  for (let i = 0; i + 3 < anchors.length; i += 4) {
    const w = f32(anchors[i + 2]! - anchors[i]!);
    const h = f32(anchors[i + 3]! - anchors[i + 1]!);
    out[i] = f32(anchors[i]! + f32(0.5 * w));
    out[i + 1] = f32(anchors[i + 1]! + f32(0.5 * h));
    out[i + 2] = w;
    out[i + 3] = h;
  }
  return out;
}

/** Decoder-specific transform of deltas d (in input order) to (tx, ty, tw, th). */
export function deltaTransform(dec: Decoder, d: [number, number, number, number]): [number, number, number, number] {
  const [d0, d1, d2, d3] = d;
  switch (dec.type) {
    case 'ssd': {
      const v0 = f32(dec.variances[0]);
      const v1 = f32(dec.variances[1]);
      return [f32(d0 * v0), f32(d1 * v0), f32(d2 * v1), f32(d3 * v1)];
    }
    case 'mmdet-delta-xywh': {
      const c = f32(dec.clamp);
      const t = d.map((x, i) => f32(f32(x * f32(dec.stds[i]!)) + f32(dec.means[i]!)));
      // clamp on both sides; NaN stays NaN
      const cl = (x: number) => (x > c ? c : x < -c ? -c : x);
      return [t[0]!, t[1]!, cl(t[2]!), cl(t[3]!)];
    }
    case 'torchvision': {
      const c = f32(dec.clamp);
      const t = d.map((x, i) => f32(x / f32(dec.weights[i]!)));
      // clamp from above only; NaN stays NaN
      return [t[0]!, t[1]!, t[2]! > c ? c : t[2]!, t[3]! > c ? c : t[3]!];
    }
    case 'tflite': {
      const [sy, sx, sh, sw] = dec.scales.map(f32) as [number, number, number, number];
      // deltas are (ty, tx, th, tw)
      return [f32(d1 / sx), f32(d0 / sy), f32(d3 / sw), f32(d2 / sh)];
    }
    case 'none':
    case 'xywh':
    case 'yolov5':
    case 'yolov3':
      return d;
  }
}

/**
 * The YOLO grid decode of raw (tx, ty, tw, th) with anchor row (grid x, grid y, anchor w, anchor h) and the level's
 * stride [h, w], to centre-size (cx, cy, w, h). yolov5: cx = ((2σ(tx) - 0.5) + gx)·sx, w = (2σ(tw))²·aw (as
 * (2σ)·(2σ)·aw); yolov3: cx = (σ(tx) + gx)·sx, w = expf(tw)·aw. Float, in this order.
 */
export function yoloCentreSize(
  type: 'yolov5' | 'yolov3',
  d: [number, number, number, number],
  a: ArrayLike<number>,
  stride: readonly [number, number],
): [number, number, number, number] {
  const [sy, sx] = [f32(stride[0]), f32(stride[1])];
  if (type === 'yolov5') {
    const xy = (t: number, g: number, s: number) => f32(f32(f32(f32(2 * sigmoidF(t)) - 0.5) + g) * s);
    const wh = (t: number, an: number) => {
      const v = f32(2 * sigmoidF(t));
      return f32(f32(v * v) * an);
    };
    return [xy(d[0], a[0]!, sx), xy(d[1], a[1]!, sy), wh(d[2], a[2]!), wh(d[3], a[3]!)];
  }
  const xy = (t: number, g: number, s: number) => f32(f32(sigmoidF(t) + g) * s);
  return [xy(d[0], a[0]!, sx), xy(d[1], a[1]!, sy), f32(expF(d[2]) * a[2]!), f32(expF(d[3]) * a[3]!)];
}

/** Centre-size (cx, cy, w, h) to xyxy: (cx - 0.5w, cy - 0.5h, cx + 0.5w, cy + 0.5h), in float. */
function centreToCorners(c: [number, number, number, number]): [number, number, number, number] {
  const hw = f32(0.5 * c[2]);
  const hh = f32(0.5 * c[3]);
  return [f32(c[0] - hw), f32(c[1] - hh), f32(c[0] + hw), f32(c[1] + hh)];
}

/** Decode one box (xyxy) from deltas and a center-size anchor row, clip included. */
export function decodeBox(
  spec: PostprocessSpec,
  d: [number, number, number, number],
  a: ArrayLike<number>,
  stride?: readonly [number, number],
): [number, number, number, number] {
  let box: [number, number, number, number];
  const dec = spec.decoder;
  if (dec.type === 'none') {
    box = [f32(d[0]), f32(d[1]), f32(d[2]), f32(d[3])];
  } else if (dec.type === 'xywh') {
    box = centreToCorners([f32(d[0]), f32(d[1]), f32(d[2]), f32(d[3])]);
  } else if (dec.type === 'yolov5' || dec.type === 'yolov3') {
    if (!stride)
      throw new PrunedetError('E_POSTPROCESS', `decoder ${dec.type} needs level strides`, 'give levels[].pixelStride');
    box = centreToCorners(yoloCentreSize(dec.type, d, a, stride));
  } else {
    const [tx, ty, tw, th] = deltaTransform(spec.decoder, d);
    const cx = f32(a[0]! + f32(a[2]! * tx));
    const cy = f32(a[1]! + f32(a[3]! * ty));
    const hw = f32(0.5 * f32(a[2]! * expF(tw)));
    const hh = f32(0.5 * f32(a[3]! * expF(th)));
    box = [f32(cx - hw), f32(cy - hh), f32(cx + hw), f32(cy + hh)];
  }
  if (spec.clip) {
    const lim = [f32(spec.clip[0]), f32(spec.clip[1])];
    box = box.map((v, i) => {
      const hi = lim[i % 2]!;
      return v < 0 ? 0 : v > hi ? hi : v;
    }) as [number, number, number, number];
  }
  return box;
}

/** IoU in float: widths below 0 count as 0; 0 when the union is not > 0 or any coordinate is NaN. */
export function iouF(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < 4; i++) if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) return 0;
  const pos = (v: number) => (v > 0 ? v : 0);
  const iw = pos(f32((a[2]! < b[2]! ? a[2]! : b[2]!) - (a[0]! > b[0]! ? a[0]! : b[0]!)));
  const ih = pos(f32((a[3]! < b[3]! ? a[3]! : b[3]!) - (a[1]! > b[1]! ? a[1]! : b[1]!)));
  const inter = f32(iw * ih);
  const areaA = f32(pos(f32(a[2]! - a[0]!)) * pos(f32(a[3]! - a[1]!)));
  const areaB = f32(pos(f32(b[2]! - b[0]!)) * pos(f32(b[3]! - b[1]!)));
  const union = f32(f32(areaA + areaB) - inter);
  return union > 0 ? f32(inter / union) : 0;
}

/**
 * Foreground scores of one anchor into `out` (length K); NaN marks "no candidate" for the whole row.
 * `col(j)` reads score column j.
 */
export function scoreAnchor(
  spec: PostprocessSpec,
  numClasses: number,
  col: (j: number) => number,
  out: Float64Array,
): void {
  const k = out.length;
  if (spec.scores !== 'softmax') {
    for (let i = 0; i < k; i++) {
      const v = col(labelColumn(spec, i));
      out[i] = spec.scores === 'sigmoid' ? sigmoidF(v) : v;
    }
    return;
  }
  let m = -Infinity;
  for (let j = 0; j < numClasses; j++) {
    const x = col(j);
    if (Number.isNaN(x)) return void out.fill(NaN);
    if (x > m) m = x;
  }
  if (m === -Infinity) return void out.fill(NaN);
  if (m === Infinity) {
    let inf = 0;
    for (let j = 0; j < numClasses; j++) if (col(j) === Infinity) inf++;
    const share = f32(1 / inf);
    for (let i = 0; i < k; i++) out[i] = col(labelColumn(spec, i)) === Infinity ? share : 0;
    return;
  }
  // The denominator as four interleaved partial sums over the first 4*floor(C/4) columns, combined pairwise, then
  // the remaining columns in order: the order the emitted C sums in (its lanes vectorize). Stated once, here.
  const c4 = numClasses - (numClasses % 4);
  const lane = [0, 0, 0, 0];
  for (let j = 0; j < c4; j++) lane[j % 4] = f32(lane[j % 4]! + expF(f32(col(j) - m)));
  let sum = f32(f32(lane[0]! + lane[1]!) + f32(lane[2]! + lane[3]!));
  for (let j = c4; j < numClasses; j++) sum = f32(sum + expF(f32(col(j) - m)));
  for (let i = 0; i < k; i++) out[i] = f32(expF(f32(col(labelColumn(spec, i)) - m)) / sum);
}

function checkInput(spec: PostprocessSpec, input: PostprocessInput, ctx: PostprocessContext, n: number): void {
  const c = ctx.numClasses;
  const bad = (what: string) => {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `post-processing input: ${what}`,
      'check the head outputs against the anchor levels and the number of classes',
    );
  };
  if (input.form === 'concat') {
    if (input.scores.length !== n * c)
      bad(`scores has ${input.scores.length} values, expected ${n} anchors x ${c} columns`);
    if (input.boxes.length !== n * 4) bad(`boxes has ${input.boxes.length} values, expected ${n} anchors x 4`);
  } else if (input.form === 'yolo') {
    if (input.levels.length !== ctx.levels.length)
      bad(`${input.levels.length} levels given, expected ${ctx.levels.length}`);
    ctx.levels.forEach((l, i) => {
      const rows = l.h * l.w * l.anchorsPerLocation;
      if (input.levels[i]!.length !== rows * (c + 4))
        bad(`level ${i} rows have ${input.levels[i]!.length} values, expected ${rows} x ${c + 4}`);
      if (isYoloDecoder(spec.decoder) && !l.pixelStride)
        bad(`level ${i} has no stride for decoder ${spec.decoder.type}`);
    });
    if (!spec.objectness) bad('YOLO rows need objectness=on');
  } else {
    if (input.levels.length !== ctx.levels.length)
      bad(`${input.levels.length} levels given, expected ${ctx.levels.length}`);
    ctx.levels.forEach((l, i) => {
      const hwa = l.h * l.w * l.anchorsPerLocation;
      const got = input.levels[i]!;
      if (got.cls.length !== hwa * c) bad(`level ${i} cls has ${got.cls.length} values, expected ${hwa * c}`);
      if (got.reg.length !== hwa * 4) bad(`level ${i} reg has ${got.reg.length} values, expected ${hwa * 4}`);
    });
  }
  if (!isDecodedInput(spec.decoder) && ctx.anchors.length !== n * 4)
    bad(`anchor table has ${ctx.anchors.length / 4} rows, expected ${n}`);
  if (ctx.suppressed && ctx.suppressed.length !== n)
    bad(`suppressed mask has ${ctx.suppressed.length} entries, expected ${n}`);
}

function anchorView(
  input: PostprocessInput,
  ctx: PostprocessContext,
  offsets: number[],
  level: number,
  n: number,
): AnchorView {
  const c = ctx.numClasses;
  if (input.form === 'concat')
    return { s: input.scores, sBase: n * c, sStride: 1, b: input.boxes, bBase: n * 4, bStride: 1 };
  const l = ctx.levels[level]!;
  const hw = l.h * l.w;
  const p = n - offsets[level]!;
  const a = p % l.anchorsPerLocation;
  const yx = (p - a) / l.anchorsPerLocation;
  if (input.form === 'yolo') {
    const row = (a * hw + yx) * (c + 4);
    const rows = input.levels[level]!;
    return { s: rows, sBase: row + 4, sStride: 1, b: rows, bBase: row, bStride: 1 };
  }
  const maps = input.levels[level]!;
  return { s: maps.cls, sBase: a * c * hw + yx, sStride: hw, b: maps.reg, bBase: a * 4 * hw + yx, bStride: hw };
}

/**
 * YOLO scoring of one row (column 0 the objectness, label i in column i + 1): o = act(col 0); nothing unless o > thr;
 * score_i = o·act(class i) in float; candidates are the labels with score > thr, or with bestLabel only the best label
 * (highest score, lowest label on ties) when it passes and no score is NaN.
 */
export function objectnessCandidates(
  spec: PostprocessSpec,
  col: (j: number) => number,
  k: number,
  thr: number,
): { score: number; label: number }[] {
  return objectnessScores(spec, col, k, thr).filter((c) => c.score > thr);
}

/**
 * Every label's act(o)·act(class) score of one YOLO row that the objectness rule (and labels=best) lets through,
 * whether or not it passes the threshold (the rest are no candidates whatever the threshold).
 */
export function objectnessScores(
  spec: PostprocessSpec,
  col: (j: number) => number,
  k: number,
  thr: number,
): { score: number; label: number }[] {
  const act = spec.scores === 'sigmoid' ? sigmoidF : (x: number) => x;
  const o = act(col(0));
  if (!(o > thr)) return [];
  const all: { score: number; label: number }[] = [];
  for (let i = 0; i < k; i++) all.push({ score: f32(o * act(col(i + 1))), label: i });
  if (!spec.bestLabel) return all;
  let best: { score: number; label: number } | undefined;
  for (const c of all) {
    if (Number.isNaN(c.score)) return [];
    if (!best || c.score > best.score) best = c;
  }
  return best ? [best] : [];
}

function topK(list: Candidate[], k: number): Candidate[] {
  list.sort(compareRank);
  return k > 0 && list.length > k ? list.slice(0, k) : list;
}

/** Run post-processing on one image's head outputs. See the rules at the top of this file. */
export function postprocess(spec: PostprocessSpec, input: PostprocessInput, ctx: PostprocessContext): Detection[] {
  validatePostprocessSpec(spec, ctx.numClasses);
  const offsets = levelOffsets(ctx.levels);
  const n = offsets[offsets.length - 1]!;
  checkInput(spec, input, ctx, n);
  const thr = f32(spec.scoreThreshold);
  const k = foregroundCount(spec, ctx.numClasses);
  const scores = new Float64Array(k);

  // 1. candidates per level, in anchor order
  const perLevel: Candidate[][] = [];
  ctx.levels.forEach((_, l) => {
    const found: Candidate[] = [];
    for (let a = offsets[l]!; a < offsets[l + 1]!; a++) {
      if (ctx.suppressed?.[a]) continue;
      const v = anchorView(input, ctx, offsets, l, a);
      const col = (j: number) => v.s[v.sBase + j * v.sStride]!;
      if (spec.objectness) {
        for (const c of objectnessCandidates(spec, col, k, thr)) found.push({ ...c, anchor: a });
        continue;
      }
      scoreAnchor(spec, ctx.numClasses, col, scores);
      for (let i = 0; i < k; i++) if (scores[i]! > thr) found.push({ score: scores[i]!, anchor: a, label: i });
    }
    perLevel.push(found);
  });

  // 2. top-k, then the workspace cap
  let cands = spec.topKScope === 'per-level' ? perLevel.flatMap((c) => topK(c, spec.preNmsTopK)) : perLevel.flat();
  cands = topK(cands, spec.topKScope === 'global' ? spec.preNmsTopK : 0);
  if (ctx.candidateCap !== undefined) cands = cands.slice(0, ctx.candidateCap);

  // 3. decode the survivors
  const centers = isDecodedInput(spec.decoder) ? ctx.anchors : anchorsCenterSize(ctx.anchors, spec.anchorFormat);
  const boxes = cands.map((c) => {
    const level = offsets.findIndex((o, i) => c.anchor >= o && c.anchor < offsets[i + 1]!);
    const v = anchorView(input, ctx, offsets, level, c.anchor);
    const d = [0, 1, 2, 3].map((j) => v.b[v.bBase + j * v.bStride]!) as [number, number, number, number];
    return decodeBox(spec, d, centers.subarray(c.anchor * 4, c.anchor * 4 + 4), ctx.levels[level]!.pixelStride);
  });

  // 4. greedy NMS in rank order, stopping at maxDetections
  const iouThr = f32(spec.iouThreshold);
  const removed = new Uint8Array(cands.length);
  const out: Detection[] = [];
  for (let i = 0; i < cands.length && out.length < spec.maxDetections; i++) {
    if (removed[i]) continue;
    const ci = cands[i]!;
    out.push({ box: boxes[i]!, score: ci.score, label: ci.label, anchor: ci.anchor });
    for (let j = i + 1; j < cands.length; j++) {
      if (removed[j] || (spec.nms === 'per-class' && cands[j]!.label !== ci.label)) continue;
      if (iouF(boxes[i]!, boxes[j]!) > iouThr) removed[j] = 1;
    }
  }
  return out;
}
