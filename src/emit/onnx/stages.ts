// The elementwise stages of the onnx-nms graph (nms-graph.ts): score activation and box decoding. With ops.exact they
// are written as the reference (src/postprocess/reference.ts) computes them, float operation for float operation, so
// that the graph's scores and boxes are bit-identical to the reference's; otherwise they use the runtime's Softmax,
// Sigmoid and Exp (its own rounding). Not the candidate selection or NMS (nms-graph.ts).
import { A, DataType } from '../../ir/builder';
import type { Value } from '../../ir/graph';
import { f32 } from '../../postprocess/float32';
import { PrunedetError } from '../../errors';
import { labelColumn, type Decoder, type PostprocessSpec } from '../../postprocess/spec';
import type { Ops } from './ops';
import { yoloCentreSize } from './yolo';

/** Foreground scores [N, K] from the score rows x [N, C]. */
export function activate(ops: Ops, spec: PostprocessSpec, x: Value, c: number, k: number): Value {
  const first = labelColumn(spec, 0);
  const fg = (v: Value) => (k === c ? v : ops.slice(v, 1, first, first + k, 'foreground'));
  switch (spec.scores) {
    case 'probabilities':
      return fg(x);
    case 'sigmoid': {
      if (!ops.exact) return ops.op('Sigmoid', [fg(x)], [], 'sigmoid');
      const one = ops.f32(1, 'one');
      const e = ops.expF(ops.op('Neg', [fg(x)], [], 'sigmoid_neg'), 'sigmoid_exp');
      return ops.op('Div', [one, ops.op('Add', [one, e], [], 'sigmoid_den')], [], 'sigmoid');
    }
    case 'softmax':
      return fg(ops.exact ? softmax(ops, x, c) : ops.op('Softmax', [x], [A.int('axis', 1)], 'softmax'));
  }
}

/** Softmax over the C columns of x [N, C] in the reference's float arithmetic, +Inf and NaN rows included. */
function softmax(ops: Ops, x: Value, c: number): Value {
  const one = ops.f32(1, 'one');
  const m = ops.reduce('ReduceMax', x, [1], true, 'softmax_max');
  const e = ops.expF(ops.op('Sub', [x, m], [], 'softmax_shift'), 'softmax_exp');
  // the denominator in scoreAnchor's order: four interleaved partial sums over the first 4·floor(C/4) columns,
  // combined pairwise, then the remaining columns one by one (a sum starting at 0 adds its first term exactly)
  const cols =
    c === 1
      ? [e]
      : ops.ops(
          'Split',
          [e, ops.i64(new Array<number>(c).fill(1), 'softmax_split')],
          [A.int('axis', 1)],
          'softmax_col',
          c,
        );
  const add = (a: Value, b: Value) => ops.op('Add', [a, b], [], 'softmax_sum');
  const c4 = c - (c % 4);
  let sum: Value | undefined;
  if (c4 > 0) {
    const lanes = [0, 1, 2, 3].map((l) => {
      let acc = cols[l]!;
      for (let j = l + 4; j < c4; j += 4) acc = add(acc, cols[j]!);
      return acc;
    });
    sum = add(add(lanes[0]!, lanes[1]!), add(lanes[2]!, lanes[3]!));
  }
  for (let j = c4; j < c; j++) sum = sum ? add(sum, cols[j]!) : cols[j]!;
  const p = ops.op('Div', [e, sum!], [], 'softmax');
  // a row whose maximum is +Inf: 1/(number of +Inf columns) to those, 0 elsewhere (x - max is NaN there)
  const inf = ops.f32(Infinity, 'inf');
  const isInf = ops.cast(ops.op('Equal', [x, inf], [], 'softmax_is_inf'), DataType.FLOAT, 'softmax_inf_mask');
  const share = ops.op(
    'Div',
    [one, ops.reduce('ReduceSum', isInf, [1], true, 'softmax_inf_count')],
    [],
    'softmax_inf_share',
  );
  const special = ops.op('Mul', [isInf, share], [], 'softmax_inf');
  // ... unless the row also has a NaN: no candidate (the normal path gives NaN)
  const isNaN = ops.cast(
    ops.op('Not', [ops.op('Equal', [x, x], [], 'softmax_not_nan')]),
    DataType.FLOAT,
    'softmax_nan_mask',
  );
  const hasNaN = ops.op(
    'Greater',
    [ops.reduce('ReduceMax', isNaN, [1], true, 'softmax_any_nan'), ops.f32(0, 'zero')],
    [],
    'softmax_has_nan',
  );
  const infRow = ops.op(
    'And',
    [ops.op('Equal', [m, inf], [], 'softmax_max_inf'), ops.op('Not', [hasNaN])],
    [],
    'softmax_inf_row',
  );
  return ops.where(infRow, special, p, 'softmax_scores');
}

/** (tx, ty, tw, th) [R, 4] from deltas d [R, 4] in input order. */
function deltaTransform(ops: Ops, dec: Exclude<Decoder, { type: 'none' }>, d: Value): Value {
  if (dec.type === 'xywh' || dec.type === 'yolov5' || dec.type === 'yolov3')
    throw new PrunedetError('E_POSTPROCESS', `onnx-nms: decoder ${dec.type} is not built yet`, 'use --emit c');
  const clampAbove = (t: Value, c: number) => {
    const hi = ops.f32([Infinity, Infinity, f32(c), f32(c)], 'clamp_hi');
    return ops.where(ops.op('Greater', [t, hi], [], 'clamp_above'), hi, t, 'clamped_hi');
  };
  switch (dec.type) {
    case 'ssd': {
      const [v0, v1] = dec.variances;
      return ops.op('Mul', [d, ops.f32([v0, v0, v1, v1], 'variances')], [], 'deltas_scaled');
    }
    case 'mmdet-delta-xywh': {
      const t = ops.op(
        'Add',
        [ops.op('Mul', [d, ops.f32(dec.stds, 'stds')], [], 'deltas_std'), ops.f32(dec.means, 'means')],
        [],
        'deltas_mean',
      );
      const lo = ops.f32([-Infinity, -Infinity, -f32(dec.clamp), -f32(dec.clamp)], 'clamp_lo');
      // reference order: x > c ? c : x < -c ? -c : x
      return clampAbove(ops.where(ops.op('Less', [t, lo], [], 'clamp_below'), lo, t, 'clamped_lo'), dec.clamp);
    }
    case 'torchvision':
      return clampAbove(ops.op('Div', [d, ops.f32(dec.weights, 'weights')], [], 'deltas_weighted'), dec.clamp);
    case 'tflite': {
      // deltas are (ty, tx, th, tw); scales (y, x, h, w)
      const [sy, sx, sh, sw] = dec.scales;
      const xywh = ops.gather(d, ops.i64([1, 0, 3, 2], 'tflite_order'), 1, 'deltas_xywh');
      return ops.op('Div', [xywh, ops.f32([sx, sy, sw, sh], 'scales')], [], 'deltas_scaled');
    }
  }
}

/** xyxy [R, 4] from centres and sizes [R, 2]: (c - 0.5·s, c + 0.5·s), the reference's float steps. */
function corners(ops: Ops, ctr: Value, size: Value): Value {
  const half = ops.op('Mul', [size, ops.f32(0.5, 'half')], [], 'half_size');
  return ops.op(
    'Concat',
    [ops.op('Sub', [ctr, half], [], 'corner_lo'), ops.op('Add', [ctr, half], [], 'corner_hi')],
    [A.int('axis', 1)],
    'decoded',
  );
}

/** Boxes xyxy [R, 4] (clipped) from deltas d [R, 4] and center-size anchor rows a [R, 4]. */
export function decode(ops: Ops, spec: PostprocessSpec, d: Value, a: Value | undefined, s?: Value): Value {
  let box = d;
  const t = spec.decoder.type;
  if (t === 'xywh' || t === 'yolov5' || t === 'yolov3') {
    box = corners(ops, ...yoloCentreSize(ops, spec, d, a, s));
  } else if (spec.decoder.type !== 'none') {
    const t = deltaTransform(ops, spec.decoder, d);
    const axy = ops.slice(a!, 1, 0, 2, 'anchor_xy');
    const awh = ops.slice(a!, 1, 2, 4, 'anchor_wh');
    const ctr = ops.op('Add', [axy, ops.op('Mul', [awh, ops.slice(t, 1, 0, 2, 't_xy')], [], 'offset')], [], 'center');
    const size = ops.op('Mul', [awh, ops.expF(ops.slice(t, 1, 2, 4, 't_wh'), 'size_exp')], [], 'size');
    box = corners(ops, ctr, size);
  }
  if (spec.clip) {
    const [w, h] = spec.clip;
    const zero = ops.f32(0, 'clip_zero');
    const hi = ops.f32([w, h, w, h], 'clip_hi');
    // reference order: v < 0 ? 0 : v > hi ? hi : v
    const upper = ops.where(ops.op('Greater', [box, hi], [], 'clip_above'), hi, box, 'clipped_hi');
    box = ops.where(ops.op('Less', [box, zero], [], 'clip_below'), zero, upper, 'clipped');
  }
  return box;
}
