// bench's opt-in C variants (issue 16): the module with runtime anchors and the module for int8 inputs, timed beside
// the shipped build on the same loads (timings are measurements, never asserted): their rows, ratios and detections.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { hasGcc } from '../_support/gcc';
import { bench } from '../../src/jobs/bench/index';
import { formatBench } from '../../src/jobs/bench/format';

describe.skipIf(!hasGcc)('bench --only c,c-runtime-anchors,c-int8', () => {
  it('times the runtime-anchor and int8-input builds beside the shipped one', async () => {
    const model = saveTemp(buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' }));
    const { outDir } = await compileTemp(model, {
      config: 'configs/ssd300/config_b.py',
      emit: ['c'],
      postprocess: 'mmdet-ssd300',
    });
    const r = await bench({
      outDir,
      runs: 6,
      warmup: 1,
      loads: ['light', 'heavy'],
      sets: ['pruned'],
      peers: ['c', 'c-runtime-anchors', 'c-int8'],
      noModel: true,
    });
    for (const x of r.results) {
      expect(x.timings.map((t) => t.peer)).toEqual(['c', 'c-runtime-anchors', 'c-int8']);
      const [c, rt, q] = x.timings;
      // runtime anchors are the table's bit for bit: the same detections; int8 inputs find detections too
      expect(rt!.detections).toBe(c!.detections);
      expect(c!.detections).toBeGreaterThan(0);
      expect(q!.detections).toBeGreaterThan(0);
      expect(Object.keys(x.ratios)).toEqual(['c/floor', 'c-runtime-anchors/c', 'c-int8/c']);
    }
    expect(formatBench(r)).toMatch(/c-int8 +the module compiled for int8 inputs/);
  });
});
