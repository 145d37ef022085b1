// Shape rules for convolutions and pooling: Conv, ConvTranspose, MaxPool/AveragePool/LpPool, global pools.
import { ShapeRuleError, shapeOf, type Dim, type RuleContext, type ShapeRule, type TensorInfo } from '../types';

type Spatial = { kernel: number[]; strides: number[]; dilations: number[]; pads: number[]; autoPad: string };

function spatialAttrs(ctx: RuleContext, kernel: number[]): Spatial {
  const n = ctx.node;
  const k = kernel.length;
  const strides = n.getInts('strides', new Array(k).fill(1));
  const dilations = n.getInts('dilations', new Array(k).fill(1));
  const pads = n.getInts('pads', new Array(2 * k).fill(0));
  const autoPad = n.getString('auto_pad', 'NOTSET');
  if (strides.length !== k || dilations.length !== k || pads.length !== 2 * k) {
    throw new ShapeRuleError(`strides/dilations/pads do not match a ${k}-d kernel`);
  }
  return { kernel, strides, dilations, pads, autoPad };
}

/** Output size of one spatial axis of a sliding window (conv or pool). */
function windowOut(size: Dim, i: number, s: Spatial, ceilMode: boolean, ctx: RuleContext): Dim {
  if (typeof size !== 'number') return ctx.fresh();
  const eff = (s.kernel[i]! - 1) * s.dilations[i]! + 1;
  const stride = s.strides[i]!;
  if (s.autoPad === 'SAME_UPPER' || s.autoPad === 'SAME_LOWER') return Math.ceil(size / stride);
  if (s.autoPad === 'VALID') return Math.floor((size - eff) / stride) + 1;
  const k = s.kernel.length;
  const padded = size + s.pads[i]! + s.pads[i + k]!;
  if (!ceilMode) return Math.floor((padded - eff) / stride) + 1;
  let out = Math.ceil((padded - eff) / stride) + 1;
  // The last window must start inside the input or its begin padding (PyTorch and onnxruntime agree).
  if ((out - 1) * stride >= size + s.pads[i]!) out--;
  return out;
}

export const conv: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0, 'input X');
  const w = shapeOf(ins, 1, 'weight W');
  if (x.length < 3 || w.length !== x.length)
    throw new ShapeRuleError(`Conv input rank ${x.length} and weight rank ${w.length} do not match`);
  const kernel = ctx.node.getInts('kernel_shape') ?? w.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  if (kernel.some((d) => Number.isNaN(d))) throw new ShapeRuleError('kernel shape unknown');
  const s = spatialAttrs(ctx, kernel);
  const group = ctx.node.getInt('group', 1);
  if (typeof x[1] === 'number' && typeof w[1] === 'number' && x[1] !== w[1] * group) {
    throw new ShapeRuleError(`input has ${x[1]} channels, weight expects ${w[1]}×group ${group}`);
  }
  const out: Dim[] = [x[0]!, w[0]!, ...x.slice(2).map((d, i) => windowOut(d, i, s, false, ctx))];
  return [{ dtype: ins[0]!.dtype, shape: out }];
};

export const convTranspose: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0, 'input X');
  const w = shapeOf(ins, 1, 'weight W');
  const n = ctx.node;
  const k = x.length - 2;
  const kernel = n.getInts('kernel_shape') ?? (w.slice(2) as number[]);
  const strides = n.getInts('strides', new Array(k).fill(1));
  const dilations = n.getInts('dilations', new Array(k).fill(1));
  const outPad = n.getInts('output_padding', new Array(k).fill(0));
  const group = n.getInt('group', 1);
  const c = typeof w[1] === 'number' ? w[1] * group : ctx.fresh();
  const explicit = n.getInts('output_shape');
  const autoPad = n.getString('auto_pad', 'NOTSET');
  const pads = n.getInts('pads', new Array(2 * k).fill(0));
  const spatial = x.slice(2).map((d, i): Dim => {
    if (explicit) return explicit[explicit.length - k + i]!;
    if (typeof d !== 'number') return ctx.fresh();
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * strides[i]!;
    return strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + k]!;
  });
  return [{ dtype: ins[0]!.dtype, shape: [x[0]!, c, ...spatial] }];
};

export const pool: ShapeRule = (ins, ctx) => {
  const x = shapeOf(ins, 0, 'input X');
  const kernel = ctx.node.getInts('kernel_shape');
  if (!kernel) throw new ShapeRuleError('kernel_shape attribute missing');
  const s = spatialAttrs(ctx, kernel);
  const ceil = ctx.node.getInt('ceil_mode', 0) === 1;
  const shape: Dim[] = [x[0]!, x[1]!, ...x.slice(2).map((d, i) => windowOut(d, i, s, ceil, ctx))];
  const outs: TensorInfo[] = [{ dtype: ins[0]!.dtype, shape }];
  if (ctx.node.outputs.length > 1) outs.push({ dtype: 7, shape: [...shape] }); // MaxPool indices
  return outs;
};

export const globalPool: ShapeRule = (ins) => {
  const x = shapeOf(ins, 0, 'input X');
  return [{ dtype: ins[0]!.dtype, shape: [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] }];
};
