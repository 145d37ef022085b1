import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { loadModel } from '../../src/onnx/load';
import { verify, type VerifyResult } from '../../src/jobs/verify/index';
import { nudgeHeadConv } from '../_support/edit-model';
import { compileTemp, saveTemp } from '../_support/compile';
import { prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';
import { hasShared, ultraface, FACES } from '../_support/shared';
import { analyzeModel } from '../../src/detector/index';
import { compiledPostprocess, emitPlanFor } from '../../src/artefacts/compiled-postprocess';
import { emitPostprocessC } from '../../src/emit/c/index';

const ssd = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));

/** Every level that keeps anchors had detections compared, from the inputs or the planted head outputs. */
function everyKeptLevelCompared(r: VerifyResult): void {
  for (const l of r.checks.detections.levels) {
    if (l.anchors > 0) expect(l.detections.inputs + l.detections.planted, `level ${l.level}`).toBeGreaterThan(0);
  }
}

describe('verify passes on compiled models, saying what it compared', () => {
  for (const cfg of ['b', 'd']) {
    it(`SSD300 configuration ${cfg.toUpperCase()} with the mmdet-ssd300 C module: only slicing, parameters bit for bit`, async () => {
      const { outDir } = await compileTemp(ssd, {
        config: `configs/ssd300/config_${cfg}.py`,
        emit: ['c'],
        postprocess: 'mmdet-ssd300',
      });
      const r = await verify({ original: ssd, outDir, samples: 2 });
      expect(r.status).toBe('equivalent');
      expect(r.exitCode).toBe(0);
      const t = r.checks.tensors;
      expect(t).toMatchObject({ status: 'pass', inputs: 2 });
      // slicing changes no arithmetic: the sliced convs hold the original's parameters bit for bit; what is left is
      // the runtime's choice of summation order for the new channel counts
      expect(t.parameters).toMatchObject({ mismatches: 0 });
      expect(t.parameters.convs).toBe(cfg === 'b' ? 12 : 10); // two per level with anchors (configuration D empties level 0)
      for (const o of t.outputs) {
        expect(o.tolerance).toMatchObject({
          kind: 'derived',
          origin: expect.stringMatching(
            /^prune-anchors sliced \d+ convs \(the runtime may sum the kept channels in another order\)/,
          ),
        });
        expect(o.maxAbsError).toBeLessThanOrEqual(o.tolerance.max);
        expect(o.elements).toBeGreaterThan(0);
      }
      expect(t.features).toEqual([]);
      expect(r.checks.detections).toMatchObject({ status: 'pass', inputs: { count: 2 }, planted: { count: 2 } });
      everyKeptLevelCompared(r);
      if (cfg === 'd') expect(r.checks.detections.levels[0]).toMatchObject({ keptAnchors: [], anchors: 0 });
      if (hasGcc) {
        expect(r.checks.cModule.status).toBe('pass');
        expect(r.checks.cModule.runs).toBe(4);
        expect(r.checks.cModule.detections).toBeGreaterThan(0);
      }
    });
  }

  it('RetinaNet with P3 emptied, decoded outputs, mmdet-retinanet', async () => {
    const path = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192] }));
    const { outDir } = await compileTemp(path, {
      config: 'configs/retinanet/pruned.py',
      emit: ['c'],
      postprocess: 'mmdet-retinanet',
    });
    const r = await verify({ original: path, outDir, samples: 2 });
    expect(r.status).toBe('equivalent');
    everyKeptLevelCompared(r);
  });

  it('SSDLite with BatchNorm folded into the class head: derived tolerance for scores, bit for bit for boxes', async () => {
    const path = saveTemp(buildFixture('ssdlite', { outputs: 'decoded' }));
    const { outDir } = await compileTemp(path, {
      remove: '1,2,8,20',
      emit: ['c'],
      postprocess: 'torchvision-ssd,score_thr=0.3',
    });
    const r = await verify({ original: path, outDir, samples: 2, skipC: true });
    expect(r.status).toBe('equivalent');
    const [scores, boxes] = ['scores', 'boxes'].map((n) => r.checks.tensors.outputs.find((o) => o.name === n)!);
    expect(scores!.tolerance).toMatchObject({
      kind: 'derived',
      origin: expect.stringMatching(/fold-batchnorm re-rounded 6 convs: .*through Softmax/),
    });
    expect(scores!.tolerance.max).toBeGreaterThan(0);
    expect(scores!.maxAbsError).toBeLessThan(scores!.tolerance.max);
    expect(boxes!.tolerance.origin).not.toMatch(/fold-batchnorm/); // the box head has no BatchNorm: only slicing reaches it
    expect(boxes!.maxAbsError).toBeLessThanOrEqual(boxes!.tolerance.max);
    expect(r.checks.tensors.parameters.mismatches).toBe(0);
    expect(r.checks.tensors.features.length).toBeGreaterThan(0);
    expect(r.checks.cModule).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/--skip-c/) });
  });

  it.skipIf(!hasShared)('ultraface RFB-320 without post-processing, --cut-head, on the photos', async () => {
    const model = ultraface('version-RFB-320_without_postprocessing.onnx');
    const { outDir } = await compileTemp(model, {
      remove: '0,3,5,9',
      emit: ['c'],
      postprocess: 'ultraface,iou_thr=0.3',
      cutHead: true,
    });
    const r = await verify({ original: model, outDir, images: FACES, samples: 4 });
    expect(r.inputs.source).toBe('images');
    expect(r.checks.tensors.outputs.map((o) => o.name)).toEqual([
      'scores_0',
      'boxes_0',
      'scores_1',
      'boxes_1',
      'scores_2',
      'boxes_2',
      'scores_3',
      'boxes_3',
    ]);
    expect(r.checks.detections.inputs.detections).toBeGreaterThan(0);
    expect(r.status).toBe('equivalent');
  });
});

describe('verify is inconclusive when a check compared nothing', () => {
  it('no post-processing preset: no detection compared; a threshold nothing passes: no level compared', async () => {
    const { outDir } = await compileTemp(ssd, { config: 'configs/ssd300/config_b.py' });
    const none = await verify({ original: ssd, outDir, samples: 1 });
    expect(none).toMatchObject({
      status: 'inconclusive',
      exitCode: 3,
      checks: { tensors: { status: 'pass' }, detections: { status: 'inconclusive' }, cModule: { status: 'skipped' } },
    });
    expect(none.advice).toMatch(
      /no post-processing preset is known for OUTDIR, so no detection was compared: pass --postprocess PRESET/,
    );
    const silent = await verify({ original: ssd, outDir, samples: 1, postprocess: 'mmdet-ssd300,score_thr=1' });
    expect(silent.status).toBe('inconclusive');
    expect(silent.checks.detections.reason).toMatch(
      /^levels 0, 1, 2, 3, 4, 5 keep anchors but no detection there was compared: give --images/,
    );
  });
});

describe('verify fails, naming the input and anchor', () => {
  it('on a compiled model with one weight changed (exit 1 from the CLI)', async () => {
    const { outDir } = await compileTemp(ssd, { config: 'configs/ssd300/config_b.py' });
    nudgeHeadConv(join(outDir, 'model.onnx'), 1, 'boxes', 1, 0, 0.5);
    const r = prunedet(['verify', ssd, outDir, '--samples', '1', '--postprocess', 'mmdet-ssd300']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\(a\) tensors, .* — MISMATCH/);
    expect(r.stdout).toMatch(
      /verify: MISMATCH — input 0 \(random #0\): output boxes at compiled anchor \d+ \(original anchor \d+, level 1\), value 0: got \S+, expected \S+, error \S+ > tolerance \S+/,
    );
    expect(r.stdout).toMatch(
      /sliced parameters: \d+ convs, [\d,]+ weights and biases vs the original's kept channels, bit for bit: 1 DIFFER/,
    );
  });

  it('on a wrong kept-anchor list', async () => {
    const { outDir } = await compileTemp(ssd, { config: 'configs/ssd300/config_c.py' });
    const path = join(outDir, 'report.json');
    const report = JSON.parse(readFileSync(path, 'utf8'));
    report.config.kept[1] = [0, 1, 5]; // compiled with [0, 2, 5]
    writeFileSync(path, JSON.stringify(report));
    const r = await verify({ original: ssd, outDir, samples: 1 });
    expect(r.status).toBe('mismatch');
    expect(r.exitCode).toBe(1);
    expect(r.checks.tensors.reason).toMatch(
      /^input 0 \(random #0\): output (scores|boxes) at compiled anchor \d+ \(original anchor \d+, level \d\)/,
    );
    expect(r.checks.tensors.parameters.first).toMatch(
      /^level 1 head conv .*: weight \d+ of compiled channel \d+ \(original channel \d+\) is \S+, the original's \S+: slicing cannot explain it$/,
    );
  });

  it.skipIf(!hasGcc)('on a C module built with another anchor table', async () => {
    const { outDir, report } = await compileTemp(ssd, {
      config: 'configs/ssd300/config_a.py',
      emit: ['c'],
      postprocess: 'mmdet-ssd300',
    });
    const { spec } = analyzeModel(loadModel(join(outDir, 'model.onnx')));
    const pp = compiledPostprocess(
      { spec, baselineSet: undefined, featureMaps: report.featureMaps },
      'mmdet-ssd300',
      report.config.kept,
    );
    const shifted = pp.anchors.map((v) => v + 4);
    const plan = emitPlanFor(
      { ...pp, anchors: shifted },
      'model',
      { version: 'x', modelFile: 'x', modelSha256: 'x', config: 'x' },
      'concat',
      [300, 300],
    );
    for (const f of emitPostprocessC(plan).files) writeFileSync(join(outDir, f.name), f.text);
    const r = await verify({ original: ssd, outDir, samples: 1 });
    expect(r.checks.tensors.status).toBe('pass');
    expect(r.checks.detections.status).toBe('pass');
    expect(r.checks.cModule.status).toBe('fail');
    expect(r.checks.cModule.reason).toMatch(
      /^(random #0|planted head outputs #\d), anchor \d+: the C module differs from the reference: detection \d+/,
    );
  });
});
