// Quantized (int8 / uint8, per-tensor) head outputs: what a value means, and the integer bounds that let the emitted C
// decide in the integer domain. A quantized value q stands for the float dequant(q) = fl((q - zeroPoint) * scale):
// q - zp is an exact integer and the product of two floats rounded once, so the C expression
// (float)(q - zp) * scale gives the same float. The reference runs on the dequantised tensors; every bound here is
// proven by enumerating the 256 values a tensor can hold (and the 65,536 pairs for differences), not by analysis.
import { PrunedetError } from '../errors';
import { f32, sigmoidF } from './float32';

export type QuantType = 'int8' | 'uint8';

export interface QuantParams {
  type: QuantType;
  /** Per-tensor scale (> 0, rounded to float32). */
  scale: number;
  /** Per-tensor zero point, an integer in the type's range. */
  zeroPoint: number;
}

/** The quantization of each head input of the C module (absent: float32). */
export interface InputQuant {
  scores?: QuantParams;
  boxes?: QuantParams;
}

export function quantRange(t: QuantType): [number, number] {
  return t === 'int8' ? [-128, 127] : [0, 255];
}

/** Refuse parameters no tensor can have: a scale that is not a positive finite float32, a zero point out of range. */
export function validateQuant(p: QuantParams, what: string): void {
  if (p.type !== 'int8' && p.type !== 'uint8')
    throw new PrunedetError('E_USAGE', `${what}: type ${String(p.type)}`, 'use int8 or uint8');
  const s = f32(p.scale);
  if (!(s > 0) || !Number.isFinite(s))
    throw new PrunedetError('E_USAGE', `${what}: scale ${p.scale}`, 'give a positive finite scale (float32)');
  const [lo, hi] = quantRange(p.type);
  if (!Number.isInteger(p.zeroPoint) || p.zeroPoint < lo || p.zeroPoint > hi)
    throw new PrunedetError(
      'E_USAGE',
      `${what}: zero point ${p.zeroPoint}`,
      `give an integer in [${lo}, ${hi}] for ${p.type}`,
    );
}

/** fl((q - zp) * scale): the float a quantized value stands for. */
export function dequant(p: QuantParams, q: number): number {
  return f32((q - p.zeroPoint) * f32(p.scale));
}

/** A tensor of quantized values (held as integers in any array) dequantised to float32. */
export function dequantize(p: QuantParams, q: ArrayLike<number>): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = dequant(p, q[i]!);
  return out;
}

/** Round-to-nearest-even quantization of floats (clamped to the type's range), as QuantizeLinear does. */
export function quantize(p: QuantParams, x: ArrayLike<number>): Float32Array {
  const [lo, hi] = quantRange(p.type);
  const s = f32(p.scale);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! / s;
    let r = Math.round(v);
    if (Math.abs(v % 1) === 0.5 && r % 2 !== 0) r -= 1;
    out[i] = Math.min(hi, Math.max(lo, (Number.isFinite(v) ? r : v > 0 ? hi : lo) + p.zeroPoint));
  }
  return out;
}

/**
 * The integer cheap test for `score(dequant(q)) > t`: the largest q such that every q' <= q has score <= t (qmin - 1
 * when even qmin may pass). Rejecting q <= bound then never drops a value that passes; `exact` says whether every
 * q > bound passes too (the score is monotone over the 256 values), i.e. the integer test decides alone.
 */
export function scoreIntBound(
  p: QuantParams,
  t: number,
  score: (x: number) => number,
): { bound: number; exact: boolean } {
  const [lo, hi] = quantRange(p.type);
  let bound = lo - 1;
  while (bound < hi && !(score(dequant(p, bound + 1)) > t)) bound++;
  let exact = true;
  for (let q = bound + 1; q <= hi; q++) if (!(score(dequant(p, q)) > t)) exact = false;
  return { bound, exact };
}

/** The sigmoid as the reference computes it (1 / (1 + expf(-x)) in float). */
export const sigmoidScore = sigmoidF;
/** Probabilities are their own score. */
export const identityScore = (x: number): number => x;

/** For d in [-(hi - lo), hi - lo] (index d + hi - lo): the largest fl(dequant(a) - dequant(b)) over a - b = d. */
function maxDifferences(p: QuantParams): Float64Array {
  const [lo, hi] = quantRange(p.type);
  const span = hi - lo;
  const out = new Float64Array(2 * span + 1).fill(-Infinity);
  for (let a = lo; a <= hi; a++) {
    const da = dequant(p, a);
    for (let b = lo; b <= hi; b++) {
      const v = f32(da - dequant(p, b));
      const i = a - b + span;
      if (v > out[i]!) out[i] = v;
    }
  }
  return out;
}

const diffCache = new Map<string, Float64Array>();

/**
 * The integer form of the softmax row test `fl(x_k - x_r) <= margin` on dequantised values: the largest integer D
 * such that every integer difference q_k - q_r <= D gives fl(dequant(q_k) - dequant(q_r)) <= margin (all 65,536 pairs
 * enumerated). A row whose integer differences are all <= D is rejected by the float test too. -(hi - lo) - 1 when no
 * difference is proven (nothing rejected); hi - lo when every one is.
 */
export function diffIntBound(p: QuantParams, margin: number): number {
  const key = `${p.type}:${f32(p.scale)}:${p.zeroPoint}`;
  let diffs = diffCache.get(key);
  if (!diffs) {
    diffs = maxDifferences(p);
    diffCache.set(key, diffs);
  }
  const span = (diffs.length - 1) / 2;
  let d = -span - 1;
  while (d < span && diffs[d + 1 + span]! <= margin) d++;
  return d;
}
