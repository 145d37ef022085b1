// Shape rules for the quantized ops prunedet follows: QuantizeLinear / DequantizeLinear keep the shape (the element
// type becomes the zero point's, uint8 by default / the scale's), QLinearConv is a Conv of (x, w) typed like y_zero_point.
import { DataType } from '../../ir/dtype';
import { ShapeRuleError, type ShapeRule } from '../types';
import { conv } from './conv-pool';
import { concat } from './tensor-ops';

export const quantizeLinear: ShapeRule = (ins, ctx) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  const dtype = ins[2]?.dtype ?? ctx.node.getInt('output_dtype', 0) ?? 0;
  return [{ dtype: dtype || DataType.UINT8, shape: x.shape && [...x.shape] }];
};

export const dequantizeLinear: ShapeRule = (ins) => {
  const x = ins[0];
  if (!x) throw new ShapeRuleError('input 0 missing');
  return [{ dtype: ins[1]?.dtype ?? DataType.FLOAT, shape: x.shape && [...x.shape] }];
};

/** com.microsoft QLinearConcat (y_scale, y_zp, then (x, x_scale, x_zp) per input): a Concat typed like y_zp. */
export const qlinearConcat: ShapeRule = (ins, ctx) => {
  const xs = ins.filter((_, i) => i >= 2 && (i - 2) % 3 === 0);
  const [out] = concat(xs, ctx);
  return [{ ...out!, dtype: ins[1]?.dtype ?? xs[0]?.dtype ?? DataType.UINT8 }];
};

export const qlinearConv: ShapeRule = (ins, ctx) => {
  const [out] = conv([ins[0], ins[3]], ctx);
  return [{ ...out!, dtype: ins[7]?.dtype ?? ins[0]?.dtype ?? DataType.UINT8 }];
};
