// Single-precision arithmetic for the post-processing reference: every value the emitted C computes in `float` is
// computed here as a double rounded with Math.fround after each operation. For + - * / that is exactly IEEE float
// arithmetic (double carries more than twice float's precision); exp is libm's, so expf and fround(Math.exp) agree when
// the C library's expf is correctly rounded (glibc's is to within 0.502 ulp; prefilter bounds allow 2 ulps).

export const f32 = Math.fround;

/** expf: fround(exp(x)) of a float. */
export function expF(x: number): number {
  return f32(Math.exp(x));
}

/** 1 / (1 + expf(-x)) in float; NaN for NaN, 0 for -Inf, 1 for +Inf. */
export function sigmoidF(x: number): number {
  return f32(1 / f32(1 + expF(-x)));
}

const buf = new DataView(new ArrayBuffer(4));

export function floatBits(x: number): number {
  buf.setFloat32(0, x);
  return buf.getUint32(0);
}

export function bitsFloat(bits: number): number {
  buf.setUint32(0, bits >>> 0);
  return buf.getFloat32(0);
}

/**
 * Position of float x on a line where the ordering of floats is the ordering of integers (-Inf lowest, +Inf highest;
 * -0 and +0 adjacent). NaN has no position.
 */
export function floatKey(x: number): number {
  const b = floatBits(x);
  return b >= 0x80000000 ? 0x7fffffff - (b - 0x80000000) : b + 0x80000000;
}

export function keyFloat(k: number): number {
  return k >= 0x80000000 ? bitsFloat(k - 0x80000000) : bitsFloat(0x80000000 + (0x7fffffff - k));
}

/** The next float above x (x must be a float; +Inf stays). */
export function nextUpF(x: number): number {
  return x === Infinity ? x : keyFloat(floatKey(x) + 1);
}

/** The next float below x (x must be a float; -Inf stays). */
export function nextDownF(x: number): number {
  return x === -Infinity ? x : keyFloat(floatKey(x) - 1);
}

/**
 * The largest float x with pred(x) true, for a predicate that is true up to some point and false after it (on floats
 * ordered from -Inf to +Inf); -Infinity is returned when pred(-Inf) is false too (callers only use predicates where
 * that cannot matter).
 */
export function lastFloatWhere(pred: (x: number) => boolean): number {
  let lo = floatKey(-Infinity);
  let hi = floatKey(Infinity);
  if (pred(Infinity)) return Infinity;
  if (!pred(-Infinity)) return -Infinity;
  // invariant: pred(keyFloat(lo)) && !pred(keyFloat(hi))
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (pred(keyFloat(mid))) lo = mid;
    else hi = mid;
  }
  return keyFloat(lo);
}
