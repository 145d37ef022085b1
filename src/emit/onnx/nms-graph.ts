// Post-processing as an ONNX graph with NonMaxSuppression (`compile --emit onnx-nms` writes OUTDIR/postprocess.onnx), for
// runtimes that have the op: prunedet's semantics (src/postprocess/reference.ts) in ONNX ops. Not the C target
// (src/emit/c), and not a model rewrite: append.ts grafts the same stages onto a model.
//
// Graph (N anchors, C score columns, K foreground labels; a pair is (anchor, label), pair id = anchor·K + label):
//
//   scores [1,N,C] ─ activation, background dropped ─ S [N,K] ─ S > thr ? S : -1 ─ P [N·K]
//   P ─ pre-NMS top-k ─ candidates in rank order: vals, ids [M]         (TopK per level / global; NonZero + sort without)
//   candidate at rank r (0-based) ─ rank score q = M - r                   (distinct, exact in float for M <= 2^24)
//   per-class: q scattered to [N,K] (0 = no candidate); U = anchors with a candidate;
//              NonMaxSuppression(decoded boxes of U [1,U,4], q as [1,K,U])
//   agnostic:  NonMaxSuppression(decoded boxes of the M candidates [1,M,4], q as [1,1,M])   (one "class" of pairs)
//   selected ─ TopK by q, k = min(maxDetections, selected) ─ det_boxes [D,4], det_scores [D], det_labels [D] (int64),
//              det_anchors [D] (int64), D <= maxDetections, in rank order (score desc, anchor asc, label asc)
//
// Two variants (PostprocessGraphParams.exact): `compile --emit onnx-nms` uses the runtime's Softmax, Sigmoid and Exp
// (within ~1.2x of an mmdeploy-style graph on bench's loads: the only extra work is the exact rank order); the same
// decisions as the reference except for a value within an ulp or two of a threshold or a tie, and a row with a +Inf
// logit (the runtime's Softmax gives NaN: no candidate; the reference 1/count). `--emit onnx-nms-exact` repeats the
// reference's float arithmetic (its own exp from float ops) and is bit-identical to it, 3-10x slower on light loads.
//
// How each stage reproduces the reference (the exact variant; the other differs only in the arithmetic):
// - Arithmetic (stages.ts): the reference's float operations in its order. Softmax = max, x - max, expf, the sum in
//   scoreAnchor's order (four interleaved partial sums, then the remaining columns, as Adds: ReduceSum's order is the
//   runtime's), divide; a row whose maximum is +Inf gives 1/count to its +Inf columns; a row with a NaN gives no
//   candidate. Sigmoid = 1 / (1 + expf(-x)). expf is the reference's own float exp built from float ops (ops.ts), not
//   the runtime's Exp. Decoders and clip are the reference's formulas, clamps as Where (NaN passes through). Scores
//   and boxes come out bit-identical to the reference's.
// - Threshold: `S > thr` in the graph (strict, thr rounded to float), before anything else. The op's own
//   score_threshold (0.5 on rank scores) only drops the "no candidate" zeros, so whether a runtime compares with > or
//   >= never matters.
// - Top-k: TopK over the flattened pair scores; ONNX TopK puts the lower index first among equal values, and a lower
//   pair id is a lower (anchor, label): the reference's rank order, so the cut at k keeps the same pairs.
// - NMS order: ONNX does not specify the order in which NonMaxSuppression visits equal scores, and onnxruntime's CPU
//   kernel keeps its candidates in a priority queue compared by score only, so ties leave in whatever order the heap
//   gives. The op therefore never sees a real score: it gets the rank score q, distinct by construction, and visits
//   candidates in the reference's rank order; the real scores are gathered back from the candidate list.
// - Agnostic NMS runs over pairs, not over the max-over-classes score with the label recovered by ArgMax: the two
//   agree only when every box has a positive area and iou_thr < 1 (then a pair's own anchor at IoU 1 suppresses the
//   anchor's lower-ranked labels); with pairs the graph also matches the reference for iou_thr = 1 and for degenerate
//   boxes, which the reference keeps once per label. Cost: an anchor is decoded once per candidate label.
// - IoU: boxes go in as xyxy although the op documents [y1, x1, y2, x2]; IoU is symmetric in x and y. onnxruntime
//   computes inter = y-extent·x-extent, union = area_kept + area_candidate - inter and suppresses iff inter/union > thr:
//   the same float operations as the reference's iouF (products and sums commute), so IoU equal to the threshold is
//   kept by both.
// - max_output_boxes_per_class = maxDetections (it defaults to 0 = select nothing): per-class NMS results are
//   independent per class, so the first maxDetections in rank order are among the first maxDetections of each class.
//
// Where the graph can differ from postprocess() (test/emit-onnx tests 2, 3 and 6 as differences):
// 1. Float arithmetic: bit-identical results assume IEEE single-precision elementwise ops that neither flush
//    subnormals to zero nor contract Mul+Add into fused multiply-adds (onnxruntime CPU, default session options, any
//    optimisation level). A runtime that does either can move a score or coordinate by an ulp, which changes a
//    decision only when the value sits exactly on a threshold or a tie.
// 2. Boxes with x2 < x1 or y2 < y1 (possible only with decoder none, or anchors of negative size): the op orders any
//    two diagonal corners, so such a box overlaps others; the reference counts a negative extent as 0 (it overlaps
//    nothing and suppresses nothing).
// 3. Candidate count: rank scores are exact floats up to 2^24 candidates; a spec whose candidate bound (N·K, or the
//    top-k total) exceeds that is refused at build time (set top_k).
// 4. ctx.candidateCap (the C module's workspace cap) has no counterpart: the graph equals postprocess() without it.
// 5. Batch 1: the inputs are declared [1,N,C] and [1,N,4]; a larger batch is rejected (or fails at the first Squeeze).
// 6. Boxes with a NaN coordinate: the op never suppresses with or against them (NaN area, NaN IoU), which is the rule
//    reference.ts states (its iouF is 0 when any coordinate is NaN): equal, tested.
// 7. Runtime dependence: the equalities above hold for a runtime whose TopK honours ONNX's tie rule and whose NMS
//    computes IoU as described (onnxruntime CPU does, and the tests run it); a runtime with another IoU formula (+1
//    on pixel boxes, fused multiply-add) can flip suppressions at IoU exactly on the threshold.
import { A, DataType, GraphBuilder, Tensor, finishModel } from '../../ir/builder';
import type { Graph, Model, Value } from '../../ir/graph';
import { setDeclaredType } from '../../onnx/value-info';
import { modelToBytes } from '../../onnx/save';
import { PrunedetError } from '../../errors';
import { f32 } from '../../postprocess/float32';
import { formatPostprocess } from '../../postprocess/presets';
import { anchorsCenterSize, levelOffsets, type LevelShape } from '../../postprocess/reference';
import {
  foregroundCount,
  isDecodedInput,
  isYoloDecoder,
  validatePostprocessSpec,
  type PostprocessSpec,
} from '../../postprocess/spec';
import { objectnessScores, strideTable, yoloRowsInOrder } from './yolo';
import { MIN_OPSET, Ops } from './ops';
import { activate, decode } from './stages';

export interface PostprocessGraphParams {
  spec: PostprocessSpec;
  /** [N, 4] in spec.anchorFormat, anchor n = offset_l + (y·W + x)·A + a. Unused (may be empty) for decoder none. */
  anchors: Float32Array;
  levels: LevelShape[];
  /** Score columns C, background included. */
  numClasses: number;
  /** Graph input names (default `scores`, `boxes`). */
  scoresName?: string;
  boxesName?: string;
  /**
   * YOLO rows (spec.objectness): the graph's inputs, one per model output, each carrying these levels (one level:
   * [1, A, H, W, 4 + C]; several: a fused [1, rows, 4 + C]). Default: one input `rows<l>` per level with anchors.
   */
  yoloInputs?: { name: string; levels: number[] }[];
  /** ai.onnx opset of the graph, >= 13 (default 13). */
  opset?: number;
  /**
   * true: the reference's float arithmetic op for op (its own exp from float ops), bit-identical to postprocess();
   * false (default): the runtime's Softmax, Sigmoid and Exp, ~20x faster on light loads, the same decisions except for
   * a score or coordinate within an ulp or two of a threshold or a tie.
   */
  exact?: boolean;
}

/** The four detection outputs, by role. */
export interface DetectionValues {
  boxes: Value;
  scores: Value;
  labels: Value;
  anchors: Value;
}

export const OUTPUT_NAMES: Readonly<Record<keyof DetectionValues, string>> = {
  boxes: 'det_boxes',
  scores: 'det_scores',
  labels: 'det_labels',
  anchors: 'det_anchors',
};

/** Candidates beyond this count would share a float32 rank score. */
export const MAX_CANDIDATES = 2 ** 24;

function fail(what: string, hint: string): never {
  throw new PrunedetError('E_POSTPROCESS', `onnx-nms post-processing: ${what}`, hint);
}

/** Validate the parameters; returns N (anchors). Throws PrunedetError E_POSTPROCESS. */
export function checkGraphParams(p: PostprocessGraphParams, opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET)
    fail(`opset ${opset} is below ${MIN_OPSET}`, `build the graph with opset ${MIN_OPSET} or later`);
  validatePostprocessSpec(p.spec, p.numClasses);
  p.levels.forEach((l, i) => {
    if (![l.h, l.w, l.anchorsPerLocation].every((v) => Number.isInteger(v) && v >= 0)) {
      fail(`level ${i} is ${l.h}x${l.w}x${l.anchorsPerLocation}, not whole numbers >= 0`, 'check the level shapes');
    }
  });
  const n = levelOffsets(p.levels).at(-1)!;
  if (!isDecodedInput(p.spec.decoder) && p.anchors.length !== n * 4) {
    fail(
      `the anchor table has ${p.anchors.length / 4} rows but the levels have ${n} anchors`,
      'pass the anchor table of the (pruned) model',
    );
  }
  const bound = candidateBound(p.spec, p.levels, foregroundCount(p.spec, p.numClasses));
  if (bound > MAX_CANDIDATES) {
    fail(
      `up to ${bound} candidates, above the ${MAX_CANDIDATES} the graph can rank exactly in float32`,
      'set top_k= to bound the candidates before NMS',
    );
  }
  return n;
}

/** The most (anchor, label) candidates that can reach NMS. */
export function candidateBound(spec: PostprocessSpec, levels: LevelShape[], k: number): number {
  const pairs = levels.map((l) => l.h * l.w * l.anchorsPerLocation * k);
  const all = pairs.reduce((a, b) => a + b, 0);
  if (spec.preNmsTopK === 0) return all;
  return spec.topKScope === 'global'
    ? Math.min(spec.preNmsTopK, all)
    : pairs.reduce((s, n) => s + Math.min(spec.preNmsTopK, n), 0);
}

interface Candidates {
  /** Scores [M] in rank order. */
  vals: Value;
  /** Pair ids [M] (int64). */
  ids: Value;
  /** M as an int64 [1]. */
  count: Value;
}

/** The candidates of pair scores P [N·K] (-1 = none) after pre-NMS top-k, in rank order. */
function rankCandidates(ops: Ops, spec: PostprocessSpec, pairs: Value, levelPairs: number[], thr: Value): Candidates {
  const total = levelPairs.reduce((a, b) => a + b, 0);
  const k = spec.preNmsTopK;
  const sortByRank = (vals: Value, ids: Value): Candidates => {
    const [sorted, order] = ops.topK(vals, ops.length(vals, 'candidate_count'), 'rank');
    return { vals: sorted, ids: ops.gather(ids, order, 0, 'rank_ids'), count: ops.length(sorted, 'rank_count') };
  };
  const aboveThreshold = (vals: Value, ids: Value): [Value, Value] => {
    const keep = ops.op('Greater', [vals, thr], [], 'top_k_kept');
    return [
      ops.op('Compress', [vals, keep], [A.int('axis', 0)], 'top_k_vals'),
      ops.op('Compress', [ids, keep], [A.int('axis', 0)], 'top_k_ids'),
    ];
  };
  const capped = k > 0 && (spec.topKScope === 'global' ? k < total : levelPairs.some((n) => n > k));
  if (!capped) {
    const ids = ops.reshape(
      ops.op('NonZero', [ops.op('Greater', [pairs, thr], [], 'is_candidate')], [], 'candidates'),
      [-1],
      'candidate_ids',
    );
    return sortByRank(ops.gather(pairs, ids, 0, 'candidate_scores'), ids);
  }
  if (spec.topKScope === 'global') {
    const [vals, ids] = aboveThreshold(...ops.topK(pairs, ops.i64([k], 'top_k'), 'top_k'));
    return { vals, ids, count: ops.length(vals, 'rank_count') };
  }
  const vals: Value[] = [];
  const ids: Value[] = [];
  let offset = 0;
  levelPairs.forEach((n, l) => {
    if (n > 0) {
      const [v, i] = ops.topK(
        ops.slice(pairs, 0, offset, offset + n, `level${l}_pairs`),
        ops.i64([Math.min(k, n)], `level${l}_k`),
        `level${l}_top_k`,
      );
      vals.push(v);
      ids.push(offset === 0 ? i : ops.op('Add', [i, ops.i64(offset, `level${l}_offset`)], [], `level${l}_ids`));
    }
    offset += n;
  });
  const cat = (xs: Value[], name: string) =>
    xs.length === 1 ? xs[0]! : ops.op('Concat', xs, [A.int('axis', 0)], name);
  return sortByRank(...aboveThreshold(cat(vals, 'top_k_vals_all'), cat(ids, 'top_k_ids_all')));
}

/**
 * Add the post-processing stages to the graph behind `ops`, reading `scoresIn` [1, N, C] and `boxesIn` [1, N, 4];
 * returns the detection values (unnamed, not yet graph outputs). Parameters must have passed checkGraphParams.
 */
export function addPostprocessStages(
  ops: Ops,
  p: PostprocessGraphParams,
  scoresIn: Value,
  boxesIn: Value,
): DetectionValues {
  const { spec } = p;
  const offsets = levelOffsets(p.levels);
  const n = offsets.at(-1)!;
  const c = p.numClasses;
  const k = foregroundCount(spec, c);
  const thr = ops.f32(f32(spec.scoreThreshold), 'score_threshold');

  // 1. scores -> pair scores P [N·K], -1 where not above the threshold (NaN included)
  const scoreRows = ops.squeeze(scoresIn, [0], 'score_rows');
  const s = spec.objectness ? objectnessScores(ops, spec, scoreRows, k, thr) : activate(ops, spec, scoreRows, c, k);
  const above = ops.op('Greater', [s, thr], [], 'above_threshold');
  const pairs = ops.reshape(ops.where(above, s, ops.f32(-1, 'no_candidate'), 'masked_scores'), [-1], 'pair_scores');

  // 2. candidates in rank order, their rank scores, anchors and labels
  const cand = rankCandidates(
    ops,
    spec,
    pairs,
    p.levels.map((_, l) => (offsets[l + 1]! - offsets[l]!) * k),
    thr,
  );
  const countF = ops.cast(cand.count, DataType.FLOAT, 'count_f32');
  const ranks = ops.op(
    'Range',
    [ops.i64(0, 'range_start'), ops.reshape(cand.count, [], 'count_scalar'), ops.i64(1, 'range_step')],
    [],
    'ranks',
  );
  const q = ops.op('Sub', [countF, ops.cast(ranks, DataType.FLOAT, 'ranks_f32')], [], 'rank_scores');
  const kV = ops.i64(k, 'labels_per_anchor');
  const anchorOf = ops.op('Div', [cand.ids, kV], [], 'candidate_anchors');
  const labelOf = ops.op('Sub', [cand.ids, ops.op('Mul', [anchorOf, kV], [], 'anchor_base')], [], 'candidate_labels');

  // 3. decode only the boxes NMS needs
  const rows = ops.squeeze(boxesIn, [0], 'box_rows');
  const table = isDecodedInput(spec.decoder)
    ? undefined
    : ops.b.init(
        `${ops.prefix}anchors_center_size`,
        Tensor.fromFloat32([n, 4], anchorsCenterSize(p.anchors, spec.anchorFormat)),
      );
  const strides = isYoloDecoder(spec.decoder)
    ? ops.b.init(`${ops.prefix}anchor_strides`, Tensor.fromFloat32([n, 2], strideTable(p.levels)))
    : undefined;
  const decodeAt = (idx: Value) =>
    decode(
      ops,
      spec,
      ops.gather(rows, idx, 0, 'deltas'),
      table && ops.gather(table, idx, 0, 'anchor_rows'),
      strides && ops.gather(strides, idx, 0, 'anchor_strides'),
    );
  const nms = (boxes: Value, scores: Value) =>
    ops.op(
      'NonMaxSuppression',
      [
        ops.unsqueeze(boxes, [0], 'nms_boxes'),
        scores,
        ops.i64([spec.maxDetections], 'max_output_boxes_per_class'),
        ops.f32([f32(spec.iouThreshold)], 'iou_threshold'),
        ops.f32([0.5], 'rank_score_threshold'),
      ],
      [A.int('center_point_box', 0)],
      'nms',
    );

  // 4. NMS on rank scores: `row` = the selected box's row in `boxes`, `selQ` its rank score
  let boxes: Value;
  let row: Value;
  let selQ: Value;
  if (spec.nms === 'agnostic') {
    boxes = decodeAt(anchorOf);
    const sel = nms(boxes, ops.reshape(q, [1, 1, -1], 'nms_scores'));
    row = ops.gather(sel, ops.i64(2, 'col_box'), 1, 'selected_rows');
    selQ = ops.gather(q, row, 0, 'selected_ranks');
  } else {
    const none = ops.op(
      'ConstantOfShape',
      [ops.i64([n * k], 'pairs_shape')],
      [A.tensor('value', Tensor.fromFloat32([1], Float32Array.of(0)))],
      'no_rank',
    );
    const byPair = ops.op('ScatterElements', [none, cand.ids, q], [A.int('axis', 0)], 'rank_by_pair');
    const byAnchor = ops.reshape(byPair, [-1, k], 'rank_by_anchor');
    const best = ops.reduce('ReduceMax', byAnchor, [1], false, 'best_rank');
    const u = ops.reshape(
      ops.op(
        'NonZero',
        [ops.op('Greater', [best, ops.f32(0.5, 'half_rank')], [], 'has_candidate')],
        [],
        'nms_anchor_idx',
      ),
      [-1],
      'nms_anchors',
    );
    const scoresKU = ops.unsqueeze(
      ops.op('Transpose', [ops.gather(byAnchor, u, 0, 'rank_rows')], [A.ints('perm', [1, 0])], 'rank_cols'),
      [0],
      'nms_scores',
    );
    boxes = decodeAt(u);
    const sel = nms(boxes, scoresKU);
    row = ops.gather(sel, ops.i64(2, 'col_box'), 1, 'selected_rows');
    const label = ops.gather(sel, ops.i64(1, 'col_class'), 1, 'selected_labels');
    const base = ops.op('Mul', [ops.gather(u, row, 0, 'selected_anchors'), kV], [], 'selected_base');
    const pair = ops.op('Add', [base, label], [], 'selected_pairs');
    selQ = ops.gather(byPair, pair, 0, 'selected_ranks');
  }

  // 5. rank order, at most maxDetections
  const kOut = ops.op(
    'Min',
    [ops.length(selQ, 'selected_count'), ops.i64([spec.maxDetections], 'max_detections')],
    [],
    'output_count',
  );
  const [topQ, order] = ops.topK(selQ, kOut, 'output_order');
  const rank = ops.cast(ops.op('Sub', [countF, topQ], [], 'output_rank_f32'), DataType.INT64, 'output_rank');
  return {
    boxes: ops.gather(boxes, ops.gather(row, order, 0, 'output_rows'), 0, 'output_boxes'),
    scores: ops.gather(cand.vals, rank, 0, 'output_scores'),
    labels: ops.gather(labelOf, rank, 0, 'output_labels'),
    anchors: ops.gather(anchorOf, rank, 0, 'output_anchors'),
  };
}

/** The YOLO row tensors the stages read, by name, with their shapes (p.yoloInputs, or one `rows<l>` per level). */
export function yoloInputGroups(p: PostprocessGraphParams): { name: string; dims: number[] }[] {
  const k = p.numClasses + 4;
  const live = p.levels.filter((l) => l.h * l.w * l.anchorsPerLocation > 0);
  const groups = p.yoloInputs ?? live.map((_, i) => ({ name: `rows${p.levels.indexOf(live[i]!)}`, levels: [i] }));
  return groups.map((g) => {
    const ls = g.levels.map((i) => live[i]!);
    return {
      name: g.name,
      dims:
        ls.length === 1
          ? [1, ls[0]!.anchorsPerLocation, ls[0]!.h, ls[0]!.w, k]
          : [1, ls.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0), k],
    };
  });
}

/** scores [1, N, C] and boxes [1, N, 4] in prunedet's anchor order from the YOLO row tensors (yoloInputGroups' order). */
export function yoloStageInputs(ops: Ops, p: PostprocessGraphParams, rows: Value[]): [Value, Value] {
  const k = p.numClasses + 4;
  const live = p.levels.filter((l) => l.h * l.w * l.anchorsPerLocation > 0);
  const ordered = yoloRowsInOrder(ops, rows, live, k);
  return [
    ops.unsqueeze(ops.slice(ordered, 1, 4, k, 'score_cols'), [0], 'scores_in'),
    ops.unsqueeze(ops.slice(ordered, 1, 0, 4, 'box_cols'), [0], 'boxes_in'),
  ];
}

/** Name the detection values det_*, make them graph outputs (after `keep`) and declare their types. */
export function setDetectionOutputs(graph: Graph, det: DetectionValues, keep: Value[] = []): void {
  for (const role of Object.keys(OUTPUT_NAMES) as (keyof DetectionValues)[])
    graph.renameValue(det[role], OUTPUT_NAMES[role]);
  graph.outputs = [...keep, det.boxes, det.scores, det.labels, det.anchors];
  declareDetectionOutputs(det);
}

function declareDetectionOutputs(det: DetectionValues): void {
  setDeclaredType(det.boxes, DataType.FLOAT, ['num_detections', 4]);
  setDeclaredType(det.scores, DataType.FLOAT, ['num_detections']);
  setDeclaredType(det.labels, DataType.INT64, ['num_detections']);
  setDeclaredType(det.anchors, DataType.INT64, ['num_detections']);
}

/** IR version that goes with an ai.onnx opset (ONNX's versioning table). */
export function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

/**
 * The standalone post-processing model: inputs `scores` [1, N, C] and `boxes` [1, N, 4] (the concatenated head
 * outputs, logits or probabilities per spec.scores; deltas, or xyxy boxes for decoder none); outputs det_boxes [D, 4],
 * det_scores [D], det_labels [D] (int64, foreground labels), det_anchors [D] (int64), D <= maxDetections, in rank order.
 * Throws PrunedetError E_POSTPROCESS for parameters it cannot express.
 */
export function buildPostprocessGraph(p: PostprocessGraphParams): Model {
  const opset = p.opset ?? MIN_OPSET;
  const n = checkGraphParams(p, opset);
  const b = new GraphBuilder();
  const ops = new Ops(b, opset, '', p.exact === true);
  let scores: Value;
  let boxes: Value;
  if (p.spec.objectness) {
    // YOLO rows: one input per model output, [1, A, H, W, 4 + C] per level or one fused [1, rows, 4 + C]
    const inputs = yoloInputGroups(p).map((g) => b.input(g.name, DataType.FLOAT, g.dims));
    [scores, boxes] = yoloStageInputs(ops, p, inputs);
  } else {
    scores = b.input(p.scoresName ?? 'scores', DataType.FLOAT, [1, n, p.numClasses]);
    boxes = b.input(p.boxesName ?? 'boxes', DataType.FLOAT, [1, n, 4]);
  }
  const det = addPostprocessStages(ops, p, scores, boxes);
  setDetectionOutputs(b.graph, det);
  const model = finishModel(b.graph, {
    opset,
    irVersion: irVersionFor(opset),
    docString: `prunedet post-processing: ${formatPostprocess(p.spec)}`,
  });
  declareDetectionOutputs(det); // finishModel's inference may have replaced the symbolic dims
  return model;
}

/**
 * `compile --emit onnx-nms`: the bytes of OUTDIR/postprocess.onnx. `p` can be postprocessForModel's result (its spec,
 * anchors, levels and numClasses) for a model with concatenated score and box outputs; the graph takes that form only
 * (not the per-level maps of --cut-head).
 */
export function emitOnnxNms(p: PostprocessGraphParams): Uint8Array {
  return modelToBytes(buildPostprocessGraph(p));
}
