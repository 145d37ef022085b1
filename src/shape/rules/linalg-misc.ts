// Shape rules for matrix products and ops with data-dependent output sizes (TopK, NonMaxSuppression, NonZero).
import { DataType } from '../../ir/dtype';
import { broadcast, normAxis, numbersOf, shapeOf, ShapeRuleError, type Dim, type ShapeRule } from '../types';

export const gemm: ShapeRule = (ins, ctx) => {
  const a = shapeOf(ins, 0, 'A');
  const b = shapeOf(ins, 1, 'B');
  if (a.length !== 2 || b.length !== 2)
    throw new ShapeRuleError(`Gemm needs 2-d inputs, got ranks ${a.length} and ${b.length}`);
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
  return [
    { dtype: ins[0]!.dtype, shape },
    { dtype: DataType.INT64, shape: [...shape] },
  ];
};

export const nonMaxSuppression: ShapeRule = (_ins, ctx) => [{ dtype: DataType.INT64, shape: [ctx.fresh(), 3] }];

export const nonZero: ShapeRule = (ins, ctx) => [
  { dtype: DataType.INT64, shape: [shapeOf(ins, 0).length, ctx.fresh()] },
];

/** GatherND: indices [..., q] pick slices of data's first batch_dims + q axes. */
export const gatherNd: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const idx = shapeOf(ins, 1, 'indices');
  const b = ctx.node.getInt('batch_dims', 0);
  const q = idx[idx.length - 1];
  if (typeof q !== 'number') return [{ dtype: ins[0]!.dtype }];
  return [{ dtype: ins[0]!.dtype, shape: [...idx.slice(0, -1), ...x.slice(b + q)] }];
};

/** GatherElements: the output has the indices' shape. */
export const gatherElements: ShapeRule = (ins) => [{ dtype: ins[0]!.dtype, shape: [...shapeOf(ins, 1, 'indices')] }];

interface BranchOutput {
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number | bigint }[] } } };
}

/** If: each output as the then-branch declares it (sizes it leaves open become fresh symbols). */
export const ifRule: ShapeRule = (_ins, ctx) => {
  const branch = ctx.node.attr('then_branch')?.value;
  const outs =
    (branch?.type === 'opaque' ? (branch.value.g as { output?: BranchOutput[] } | undefined) : undefined)?.output ?? [];
  return ctx.node.outputs.map((_, i) => {
    const t = outs[i]?.type?.tensor_type;
    const dims = t?.shape?.dim;
    return {
      dtype: Number(t?.elem_type ?? 1),
      ...(dims ? { shape: dims.map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : ctx.fresh())) } : {}),
    };
  });
};
