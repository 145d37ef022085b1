// The post-processing targets of issue 6, on SSD300 configuration B with the mmdet-ssd300 preset: the fused C next to
// onnxruntime's decode + NonMaxSuppression path, the memcpy floor of the same head outputs, and the original vs the
// pruned anchor set (measured side by side in one native process by `bench`). Printed once; nothing is asserted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench as vbench, describe } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { saveModel } from '../../src/onnx/save';
import { compile } from '../../src/compile';
import { bench } from '../../src/bench/index';
import { formatBench } from '../../src/commands/bench-format';
import { loadDetector } from '../../src/detector/index';
import { compiledPostprocess } from '../../src/compile-emit';
import { syntheticHeadOutputs } from '../../src/bench/synthetic-heads';
import { postprocess } from '../../src/postprocess/reference';

const dir = mkdtempSync(join(tmpdir(), 'pd-bench-pp-'));
const model = join(dir, 'ssd300.onnx');
saveModel(buildFixture('ssd300', { outputs: 'concat' }), model);
const outDir = join(dir, 'config_b');
const report = await compile({ model, config: 'configs/ssd300/config_b.py', outDir, emit: ['c'], postprocess: 'mmdet-ssd300' });
const result = await bench({ outDir, runs: 500, tsRuns: 20, noModel: true });
console.log(`[postprocess] SSD300 configuration B, mmdet-ssd300\n${formatBench(result)}`);

const det = loadDetector(join(outDir, 'model.onnx'));
const pp = compiledPostprocess({ spec: det.spec, baselineSet: undefined, featureMaps: report.featureMaps }, 'mmdet-ssd300', report.config.kept, true);
const syn = syntheticHeadOutputs(pp.spec, pp.numClasses, pp.anchors, 2024, 5);

describe('SSD300 configuration B, pruned anchor set (TypeScript reference, for scale)', () => {
  vbench('reference postprocess()', () => {
    postprocess(pp.spec, { form: 'concat', scores: syn.scores, boxes: syn.boxes }, { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses });
  }, { iterations: 10, warmupIterations: 2 });
});
