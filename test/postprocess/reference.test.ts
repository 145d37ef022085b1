import { describe, expect, it } from 'vitest';
import { f32, nextUpF } from '../../src/postprocess/float32';
import { TENSOR_PRESETS } from '../../src/postprocess/presets';
import {
  anchorsCenterSize,
  decodeBox,
  iouF,
  postprocess,
  type PostprocessContext,
} from '../../src/postprocess/reference';
import type { Detection, PostprocessSpec } from '../../src/postprocess/spec';
import { contextOf, detectorOutputs, makePlan, toPerLevel } from '../emit/fixtures';

/** Decoded boxes as given, probabilities, no background, thr 0.5, no top-k, per-class NMS at 0.5. */
const BASE: PostprocessSpec = {
  decoder: { type: 'none' },
  anchorFormat: 'xyxy',
  scores: 'probabilities',
  background: 'none',
  scoreThreshold: 0.5,
  preNmsTopK: 0,
  topKScope: 'global',
  nms: 'per-class',
  iouThreshold: 0.5,
  maxDetections: 100,
};

/** One level of `boxes.length` anchors (1 x n map, 1 per location), concat input. */
function run(
  spec: Partial<PostprocessSpec>,
  scores: number[][],
  boxes: number[][],
  ctx: Partial<PostprocessContext> = {},
): Detection[] {
  const n = scores.length;
  return postprocess(
    { ...BASE, ...spec },
    { form: 'concat', scores: Float32Array.from(scores.flat()), boxes: Float32Array.from(boxes.flat()) },
    {
      anchors: new Float32Array(n * 4),
      levels: [{ h: 1, w: n, anchorsPerLocation: 1 }],
      numClasses: scores[0]!.length,
      ...ctx,
    },
  );
}

const ids = (d: Detection[]) => d.map((x) => `${x.label}@${x.anchor}`);
/** Labels exactly, scores to float precision. */
function expectLabelScores(d: Detection[], want: [number, number][]): void {
  expect(d.map((x) => x.label)).toEqual(want.map((w) => w[0]));
  d.forEach((x, i) => expect(x.score).toBeCloseTo(want[i]![1], 6));
}
/** n boxes far apart from each other. */
const apart = (n: number) => Array.from({ length: n }, (_, i) => [10 * i, 0, 10 * i + 5, 5]);

describe('decoders (hand-computed)', () => {
  const box = (spec: PostprocessSpec, d: number[], anchor: number[]) =>
    decodeBox(
      spec,
      d as [number, number, number, number],
      anchorsCenterSize(Float32Array.from(anchor), spec.anchorFormat),
    );
  const close = (got: number[], want: number[]) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));

  it('ssd center-size with variances', () => {
    const spec: PostprocessSpec = { ...BASE, decoder: { type: 'ssd', variances: [0.1, 0.2] }, anchorFormat: 'cxcywh' };
    // cx = 10 + 4·0.1, cy = 20 - 8·0.1, w = 4, h = 8·exp(0.2·ln2/0.2) = 16
    close(box(spec, [1, -1, 0, Math.LN2 / 0.2], [10, 20, 4, 8]), [8.4, 11.2, 12.4, 27.2]);
  });

  it('mmdet DeltaXYWH: means, stds, clamp on both sides', () => {
    const spec: PostprocessSpec = {
      ...BASE,
      decoder: {
        type: 'mmdet-delta-xywh',
        means: [0, 0, 0, 0],
        stds: [0.1, 0.1, 0.2, 0.2],
        clamp: Math.log(1000 / 16),
      },
    };
    // anchor (0,0,10,20): center (5,10), size 10x20; gx = 5 + 10·0.1, gy = 10 + 20·0.2
    close(box(spec, [1, 2, 0, 0], [0, 0, 10, 20]), [1, 4, 11, 24]);
    // dw = 100·0.2 clamps to log(1000/16): w = 10·62.5; dh = -100·0.2 clamps to -log(1000/16): h = 20/62.5
    close(box(spec, [0, 0, 100, -100], [0, 0, 10, 20]), [5 - 312.5, 10 - 0.16, 5 + 312.5, 10 + 0.16]);
    const withMean: PostprocessSpec = {
      ...spec,
      decoder: { type: 'mmdet-delta-xywh', means: [0.5, 0, 0, 0], stds: [1, 1, 1, 1], clamp: 4 },
    };
    close(box(withMean, [0, 0, 0, 0], [0, 0, 10, 20]), [5, 0, 15, 20]);
  });

  it('torchvision: weights divide, clamp from above only', () => {
    const spec: PostprocessSpec = {
      ...BASE,
      decoder: { type: 'torchvision', weights: [10, 10, 5, 5], clamp: Math.log(1000 / 16) },
    };
    // dx = 1 -> cx = 5 + 10; dy = -2 -> cy = 10 - 40; dw = ln2 -> w = 20; h = 20
    close(box(spec, [10, -20, 5 * Math.LN2, 0], [0, 0, 10, 20]), [5, -40, 25, -20]);
    close(box(spec, [0, 0, 5000, 0], [0, 0, 10, 20]), [5 - 312.5, 0, 5 + 312.5, 20]);
    // no lower clamp: exp(-200) underflows to 0 in float, a zero-width box at the center
    close(box(spec, [0, 0, -1000, 0], [0, 0, 10, 20]), [5, 0, 5, 20]);
  });

  it('tflite: (ty, tx, th, tw) deltas and (y, x, h, w) scales', () => {
    const spec: PostprocessSpec = {
      ...BASE,
      decoder: { type: 'tflite', scales: [10, 10, 5, 5] },
      anchorFormat: 'cxcywh',
    };
    // cy = 0.4 + 1·0.1, cx = 0.5 - 1·0.2, h = 0.1, w = 0.2·2
    close(box(spec, [10, -10, 0, 5 * Math.LN2], [0.5, 0.4, 0.2, 0.1]), [0.1, 0.45, 0.5, 0.55]);
  });

  it('none passes boxes through; clip bounds every coordinate', () => {
    close(box(BASE, [-1, 2, 3, 4], [0, 0, 0, 0]), [-1, 2, 3, 4]);
    close(box({ ...BASE, clip: [2, 3] }, [-1, 2, 3, 4], [0, 0, 0, 0]), [0, 2, 2, 3]);
  });

  it('anchor rows xyxy -> center-size in float', () => {
    expect(Array.from(anchorsCenterSize(Float32Array.from([0, 0, 10, 20, 1, 1, 2, 3]), 'xyxy'))).toEqual([
      5, 10, 10, 20, 1.5, 2, 1, 2,
    ]);
  });
});

describe('scores', () => {
  const row = [0, Math.log(2), Math.log(5)]; // softmax 1/8, 2/8, 5/8
  const one = [[0, 0, 1, 1]];

  it('softmax with the background first, last or absent', () => {
    const first = run({ scores: 'softmax', background: 'first', scoreThreshold: 0.2 }, [row], one);
    expectLabelScores(first, [
      [1, 0.625],
      [0, 0.25],
    ]);
    const last = run({ scores: 'softmax', background: 'last', scoreThreshold: 0.2 }, [row], one);
    expectLabelScores(last, [[1, 0.25]]);
    const none = run({ scores: 'softmax', background: 'none', scoreThreshold: 0.1 }, [row], one);
    expectLabelScores(none, [
      [2, 0.625],
      [1, 0.25],
      [0, 0.125],
    ]);
  });

  it('softmax subtracts the row maximum (large logits stay finite)', () => {
    const d = run({ scores: 'softmax', background: 'first', scoreThreshold: 0.5 }, [[1000, 1000 + Math.log(3)]], one);
    expect(d).toHaveLength(1);
    expect(d[0]!.score).toBeCloseTo(0.75, 4);
  });

  it('sigmoid ignores the background column and decides on the score', () => {
    const d = run({ scores: 'sigmoid', background: 'first', scoreThreshold: 0.5 }, [[50, 0, Math.log(3)]], one);
    // column 0 is background; label 0 has logit 0 -> 0.5, not > 0.5; label 1 -> 0.75
    expectLabelScores(d, [[1, 0.75]]);
  });

  it('the threshold is strict: score == thr is rejected, the next float up is kept', () => {
    expect(run({}, [[0.5]], one)).toEqual([]);
    expect(ids(run({}, [[nextUpF(0.5)]], one))).toEqual(['0@0']);
    // a zero score never passes, even at threshold 0
    expect(run({ scoreThreshold: 0 }, [[0], [-0]], apart(2))).toEqual([]);
  });

  it('all scores below the threshold give no detections', () => {
    expect(run({ scores: 'softmax', background: 'last', scoreThreshold: 0.9 }, [row, row], apart(2))).toEqual([]);
  });

  it('NaN never passes; +Inf is deterministic', () => {
    // probabilities: NaN skipped, +Inf kept and ranked first
    expect(ids(run({}, [[NaN], [0.9], [Infinity]], apart(3)))).toEqual(['0@2', '0@1']);
    // sigmoid: +Inf -> 1, -Inf -> 0, NaN -> NaN
    const s = run({ scores: 'sigmoid', scoreThreshold: 0 }, [[Infinity], [-Infinity], [NaN]], apart(3));
    expect(s.map((d) => [d.anchor, d.score])).toEqual([[0, 1]]);
    // softmax: a NaN anywhere in the row removes the anchor; +Inf columns share 1; a row of -Inf has no candidates
    const m = run(
      { scores: 'softmax', background: 'first', scoreThreshold: 0.1 },
      [
        [0, NaN, 5],
        [0, Infinity, Infinity],
        [-Infinity, -Infinity, -Infinity],
        [Infinity, 0, 1],
      ],
      apart(4),
    );
    expect(m.map((d) => [d.label, d.anchor, d.score])).toEqual([
      [0, 1, 0.5],
      [1, 1, 0.5],
    ]);
  });
});

describe('candidates, top-k, NMS, output', () => {
  it('IoU uses the box units as given; IoU == thr is kept, above is suppressed', () => {
    expect(iouF([0, 0, 4, 1], [0, 0, 2, 1])).toBe(0.5);
    expect(iouF([0, 0, 1, 1], [2, 2, 3, 3])).toBe(0);
    expect(iouF([NaN, 0, 1, 1], [0, 0, 1, 1])).toBe(0);
    const boxes = [
      [0, 0, 4, 1],
      [0, 0, 2, 1],
    ];
    expect(ids(run({ iouThreshold: 0.5 }, [[0.9], [0.8]], boxes))).toEqual(['0@0', '0@1']);
    expect(ids(run({ iouThreshold: f32(0.49) }, [[0.9], [0.8]], boxes))).toEqual(['0@0']);
  });

  it('ties go to the lower anchor index, then the lower label', () => {
    const same = [
      [0, 0, 2, 2],
      [5, 5, 6, 6],
      [0, 0, 2, 2],
      [0, 0, 2, 2],
    ];
    // anchors 0, 2, 3 share a box and a score: 0 survives NMS; 1 is apart
    expect(ids(run({}, [[0.8], [0.8], [0.8], [0.9]], same))).toEqual(['0@3', '0@1']);
    expect(ids(run({}, [[0.8], [0.8], [0.8], [0.7]], same))).toEqual(['0@0', '0@1']);
    // equal scores, far apart: output in anchor order
    expect(ids(run({}, [[0.6], [0.6], [0.6]], apart(3)))).toEqual(['0@0', '0@1', '0@2']);
    // one anchor, two labels with equal scores, agnostic NMS: the lower label survives
    expect(ids(run({ nms: 'agnostic' }, [[0.7, 0.7]], [[0, 0, 1, 1]]))).toEqual(['0@0']);
  });

  it('per-class NMS only compares boxes of the same label; agnostic compares all', () => {
    const scores = [
      [0.9, 0.1],
      [0.1, 0.8],
      [0.7, 0.1],
    ];
    const boxes = [
      [0, 0, 2, 2],
      [0, 0, 2, 2.1],
      [0, 0, 2.1, 2],
    ];
    expect(ids(run({ nms: 'per-class' }, scores, boxes))).toEqual(['0@0', '1@1']);
    expect(ids(run({ nms: 'agnostic' }, scores, boxes))).toEqual(['0@0']);
  });

  it('top-k per level or over all levels', () => {
    const scores = [[0.9], [0.8], [0.7], [0.6], [0.55]];
    const ctx = {
      levels: [
        { h: 1, w: 3, anchorsPerLocation: 1 },
        { h: 1, w: 2, anchorsPerLocation: 1 },
      ],
    };
    expect(ids(run({ preNmsTopK: 2, topKScope: 'per-level' }, scores, apart(5), ctx))).toEqual([
      '0@0',
      '0@1',
      '0@3',
      '0@4',
    ]);
    expect(ids(run({ preNmsTopK: 2, topKScope: 'global' }, scores, apart(5), ctx))).toEqual(['0@0', '0@1']);
    // top-k ranks (anchor, label) pairs, not anchors
    expect(
      ids(
        run(
          { preNmsTopK: 2 },
          [
            [0.9, 0.95],
            [0.99, 0.1],
          ],
          apart(2),
        ),
      ),
    ).toEqual(['0@1', '1@0']);
  });

  it('the candidate cap keeps the highest ranked candidates before NMS', () => {
    const scores = [[0.9], [0.8], [0.7]];
    const boxes = [
      [0, 0, 2, 2],
      [0, 0, 2, 2],
      [10, 0, 12, 2],
    ];
    expect(ids(run({}, scores, boxes, { candidateCap: 2 }))).toEqual(['0@0']);
    expect(ids(run({}, scores, boxes, { candidateCap: 3 }))).toEqual(['0@0', '0@2']);
  });

  it('maxDetections truncates the ranked output', () => {
    expect(ids(run({ maxDetections: 3 }, [[0.6], [0.9], [0.7], [0.8], [0.95]], apart(5)))).toEqual([
      '0@4',
      '0@1',
      '0@3',
    ]);
  });

  it("a suppressed anchor scores 0 everywhere (verify's oracle)", () => {
    const scores = [[0.9], [0.8]];
    const boxes = [
      [0, 0, 2, 2],
      [0, 0, 2, 2],
    ];
    expect(ids(run({}, scores, boxes))).toEqual(['0@0']);
    expect(ids(run({}, scores, boxes, { suppressed: Uint8Array.from([1, 0]) }))).toEqual(['0@1']);
  });

  it('NaN boxes suppress nothing and are never suppressed', () => {
    const d = run(
      {},
      [[0.9], [0.8], [0.7]],
      [
        [NaN, 0, 2, 2],
        [0, 0, 2, 2],
        [0, 0, 2, 2],
      ],
    );
    expect(ids(d)).toEqual(['0@0', '0@1']);
    expect(d[0]!.box[0]).toBeNaN();
  });

  it('rejects inputs that do not fit the levels', () => {
    expect(() => run({}, [[0.5]], [[0, 0, 1, 1]], { levels: [{ h: 1, w: 2, anchorsPerLocation: 1 }] })).toThrow(
      /scores has 1 values, expected 2 anchors x 1 columns/,
    );
  });
});

describe('input forms', () => {
  it('per-level maps (channel a*K + k) give the same detections as the concatenated tensors', () => {
    for (const preset of ['mmdet-ssd300', 'torchvision-retinanet'] as const) {
      const plan = makePlan({
        spec: preset,
        levels: [
          { h: 3, w: 4, a: 3, stride: 8 },
          { h: 0, w: 0, a: 2, stride: 16 },
          { h: 2, w: 2, a: 2, stride: 32 },
        ],
        numClasses: 5,
      });
      const out = detectorOutputs(plan, 7);
      const ctx = contextOf(plan);
      const concat = postprocess(plan.spec, { form: 'concat', ...out }, ctx);
      const perLevel = postprocess(plan.spec, { form: 'per-level', levels: toPerLevel(plan, out) }, ctx);
      expect(concat.length).toBeGreaterThan(0);
      expect(perLevel).toEqual(concat);
    }
  });

  it('every preset runs on synthetic outputs', () => {
    for (const name of TENSOR_PRESETS) {
      const plan = makePlan({
        spec: name,
        levels: [
          { h: 4, w: 4, a: 2, stride: 8 },
          { h: 2, w: 2, a: 3, stride: 16 },
        ],
        numClasses: 4,
        candidateCap: 1000,
      });
      const d = postprocess(plan.spec, { form: 'concat', ...detectorOutputs(plan, 3) }, contextOf(plan));
      expect(d.length, name).toBeGreaterThan(0);
    }
  });
});
