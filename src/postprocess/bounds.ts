// Reject bounds for the fused score filter of the emitted C: cheap comparisons on logits that are proved never to
// reject a (anchor, class) pair the reference keeps. Each bound is derived from the reference's float arithmetic
// (float32.ts). C and reference share one exp (pd_expf, within 1.2 ulp of the true exp), so it is not libm variance
// the bounds leave room for but its non-monotonicity: for x' <= x, expF(x') >= expF(x) - 2.4 ulps. Hence 3 ulps.
import { expF, f32, lastFloatWhere, nextDownF, nextUpF } from './float32';

/** The largest float below or equal to the double v. */
function floatAtMost(v: number): number {
  let x = f32(v);
  while (x > v) x = nextDownF(x);
  return x;
}

/**
 * Sigmoid: the largest float L such that every logit x <= L has 1/(1+expf(-x)) <= thr, even when expf returns a value
 * up to 3 ulps below its value at L (which only raises the sigmoid; an overflow to +Inf stays +Inf). The C
 * filter skips x <= L without calling expf, then decides on the score itself, exactly as the reference does.
 */
export function sigmoidRejectLogit(thr: number): number {
  const t = f32(thr);
  return lastFloatWhere((x) => {
    const exact = expF(-x);
    const e = exact === Infinity ? exact : nextDownF(nextDownF(nextDownF(exact)));
    return f32(1 / f32(1 + (e > 0 ? e : 0))) <= t;
  });
}

/** Unit roundoff of float. */
const U = 2 ** -24;

/**
 * Softmax, per anchor: with m1 the largest foreground logit and r the largest logit of every other column (the
 * background and the other foreground columns), every foreground probability is at most sigmoid(m1 - r) in exact
 * arithmetic (p_k = e_k / sum <= e_k / (e_k + e_j) for any other column j). The float softmax can exceed the exact
 * value by a relative error below u·(ln(1/thr) + 1.37·C + 6) (error of x - max, of expf, of the C-term sum); this
 * returns the largest float D such that fl(m1 - r) <= D proves every float probability <= thr, with that error doubled.
 * -Infinity when thr is 0 (then only fl(m1 - r) = -Inf, i.e. all-zero foreground probabilities, is rejected).
 */
export function softmaxRejectMargin(thr: number, numColumns: number): number {
  const t = f32(thr);
  if (t <= 0) return -Infinity;
  if (t >= 1) return Infinity;
  const eps = 2 * U * (Math.log(1 / t) + 2 * numColumns + 16);
  const q = t / (1 + eps);
  const logit = Math.log(q / (1 - q));
  const target = logit - 1e-9 * (1 + Math.abs(logit));
  // fl(m1 - r) <= D means the exact m1 - r is below nextUp(D); make nextUp(D) itself <= target.
  let d = floatAtMost(target);
  while (nextUpF(d) > target) d = nextDownF(d);
  return d;
}

/**
 * Reject bounds for rising thresholds: entry 0 is (thr, bound(thr)), then scores t_i spaced 0.25 apart in logit up
 * to ~0.9999, each with bound(t_i). The emitted C holds its candidates in pools whose bar (the worst candidate a full
 * pool keeps) only rises; a pool whose bar has score s can take no label with score <= t_i < s, so it rejects with
 * the bound of the largest t_i below s. Both lists are floats, increasing.
 */
export function barBounds(thr: number, bound: (t: number) => number): { score: number[]; reject: number[] } {
  const t0 = f32(thr);
  const score = [t0];
  const reject = [bound(t0)];
  const tc = Math.min(Math.max(t0, 1e-7), 0.9999);
  const l0 = Math.log(tc / (1 - tc));
  for (let i = 1; ; i++) {
    const t = f32(1 / (1 + Math.exp(-(l0 + 0.25 * i))));
    if (!(t < 0.9999) || t >= 1) break;
    if (t <= score[score.length - 1]!) continue;
    score.push(t);
    reject.push(bound(t));
  }
  return { score, reject };
}
