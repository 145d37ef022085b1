// The YOLO stages of the onnx-nms graph (nms-graph.ts): YOLO rows per level -> prunedet's anchor order, objectness x
// class scores (objectness first, labels=best or all), and the grid / centre-size decodes. With ops.exact each is the
// reference's float arithmetic (src/postprocess/reference.ts objectnessCandidates, yoloCentreSize) operation for
// operation, so the graph's scores and boxes are bit-identical to the reference's.
import { A, DataType, Tensor } from '../../ir/builder';
import type { Value } from '../../ir/graph';
import { f32 } from '../../postprocess/float32';
import { levelOffsets, type LevelShape } from '../../postprocess/reference';
import type { PostprocessSpec } from '../../postprocess/spec';
import type { Ops } from './ops';

function sigmoid(ops: Ops, x: Value, name: string): Value {
  if (!ops.exact) return ops.op('Sigmoid', [x], [], name);
  const one = ops.f32(1, `${name}_one`);
  const e = ops.expF(ops.op('Neg', [x], [], `${name}_neg`), `${name}_exp`);
  return ops.op('Div', [one, ops.op('Add', [one, e], [], `${name}_den`)], [], name);
}

/**
 * The rows of every level with anchors, [1, A, H, W, K] each (K = 4 + C), as one [N, K] in prunedet's (level, y, x, a)
 * order: each level reshaped to [A·H·W, K], concatenated, then gathered by a constant permutation.
 */
export function yoloRowsInOrder(ops: Ops, inputs: Value[], levels: LevelShape[], k: number): Value {
  const parts = inputs.map((v, i) => ops.reshape(v, [-1, k], `yolo_rows${i}`));
  const all = parts.length === 1 ? parts[0]! : ops.op('Concat', parts, [A.int('axis', 0)], 'yolo_rows');
  const offsets = levelOffsets(levels);
  const perm = new Array<number>(offsets.at(-1)!);
  levels.forEach((l, li) => {
    const hw = l.h * l.w;
    for (let p = 0; p < hw; p++)
      for (let a = 0; a < l.anchorsPerLocation; a++)
        perm[offsets[li]! + p * l.anchorsPerLocation + a] = offsets[li]! + a * hw + p;
  });
  const idx = ops.b.init(`${ops.prefix}yolo_row_order`, Tensor.fromInt64([perm.length], perm));
  return ops.gather(all, idx, 0, 'yolo_rows_ordered');
}

/**
 * Pair scores [N, K] from score rows x [N, 1 + K] (objectness first): act(o)·act(class), -1 where the pair is no
 * candidate by the objectness rule (o not > thr) or, with labels=best, is not its row's best label (first on ties) or
 * its row has a NaN product. The caller's `> thr` test does the rest.
 */
export function objectnessScores(ops: Ops, spec: PostprocessSpec, x: Value, k: number, thr: Value): Value {
  const act = (v: Value, name: string) => (spec.scores === 'sigmoid' ? sigmoid(ops, v, name) : v);
  const o = act(ops.slice(x, 1, 0, 1, 'objectness'), 'objectness_act');
  const s = ops.op('Mul', [o, act(ops.slice(x, 1, 1, 1 + k, 'class_scores'), 'class_act')], [], 'yolo_scores');
  let keep = ops.op('Greater', [o, thr], [], 'objectness_passes');
  if (spec.bestLabel) {
    const nanRow = ops.op(
      'Greater',
      [
        ops.reduce(
          'ReduceMax',
          ops.cast(ops.op('IsNaN', [s], [], 'score_nan'), DataType.FLOAT, 'nan_f32'),
          [1],
          true,
          'row_nan',
        ),
        ops.f32(0, 'zero'),
      ],
      [],
      'has_nan',
    );
    const best = ops.op('ArgMax', [s], [A.int('axis', 1), A.int('keepdims', 1)], 'best_label');
    const labels = ops.b.init(
      `${ops.prefix}label_ids`,
      Tensor.fromInt64(
        [1, k],
        Array.from({ length: k }, (_, i) => i),
      ),
    );
    const isBest = ops.op('Equal', [labels, best], [], 'is_best');
    keep = ops.op(
      'And',
      [keep, ops.op('And', [isBest, ops.op('Not', [nanRow], [], 'no_nan')], [], 'best_ok')],
      [],
      'keep',
    );
  }
  return ops.where(keep, s, ops.f32(-1, 'not_candidate'), 'objectness_scores');
}

/** Per-anchor strides [N, 2] (x, y) of the levels, for the grid decoders. */
export function strideTable(levels: LevelShape[]): Float32Array {
  const n = levelOffsets(levels).at(-1)!;
  const out = new Float32Array(n * 2);
  let o = 0;
  for (const l of levels) {
    const [sy, sx] = l.pixelStride ?? [NaN, NaN];
    for (let i = 0; i < l.h * l.w * l.anchorsPerLocation; i++) {
      out[o++] = f32(sx);
      out[o++] = f32(sy);
    }
  }
  return out;
}

/** Centre (cx, cy) [R, 2] and size (w, h) [R, 2] of YOLO box values d [R, 4], anchor rows a [R, 4], strides s [R, 2]. */
export function yoloCentreSize(
  ops: Ops,
  spec: PostprocessSpec,
  d: Value,
  a: Value | undefined,
  s: Value | undefined,
): [Value, Value] {
  const dxy = ops.slice(d, 1, 0, 2, 't_xy');
  const dwh = ops.slice(d, 1, 2, 4, 't_wh');
  if (spec.decoder.type === 'xywh') return [dxy, dwh];
  const g = ops.slice(a!, 1, 0, 2, 'grid_xy');
  const an = ops.slice(a!, 1, 2, 4, 'anchor_wh');
  const two = ops.f32(2, 'two');
  if (spec.decoder.type === 'yolov5') {
    const sxy = ops.op('Mul', [two, sigmoid(ops, dxy, 'sig_xy')], [], 'two_sig_xy');
    const off = ops.op('Sub', [sxy, ops.f32(0.5, 'half_cell')], [], 'offset_xy');
    const ctr = ops.op('Mul', [ops.op('Add', [off, g], [], 'cell_xy'), s!], [], 'center');
    const v = ops.op('Mul', [two, sigmoid(ops, dwh, 'sig_wh')], [], 'two_sig_wh');
    return [ctr, ops.op('Mul', [ops.op('Mul', [v, v], [], 'sq_wh'), an], [], 'size')];
  }
  const ctr = ops.op('Mul', [ops.op('Add', [sigmoid(ops, dxy, 'sig_xy'), g], [], 'cell_xy'), s!], [], 'center');
  return [ctr, ops.op('Mul', [ops.expF(dwh, 'exp_wh'), an], [], 'size')];
}
