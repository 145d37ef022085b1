// bench's up-front estimate: more work never estimates shorter, --only c is far shorter than the full bench, and the
// text reads as a duration.
import { describe, expect, it } from 'vitest';
import { estimateBenchSeconds, formatEstimate, type BenchPlan } from '../../src/jobs/bench/estimate';
import { PEERS } from '../../src/jobs/bench/index';

const full: BenchPlan = {
  pairs: [4926 * 80 * 1.8, 4926 * 80],
  loads: 4,
  peers: PEERS,
  runs: 200,
  warmup: 20,
  slowRuns: 20,
  slowBudgetMs: 5000,
  slowPeers: ['ts', 'onnx-nms-exact'],
  modelRuns: 20,
  macs: { original: 34e9, compiled: 30e9 },
  photos: 0,
};

describe('estimateBenchSeconds', () => {
  it('grows with runs, loads, anchor pairs and model runs; --only c (the C alone, no model) is a fraction of the full bench', () => {
    const e = estimateBenchSeconds(full);
    for (const more of [
      { runs: 2000 },
      { loads: 5 },
      { pairs: full.pairs.map((p) => p * 4) },
      { modelRuns: 200 },
      { photos: 8 },
    ]) {
      expect(estimateBenchSeconds({ ...full, ...more }), JSON.stringify(Object.keys(more))).toBeGreaterThan(e);
    }
    const onlyC = estimateBenchSeconds({ ...full, peers: ['c'], modelRuns: 0 });
    expect(onlyC).toBeLessThan(e / 3);
    expect(onlyC).toBeGreaterThan(0);
    // the slow peers stop at their time budget: 10x the slow runs cannot add more than the budget per load and set
    const slow = estimateBenchSeconds({ ...full, slowRuns: 200 }) - e;
    expect(slow).toBeLessThanOrEqual(2 * 4 * 2 * 5 + 1);
  });

  it('formats seconds, minutes and hours', () => {
    expect(formatEstimate(2)).toBe('about 5 s');
    expect(formatEstimate(42)).toBe('about 40 s');
    expect(formatEstimate(600)).toBe('about 10 min');
    expect(formatEstimate(3 * 3600)).toBe('about 3.0 h');
  });
});
