// bench produces the documented result for scripts (timings are measurements, never asserted).
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { expectUserError, prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';
import { bench } from '../../src/bench/index';

describe.skipIf(!hasGcc)('bench', () => {
  it('reports every implementation for both anchor sets, the floors and the candidate counts', async () => {
    const model = saveTemp(buildFixture('ssdlite', { outputs: 'decoded' }));
    const { outDir } = await compileTemp(model, { remove: '0,1,6,7,12,13,18,19,24,25,30,31', emit: ['c'], postprocess: 'torchvision-ssd' });
    const r = await bench({ outDir, runs: 20, warmup: 2, noModel: true });
    expect(r.boxes).toEqual({ original: 3234, pruned: 2156 });
    expect(r.floors.original.medianUs).toBeGreaterThan(0);
    expect(r.floors.pruned.runs).toBe(20);
    expect(r.postprocess.map((p) => `${p.impl}/${p.anchors}`).sort()).toEqual(['c/original', 'c/pruned', 'ort/original', 'ort/pruned', 'ts/original', 'ts/pruned']);
    for (const p of r.postprocess) {
      expect(p.runs).toBe(20);
      expect(p.p99Us).toBeGreaterThanOrEqual(p.medianUs);
      expect(p.candidates).toBeGreaterThan(0);
    }
    // the three implementations find the same detections on the same tensors
    for (const set of ['original', 'pruned']) {
      const d = r.postprocess.filter((p) => p.anchors === set).map((p) => p.detections);
      expect(new Set(d).size).toBe(1);
    }
    // the pruned set has fewer candidates: the removed anchors' share
    const c = (anchors: string) => r.postprocess.find((p) => p.impl === 'ts' && p.anchors === anchors)!.candidates;
    expect(c('pruned')).toBeLessThan(c('original'));
    expect(r.model).toBeNull();
  });

  it('the CLI refuses fewer than 200 runs', () => {
    expectUserError(prunedet(['bench', '.', '--runs', '10']), /--runs must be at least 200/, expect as never);
  });
});
