// Head MACs and boxes of pruned-anchor candidates, against the paper's published numbers (design.md) on the synthetic
// SSD300 and RetinaNet fixtures, and the rules behind them.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { analyzeModel } from '../../src/detector/index';
import { nodeMacs } from '../../src/cost/macs';
import { candidateCost } from '../../src/search/cost';
import { keptOf } from '../../src/search/output';
import { mulberry32 } from '../_support/prng';

const CONFIG_A = [5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28];

describe('candidateCost', () => {
  const ssd = analyzeModel(buildFixture('ssd300'));
  const counts = ssd.spec.levels.map((l) => l.anchorsPerLocation);

  it('SSD300 configuration A: 3,607,764,480 head MACs and 7,814 boxes (as compile reports)', () => {
    const kept = keptOf(counts, CONFIG_A);
    expect(kept.map((k) => k.length)).toEqual([4, 4, 5, 3, 2, 1]);
    expect(candidateCost(ssd.spec, kept, ssd.shapes)).toEqual({
      headMacs: 3_607_764_480,
      boxes: 7814,
      keptPerLevel: [4, 4, 5, 3, 2, 1],
    });
    // without shape inference: from the weights and the level's feature map, the same numbers
    expect(candidateCost(ssd.spec, kept).headMacs).toBe(3_607_764_480);
  });

  it('the full SSD300 model costs the published 4,231,319,040 MACs and 8,732 boxes', () => {
    expect(candidateCost(ssd.spec, keptOf(counts, []), ssd.shapes)).toMatchObject({
      headMacs: 4_231_319_040,
      boxes: 8732,
    });
  });

  it('RetinaNet, P3 empty and the largest ratio-1.0 anchor removed on P4-P7: 31,440,936,960 MACs, 40,136 boxes', () => {
    const r = analyzeModel(buildFixture('retinanet', { outputs: 'raw' }));
    const rc = r.spec.levels.map((l) => l.anchorsPerLocation);
    expect(rc).toEqual([9, 9, 9, 9, 9]);
    // ratio-major: 0.5 x3, 1.0 x3, 2.0 x3 -> (largest scale, ratio 1.0) is index 5 of each level
    const removed = [...Array.from({ length: 9 }, (_, i) => i), 9 + 5, 18 + 5, 27 + 5, 36 + 5];
    expect(candidateCost(r.spec, keptOf(rc, removed), r.shapes)).toMatchObject({
      headMacs: 31_440_936_960,
      boxes: 40_136,
    });
    expect(candidateCost(r.spec, keptOf(rc, []), r.shapes)).toMatchObject({
      headMacs: 129_318_147_072,
      boxes: 180_153,
    });
  });

  it('an emptied level loses its whole head (towers too); a kept level only its output-conv channels', () => {
    const r = analyzeModel(buildFixture('retinanet', { outputs: 'raw' }));
    const rc = r.spec.levels.map((l) => l.anchorsPerLocation);
    const full = r.spec.headMacs;
    const noP3 = candidateCost(r.spec, keptOf(rc, [0, 1, 2, 3, 4, 5, 6, 7, 8]), r.shapes).headMacs;
    expect(full - noP3).toBe(r.spec.levels[0]!.headMacs);
    // one anchor less on P3: exactly 1/9 of the output convs' MACs, nothing from the towers
    const out = r.spec.levels[0]!.convs.reduce((s, c) => s + nodeMacs(c.node, r.shapes)!, 0);
    expect(full - candidateCost(r.spec, keptOf(rc, [4]), r.shapes).headMacs).toBe(out / 9);
    expect(out).toBeLessThan(r.spec.levels[0]!.headMacs);
  });

  it('random subsets (seeded): towers whole, output convs scaled by kept/A, emptied levels zero; boxes = sum H*W*kept', () => {
    const rnd = mulberry32(5);
    for (let t = 0; t < 20; t++) {
      const removed = Array.from({ length: 32 }, (_, i) => i).filter(() => rnd() < 0.4);
      const kept = keptOf(counts, removed);
      const c = candidateCost(ssd.spec, kept, ssd.shapes);
      let macs = 0,
        boxes = 0;
      ssd.spec.levels.forEach((l, i) => {
        const k = kept[i]!.length;
        boxes += l.featureMap[0] * l.featureMap[1] * k;
        if (k === 0) return;
        const sliced = new Set(l.convs.flatMap((cv) => [cv.node, ...cv.feeders]));
        for (const n of l.headNodes)
          macs += sliced.has(n) ? (nodeMacs(n, ssd.shapes)! * k) / l.anchorsPerLocation : nodeMacs(n, ssd.shapes)!;
      });
      expect(c.headMacs).toBe(macs);
      expect(c.boxes).toBe(boxes);
    }
  });
});
