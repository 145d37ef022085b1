// COCOeval's default bbox parameters (pycocotools Params, iouType 'bbox') and numpy's summation order, shared by the
// matching (coco-eval.ts) and the accumulation (coco-accumulate.ts).

/** np.linspace(start, stop, num) bit for bit: i * ((stop - start) / (num - 1)) + start, last element = stop. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
export const MAX_DETS: readonly number[] = [1, 10, 100];
/** all, small, medium, large: [lo, hi] on the annotation's `area`, both ends inclusive. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];

/** IoU thresholds, recall thresholds, area ranges, maxDets settings; the largest maxDets. */
export const T = 10;
export const R = 101;
export const A = 4;
export const M = 3;
export const MAX_DET = 100;

/**
 * numpy's pairwise summation (np.add.reduce on a contiguous float64 array, as np.mean uses it): below 8 elements a
 * plain loop, up to 128 eight interleaved accumulators, above that split in halves at a multiple of 8.
 */
export function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!,
      r1 = a[start + 1]!,
      r2 = a[start + 2]!,
      r3 = a[start + 3]!;
    let r4 = a[start + 4]!,
      r5 = a[start + 5]!,
      r6 = a[start + 6]!,
      r7 = a[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const o = start + i;
      r0 += a[o]!;
      r1 += a[o + 1]!;
      r2 += a[o + 2]!;
      r3 += a[o + 3]!;
      r4 += a[o + 4]!;
      r5 += a[o + 5]!;
      r6 += a[o + 6]!;
      r7 += a[o + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}
