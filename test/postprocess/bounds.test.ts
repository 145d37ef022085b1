import { describe, expect, it } from 'vitest';
import { barBounds, softmaxRejectMargin, sigmoidRejectLogit } from '../../src/postprocess/bounds';
import { expF, f32, floatKey, keyFloat, nextDownF, nextUpF, sigmoidF } from '../../src/postprocess/float32';
import { scoreAnchor } from '../../src/postprocess/reference';
import { mulberry32 } from '../_support/prng';

const THRESHOLDS = [0, 1e-8, 0.001, 0.01, 0.02, 0.05, 0.3, 0.5, 0.7, 0.9, 0.999, 0.9999999, 1, 2];

describe('float32 helpers', () => {
  it('order floats as integers and step by one ulp', () => {
    expect(nextUpF(1)).toBe(1 + 2 ** -23);
    expect(nextDownF(1)).toBe(1 - 2 ** -24);
    expect(nextUpF(-0)).toBe(0);
    expect(floatKey(-Infinity)).toBeLessThan(floatKey(-1));
    expect(keyFloat(floatKey(0.1))).toBe(f32(0.1));
    expect(nextUpF(Infinity)).toBe(Infinity);
  });
});

describe('sigmoidRejectLogit', () => {
  it('rejects only logits whose score cannot pass, and stays tight', () => {
    for (const thr of THRESHOLDS) {
      const t = f32(thr);
      const L = sigmoidRejectLogit(thr);
      if (t >= 1) {
        expect(L).toBe(Infinity);
        continue;
      }
      // at and below L the score is <= thr, even with expf one ulp low
      for (let x = L, i = 0; i < 50; i++, x = nextDownF(x)) expect(sigmoidF(x)).toBeLessThanOrEqual(t);
      const e = expF(-L);
      expect(f32(1 / f32(1 + (e === Infinity ? e : nextDownF(e))))).toBeLessThanOrEqual(t);
      // a little above, the score passes (the bound costs at most a few extra expf calls)
      if (t > 0 && t < 0.999) expect(sigmoidF(f32(L + 1e-4 * (1 + Math.abs(L))))).toBeGreaterThan(t);
    }
  });
});

describe('softmax bounds', () => {
  it('REJECT_MARGIN: fl(m1 - other) <= D implies every float probability <= thr (random and adversarial rows)', () => {
    const rand = mulberry32(11);
    for (const thr of THRESHOLDS) {
      const t = f32(thr);
      for (const c of [2, 3, 21, 81]) {
        const d = softmaxRejectMargin(thr, c);
        const out = new Float64Array(c - 1);
        const check = (row: number[]) => {
          const fg = row.slice(1);
          const m1 = Math.max(...fg);
          const sorted = [...fg].sort((a, b) => b - a);
          const other = Math.max(row[0]!, sorted[1] ?? -Infinity);
          if (!(f32(m1 - other) <= d)) return;
          scoreAnchor({ scores: 'softmax', background: 'first' } as never, c, (j) => row[j]!, out);
          for (const p of out) if (!Number.isNaN(p)) expect(p).toBeLessThanOrEqual(t);
        };
        for (let i = 0; i < 150; i++) {
          // tight rows: the best foreground logit right at the bound above the background, the rest far below
          const base = f32((rand() - 0.5) * 200);
          const m1 = f32(base + d);
          const rest = (j: number) => f32(base - 30 - 10 * rand() - j);
          check([base, m1, ...Array.from({ length: c - 2 }, (_, j) => rest(j))]);
          check([base, nextDownF(m1), ...Array.from({ length: c - 2 }, (_, j) => rest(j))]);
          // random rows of a background-dominated detector
          check(Array.from({ length: c }, (_, j) => f32((j === 0 ? 4 : -2) + 6 * (rand() - 0.5))));
        }
      }
    }
  });

  it('REJECT_MARGIN is close to the logit of the threshold', () => {
    for (const thr of [0.01, 0.02, 0.05, 0.5, 0.7]) {
      expect(Math.abs(softmaxRejectMargin(thr, 81) - Math.log(thr / (1 - thr)))).toBeLessThan(1e-3);
    }
    expect(softmaxRejectMargin(0, 81)).toBe(-Infinity);
    expect(softmaxRejectMargin(1, 81)).toBe(Infinity);
  });
});

describe('barBounds', () => {
  it('lists increasing scores from the threshold up, each with its own proven bound', () => {
    for (const thr of [0, 0.02, 0.05, 0.7]) {
      const b = barBounds(thr, sigmoidRejectLogit);
      expect(b.score[0]).toBe(f32(thr));
      expect(b.score.length).toBe(b.reject.length);
      b.score.forEach((t, i) => {
        expect(t).toBe(f32(t));
        expect(b.reject[i]).toBe(sigmoidRejectLogit(t));
        if (i > 0) {
          expect(t).toBeGreaterThan(b.score[i - 1]!);
          expect(b.reject[i]!).toBeGreaterThanOrEqual(b.reject[i - 1]!);
        }
      });
      expect(b.score.at(-1)!).toBeLessThan(0.9999);
      if (thr < 0.9) expect(b.score.length).toBeGreaterThan(10);
    }
    const s = barBounds(0.02, (t) => softmaxRejectMargin(t, 81));
    expect(s.reject.every((r, i) => r === softmaxRejectMargin(s.score[i]!, 81))).toBe(true);
  });
});
