// The integer bounds of quantized scores (src/postprocess/quant.ts), checked against brute force over every value or
// pair: sound (nothing at or below a bound passes) and tight (the value just above it passes), for int8 and uint8 at
// several scales and zero points; and the dequantisation/quantization arithmetic.
import { describe, expect, it } from 'vitest';
import {
  dequant,
  diffIntBound,
  identityScore,
  quantize,
  quantRange,
  scoreIntBound,
  sigmoidScore,
  type QuantParams,
} from '../../src/postprocess/quant';
import { f32, sigmoidF } from '../../src/postprocess/float32';
import { softmaxRejectMargin } from '../../src/postprocess/bounds';

const PARAMS: QuantParams[] = [
  { type: 'int8', scale: 0.0625, zeroPoint: -10 },
  { type: 'uint8', scale: 1 / 255, zeroPoint: 0 },
  { type: 'int8', scale: 0.1173, zeroPoint: 37 },
  { type: 'uint8', scale: 0.05, zeroPoint: 200 },
];

describe('quantized score bounds', () => {
  it('scoreIntBound: every q <= bound scores <= t and bound + 1 passes (sigmoid and probabilities)', () => {
    let checked = 0;
    for (const p of PARAMS) {
      const [lo, hi] = quantRange(p.type);
      for (const [score, ts] of [
        [sigmoidScore, [0.05, 0.3, 0.5, 0.9]],
        [identityScore, [0.02, 0.5]],
      ] as const) {
        for (const t of ts) {
          const { bound, exact } = scoreIntBound(p, f32(t), score);
          for (let q = lo; q <= bound; q++) expect(score(dequant(p, q)) > f32(t)).toBe(false);
          if (bound < hi) expect(score(dequant(p, bound + 1)) > f32(t)).toBe(true);
          // exact: the integer test decides alone
          if (exact) for (let q = bound + 1; q <= hi; q++) expect(score(dequant(p, q)) > f32(t)).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(PARAMS.length * 6);
  });

  it('diffIntBound: every pair with a - b <= D has fl(dequant(a) - dequant(b)) <= margin; some pair at D + 1 does not', () => {
    for (const p of PARAMS) {
      const [lo, hi] = quantRange(p.type);
      for (const m of [softmaxRejectMargin(f32(0.02), 81), softmaxRejectMargin(f32(0.5), 81), 0, -Infinity, Infinity]) {
        const D = diffIntBound(p, m);
        let above = false;
        let unsound = 0;
        for (let a = lo; a <= hi; a++) {
          for (let b = lo; b <= hi; b++) {
            const v = f32(dequant(p, a) - dequant(p, b));
            if (a - b <= D && !(v <= m)) unsound++;
            if (a - b === D + 1 && !(v <= m)) above = true;
          }
        }
        expect(unsound).toBe(0);
        if (D < hi - lo) expect(above).toBe(true);
      }
    }
  });

  it('dequant is one float multiply of the exact integer; quantize rounds half to even and clamps', () => {
    const p: QuantParams = { type: 'int8', scale: 0.1, zeroPoint: 3 };
    expect(dequant(p, 13)).toBe(f32(10 * f32(0.1)));
    expect(Array.from(quantize({ type: 'int8', scale: 1, zeroPoint: 0 }, [0.5, 1.5, -2.5, 2.4, 1000, -1000]))).toEqual([
      0, 2, -2, 2, 127, -128,
    ]);
    expect(Array.from(quantize({ type: 'uint8', scale: 0.5, zeroPoint: 10 }, [-100, 0, 1]))).toEqual([0, 10, 12]);
    expect(sigmoidScore).toBe(sigmoidF);
  });
});
