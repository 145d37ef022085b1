// Value propagation for the small tensors exporters compute sizes with, beyond what the shape rules carry: a rule
// gives an output its shape; when every input's values are known and the output is small, this evaluates the node.
// What it covers is what in-graph preprocessing and size arithmetic use (torchvision's resize scale from min/max
// sides, padding to a multiple of 32 through Ceil, Reshape/Slice(step -1)/Transpose of pads, comparisons feeding
// Where): element-wise arithmetic with broadcasting, reductions, data movement, Cast, Range, ConstantOfShape.
import type { Node } from '../ir/graph';
import { DataType } from '../ir/dtype';
import { MAX_TRACKED_ELEMENTS, isStatic, numbersOf, sliceArgs, strides, type TensorInfo } from './types';

interface Arr {
  shape: number[];
  data: number[];
  dtype: number;
}

const FLOATS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const isFloat = (dtype: number) => FLOATS.has(dtype);

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** out[i] = src[index(multi-index of i)] over an output shape. */
function gatherBy(shape: number[], f: (idx: number[]) => number): number[] {
  const n = prod(shape);
  const out = new Array<number>(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    out[i] = f(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

function broadcastShape(shapes: number[][]): number[] | undefined {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[s.length - r + i] ?? 1;
      if (e === 1) continue;
      if (d !== 1 && d !== e) return undefined;
      d = e;
    }
    out.push(d);
  }
  return out;
}

/** Element of `a` at output multi-index `idx` under numpy broadcasting. */
function at(a: Arr, idx: number[], st: number[]): number {
  const off = idx.length - a.shape.length;
  let k = 0;
  for (let d = 0; d < a.shape.length; d++) if (a.shape[d] !== 1) k += idx[d + off]! * st[d]!;
  return a.data[k]!;
}

function elementwise(ins: Arr[], f: (...v: number[]) => number): number[] | undefined {
  const shape = broadcastShape(ins.map((a) => a.shape));
  if (!shape) return undefined;
  const st = ins.map((a) => strides(a.shape));
  return gatherBy(shape, (idx) => f(...ins.map((a, i) => at(a, idx, st[i]!))));
}

const UNARY: Record<string, (v: number) => number> = {
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: roundHalfEven,
  Sqrt: Math.sqrt,
  Neg: (v) => -v,
  Abs: Math.abs,
  Reciprocal: (v) => 1 / v,
  Exp: Math.exp,
  Log: Math.log,
  Relu: (v) => Math.max(0, v),
  Sign: Math.sign,
  Sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  Not: (v) => (v ? 0 : 1),
  Identity: (v) => v,
};

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Pow: (a, b) => a ** b,
  Equal: (a, b) => +(a === b),
  Less: (a, b) => +(a < b),
  Greater: (a, b) => +(a > b),
  LessOrEqual: (a, b) => +(a <= b),
  GreaterOrEqual: (a, b) => +(a >= b),
  And: (a, b) => +(!!a && !!b),
  Or: (a, b) => +(!!a || !!b),
  Xor: (a, b) => +(!!a !== !!b),
};

const REDUCE: Record<string, [(a: number, b: number) => number, number]> = {
  ReduceMax: [Math.max, -Infinity],
  ReduceMin: [Math.min, Infinity],
  ReduceSum: [(a, b) => a + b, 0],
  ReduceProd: [(a, b) => a * b, 1],
  ReduceMean: [(a, b) => a + b, 0],
};

/** Round to the output type: floats to float32 (or kept as double), integers truncated, bools 0/1. */
function toType(v: number, dtype: number): number {
  if (dtype === DataType.BOOL) return v ? 1 : 0;
  if (dtype === DataType.DOUBLE) return v;
  if (isFloat(dtype)) return Math.fround(v);
  return Number.isFinite(v) ? Math.trunc(v) : v;
}

function evaluate(node: Node, ins: (Arr | undefined)[], outShape: number[], outDtype: number): number[] | undefined {
  const op = node.opType;
  const x = ins[0];
  if (UNARY[op] && x) return x.data.map(UNARY[op]!);
  if (BINARY[op] && x && ins[1]) return elementwise([x, ins[1]], BINARY[op]!);
  switch (op) {
    case 'Div':
      if (!x || !ins[1]) return undefined;
      return elementwise([x, ins[1]], (a, b) => (isFloat(outDtype) ? a / b : Math.trunc(a / b)));
    case 'Mod': {
      if (!x || !ins[1]) return undefined;
      const fmod = node.getInt('fmod', 0) === 1;
      return elementwise([x, ins[1]], (a, b) => (fmod ? a % b : ((a % b) + b) % b));
    }
    case 'Max':
    case 'Min':
    case 'Sum':
    case 'Mean': {
      const all = ins.filter((a): a is Arr => a !== undefined);
      const f =
        op === 'Max'
          ? Math.max
          : op === 'Min'
            ? Math.min
            : (...v: number[]) => v.reduce((s, e) => s + e, 0) / (op === 'Mean' ? v.length : 1);
      return elementwise(all, f);
    }
    case 'Where':
      if (!x || !ins[1] || !ins[2]) return undefined;
      return elementwise([x, ins[1], ins[2]], (c, a, b) => (c ? a : b));
    case 'Clip': {
      if (!x) return undefined;
      const lo = ins[1]?.data[0] ?? node.getFloat('min', -Infinity);
      const hi = ins[2]?.data[0] ?? node.getFloat('max', Infinity);
      return x.data.map((v) => Math.min(Math.max(v, lo), hi));
    }
    case 'Cast':
    case 'Reshape':
    case 'Flatten':
    case 'Squeeze':
    case 'Unsqueeze':
    case 'Expand':
      if (!x) return undefined;
      if (op === 'Expand') {
        const st = strides(x.shape);
        return gatherBy(outShape, (idx) => at(x, idx, st));
      }
      return x.data.slice();
    case 'Transpose': {
      if (!x) return undefined;
      const perm = node.getInts(
        'perm',
        x.shape.map((_, i) => x.shape.length - 1 - i),
      );
      const st = strides(x.shape);
      return gatherBy(outShape, (idx) => x.data[idx.reduce((k, v, d) => k + v * st[perm[d]!]!, 0)]!);
    }
    case 'Tile': {
      if (!x) return undefined;
      const st = strides(x.shape);
      return gatherBy(outShape, (idx) => x.data[idx.reduce((k, v, d) => k + (v % x.shape[d]!) * st[d]!, 0)]!);
    }
    case 'Concat': {
      const parts = ins.filter((a): a is Arr => a !== undefined);
      const r = outShape.length;
      const axis = (node.getInt('axis', 0) + r) % r;
      const outer = prod(outShape.slice(0, axis));
      const out: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const chunk = prod(p.shape.slice(axis));
          for (let i = 0; i < chunk; i++) out.push(p.data[o * chunk + i]!);
        }
      }
      return out;
    }
    case 'Slice': {
      if (!x) return undefined;
      const { starts, ends, axes: axesIn, steps } = sliceArgs(node, (i) => ins[i]?.data);
      if (!starts || !ends) return undefined;
      const r = x.shape.length;
      const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => (a + r) % r);
      const begin = new Array<number>(r).fill(0);
      const step = new Array<number>(r).fill(1);
      axes.forEach((ax, i) => {
        const d = x.shape[ax]!;
        const s = steps?.[i] ?? 1;
        let b = starts[i]! < 0 ? starts[i]! + d : starts[i]!;
        b = s > 0 ? Math.min(Math.max(b, 0), d) : Math.min(Math.max(b, -1), d - 1);
        begin[ax] = b;
        step[ax] = s;
      });
      const st = strides(x.shape);
      return gatherBy(outShape, (idx) => x.data[idx.reduce((k, v, d) => k + (begin[d]! + v * step[d]!) * st[d]!, 0)]!);
    }
    case 'Gather': {
      if (!x || !ins[1]) return undefined;
      const r = x.shape.length;
      const axis = (node.getInt('axis', 0) + r) % r;
      const ir = ins[1].shape.length;
      const ist = strides(ins[1].shape);
      const st = strides(x.shape);
      return gatherBy(outShape, (o) => {
        let flat = 0;
        for (let d = 0; d < ir; d++) flat += o[axis + d]! * ist[d]!;
        let j = ins[1]!.data[flat]!;
        if (j < 0) j += x.shape[axis]!;
        let k = 0;
        for (let d = 0; d < r; d++) k += (d < axis ? o[d]! : d === axis ? j : o[d + ir - 1]!) * st[d]!;
        return x.data[k]!;
      });
    }
    default: {
      const red = REDUCE[op];
      if (!red || !x) return undefined;
      const r = x.shape.length;
      const axesIn = node.getInts('axes') ?? ins[1]?.data;
      if ((!axesIn || axesIn.length === 0) && node.getInt('noop_with_empty_axes', 0) === 1) return x.data.slice();
      const axes = new Set((axesIn && axesIn.length ? axesIn : x.shape.map((_, i) => i)).map((a) => (a + r) % r));
      const keptShape = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
      const n = prod(keptShape);
      const acc = new Array<number>(n).fill(red[1]);
      const kst = strides(keptShape);
      const idx = new Array<number>(r).fill(0);
      for (let e = 0; e < x.data.length; e++) {
        let k = 0;
        for (let d = 0; d < r; d++) if (!axes.has(d)) k += idx[d]! * kst[d]!;
        acc[k] = red[0](acc[k]!, x.data[e]!);
        for (let d = r - 1; d >= 0; d--) {
          if (++idx[d]! < x.shape[d]!) break;
          idx[d] = 0;
        }
      }
      if (op === 'ReduceMean') {
        const count = x.data.length / n;
        return acc.map((v) => v / count);
      }
      return acc;
    }
  }
}

/** Ops whose known input values this module can turn into output values. */
const FOLDABLE = new Set([
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  ...Object.keys(REDUCE),
  'Div',
  'Mod',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Where',
  'Clip',
  'Cast',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Expand',
  'Transpose',
  'Tile',
  'Concat',
  'Slice',
  'Gather',
]);

/**
 * Give `outs` the values of `node` when every input's values are known and each output is small. Rules that already
 * set a value keep it. Never throws: an evaluation it cannot do leaves the outputs as they are.
 */
export function foldValues(node: Node, ins: (TensorInfo | undefined)[], outs: TensorInfo[]): void {
  if (node.domain !== '' || !FOLDABLE.has(node.opType) || outs.length !== 1) return;
  const out = outs[0]!;
  if (out.value || !isStatic(out.shape) || prod(out.shape) > MAX_TRACKED_ELEMENTS) return;
  const arrs: (Arr | undefined)[] = [];
  for (let i = 0; i < node.inputs.length; i++) {
    const info = ins[i];
    if (!node.inputs[i]) {
      arrs.push(undefined);
      continue;
    }
    const data = numbersOf(info);
    if (!info || !data || !isStatic(info.shape) || data.length !== prod(info.shape)) return;
    arrs.push({ shape: info.shape, data, dtype: info.dtype });
  }
  try {
    const data = evaluate(node, arrs, out.shape, out.dtype);
    if (data && data.length === prod(out.shape) && data.every((v) => typeof v === 'number' && !Number.isNaN(v)))
      out.value = data.map((v) => toType(v, out.dtype));
  } catch {
    // a shape the evaluator did not expect: no value, as before
  }
}
