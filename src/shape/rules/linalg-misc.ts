// Shape rules for matrix products and ops with data-dependent output sizes (TopK, NonMaxSuppression, NonZero).
import { DataType } from '../../ir/dtype';
import { broadcast, normAxis, numbersOf, shapeOf, ShapeRuleError, type Dim, type ShapeRule } from '../types';

export const gemm: ShapeRule = (ins, ctx) => {
  const a = shapeOf(ins, 0, 'A');
  const b = shapeOf(ins, 1, 'B');
  if (a.length !== 2 || b.length !== 2) throw new ShapeRuleError(`Gemm needs 2-d inputs, got ranks ${a.length} and ${b.length}`);
  const m = ctx.node.getInt('transA', 0) ? a[1]! : a[0]!;
  const n = ctx.node.getInt('transB', 0) ? b[0]! : b[1]!;
  return [{ dtype: ins[0]!.dtype, shape: [m, n] }];
};

export const matmul: ShapeRule = (ins, ctx) => {
  let a = shapeOf(ins, 0, 'A');
  let b = shapeOf(ins, 1, 'B');
  const aVec = a.length === 1;
  const bVec = b.length === 1;
  if (aVec) a = [1, a[0]!];
  if (bVec) b = [b[0]!, 1];
  const batch = broadcast([a.slice(0, -2), b.slice(0, -2)], () => ctx.fresh());
  const out: Dim[] = [...batch];
  if (!aVec) out.push(a[a.length - 2]!);
  if (!bVec) out.push(b[b.length - 1]!);
  return [{ dtype: ins[0]!.dtype, shape: out }];
};

export const topk: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const axis = normAxis(ctx.node.getInt('axis', -1), x.length);
  const k = ctx.node.getInt('k') ?? numbersOf(ins[1])?.[0];
  const shape = x.map((d, i) => (i === axis ? (k ?? ctx.fresh()) : d));
  return [{ dtype: ins[0]!.dtype, shape }, { dtype: DataType.INT64, shape: [...shape] }];
};

export const nonMaxSuppression: ShapeRule = (_ins, ctx) => [{ dtype: DataType.INT64, shape: [ctx.fresh(), 3] }];

export const nonZero: ShapeRule = (ins, ctx) => [{ dtype: DataType.INT64, shape: [shapeOf(ins, 0).length, ctx.fresh()] }];
