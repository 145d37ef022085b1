// The post-processing targets of issue 12, printed (nothing is asserted): bench's load sweep with every peer side by
// side, for SSD300 configuration B (mmdet-ssd300), the paper's pruned RetinaNet (mmdet-retinanet, 40,136 anchors x 80
// classes; the pruned set only: the original's TypeScript reference takes seconds per run) and the real ultraface
// model (the sweep and its own head outputs on the shared photos).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench as vbench, describe } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { saveModel } from '../../src/onnx/save';
import { compile } from '../../src/jobs/compile/index';
import { bench } from '../../src/jobs/bench/index';
import { formatBench } from '../../src/jobs/bench/format';
import { loadHeadOutputs } from '../../src/postprocess/loads';
import { loadDetector } from '../../src/detector/index';
import { compiledPostprocess } from '../../src/artefacts/compiled-postprocess';
import { postprocess } from '../../src/postprocess/reference';
import { FACES, hasShared, ultraface } from '../_support/shared';

const dir = mkdtempSync(join(tmpdir(), 'pd-bench-pp-'));
const say = (m: string) => process.stderr.write(`[postprocess] ${m}\n`);

const ssd = join(dir, 'ssd300.onnx');
saveModel(buildFixture('ssd300', { outputs: 'concat' }), ssd);
const ssdB = join(dir, 'ssd300_b');
const report = await compile({
  model: ssd,
  config: 'configs/ssd300/config_b.py',
  outDir: ssdB,
  emit: ['c'],
  postprocess: 'mmdet-ssd300',
});
console.log(
  `[postprocess] SSD300 configuration B, mmdet-ssd300\n${formatBench(await bench({ outDir: ssdB, runs: 200, noModel: true, progress: say }))}`,
);

const retina = join(dir, 'retinanet.onnx');
saveModel(buildFixture('retinanet', { outputs: 'concat' }), retina);
const retinaP = join(dir, 'retinanet_pruned');
await compile({
  model: retina,
  config: 'configs/retinanet/pruned.py',
  baselineConfig: 'configs/retinanet/baseline.py',
  outDir: retinaP,
  emit: ['c'],
  postprocess: 'mmdet-retinanet',
});
console.log(
  `[postprocess] RetinaNet pruned, mmdet-retinanet\n${formatBench(await bench({ outDir: retinaP, runs: 200, sets: ['pruned'], noModel: true, progress: say }))}`,
);

if (hasShared) {
  const uf = join(dir, 'ultraface');
  await compile({
    model: ultraface('version-RFB-320_without_postprocessing.onnx'),
    remove: '0,3,5,9',
    outDir: uf,
    emit: ['c'],
    postprocess: 'ultraface',
  });
  console.log(
    `[postprocess] ultraface RFB-320, anchors 0,3,5,9 removed\n${formatBench(await bench({ outDir: uf, images: FACES, runs: 200, progress: say }))}`,
  );
}

const det = loadDetector(join(ssdB, 'model.onnx'));
const pp = compiledPostprocess(
  { spec: det.spec, baselineSet: undefined, featureMaps: report.featureMaps },
  'mmdet-ssd300',
  report.config.kept,
  true,
);
const heavy = loadHeadOutputs('heavy', pp.spec, pp.numClasses, pp.anchors);

describe('SSD300 configuration B, pruned anchor set, heavy load (TypeScript reference, for scale)', () => {
  vbench(
    'reference postprocess()',
    () => {
      postprocess(
        pp.spec,
        { form: 'concat', scores: heavy.scores, boxes: heavy.boxes },
        { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses },
      );
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
