// appendPostprocess: the onnx-nms stages grafted onto a detector (the synthetic SSD300 with concatenated outputs),
// run end to end in onnxruntime-node against the reference on the original model's outputs; and its refusals.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { appendPostprocess, OUTPUT_NAMES } from '../../src/emit/onnx';
import { analyzeModel } from '../../src/detector';
import { PrunedetError } from '../../src/errors';
import { DataType, finishModel, GraphBuilder, Tensor } from '../../src/ir/builder';
import { postprocessForModel, referenceInput } from '../../src/postprocess/for-model';
import { postprocess } from '../../src/postprocess/reference';
import { buildFixture } from '../../fixtures';
import { randomInput, run, session } from '../_support/ort';
import { expectSameDetections, toRun } from './support';

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof PrunedetError ? `${e.code}: ${e.message}` : String(e);
  }
  return 'no error';
}

describe('appendPostprocess', () => {
  it('SSD300 + mmdet-ssd300 post-processing in one model gives the reference detections on its own outputs', async () => {
    const original = buildFixture('ssd300');
    const det = analyzeModel(original).spec;
    // the seeded random head is far from confident: a threshold just above the uniform 1/81 still finds candidates
    const pp = postprocessForModel(det, 'mmdet-ssd300,score_thr=0.0135,iou_thr=0.3,max_det=50');
    const image = { input: { dims: [1, 3, 300, 300], data: randomInput([1, 3, 300, 300], 7) } };
    const outs = await run(original, image);
    const want = postprocess(pp.spec, referenceInput(det, outs), {
      anchors: pp.anchors,
      levels: pp.levels,
      numClasses: pp.numClasses,
    });
    expect(want.length).toBeGreaterThan(5);

    const combined = appendPostprocess(buildFixture('ssd300'), { ...pp, exact: true, keepHeadOutputs: true });
    expect(combined.graph.outputs.map((v) => v.name)).toEqual(['scores', 'boxes', ...Object.values(OUTPUT_NAMES)]);
    const s = await session(combined);
    const res = await s.run({ input: new ort.Tensor('float32', image.input.data, image.input.dims) });
    expectSameDetections(toRun(res).detections, want);
    expect(res.scores!.data).toEqual(outs.scores!.data);

    const only = appendPostprocess(buildFixture('ssd300'), { ...pp, exact: true });
    expect(only.graph.outputs.map((v) => v.name)).toEqual(Object.values(OUTPUT_NAMES));
    expect(only.graph.nodes.filter((n) => n.opType === 'NonMaxSuppression').length).toBe(1);
    const res2 = await (
      await session(only)
    ).run({ input: new ort.Tensor('float32', image.input.data, image.input.dims) });
    expectSameDetections(toRun(res2).detections, want);
  });

  it('refuses an opset below 13, a missing or misshaped output, and a det_* name already taken', () => {
    const tiny = (opset: number, n = 3) => {
      const b = new GraphBuilder();
      const s = b.input('x_scores', DataType.FLOAT, [1, n, 2]);
      const x = b.input('x_boxes', DataType.FLOAT, [1, n, 4]);
      b.output(b.op('Identity', [s], [], 'scores'));
      b.output(b.op('Mul', [x, b.constant(Tensor.fromFloat32([], Float32Array.of(1)), 'one')], [], 'boxes'));
      return finishModel(b.graph, { opset });
    };
    const p = {
      spec: {
        decoder: { type: 'none' as const },
        anchorFormat: 'xyxy' as const,
        scores: 'sigmoid' as const,
        background: 'none' as const,
        scoreThreshold: 0.5,
        preNmsTopK: 0,
        topKScope: 'global' as const,
        nms: 'per-class' as const,
        iouThreshold: 0.5,
        maxDetections: 5,
      },
      anchors: new Float32Array(0),
      levels: [{ h: 1, w: 3, anchorsPerLocation: 1 }],
      numClasses: 2,
    };
    expect(errorOf(() => appendPostprocess(tiny(11), p))).toBe(
      'E_POSTPROCESS: appending onnx-nms post-processing: the model imports ai.onnx opset 11, the post-processing needs 13 or later',
    );
    expect(errorOf(() => appendPostprocess(tiny(13), { ...p, scoresName: 'logits' }))).toBe(
      'E_POSTPROCESS: appending onnx-nms post-processing: the model has no output "logits" (outputs: scores, boxes)',
    );
    expect(errorOf(() => appendPostprocess(tiny(13, 4), p))).toBe(
      'E_POSTPROCESS: appending onnx-nms post-processing: output scores is [1, 4, 2], expected [1, 3, 2] for 1 levels',
    );
    const taken = tiny(13);
    taken.graph.value('det_scores');
    expect(errorOf(() => appendPostprocess(taken, p))).toBe(
      'E_POSTPROCESS: appending onnx-nms post-processing: the model already has a value named det_scores',
    );
    // a model that takes it works
    expect(appendPostprocess(tiny(13), p).graph.outputs.map((v) => v.name)).toEqual(Object.values(OUTPUT_NAMES));
  });
});
