// Single-precision arithmetic for the post-processing reference: every value the emitted C computes in `float` is
// computed here as a double rounded with Math.fround after each operation. For + - * / that is exactly IEEE float
// arithmetic (double carries more than twice float's precision). exp is prunedet's own float exp (below), emitted
// into the C module operation for operation, so the C and the reference agree bit for bit whatever the target's libm.

export const f32 = Math.fround;

/**
 * The float exp of the reference and of the emitted C (pd_expf), within 1.2 ulp of the true exp (test/postprocess).
 * Range reduction x = n*ln2 + r with n rounded by the 1.5*2^23 trick and ln2 split in two (n*LN2_HI is exact),
 * e^r by Horner on the degree-7 Taylor polynomial (|r| <= 0.35: truncation < 0.05 ulp), then 2^n as two exact
 * power-of-two factors. Below -87.33654 (e^x under the smallest normal float) it returns 0, above 88.72284 +Inf,
 * NaN for NaN. Everything is a float operation or a select: the C version vectorizes.
 */
export const EXP_CONST = {
  lo: f32(-87.33654),
  hi: f32(88.72283935546875),
  log2e: f32(1.4426950408889634),
  ln2Hi: f32(0.693145751953125),
  ln2Lo: f32(1.4286068203094173e-6),
  round: 12582912,
  /** 1/k! for k = 7 down to 0 (Horner order). */
  poly: [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1].map(f32),
};

const [P7, P6, P5, P4, P3, P2, P1, P0] = EXP_CONST.poly as [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];
/** 2^k for k in [-64, 64], exact doubles (index k + 64). */
const POW2 = Array.from({ length: 129 }, (_, i) => 2 ** (i - 64));

export function expF(x: number): number {
  const E = EXP_CONST;
  // The selects of the C version, as early returns (same results: each out-of-range case is decided by x alone).
  if (!(x >= E.lo)) return x !== x ? x : 0;
  if (x > E.hi) return Infinity;
  const n = f32(f32(f32(x * E.log2e) + E.round) - E.round);
  const r = f32(f32(x - f32(n * E.ln2Hi)) - f32(n * E.ln2Lo));
  let p = f32(f32(P7 * r) + P6);
  p = f32(f32(p * r) + P5);
  p = f32(f32(p * r) + P4);
  p = f32(f32(p * r) + P3);
  p = f32(f32(p * r) + P2);
  p = f32(f32(p * r) + P1);
  p = f32(f32(p * r) + P0);
  const n1 = (n / 2) | 0; // truncation toward zero, as C's integer division
  return f32(f32(p * POW2[n1 + 64]!) * POW2[n - n1 + 64]!);
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
