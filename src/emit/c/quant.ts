// How the emitted C reads its inputs when head outputs arrive quantized (int8_t / uint8_t per tensor, plan.quant):
// element types, the dequantising expression (bit-exact with src/postprocess/quant.ts dequant) and the integer
// forms of the cheap tests' bounds. Float inputs go through the same helpers unchanged.
import { cFloat } from './floats';
import type { QuantParams } from '../../postprocess/quant';
import { f32 } from '../../postprocess/float32';

/** The C element type of an input: float, int8_t or uint8_t. */
export function elemType(q: QuantParams | undefined): string {
  return q === undefined ? 'float' : q.type === 'int8' ? 'int8_t' : 'uint8_t';
}

/** Bytes of one element. */
export function elemBytes(q: QuantParams | undefined): number {
  return q === undefined ? 4 : 1;
}

/** The float value of element expression `e`: itself, or (float)((int32_t)e - zp) * scale (exact: see quant.ts). */
export function valueOf(q: QuantParams | undefined, e: string): string {
  if (q === undefined) return e;
  const zp = q.zeroPoint;
  const shifted = zp === 0 ? `(int32_t)${e}` : `((int32_t)${e} ${zp > 0 ? '-' : '+'} ${Math.abs(zp)})`;
  return `((float)${shifted} * ${cFloat(f32(q.scale), 'quantization scale')})`;
}

/** The integer an element expression holds (for the integer-domain tests). */
export function intOf(e: string): string {
  return `(int32_t)${e}`;
}

/**
 * Softmax row bounds on quantized scores are integer differences q_k - q_r in [-255, 255] (or a sentinel of -2048
 * for an absent second logit); + DIFF_KEY makes them order-preserving unsigned keys, like float_key does for floats.
 */
export const DIFF_KEY = 4096;

/** Doc line for an input: what the caller passes. */
export function quantDoc(q: QuantParams | undefined): string {
  return q === undefined
    ? 'float32'
    : `${q.type} (${elemType(q)}), per tensor: value = (q - ${q.zeroPoint}) * ${f32(q.scale)} in float`;
}
