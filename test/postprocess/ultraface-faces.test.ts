// The ultraface preset on the real RFB-320 models and photos: the faces the authors' own pipeline finds (their
// in-graph decoding + NMS at IoU 0.3), with prunedet's decoding of the raw head outputs and its C module alike.
import { describe, expect, it } from 'vitest';
import { loadDetector } from '../../src/detector/index';
import { postprocessForModel, referenceInput } from '../../src/postprocess/for-model';
import { postprocess } from '../../src/postprocess/reference';
import { decodeImage } from '../../src/image/decode';
import { preprocess, ULTRA_LIGHT_FACE_320 } from '../../src/image/preprocess';
import { compileTemp } from '../_support/compile';
import { hasGcc } from '../_support/gcc';
import { run } from '../_support/ort';
import { FACES, hasShared, ultraface } from '../_support/shared';
import { buildRunner, runRunner } from '../../src/native/c-runner';

const PRESET = 'ultraface,score_thr=0.7,iou_thr=0.3';

async function faces(file: string, photo: string) {
  const det = loadDetector(ultraface(file));
  const pp = postprocessForModel(det.spec, PRESET);
  const x = preprocess(decodeImage(`${FACES}/${photo}`), ULTRA_LIGHT_FACE_320);
  const out = await run(ultraface(file), { input: { dims: [1, 3, 240, 320], data: x } });
  return {
    det,
    pp,
    out,
    dets: postprocess(pp.spec, referenceInput(det.spec, out), {
      anchors: pp.anchors,
      levels: pp.levels,
      numClasses: pp.numClasses,
    }),
  };
}

describe.skipIf(!hasShared)('ultraface preset on the real RFB-320', () => {
  it("finds 8 faces on 9.jpg at threshold 0.7, IoU 0.3, with the graph's decoding and with prunedet's", async () => {
    const authors = await faces('version-RFB-320.onnx', '9.jpg');
    const ours = await faces('version-RFB-320_without_postprocessing.onnx', '9.jpg');
    expect(authors.pp.spec.decoder.type).toBe('none');
    expect(ours.pp.spec.decoder.type).toBe('ssd');
    expect(authors.dets).toHaveLength(8);
    expect(ours.dets.map((d) => d.anchor)).toEqual(authors.dets.map((d) => d.anchor));
    ours.dets.forEach((d, i) =>
      d.box.forEach((v, k) => expect(Math.abs(v - authors.dets[i]!.box[k]!)).toBeLessThan(1e-5)),
    );
  });

  it.skipIf(!hasGcc)('the emitted C module (--cut-head) finds the same faces on the per-level head maps', async () => {
    const model = ultraface('version-RFB-320_without_postprocessing.onnx');
    const { outDir, report } = await compileTemp(model, {
      remove: '',
      emit: ['c'],
      postprocess: PRESET,
      cutHead: true,
    });
    const compiled = loadDetector(`${outDir}/model.onnx`);
    const x = preprocess(decodeImage(`${FACES}/9.jpg`), ULTRA_LIGHT_FACE_320);
    const out = await run(`${outDir}/model.onnx`, { input: { dims: [1, 3, 240, 320], data: x } });
    const pp = postprocessForModel(compiled.spec, PRESET, { rawHead: true });
    const input = referenceInput(compiled.spec, out, pp.levels);
    if (input.form !== 'per-level') throw new Error('expected per-level maps');
    const flat = new Float32Array([
      ...input.levels.flatMap((l) => Array.from(l.cls)),
      ...input.levels.flatMap((l) => Array.from(l.reg)),
    ]);
    const shape = {
      prefix: report.postprocess!.symbolPrefix as string,
      input: 'per-level' as const,
      numClasses: 2,
      levels: pp.levels,
    };
    const runner = buildRunner(outDir, shape);
    try {
      const c = runRunner(runner, shape, [flat]).detections[0]!;
      const authors = await faces('version-RFB-320.onnx', '9.jpg');
      expect(c.map((d) => d.anchor)).toEqual(authors.dets.map((d) => d.anchor));
      c.forEach((d, i) => d.box.forEach((v, k) => expect(Math.abs(v - authors.dets[i]!.box[k]!)).toBeLessThan(1e-4)));
    } finally {
      runner.dispose();
    }
  });
});
