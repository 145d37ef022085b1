// A small interpreter for the ops that sit between a detector's head convs and its outputs (Transpose, Reshape,
// Concat, Slice, activations, decode arithmetic). It runs in two modes over the same data-movement code:
//  - 'trace': tensors hold provenance (which head-conv element each element came from), to find the anchor axis;
//  - 'value': tensors hold float values, to evaluate in-graph decoding with zero deltas (which yields the anchors).
// It is not a general ONNX runtime: ops outside this set end the head region (see analyze.ts).
import { roundHalfEven } from '../quant/ops';
import type { Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { isStatic, numbersOf, sliceArgs, strides } from '../shape/types';

export type Mode = 'trace' | 'value';

export interface Arr {
  shape: number[];
  /** trace: provenance code per element (-1 = not from a head conv); value: float values. */
  data: Int32Array | Float32Array;
}

export class LayoutEvalError extends Error {
  constructor(
    readonly node: Node,
    message: string,
  ) {
    super(message);
  }
}

/** Ops the interpreter understands, i.e. the ops allowed between head convs and outputs. */
export const LAYOUT_OPS = new Set([
  'Identity',
  'Cast',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Transpose',
  'Concat',
  'Slice',
  'Split',
  'Gather',
  'Expand',
  'Tile',
  'Sigmoid',
  'Softmax',
  'LogSoftmax',
  'Exp',
  'Log',
  'Sqrt',
  'Neg',
  'Relu',
  'Clip',
  'Abs',
  'Tanh',
  'Reciprocal',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Dropout',
  // QDQ: per-tensor (de)quantization of activations is element-wise; trace mode passes provenance through
  'QuantizeLinear',
  'DequantizeLinear',
]);

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function alloc(mode: Mode, n: number): Int32Array | Float32Array {
  return mode === 'trace' ? new Int32Array(n).fill(-1) : new Float32Array(n);
}

/** Gather elements: out[i] = src[index(i)] for an index function over the output's multi-index. */
function remap(mode: Mode, src: Arr, outShape: number[], srcIndex: (idx: number[]) => number): Arr {
  const n = prod(outShape);
  const out = alloc(mode, n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < n; i++) {
    out[i] = src.data[srcIndex(idx)]!;
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return { shape: outShape, data: out };
}

/**
 * The affine case of remap, which covers transpose, broadcast, slice and split: element idx of the output is
 * src[base + sum(idx[d] * srcStrides[d])]. An odometer keeps the source offset incremental (the hot path for heads
 * with millions of elements).
 */
function affine(mode: Mode, src: Arr, outShape: number[], srcStrides: number[], base = 0): Arr {
  const n = prod(outShape);
  const out = alloc(mode, n);
  const r = outShape.length;
  if (n === 0) return { shape: outShape, data: out };
  if (r === 0) {
    out[0] = src.data[base]!;
    return { shape: outShape, data: out };
  }
  const inner = outShape[r - 1]!;
  const innerStride = srcStrides[r - 1]!;
  const idx = new Array<number>(r).fill(0);
  const data = src.data;
  let off = base;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0, k = off; i < inner; i++, k += innerStride) out[o + i] = data[k]!;
    for (let d = r - 2; d >= 0; d--) {
      off += srcStrides[d]!;
      if (++idx[d]! < outShape[d]!) break;
      off -= srcStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return { shape: outShape, data: out };
}

function transpose(mode: Mode, x: Arr, perm: number[]): Arr {
  const st = strides(x.shape);
  return affine(
    mode,
    x,
    perm.map((p) => x.shape[p]!),
    perm.map((p) => st[p]!),
  );
}

/** Broadcast `x` to `shape` (numpy rules). */
export function broadcastTo(mode: Mode, x: Arr, shape: number[]): Arr {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const off = shape.length - x.shape.length;
  const st = strides(x.shape);
  return affine(
    mode,
    x,
    shape,
    shape.map((_, d) => (d < off || x.shape[d - off] === 1 ? 0 : st[d - off]!)),
  );
}

export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    return x === 1 ? y : x;
  });
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

export const UNARY: Record<string, (v: number) => number> = {
  Sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  Exp: Math.exp,
  Log: Math.log,
  Sqrt: Math.sqrt,
  Neg: (v) => -v,
  Relu: (v) => Math.max(0, v),
  Abs: Math.abs,
  Tanh: Math.tanh,
  Reciprocal: (v) => 1 / v,
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Max: Math.max,
  Min: Math.min,
};

/** Values fixed before run time that are neither constants nor small enough for shape inference to carry. */
export interface StaticSource {
  has(v: Value): boolean;
  /** The value-mode array of a static value, evaluated on demand. */
  value(v: Value): Arr | undefined;
}

export interface EvalContext {
  mode: Mode;
  shapes: ShapeResult;
  /** Known input arrays (head conv outputs, evaluated values); anything else is looked up as a constant. */
  env: Map<Value, Arr>;
  /** Computed static values (an anchor grid built from Shape -> Range -> ...), when the caller knows them. */
  statics?: StaticSource;
}

/** The constant value of `v` as an array (initializer, Constant, a small value shape inference derived, or a static value). */
function constantArr(ctx: EvalContext, v: Value): Arr | undefined {
  const t = v.constant();
  if (t)
    return {
      shape: [...t.dims],
      data: ctx.mode === 'trace' ? new Int32Array(t.size).fill(-1) : Float32Array.from(t.numbers()),
    };
  const info = ctx.shapes.get(v);
  const values = numbersOf(info);
  if (values && info?.shape) {
    return {
      shape: info.shape as number[],
      data: ctx.mode === 'trace' ? new Int32Array(values.length).fill(-1) : Float32Array.from(values),
    };
  }
  if (ctx.statics?.has(v)) {
    if (ctx.mode === 'value') return ctx.statics.value(v);
    const s = info?.shape;
    if (isStatic(s)) return { shape: s, data: new Int32Array(prod(s)).fill(-1) };
  }
  return undefined;
}

/** Integer values of a constant input (axes, shapes, indices), from the graph's constants or shape inference. */
function intsOf(ctx: EvalContext, v: Value | undefined): number[] | undefined {
  if (!v) return undefined;
  const t = v.constant();
  if (t) return t.numbers();
  return numbersOf(ctx.shapes.get(v));
}

export function input(ctx: EvalContext, node: Node, i: number): Arr | undefined {
  const v = node.inputs[i];
  if (!v) return undefined;
  return ctx.env.get(v) ?? constantArr(ctx, v);
}

function need(ctx: EvalContext, node: Node, i: number): Arr {
  const a = input(ctx, node, i);
  if (!a)
    throw new LayoutEvalError(
      node,
      `input ${i} (${node.inputs[i]?.name ?? 'missing'}) is neither computed nor constant`,
    );
  return a;
}

function outShape(ctx: EvalContext, node: Node, i = 0): number[] {
  const s = ctx.shapes.shape(node.outputs[i]);
  if (!isStatic(s)) throw new LayoutEvalError(node, `output shape unknown`);
  return s;
}

/**
 * QuantizeLinear / DequantizeLinear of an activation on the head path: per tensor only (one scale and zero point
 * for every element); trace mode passes provenance through, value mode computes the op in float32.
 */
function quantOp(ctx: EvalContext, node: Node, a: Arr): Arr {
  const scale = input(ctx, node, 1);
  const zp = input(ctx, node, 2);
  if ((scale && scale.data.length !== 1) || (zp && zp.data.length !== 1))
    throw new LayoutEvalError(node, 'per-channel quantization of a head activation (prunedet follows per-tensor only)');
  if (ctx.mode === 'trace') return { shape: a.shape, data: a.data };
  if (!scale) throw new LayoutEvalError(node, 'scale is computed at run time');
  const s = scale.data[0]!;
  const z = zp ? zp.data[0]! : 0;
  const src = a.data as Float32Array;
  if (node.opType === 'DequantizeLinear') return { shape: a.shape, data: src.map((v) => Math.fround((v - z) * s)) };
  const t = zp ? ctx.shapes.get(node.inputs[2]!)?.dtype : 2;
  const [lo, hi] = t === 3 ? [-128, 127] : [0, 255];
  return {
    shape: a.shape,
    data: src.map((v) => Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(v / s)) + z))),
  };
}

/** Concat along the node's axis into its output shape. */
function concatArrs(ctx: EvalContext, node: Node, parts: Arr[]): Arr {
  const shape = outShape(ctx, node);
  const axis = (node.getInt('axis', 0)! + shape.length) % shape.length;
  const outer = prod(shape.slice(0, axis));
  const out = alloc(ctx.mode, prod(shape));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = prod(p.shape.slice(axis));
      out.set(p.data.subarray(o * chunk, (o + 1) * chunk), pos);
      pos += chunk;
    }
  }
  return { shape, data: out };
}

/**
 * com.microsoft QLinearConcat (y_scale, y_zero_point, then x, x_scale, x_zero_point per input): trace mode concatenates
 * the x's; value mode requantizes each to y's scale and zero point (dequantize in float32, round half to even, clamp).
 */
function qlinearConcat(ctx: EvalContext, node: Node): Arr {
  const xs: number[] = [];
  for (let i = 2; i < node.inputs.length; i += 3) xs.push(i);
  const parts = xs.map((i) => need(ctx, node, i));
  if (ctx.mode === 'trace') return concatArrs(ctx, node, parts);
  const scalar = (i: number) => {
    const a = need(ctx, node, i);
    if (a.data.length !== 1) throw new LayoutEvalError(node, `input ${i} is not a per-tensor scale or zero point`);
    return a.data[0]!;
  };
  const ys = scalar(0);
  const yz = node.inputs[1] ? scalar(1) : 0;
  const [lo, hi] = ctx.shapes.get(node.outputs[0]!)?.dtype === 3 ? [-128, 127] : [0, 255];
  const requantized = parts.map((p, k) => {
    const s = scalar(xs[k]! + 1);
    const z = node.inputs[xs[k]! + 2] ? scalar(xs[k]! + 2) : 0;
    const data = (p.data as Float32Array).map((v) => {
      const real = Math.fround((v - z) * s);
      return Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(real / ys)) + yz));
    });
    return { shape: p.shape, data };
  });
  return concatArrs(ctx, node, requantized);
}

/** Evaluate one node; returns its outputs. */
export function evalNode(ctx: EvalContext, node: Node): Arr[] {
  const mode = ctx.mode;
  const op = node.opType;
  const x = () => need(ctx, node, 0);
  switch (op) {
    case 'Cast': {
      const a = x();
      const to = node.getInt('to', 1);
      if (mode === 'trace' || FLOAT_TYPES.has(to)) return [{ shape: outShape(ctx, node), data: a.data }];
      return [
        {
          shape: outShape(ctx, node),
          data: (a.data as Float32Array).map((v) => (to === 9 ? (v ? 1 : 0) : Math.trunc(v))),
        },
      ];
    }
    case 'Identity':
    case 'Dropout':
    case 'Reshape':
    case 'Flatten':
    case 'Squeeze':
    case 'Unsqueeze': {
      const a = x();
      return [{ shape: outShape(ctx, node), data: a.data }];
    }
    case 'Transpose': {
      const a = x();
      return [
        transpose(
          mode,
          a,
          node.getInts(
            'perm',
            a.shape.map((_, i) => a.shape.length - 1 - i),
          ),
        ),
      ];
    }
    case 'Expand':
    case 'Tile': {
      const a = x();
      const shape = outShape(ctx, node);
      if (op === 'Expand') return [broadcastTo(mode, a, shape)];
      const st = strides(a.shape);
      return [remap(mode, a, shape, (idx) => idx.reduce((k, v, d) => k + (v % a.shape[d]!) * st[d]!, 0))];
    }
    case 'Concat':
      return [
        concatArrs(
          ctx,
          node,
          node.inputs.map((_, i) => need(ctx, node, i)),
        ),
      ];
    case 'QLinearConcat':
      return [qlinearConcat(ctx, node)];
    case 'Slice':
    case 'Gather':
      return [selectAlongAxes(ctx, node, x())];
    case 'Split': {
      const a = x();
      const axis = (node.getInt('axis', 0) + a.shape.length) % a.shape.length;
      const st = strides(a.shape);
      let start = 0;
      return node.outputs.map((_, i) => {
        const shape = outShape(ctx, node, i);
        const s0 = start;
        start += shape[axis]!;
        return affine(mode, a, shape, st, s0 * st[axis]!);
      });
    }
    case 'QuantizeLinear':
    case 'DequantizeLinear':
      return [quantOp(ctx, node, x())];
    case 'Softmax':
    case 'LogSoftmax': {
      const a = x();
      if (mode === 'trace') return [{ shape: a.shape, data: a.data }];
      return [softmax(a, node.getInt('axis', -1), op === 'LogSoftmax', node)];
    }
    case 'Clip': {
      const a = x();
      if (mode === 'trace') return [{ shape: a.shape, data: a.data }];
      const lo = intsOf(ctx, node.inputs[1])?.[0] ?? node.getFloat('min', -Infinity);
      const hi = intsOf(ctx, node.inputs[2])?.[0] ?? node.getFloat('max', Infinity);
      return [{ shape: a.shape, data: (a.data as Float32Array).map((v) => Math.min(Math.max(v, lo), hi)) }];
    }
    default: {
      const un = UNARY[op];
      if (un) {
        const a = x();
        return [{ shape: a.shape, data: mode === 'trace' ? a.data : (a.data as Float32Array).map(un) }];
      }
      const bin = BINARY[op];
      if (bin) {
        const intDiv =
          op === 'Div' && mode === 'value' && !FLOAT_TYPES.has(ctx.shapes.get(node.outputs[0])?.dtype ?? 1);
        return [binary(ctx, node, intDiv ? (a, b) => Math.trunc(a / b) : bin)];
      }
      if (mode === 'value') {
        const more = evalStatic(ctx, node);
        if (more) return more;
      }
      throw new LayoutEvalError(node, `op ${op} is not a layout op`);
    }
  }
}

function binary(ctx: EvalContext, node: Node, f: (a: number, b: number) => number): Arr {
  const a = need(ctx, node, 0);
  const b = need(ctx, node, 1);
  const shape = broadcastShape(a.shape, b.shape);
  const A = broadcastTo(ctx.mode, a, shape);
  const B = broadcastTo(ctx.mode, b, shape);
  const n = prod(shape);
  if (ctx.mode === 'trace') {
    // An element derived from two head elements keeps the first one's provenance (both belong to one anchor).
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = A.data[i]! >= 0 ? A.data[i]! : B.data[i]!;
    return { shape, data: out };
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(A.data[i]!, B.data[i]!);
  return { shape, data: out };
}

function softmax(a: Arr, axisAttr: number, log: boolean, node: Node): Arr {
  const r = a.shape.length;
  const axis = (axisAttr + r) % r;
  if (axis !== r - 1) throw new LayoutEvalError(node, 'softmax over a non-last axis');
  const k = a.shape[r - 1]!;
  const out = new Float32Array(a.data.length);
  for (let o = 0; o < a.data.length; o += k) {
    let m = -Infinity;
    for (let i = 0; i < k; i++) m = Math.max(m, a.data[o + i]!);
    let s = 0;
    for (let i = 0; i < k; i++) s += Math.exp(a.data[o + i]! - m);
    for (let i = 0; i < k; i++) out[o + i] = log ? a.data[o + i]! - m - Math.log(s) : Math.exp(a.data[o + i]! - m) / s;
  }
  return { shape: a.shape, data: out };
}

/** Slice (attribute or input form) and Gather with constant indices: a per-axis index list, then a remap. */
function selectAlongAxes(ctx: EvalContext, node: Node, a: Arr): Arr {
  const shape = outShape(ctx, node);
  const st = strides(a.shape);
  if (node.opType === 'Gather') {
    const axis = (node.getInt('axis', 0) + a.shape.length) % a.shape.length;
    const idx = intsOf(ctx, node.inputs[1]);
    if (!idx) throw new LayoutEvalError(node, 'Gather indices are not constant');
    const indices = idx.map((i) => (i < 0 ? i + a.shape[axis]! : i));
    const ishape = ctx.shapes.shape(node.inputs[1]) as number[];
    // out = a.shape[:axis] + indices.shape + a.shape[axis+1:]
    const ir = ishape.length;
    const ist = strides(ishape);
    return remap(ctx.mode, a, shape, (o) => {
      let flat = 0;
      for (let d = 0; d < ir; d++) flat += o[axis + d]! * ist[d]!;
      let k = 0;
      for (let d = 0; d < a.shape.length; d++) {
        const v = d < axis ? o[d]! : d === axis ? indices[flat]! : o[d + ir - 1]!;
        k += v * st[d]!;
      }
      return k;
    });
  }
  const { starts, ends, axes: axesIn, steps } = sliceArgs(node, (i) => intsOf(ctx, node.inputs[i]));
  if (!starts || !ends) throw new LayoutEvalError(node, 'Slice bounds are not constant');
  const axes = (axesIn ?? starts.map((_, i) => i)).map((ax) => (ax + a.shape.length) % a.shape.length);
  const srcStrides = [...st];
  let base = 0;
  axes.forEach((ax, i) => {
    const d = a.shape[ax]!;
    const step = steps?.[i] ?? 1;
    let s = starts[i]! < 0 ? starts[i]! + d : starts[i]!;
    s = step > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, -1), d - 1);
    base += s * st[ax]!;
    srcStrides[ax] = step * st[ax]!;
  });
  return affine(ctx.mode, a, shape, srcStrides, base);
}

const STATIC_UNARY: Record<string, (v: number) => number> = {
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: (v) => (Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v)),
  Sign: Math.sign,
  Not: (v) => +!v,
};
const STATIC_BINARY: Record<string, (a: number, b: number) => number> = {
  Equal: (a, b) => +(a === b),
  Less: (a, b) => +(a < b),
  Greater: (a, b) => +(a > b),
  LessOrEqual: (a, b) => +(a <= b),
  GreaterOrEqual: (a, b) => +(a >= b),
  And: (a, b) => +(!!a && !!b),
  Or: (a, b) => +(!!a || !!b),
  Xor: (a, b) => +(!!a !== !!b),
  Mod: (a, b) => ((a % b) + b) % b,
};

/**
 * Value mode only: the ops that compute static tensors (anchor grids built in the graph from feature-map sizes) but
 * never sit between head convs and outputs: Shape, Range, ConstantOfShape, comparisons, Where, rounding, reductions.
 */
function evalStatic(ctx: EvalContext, node: Node): Arr[] | undefined {
  const op = node.opType;
  const shape = () => outShape(ctx, node);
  const un = STATIC_UNARY[op];
  if (un) {
    const a = need(ctx, node, 0);
    return [{ shape: a.shape, data: (a.data as Float32Array).map(un) }];
  }
  const bin = STATIC_BINARY[op];
  if (bin) return [binary(ctx, node, op === 'Mod' && node.getInt('fmod', 0) === 1 ? (a, b) => a % b : bin)];
  switch (op) {
    case 'Shape':
    case 'Size':
    case 'Range':
    case 'ConstantOfShape': {
      const info = ctx.shapes.get(node.outputs[0]);
      const values = numbersOf(info);
      if (values && isStatic(info?.shape)) return [{ shape: info.shape, data: Float32Array.from(values) }];
      if (op === 'Range') {
        const scalar = (i: number) => need(ctx, node, i).data[0]!;
        const [s, l, d] = [scalar(0), scalar(1), scalar(2)];
        const n = Math.max(Math.ceil((l - s) / d), 0);
        return [{ shape: [n], data: Float32Array.from({ length: n }, (_, i) => s + i * d) }];
      }
      if (op === 'ConstantOfShape') {
        const fill = node.getTensor('value')?.numbers()[0] ?? 0;
        return [{ shape: shape(), data: new Float32Array(prod(shape())).fill(fill) }];
      }
      return undefined;
    }
    case 'Where': {
      const [c, a, b] = [0, 1, 2].map((i) => need(ctx, node, i));
      const s = broadcastShape(broadcastShape(c!.shape, a!.shape), b!.shape);
      const [C, X, Y] = [c!, a!, b!].map((t) => broadcastTo('value', t, s));
      return [{ shape: s, data: (C!.data as Float32Array).map((v, i) => (v ? X!.data[i]! : Y!.data[i]!)) }];
    }
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceSum':
    case 'ReduceProd':
    case 'ReduceMean': {
      const a = need(ctx, node, 0);
      const axesIn = node.getInts('axes') ?? intsOf(ctx, node.inputs[1]);
      const r = a.shape.length;
      const axes = new Set((axesIn && axesIn.length ? axesIn : a.shape.map((_, i) => i)).map((v) => (v + r) % r));
      const kept = a.shape.map((d, i) => (axes.has(i) ? 1 : d));
      const f =
        op === 'ReduceMax'
          ? Math.max
          : op === 'ReduceMin'
            ? Math.min
            : op === 'ReduceProd'
              ? (p: number, q: number) => p * q
              : (p: number, q: number) => p + q;
      const init = op === 'ReduceMax' ? -Infinity : op === 'ReduceMin' ? Infinity : op === 'ReduceProd' ? 1 : 0;
      const acc = new Float32Array(prod(kept)).fill(init);
      const kst = strides(kept);
      const ast = strides(a.shape);
      remap('value', a, a.shape, (idx) => {
        const flat = idx.reduce((k, v, d) => k + v * ast[d]!, 0);
        const o = idx.reduce((k, v, d) => k + (axes.has(d) ? 0 : v * kst[d]!), 0);
        acc[o] = f(acc[o]!, a.data[flat]!);
        return flat;
      });
      if (op === 'ReduceMean') acc.forEach((v, i) => (acc[i] = v / (a.data.length / acc.length)));
      return [{ shape: shape(), data: acc }];
    }
    default:
      return undefined;
  }
}
