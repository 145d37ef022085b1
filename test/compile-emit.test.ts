// compile's extra artefacts: the C module builds with its own Makefile; the ONNX post-processing (standalone and
// appended) gives the reference's detections on the compiled model's outputs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../fixtures/index';
import { compileTemp, saveTemp, tempDir } from './_support/compile';
import { hasGcc } from './_support/gcc';
import { hasShared, ultraface } from './_support/shared';
import { randomInput, run } from './_support/ort';
import { loadDetector } from '../src/detector/index';
import { compiledPostprocess } from '../src/artefacts/compiled-postprocess';
import { compile } from '../src/jobs/compile/index';
import { referenceInput } from '../src/postprocess/for-model';
import { postprocess } from '../src/postprocess/reference';
import { syntheticHeadOutputs } from '../src/postprocess/synthetic-heads';

const ssd = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));

describe('compile --emit', () => {
  it('refuses an unknown kind, or an emit without --postprocess, before touching the model or the output folder', async () => {
    const dir = tempDir();
    const absent = join(dir, 'absent.onnx');
    const outDir = join(dir, 'out');
    await expect(
      compile({ model: absent, outDir, emit: ['c', 'cc'], postprocess: 'mmdet-ssd300' }),
    ).rejects.toMatchObject({ code: 'E_USAGE', message: 'unknown --emit cc' });
    await expect(compile({ model: absent, outDir, emit: ['onnx-nms'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: '--emit onnx-nms needs the post-processing semantics',
    });
    expect(existsSync(outDir)).toBe(false);
  });

  it.skipIf(!hasGcc)('c: the emitted Makefile builds the static library', async () => {
    const { outDir, report } = await compileTemp(ssd, {
      config: 'configs/ssd300/config_c.py',
      emit: ['c'],
      postprocess: 'mmdet-ssd300',
    });
    expect(report.files).toEqual([
      'model.onnx',
      'report.json',
      'postprocess.h',
      'postprocess.c',
      'Makefile',
      'CMakeLists.txt',
    ]);
    expect(report.postprocess).toMatchObject({ requested: 'mmdet-ssd300', input: 'concat', candidateCap: 6000 });
    // the header's level table prints the anchor generator's strides (8 for the 38x38 map, not 300 / 38 = 7.89)
    const header = readFileSync(join(outDir, 'postprocess.h'), 'utf8');
    const rows = [...header.matchAll(/^ \* {3}\d+ +(\S+) +(\d+x\d+) /gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(rows).toEqual(['8x8 38x38', '16x16 19x19', '32x32 10x10', '64x64 5x5', '100x100 3x3', '300x300 1x1']);
    const r = spawnSync('make', ['-s', 'CFLAGS=-std=c99 -O2 -Wall -Wextra -Werror'], { cwd: outDir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(outDir, 'libpd_model.a'))).toBe(true);
  });

  it.skipIf(!hasGcc || !hasShared)(
    'c --cut-head (ultraface RFB-320: softmax over 2 columns) builds under its Makefile with -Wtype-limits -Werror',
    async () => {
      const { outDir } = await compileTemp(ultraface('version-RFB-320_without_postprocessing.onnx'), {
        remove: '0',
        emit: ['c'],
        postprocess: 'ultraface',
        cutHead: true,
      });
      const r = spawnSync('make', ['-s', 'CFLAGS=-std=c99 -O2 -Wall -Wextra -Wtype-limits -Werror'], {
        cwd: outDir,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
    },
  );

  it('onnx-nms-exact: postprocess.onnx and model_nms.onnx give the reference detections bit for bit; onnx-nms the same ones', async () => {
    for (const kind of ['onnx-nms-exact', 'onnx-nms'] as const) {
      const { outDir, report } = await compileTemp(ssd, {
        config: 'configs/ssd300/config_b.py',
        emit: [kind],
        postprocess: 'mmdet-ssd300,score_thr=0.3',
      });
      expect(report.files).toEqual(['model.onnx', 'report.json', 'postprocess.onnx', 'model_nms.onnx']);
      const det = loadDetector(join(outDir, 'model.onnx'));
      const pp = compiledPostprocess(
        { spec: det.spec, baselineSet: undefined, featureMaps: report.featureMaps },
        'mmdet-ssd300,score_thr=0.3',
        report.config.kept,
      );
      const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses };
      // standalone graph on trained-like tensors (random weights would give no detections)
      const syn = syntheticHeadOutputs(pp.spec, pp.numClasses, pp.anchors, 11, 6);
      const n = pp.anchors.length / 4;
      const standalone = await run(join(outDir, 'postprocess.onnx'), {
        scores: { dims: [1, n, 81], data: syn.scores },
        boxes: { dims: [1, n, 4], data: syn.boxes },
      });
      const want = postprocess(pp.spec, { form: 'concat', scores: syn.scores, boxes: syn.boxes }, ctx);
      expect(want.length).toBeGreaterThan(0);
      expect(Array.from(standalone.det_anchors!.data as unknown as BigInt64Array, Number), kind).toEqual(
        want.map((d) => d.anchor),
      );
      const scores = Array.from(standalone.det_scores!.data as Float32Array);
      if (kind === 'onnx-nms-exact') expect(scores).toEqual(want.map((d) => d.score));
      else scores.forEach((s, i) => expect(Math.abs(s - want[i]!.score)).toBeLessThanOrEqual(1e-6));
      // appended to the model: the same as the reference on the model's own outputs
      const x = { input: { dims: [1, 3, 300, 300], data: randomInput([1, 3, 300, 300], 4) } };
      const [raw, nms] = [await run(join(outDir, 'model.onnx'), x), await run(join(outDir, 'model_nms.onnx'), x)];
      const fromModel = postprocess(pp.spec, referenceInput(det.spec, raw), ctx);
      expect(Array.from(nms.det_anchors!.data as unknown as BigInt64Array, Number), kind).toEqual(
        fromModel.map((d) => d.anchor),
      );
    }
    await expect(
      compile({
        model: ssd,
        outDir: join(tempDir(), 'x'),
        emit: ['onnx-nms', 'onnx-nms-exact'],
        postprocess: 'mmdet-ssd300',
      }),
    ).rejects.toMatchObject({
      code: 'E_USAGE',
      message: '--emit onnx-nms and onnx-nms-exact both write postprocess.onnx',
    });
  });
});
