// The onnx-nms post-processing graph run in onnxruntime-node against the TypeScript reference: every preset, every
// decoder, score mode, top-k scope and NMS mode, on head outputs shaped like a trained detector's; plus the graph's
// structure and its refusals.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildPostprocessGraph, emitOnnxNms, MAX_CANDIDATES } from '../../src/emit/onnx';
import { PrunedetError } from '../../src/errors';
import { PRESETS, TENSOR_PRESETS } from '../../src/postprocess/presets';
import { TENSOR_DECODER_TYPES, type Decoder, type PostprocessSpec } from '../../src/postprocess/spec';
import { f32 } from '../../src/postprocess/float32';
import { declaredType } from '../../src/onnx/value-info';
import { candidatesAbove, detectorOutputs, numAnchors } from '../emit/fixtures';
import { session } from '../_support/ort';
import { check, openGraph, paramsOf, planFor, reference, SSD300_LEVELS } from './support';

const DECODER_PARAMS: Record<Decoder['type'], Decoder> = {
  none: { type: 'none' },
  ssd: { type: 'ssd', variances: [0.1, 0.2] },
  'mmdet-delta-xywh': {
    type: 'mmdet-delta-xywh',
    means: [0.01, -0.02, 0.03, 0],
    stds: [0.1, 0.1, 0.2, 0.2],
    clamp: Math.log(1000 / 16),
  },
  torchvision: { type: 'torchvision', weights: [10, 10, 5, 5], clamp: Math.log(1000 / 16) },
  tflite: { type: 'tflite', scales: [10, 10, 5, 5] },
  xywh: { type: 'xywh' },
  yolov5: { type: 'yolov5' },
  yolov3: { type: 'yolov3' },
};

describe('onnx-nms graph agrees with the reference', () => {
  for (const name of TENSOR_PRESETS) {
    it(`preset ${name}`, async () => {
      const plan = planFor(structuredClone(PRESETS[name]!));
      const outputs = [1, 2, 3].map((seed) => detectorOutputs(plan, seed * 101 + name.length));
      const counts = await check(plan, outputs);
      expect(counts.some((c) => c > 0)).toBe(true);
    });
  }

  for (const type of TENSOR_DECODER_TYPES) {
    it(`decoder ${type}, both anchor formats, per-class and agnostic NMS, clip on and off`, async () => {
      let total = 0;
      for (const anchorFormat of ['xyxy', 'cxcywh'] as const) {
        for (const nms of ['per-class', 'agnostic'] as const) {
          const clip: [number, number] | undefined = anchorFormat === 'xyxy' ? [60, 40] : undefined;
          const spec: PostprocessSpec = {
            ...structuredClone(PRESETS['torchvision-ssd']!),
            decoder: DECODER_PARAMS[type],
            anchorFormat,
            nms,
            scoreThreshold: 0.05,
            iouThreshold: 0.3,
            clip,
          };
          if (!clip) delete spec.clip;
          const plan = planFor(spec);
          const outputs = [4, 5].map((seed) => {
            const o = detectorOutputs(plan, seed, 12);
            // large deltas too, so that the dw/dh clamps and the clip act
            if (type !== 'none') for (let i = 0; i < o.boxes.length; i += 7) o.boxes[i] = o.boxes[i]! * 30;
            return o;
          });
          total += (await check(plan, outputs)).reduce((a, b) => a + b, 0);
        }
      }
      expect(total).toBeGreaterThan(0);
    });
  }

  it('softmax with the background first and last, sigmoid, and probabilities', async () => {
    const base = PRESETS['mmdet-ssd300']!;
    const variants: Partial<PostprocessSpec>[] = [
      { scores: 'softmax', background: 'first' },
      { scores: 'softmax', background: 'last' },
      { scores: 'sigmoid', background: 'none' },
      { scores: 'sigmoid', background: 'first' },
      { scores: 'probabilities', background: 'last' },
      { scores: 'probabilities', background: 'none' },
    ];
    for (const v of variants) {
      const plan = planFor({ ...structuredClone(base), ...v, scoreThreshold: 0.05 });
      const counts = await check(
        plan,
        [6, 7].map((s) => detectorOutputs(plan, s, 10)),
      );
      expect(Math.max(...counts)).toBeGreaterThan(0);
    }
  });

  it('per-level and global pre-NMS top-k with the cap hit, softmax and sigmoid, per-class and agnostic', async () => {
    for (const base of ['mmdet-ssd300', 'mmdet-retinanet'] as const) {
      for (const topKScope of ['per-level', 'global'] as const) {
        for (const nms of ['per-class', 'agnostic'] as const) {
          const spec: PostprocessSpec = {
            ...structuredClone(PRESETS[base]!),
            scoreThreshold: 0.001,
            preNmsTopK: 20,
            topKScope,
            nms,
            iouThreshold: 0.3,
          };
          const plan = planFor(spec);
          const outputs = [7, 8].map((s) => detectorOutputs(plan, s, 40));
          for (const o of outputs) expect(candidatesAbove(plan, o)).toBeGreaterThan(60);
          const counts = await check(plan, outputs);
          expect(Math.min(...counts)).toBeGreaterThan(0);
        }
      }
    }
  });

  it('top-k with exact score ties at the cut keeps the lower (anchor, label)', async () => {
    for (const topKScope of ['per-level', 'global'] as const) {
      const spec: PostprocessSpec = {
        ...structuredClone(PRESETS['tflite-ssd']!),
        scoreThreshold: 0.1,
        preNmsTopK: 17,
        topKScope,
        nms: 'per-class',
        iouThreshold: 0.5,
        maxDetections: 100,
      };
      const plan = planFor(spec);
      const out = detectorOutputs(plan, 11, 0);
      // probabilities from {0.25, 0.5, 0.75}: hundreds of exact ties across anchors and labels
      for (let i = 0; i < out.scores.length; i++) out.scores[i] = 0.25 * (1 + ((i * 7) % 3));
      const [count] = await check(plan, [out]);
      expect(count).toBeGreaterThan(0);
    }
  });

  it('an SSD300-sized graph: 8732 anchors x 81 classes, mmdet-ssd300 (per-level top 1000, max 200)', async () => {
    const plan = planFor(structuredClone(PRESETS['mmdet-ssd300']!), SSD300_LEVELS, 81);
    expect(numAnchors(plan)).toBe(8732);
    const outputs = [detectorOutputs(plan, 1, 30), detectorOutputs(plan, 2, 400)];
    const counts = await check(plan, outputs);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(200); // max detections
    // the per-level cap of 1000 was hit on the second input
    expect(candidatesAbove(plan, outputs[1]!)).toBeGreaterThan(1000);
  });

  it('no anchor above the threshold: 0 detections with outputs [0,4], [0], [0], [0]', async () => {
    for (const name of ['mmdet-ssd300', 'mmdet-retinanet', 'tflite-ssd'] as const) {
      const plan = planFor(structuredClone(PRESETS[name]!));
      const out = detectorOutputs(plan, 9, 0);
      const c = plan.numClasses;
      const bg = plan.spec.background === 'last' ? c - 1 : 0;
      for (let i = 0; i < out.scores.length; i++) {
        out.scores[i] =
          plan.spec.scores === 'probabilities' ? 0 : plan.spec.scores === 'sigmoid' ? -20 : i % c === bg ? 10 : -5;
      }
      expect(reference(plan, out)).toEqual([]);
      const got = await (await openGraph(plan)).run(out);
      expect(got.detections).toEqual([]);
      expect(got.dims).toEqual({ det_boxes: [0, 4], det_scores: [0], det_labels: [0], det_anchors: [0] });
      expect(got.types).toEqual({
        det_boxes: 'float32',
        det_scores: 'float32',
        det_labels: 'int64',
        det_anchors: 'int64',
      });
    }
  });

  it('levels with 0 anchors (0 per location, empty map) and a model whose every level is empty', async () => {
    const spec = structuredClone(PRESETS['mmdet-retinanet']!);
    const plan = planFor(spec, [
      { h: 2, w: 2, a: 0, stride: 8 },
      { h: 3, w: 3, a: 2, stride: 16 },
      { h: 0, w: 0, a: 3, stride: 32 },
    ]);
    const counts = await check(plan, [detectorOutputs(plan, 3, 4)]);
    expect(counts[0]).toBeGreaterThan(0);
    const empty = planFor({ ...spec, preNmsTopK: 5 }, [
      { h: 2, w: 2, a: 0, stride: 8 },
      { h: 0, w: 0, a: 3, stride: 32 },
    ]);
    expect(numAnchors(empty)).toBe(0);
    const got = await (await openGraph(empty)).run({ scores: new Float32Array(0), boxes: new Float32Array(0) });
    expect(got.dims).toEqual({ det_boxes: [0, 4], det_scores: [0], det_labels: [0], det_anchors: [0] });
  });

  it('max detections cuts in rank order', async () => {
    for (const nms of ['per-class', 'agnostic'] as const) {
      const plan = planFor({ ...structuredClone(PRESETS['mmdet-retinanet']!), maxDetections: 7, nms });
      const out = detectorOutputs(plan, 12, 40);
      expect(reference({ ...plan, spec: { ...plan.spec, maxDetections: 1000 } }, out).length).toBeGreaterThan(7);
      expect(await check(plan, [out])).toEqual([7]);
    }
  });

  it('opset 18 (reductions take axes as inputs) and opset 13 give the same detections', async () => {
    const plan = planFor(structuredClone(PRESETS['mmdet-ssd300']!));
    const g18 = await openGraph(plan, buildPostprocessGraph(paramsOf(plan, { opset: 18 })));
    await check(plan, [detectorOutputs(plan, 21, 10)], g18);
  });
});

/** Probabilities in, decoder none: the scores the graph gets are the scores given. */
function boxesLikeTies(nms: PostprocessSpec['nms']): PostprocessSpec {
  return {
    ...structuredClone(PRESETS['tflite-ssd']!),
    decoder: { type: 'none' },
    anchorFormat: 'xyxy',
    background: 'none',
    scoreThreshold: 0.1,
    nms,
    maxDetections: 100,
  };
}

describe('onnx-nms graph structure and refusals', () => {
  it('declares its inputs and outputs, names them as asked, and serialises deterministically', () => {
    const plan = planFor(structuredClone(PRESETS['mmdet-ssd300']!));
    const model = buildPostprocessGraph(paramsOf(plan, { scoresName: 'cls', boxesName: 'reg' }));
    const g = model.graph;
    const n = numAnchors(plan);
    expect(g.inputs.map((v) => [v.name, declaredType(v)])).toEqual([
      ['cls', { dtype: 1, shape: [1, n, 6] }],
      ['reg', { dtype: 1, shape: [1, n, 4] }],
    ]);
    expect(g.outputs.map((v) => [v.name, declaredType(v)])).toEqual([
      ['det_boxes', { dtype: 1, shape: ['num_detections', 4] }],
      ['det_scores', { dtype: 1, shape: ['num_detections'] }],
      ['det_labels', { dtype: 7, shape: ['num_detections'] }],
      ['det_anchors', { dtype: 7, shape: ['num_detections'] }],
    ]);
    expect(model.opset()).toBe(13);
    const bytes = emitOnnxNms(paramsOf(plan));
    expect(Buffer.from(emitOnnxNms(paramsOf(plan))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('runs one NonMaxSuppression with max_output_boxes_per_class = max detections and center_point_box 0', () => {
    for (const nms of ['per-class', 'agnostic'] as const) {
      const plan = planFor({
        ...structuredClone(PRESETS['mmdet-retinanet']!),
        nms,
        maxDetections: 42,
        iouThreshold: 0.55,
      });
      const g = buildPostprocessGraph(paramsOf(plan)).graph;
      const ops = g.nodes.filter((x) => x.opType === 'NonMaxSuppression');
      expect(ops.length).toBe(1);
      const node = ops[0]!;
      expect(node.getInt('center_point_box')).toBe(0);
      expect(node.input(2)!.constant()!.numbers()).toEqual([42]);
      expect(node.input(3)!.constant()!.numbers()).toEqual([f32(0.55)]);
    }
  });

  it('NonMaxSuppression never sees a tie: its scores are the ranks M..1 of the candidates (0 = none, per-class)', async () => {
    for (const nms of ['per-class', 'agnostic'] as const) {
      const spec = boxesLikeTies(nms);
      const plan = planFor(spec, [{ h: 4, w: 5, a: 2, stride: 8 }], 3);
      const model = buildPostprocessGraph(paramsOf(plan));
      const node = model.graph.nodes.find((x) => x.opType === 'NonMaxSuppression')!;
      model.graph.outputs.push(node.input(1)!);
      const out = detectorOutputs(plan, 31, 0);
      out.scores.fill(0.5); // every pair above the threshold, all tied
      const s = await session(model);
      const res = await s.run({
        scores: new ort.Tensor('float32', out.scores, [1, numAnchors(plan), 3]),
        boxes: new ort.Tensor('float32', out.boxes, [1, numAnchors(plan), 4]),
      });
      const ranks = Array.from(res[node.input(1)!.name]!.data as Float32Array)
        .filter((v) => v !== 0)
        .sort((a, b) => b - a);
      const m = numAnchors(plan) * 3;
      expect(ranks).toEqual(Array.from({ length: m }, (_, i) => m - i));
    }
  });

  it('refuses an opset below 13, an anchor table of the wrong size, and more candidates than float ranks', () => {
    const plan = planFor(structuredClone(PRESETS['mmdet-ssd300']!));
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof PrunedetError ? `${e.code}: ${e.message}` : String(e);
      }
      return 'no error';
    };
    expect(codeOf(() => buildPostprocessGraph(paramsOf(plan, { opset: 12 })))).toBe(
      'E_POSTPROCESS: onnx-nms post-processing: opset 12 is below 13',
    );
    expect(codeOf(() => buildPostprocessGraph(paramsOf(plan, { anchors: plan.anchors.subarray(4) })))).toBe(
      `E_POSTPROCESS: onnx-nms post-processing: the anchor table has ${numAnchors(plan) - 1} rows but the levels have ${numAnchors(plan)} anchors`,
    );
    // 2^24 / 80 classes = 209716 anchors; a RetinaNet-like 460x460 map with 1 anchor per location is above that
    const big = {
      spec: { ...structuredClone(PRESETS['mmdet-retinanet']!), preNmsTopK: 0 },
      anchors: new Float32Array(460 * 460 * 4),
      levels: [{ h: 460, w: 460, anchorsPerLocation: 1 }],
      numClasses: 80,
    };
    expect(codeOf(() => buildPostprocessGraph(big))).toBe(
      `E_POSTPROCESS: onnx-nms post-processing: up to ${460 * 460 * 80} candidates, above the ${MAX_CANDIDATES} the graph can rank exactly in float32`,
    );
    // the same head with top_k per level is fine
    expect(() => buildPostprocessGraph({ ...big, spec: { ...big.spec, preNmsTopK: 1000 } })).not.toThrow();
    // and the spec itself is validated
    expect(codeOf(() => buildPostprocessGraph(paramsOf(plan, { numClasses: 1 })))).toMatch(
      /^E_POSTPROCESS: post-processing spec: 1 score column/,
    );
  });
});
