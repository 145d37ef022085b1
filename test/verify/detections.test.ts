// The detection check's parts: head outputs planted on every level, the kept anchors' view, and that the oracle's
// bit-for-bit comparison can fail.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { loadDetector } from '../../src/detector/index';
import { compiledPostprocess } from '../../src/artefacts/compiled-postprocess';
import { postprocessForModel } from '../../src/postprocess/for-model';
import { postprocess } from '../../src/postprocess/reference';
import { diffDetections } from '../../src/jobs/verify/compare';
import { keptAnchorIndices } from '../../src/detector/kept-anchors';
import { gatherKept, plantedInput, removedMask, PLANTED_SEEDS } from '../../src/jobs/verify/detections';
import { detectionsPerLevel } from '../../src/postprocess/per-level';
import { compileTemp, saveTemp } from '../_support/compile';

describe('planted head outputs and the oracle', async () => {
  const path = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));
  const { outDir, report } = await compileTemp(path, { config: 'configs/ssd300/config_c.py' });
  const orig = loadDetector(path);
  const comp = loadDetector(join(outDir, 'model.onnx'));
  const kept = report.config.kept;
  const counts = orig.spec.levels.map((l) => l.anchorsPerLocation);
  const keptIdx = keptAnchorIndices(report.featureMaps, counts, kept);
  const ppOrig = postprocessForModel(orig.spec, 'mmdet-ssd300');
  const ppComp = compiledPostprocess(
    { spec: comp.spec, baselineSet: undefined, featureMaps: report.featureMaps },
    'mmdet-ssd300',
    kept,
  );
  const ctx = { anchors: ppOrig.anchors, levels: ppOrig.levels, numClasses: ppOrig.numClasses };
  const cctx = { anchors: ppComp.anchors, levels: ppComp.levels, numClasses: ppComp.numClasses };

  it('give detections on every level that keeps anchors, and the compiled post-processing equals the oracle bit for bit', () => {
    const total = new Array<number>(6).fill(0);
    for (const seed of PLANTED_SEEDS) {
      const x = plantedInput(ppOrig, orig.spec, kept, seed, 'concat')!;
      const want = postprocess(ppOrig.spec, x, { ...ctx, suppressed: removedMask(orig.spec.boxes, keptIdx) });
      const got = postprocess(ppComp.spec, gatherKept(x, keptIdx, ppOrig, kept), cctx);
      expect(diffDetections(got, want, (a) => keptIdx[a]!)).toBeUndefined();
      detectionsPerLevel([want], ppOrig.levels).forEach((c, l) => (total[l]! += c));
      // the oracle never reports a removed anchor
      for (const d of want) expect(keptIdx.includes(d.anchor)).toBe(true);
    }
    kept.forEach((k, l) => expect(total[l], `level ${l}`).toBeGreaterThan(k.length > 0 ? 0 : -1));
  });

  it('a kept-anchor mapping off by one row is caught (the comparison can fail)', () => {
    const x = plantedInput(ppOrig, orig.spec, kept, PLANTED_SEEDS[0], 'concat')!;
    const want = postprocess(ppOrig.spec, x, { ...ctx, suppressed: removedMask(orig.spec.boxes, keptIdx) });
    const wrong = keptIdx.map((n, i) => (i + 1 < keptIdx.length ? keptIdx[i + 1]! : n));
    const got = postprocess(ppComp.spec, gatherKept(x, wrong, ppOrig, kept), cctx);
    expect(diffDetections(got, want, (a) => keptIdx[a]!)?.detail).toMatch(/detection \d+|detections vs/);
  });
});
