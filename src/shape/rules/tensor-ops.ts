// Shape rules for data-movement ops (Reshape, Transpose, Concat, Slice, Split, Gather, Squeeze, ...), propagating
// the values of the small int64 tensors exporters compute shapes with.
import { DataType } from '../../ir/dtype';
import {
  MAX_TRACKED_ELEMENTS,
  broadcast,
  normAxis,
  numbersOf,
  numel,
  shapeOf,
  sliceArgs,
  ShapeRuleError,
  type Dim,
  type RuleContext,
  type ShapeRule,
  type TensorInfo,
} from '../types';

const BIG = 2 ** 31;

function withValue(info: TensorInfo, value: Dim[] | undefined): TensorInfo {
  return value && value.length <= MAX_TRACKED_ELEMENTS ? { ...info, value } : info;
}

/** Axes/values given either as an attribute (old opsets) or as input `i` (new opsets). */
function attrOrInput(
  ctx: RuleContext,
  ins: (TensorInfo | undefined)[],
  attr: string,
  i: number,
): number[] | undefined | 'unknown' {
  const a = ctx.node.getInts(attr);
  if (a) return a;
  if (!ins[i]) return undefined;
  return numbersOf(ins[i]) ?? 'unknown';
}

export const shape: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const r = x.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(ctx.node.getInt('start', 0));
  const end = clamp(ctx.node.getInt('end', r));
  const dims = x.slice(start, Math.max(start, end));
  return [{ dtype: DataType.INT64, shape: [dims.length], value: dims }];
};

export const size: ShapeRule = (ins) => {
  const n = numel(shapeOf(ins, 0));
  return [{ dtype: DataType.INT64, shape: [], value: typeof n === 'number' ? [n] : undefined }];
};

/** Symbolic product: numeric factor times a multiset of symbols. */
function symProduct(dims: Dim[]): { num: number; syms: string[] } {
  let num = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  return { num, syms: syms.sort() };
}

export const reshape: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const target = ins[1]?.value ?? ctx.node.getInts('shape');
  if (!target)
    return [
      {
        dtype: ins[0]!.dtype,
        shape:
          ins[1]?.shape && typeof ins[1].shape[0] === 'number'
            ? Array.from({ length: ins[1].shape[0] }, () => ctx.fresh())
            : undefined,
      },
    ];
  const allowZero = ctx.node.getInt('allowzero', 0) === 1;
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? (x[i] ?? 0) : t));
  const minus = out.findIndex((d) => d === -1);
  if (minus >= 0) {
    const whole = symProduct(x);
    const rest = symProduct(out.filter((_, i) => i !== minus));
    const left = [...whole.syms];
    let ok = true;
    for (const s of rest.syms) {
      const k = left.indexOf(s);
      if (k < 0) ok = false;
      else left.splice(k, 1);
    }
    if (ok && left.length === 0 && rest.num !== 0) {
      if (whole.num % rest.num !== 0)
        throw new ShapeRuleError(`cannot reshape [${x.join(',')}] to [${target.join(',')}]`);
      out[minus] = whole.num / rest.num;
    } else if (ok && left.length === 1 && rest.num === whole.num) {
      out[minus] = left[0]!;
    } else {
      out[minus] = ctx.fresh();
    }
  }
  const a = symProduct(x);
  const b = symProduct(out);
  if (a.syms.length === 0 && b.syms.length === 0 && a.num !== b.num) {
    throw new ShapeRuleError(`cannot reshape [${x.join(',')}] (${a.num} elements) to [${out.join(',')}] (${b.num})`);
  }
  return [withValue({ dtype: ins[0]!.dtype, shape: out }, ins[0]!.value)];
};

export const flatten: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const axis = ctx.node.getInt('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  const p = (d: Dim[]): Dim => {
    const n = numel(d);
    return typeof n === 'number' ? n : ctx.fresh();
  };
  return [withValue({ dtype: ins[0]!.dtype, shape: [p(x.slice(0, a)), p(x.slice(a))] }, ins[0]!.value)];
};

export const transpose: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const perm = ctx.node.getInts(
    'perm',
    x.map((_, i) => x.length - 1 - i),
  );
  if (perm.length !== x.length) throw new ShapeRuleError(`perm [${perm.join(',')}] does not match rank ${x.length}`);
  return [{ dtype: ins[0]!.dtype, shape: perm.map((p) => x[p]!) }];
};

export const concat: ShapeRule = (ins, ctx) => {
  const present = ins.filter((x): x is TensorInfo => x !== undefined);
  const shapes = present.map((x, i) => {
    if (!x.shape) throw new ShapeRuleError(`shape of input ${i} is unknown`);
    return x.shape;
  });
  const r = shapes[0]!.length;
  const axis = normAxis(ctx.node.getInt('axis', 0), r);
  const out = [...shapes[0]!];
  let total: Dim = 0;
  for (const s of shapes) {
    if (s.length !== r) throw new ShapeRuleError(`inputs of rank ${r} and ${s.length} cannot be concatenated`);
    const d = s[axis]!;
    total = typeof total === 'number' && typeof d === 'number' ? total + d : ctx.fresh();
    s.forEach((e, i) => {
      if (i !== axis && typeof out[i] !== 'number' && typeof e === 'number') out[i] = e;
    });
  }
  out[axis] = total;
  const value = present.every((x) => x.value) ? present.flatMap((x) => x.value!) : undefined;
  return [withValue({ dtype: present[0]!.dtype, shape: out }, r === 1 ? value : undefined)];
};

export const squeeze: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const axes = attrOrInput(ctx, ins, 'axes', 1);
  if (axes === 'unknown') return [{ dtype: ins[0]!.dtype }];
  const set = new Set((axes ?? x.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, x.length)));
  return [withValue({ dtype: ins[0]!.dtype, shape: x.filter((_, i) => !set.has(i)) }, ins[0]!.value)];
};

export const unsqueeze: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const axes = attrOrInput(ctx, ins, 'axes', 1);
  if (axes === undefined) throw new ShapeRuleError('axes missing');
  if (axes === 'unknown') return [{ dtype: ins[0]!.dtype }];
  const r = x.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, r)));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : x[k++]!);
  return [withValue({ dtype: ins[0]!.dtype, shape: out }, ins[0]!.value)];
};

function sliceLength(d: number, start: number, end: number, step: number): [number, number] {
  const clampTo = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clampTo(s, 0, d);
    e = clampTo(e, 0, d);
  } else {
    s = clampTo(s, -1, d - 1);
    e = clampTo(e, -1, d - 1);
  }
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

export const slice: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const { fromAttr, starts, ends, axes: axesIn, steps } = sliceArgs(ctx.node, (i) => numbersOf(ins[i]));
  if (!starts || !ends || (!fromAttr && ins[3] && !axesIn) || (!fromAttr && ins[4] && !steps)) {
    return [{ dtype: ins[0]!.dtype, shape: x.map(() => ctx.fresh()) }];
  }
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.length));
  const out = [...x];
  let value = ins[0]!.value;
  axes.forEach((a, i) => {
    const d = x[a]!;
    const step = steps?.[i] ?? 1;
    if (step === 0) throw new ShapeRuleError('slice step 0');
    if (typeof d !== 'number') {
      out[a] = starts[i] === 0 && ends[i]! >= BIG && step === 1 ? d : ctx.fresh();
      value = undefined;
      return;
    }
    const [s, len] = sliceLength(d, starts[i]!, ends[i]!, step);
    out[a] = len;
    if (value && x.length === 1) value = Array.from({ length: len }, (_, k) => value![s + k * step]!);
    else value = undefined;
  });
  return [withValue({ dtype: ins[0]!.dtype, shape: out }, value)];
};

export const split: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const axis = normAxis(ctx.node.getInt('axis', 0), x.length);
  const n = ctx.node.outputs.length;
  const d = x[axis]!;
  let sizes = attrOrInput(ctx, ins, 'split', 1);
  if (sizes === 'unknown') return ctx.node.outputs.map(() => ({ dtype: ins[0]!.dtype }));
  if (!sizes) {
    if (typeof d !== 'number')
      return ctx.node.outputs.map(() => ({
        dtype: ins[0]!.dtype,
        shape: x.map((e, i) => (i === axis ? ctx.fresh() : e)),
      }));
    const each = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
  }
  if (sizes.length !== n) throw new ShapeRuleError(`split has ${sizes.length} sizes for ${n} outputs`);
  if (typeof d === 'number' && sizes.reduce((a, b) => a + b, 0) !== d)
    throw new ShapeRuleError(`split sizes [${sizes.join(',')}] do not add up to ${d}`);
  return sizes.map((s) => ({ dtype: ins[0]!.dtype, shape: x.map((e, i) => (i === axis ? s : e)) }));
};

export const gather: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const idx = shapeOf(ins, 1, 'indices');
  const axis = normAxis(ctx.node.getInt('axis', 0), x.length);
  const out = [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)];
  const data = ins[0]!.value;
  const which = numbersOf(ins[1]);
  let value: Dim[] | undefined;
  if (data && which && x.length === 1) {
    const d = x[0] as number;
    value = which.map((i) => data[i < 0 ? i + d : i]!);
  }
  return [withValue({ dtype: ins[0]!.dtype, shape: out }, value)];
};

export const constantOfShape: ShapeRule = (ins, ctx) => {
  const dims = ins[0]?.value;
  const t = ctx.node.getTensor('value');
  const dtype = t?.dataType ?? DataType.FLOAT;
  if (!dims)
    return [
      {
        dtype,
        shape:
          ins[0]?.shape && typeof ins[0].shape[0] === 'number'
            ? Array.from({ length: ins[0].shape[0] }, () => ctx.fresh())
            : undefined,
      },
    ];
  const fill = t ? (t.numbers()[0] ?? 0) : 0;
  const n = numel(dims);
  return [
    withValue(
      { dtype, shape: dims },
      typeof n === 'number' && n <= MAX_TRACKED_ELEMENTS ? new Array(n).fill(fill) : undefined,
    ),
  ];
};

export const expand: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const target = ins[1]?.value;
  if (!target) return [{ dtype: ins[0]!.dtype }];
  return [{ dtype: ins[0]!.dtype, shape: broadcast([x, target], () => ctx.fresh()) }];
};

export const tile: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const reps = numbersOf(ins[1]);
  if (!reps) return [{ dtype: ins[0]!.dtype, shape: x.map(() => ctx.fresh()) }];
  return [
    {
      dtype: ins[0]!.dtype,
      shape: x.map((d, i) => (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : ctx.fresh())),
    },
  ];
};

export const pad: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const pads = attrOrInput(ctx, ins, 'pads', 1);
  if (!pads || pads === 'unknown') return [{ dtype: ins[0]!.dtype, shape: x.map(() => ctx.fresh()) }];
  const axesIn = ins[3] ? numbersOf(ins[3]) : undefined;
  const axes = (axesIn ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length));
  const k = axes.length;
  const out = [...x];
  axes.forEach((a, i) => {
    const d = x[a]!;
    out[a] = typeof d === 'number' ? d + pads[i]! + pads[i + k]! : pads[i] === 0 && pads[i + k] === 0 ? d : ctx.fresh();
  });
  return [{ dtype: ins[0]!.dtype, shape: out }];
};

export const resize: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0);
  const n = ctx.node;
  // Upsample-7: scales attribute; Upsample-9/Resize-10: input 1 = scales; Resize-11+: roi, scales, sizes.
  const isOld = n.opType === 'Upsample' || ctx.opset < 11;
  const sizes = isOld ? undefined : ins[3]?.value;
  const scales = n.getFloats('scales') ?? numbersOf(isOld ? ins[1] : ins[2]);
  if (sizes && sizes.length > 0) {
    const axes = n.getInts('axes');
    if (!axes) return [{ dtype: ins[0]!.dtype, shape: [...sizes] }];
    const out = [...x];
    axes.forEach((a, i) => (out[normAxis(a, x.length)] = sizes[i]!));
    return [{ dtype: ins[0]!.dtype, shape: out }];
  }
  if (!scales || scales.length === 0) return [{ dtype: ins[0]!.dtype, shape: x.map(() => ctx.fresh()) }];
  return [
    {
      dtype: ins[0]!.dtype,
      shape: x.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales[i]!) : scales[i] === 1 ? d : ctx.fresh())),
    },
  ];
};

export const range: ShapeRule = (ins, ctx) => {
  const [s, l, d] = [numbersOf(ins[0]), numbersOf(ins[1]), numbersOf(ins[2])];
  if (!s || !l || !d) return [{ dtype: ins[0]!.dtype, shape: [ctx.fresh()] }];
  const n = Math.max(Math.ceil((l[0]! - s[0]!) / d[0]!), 0);
  const value = n <= MAX_TRACKED_ELEMENTS ? Array.from({ length: n }, (_, i) => s[0]! + i * d[0]!) : undefined;
  return [withValue({ dtype: ins[0]!.dtype, shape: [n] }, value)];
};

export const depthToSpace: ShapeRule = (ins, ctx) => {
  const [nb, c, h, w] = shapeOf(ins, 0);
  const b = ctx.node.getInt('blocksize', 1);
  const mul = (d: Dim | undefined, f: number): Dim => (typeof d === 'number' ? d * f : ctx.fresh());
  if (ctx.node.opType === 'DepthToSpace')
    return [{ dtype: ins[0]!.dtype, shape: [nb!, mul(c, 1 / (b * b)), mul(h, b), mul(w, b)] }];
  return [{ dtype: ins[0]!.dtype, shape: [nb!, mul(c, b * b), mul(h, 1 / b), mul(w, 1 / b)] }];
};
