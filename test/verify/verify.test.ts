import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { loadModel } from '../../src/onnx/load';
import { saveModel } from '../../src/onnx/save';
import { Tensor } from '../../src/ir/tensor';
import { verify } from '../../src/verify/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { prunedet } from '../_support/cli';
import { hasShared, ultraface, FACES } from '../_support/shared';
import { analyzeModel } from '../../src/detector/index';
import { compiledPostprocess, emitPlanFor } from '../../src/compile-emit';
import { emitPostprocessC } from '../../src/emit/c/index';

const ssd = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));

describe('verify passes on compiled models', () => {
  for (const cfg of ['b', 'd']) {
    it(`SSD300 configuration ${cfg.toUpperCase()} with the mmdet-ssd300 C module`, async () => {
      const { outDir } = await compileTemp(ssd, { config: `configs/ssd300/config_${cfg}.py`, emit: ['c'], postprocess: 'mmdet-ssd300' });
      const r = await verify({ original: ssd, outDir, samples: 2 });
      expect(r.tensors.ok).toBe(true);
      expect(r.detections).toMatchObject({ ok: true, inputs: 2 });
      expect(r.cModule.ok).toBe(true);
      expect(r.cModule.detections).toBeGreaterThan(0);
      expect(r.ok).toBe(true);
    });
  }

  it('RetinaNet with P3 emptied, decoded outputs, mmdet-retinanet', async () => {
    const path = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192] }));
    const { outDir } = await compileTemp(path, { config: 'configs/retinanet/pruned.py', emit: ['c'], postprocess: 'mmdet-retinanet' });
    const r = await verify({ original: path, outDir, samples: 2 });
    expect(r.ok).toBe(true);
  });

  it.skipIf(!hasShared)('ultraface RFB-320 without post-processing, --cut-head, on the photos', async () => {
    const model = ultraface('version-RFB-320_without_postprocessing.onnx');
    const { outDir } = await compileTemp(model, { remove: '0,3,5,9', emit: ['c'], postprocess: 'ultraface,iou_thr=0.3', cutHead: true });
    const r = await verify({ original: model, outDir, images: FACES, samples: 4 });
    expect(r.inputs.source).toBe('images');
    expect(r.tensors.outputs.map((o) => o.name)).toEqual(['scores_0', 'boxes_0', 'scores_1', 'boxes_1', 'scores_2', 'boxes_2', 'scores_3', 'boxes_3']);
    expect(r.detections.detections).toBeGreaterThan(0);
    expect(r.ok).toBe(true);
  });
});

describe('verify fails, naming the input and anchor', () => {
  it('on a compiled model with one weight changed (exit 1 from the CLI)', async () => {
    const { outDir } = await compileTemp(ssd, { config: 'configs/ssd300/config_b.py' });
    const m = loadModel(join(outDir, 'model.onnx'));
    const { spec } = analyzeModel(m);
    const w = spec.levels[1]!.convs.find((c) => c.groups[0]!.role === 'boxes')!.node.inputs[1]!;
    const data = Float32Array.from(w.initializer!.float32());
    data[0] = data[0]! + 0.5;
    w.initializer = Tensor.fromFloat32([...w.initializer!.dims], data);
    saveModel(m, join(outDir, 'model.onnx'));
    const r = prunedet(['verify', ssd, outDir, '--samples', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\(a\) tensors: .* MISMATCH/);
    expect(r.stdout).toMatch(/verify: FAILED — input 0 \(random #0\): output boxes differs, largest error \S+ at compiled anchor \d+ \(original anchor \d+\)/);
  });

  it('on a wrong kept-anchor list', async () => {
    const { outDir } = await compileTemp(ssd, { config: 'configs/ssd300/config_c.py' });
    const path = join(outDir, 'report.json');
    const report = JSON.parse(readFileSync(path, 'utf8'));
    report.config.kept[1] = [0, 1, 5]; // compiled with [0, 2, 5]
    writeFileSync(path, JSON.stringify(report));
    const r = await verify({ original: ssd, outDir, samples: 1 });
    expect(r.ok).toBe(false);
    expect(r.tensors.first).toMatch(/^input 0 \(random #0\): output (scores|boxes) differs, .* at compiled anchor \d+ \(original anchor \d+\)/);
  });

  it('on a C module built with another anchor table', async () => {
    const { outDir, report } = await compileTemp(ssd, { config: 'configs/ssd300/config_a.py', emit: ['c'], postprocess: 'mmdet-ssd300' });
    const { spec } = analyzeModel(loadModel(join(outDir, 'model.onnx')));
    const pp = compiledPostprocess({ spec, baselineSet: undefined, featureMaps: report.featureMaps }, 'mmdet-ssd300', report.config.kept);
    const shifted = pp.anchors.map((v) => v + 4);
    const plan = emitPlanFor({ ...pp, anchors: shifted }, 'model', { version: 'x', modelFile: 'x', modelSha256: 'x', config: 'x' }, 'concat', [300, 300]);
    for (const f of emitPostprocessC(plan).files) writeFileSync(join(outDir, f.name), f.text);
    const r = await verify({ original: ssd, outDir, samples: 1 });
    expect(r.tensors.ok).toBe(true);
    expect(r.detections.ok).toBe(true);
    expect(r.cModule.ok).toBe(false);
    expect(r.cModule.first).toMatch(/^input \d+ \(.*\), anchor \d+: detection \d+/);
  });
});
