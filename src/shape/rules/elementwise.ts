// Shape rules for ops whose output has the input's shape or a broadcast of several inputs, with value propagation
// for the small integer arithmetic exporters put in shape computations.
import { DataType } from '../../ir/dtype';
import {
  broadcast,
  numbersOf,
  numel,
  shapeOf,
  ShapeRuleError,
  type Dim,
  type ShapeRule,
  type TensorInfo,
} from '../types';

/** Output = input 0 (type and shape). Values pass through for Identity-like ops. */
export const sameAsInput: ShapeRule = (ins) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  return [{ dtype: x.dtype, shape: x.shape && [...x.shape] }];
};

export const identity: ShapeRule = (ins, ctx) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  return ctx.node.outputs.map(() => ({ ...x, shape: x.shape && [...x.shape], value: x.value && [...x.value] }));
};

export const dropout: ShapeRule = (ins) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  return [{ ...x }, { dtype: DataType.BOOL, shape: x.shape && [...x.shape] }];
};

/** BatchNormalization: Y like X; training-mode extra outputs (mean, var) are per-channel. */
export const batchNorm: ShapeRule = (ins, ctx) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  const outs: TensorInfo[] = [{ dtype: x.dtype, shape: x.shape && [...x.shape] }];
  for (let i = 1; i < ctx.node.outputs.length; i++)
    outs.push({ dtype: x.dtype, shape: x.shape ? [x.shape[1]!] : undefined });
  return outs;
};

type Arith = (a: number, b: number) => number;
const ARITH: Record<string, Arith> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
};

/** Broadcasting binary/n-ary ops; `boolOut` for comparisons. */
export function broadcastOp(boolOut: boolean): ShapeRule {
  return (ins, ctx) => {
    const present = ins.filter((x): x is TensorInfo => x !== undefined);
    if (present.some((x) => !x.shape)) return [{ dtype: boolOut ? DataType.BOOL : present[0]!.dtype }];
    const shapes = present.map((x) => x.shape!);
    const shape = broadcast(shapes, () => ctx.fresh());
    // Where's data type is that of its second input.
    const dtype = boolOut ? DataType.BOOL : ctx.node.opType === 'Where' ? (ins[1]?.dtype ?? 1) : present[0]!.dtype;
    const out: TensorInfo = { dtype, shape };
    const f = ARITH[ctx.node.opType];
    const a = numbersOf(ins[0]);
    const b = numbersOf(ins[1]);
    const total = numel(shape);
    const n = typeof total === 'number' ? total : -1;
    if (f && a && b && n >= 0 && (a.length === n || a.length === 1) && (b.length === n || b.length === 1)) {
      const isInt = dtype !== DataType.FLOAT && dtype !== DataType.DOUBLE && dtype !== DataType.FLOAT16;
      out.value = Array.from({ length: n }, (_, i) => {
        const r = f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!);
        return isInt ? Math.trunc(r) : Math.fround(r);
      });
    }
    return [out];
  };
}

export const cast: ShapeRule = (ins, ctx) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  const to = ctx.node.getInt('to');
  if (to === undefined) throw new ShapeRuleError('attribute "to" missing');
  const isInt = to !== DataType.FLOAT && to !== DataType.DOUBLE && to !== DataType.FLOAT16;
  const value = x.value?.map((v) => (typeof v === 'number' && isInt ? Math.trunc(v) : v));
  return [{ dtype: to, shape: x.shape && [...x.shape], ...(value ? { value } : {}) }];
};

/** Reductions (ReduceMean/Sum/Max/Min/Prod/L2/...) and ArgMax/ArgMin. Axes from attribute or input 1. */
export const reduce: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const n = ctx.node;
  const isArg = n.opType === 'ArgMax' || n.opType === 'ArgMin';
  const keep = n.getInt('keepdims', 1) === 1;
  let axes: number[] | undefined = isArg ? [n.getInt('axis', 0)] : n.getInts('axes');
  if (!axes && ins[1]) {
    axes = numbersOf(ins[1]);
    if (!axes) return [{ dtype: ins[0]!.dtype }];
  }
  const all = !axes || axes.length === 0;
  if (all && n.getInt('noop_with_empty_axes', 0) === 1) return [{ dtype: ins[0]!.dtype, shape: [...x] }];
  const set = new Set((all ? x.map((_, i) => i) : axes!).map((a) => (a < 0 ? a + x.length : a)));
  const shape: Dim[] = [];
  x.forEach((d, i) => {
    if (!set.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: isArg ? DataType.INT64 : ins[0]!.dtype, shape }];
};
