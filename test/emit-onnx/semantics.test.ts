// The boundaries of the onnx-nms graph's semantics, each against the reference: threshold equality, IoU equality,
// exact score ties (inside NMS, at the output order), saturated scores, non-finite inputs, agnostic NMS over pairs,
// expf; and the documented difference (boxes with x2 < x1), asserted as a difference.
import { describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { Ops } from '../../src/emit/onnx/ops';
import { DataType, finishModel, GraphBuilder } from '../../src/ir/builder';
import { EXP_CONST, expF, f32, lastFloatWhere, nextDownF, nextUpF, sigmoidF } from '../../src/postprocess/float32';
import { PRESETS } from '../../src/postprocess/presets';
import type { PostprocessSpec } from '../../src/postprocess/spec';
import * as ort from 'onnxruntime-node';
import { modelToBytes } from '../../src/onnx/save';
import { gaussian, mulberry32 } from '../_support/prng';
import { detectorOutputs, numAnchors, type HeadOutputs } from '../emit/fixtures';
import { check, expectSameDetections, openGraph, planFor, reference } from './support';

/** Probabilities in, xyxy boxes in (decoder none): every value the graph sees is exactly the one given. */
function boxesSpec(o: Partial<PostprocessSpec> = {}): PostprocessSpec {
  return {
    decoder: { type: 'none' },
    anchorFormat: 'xyxy',
    scores: 'probabilities',
    background: 'none',
    scoreThreshold: 0.3,
    preNmsTopK: 0,
    topKScope: 'global',
    nms: 'per-class',
    iouThreshold: 0.5,
    maxDetections: 100,
    ...o,
  };
}

/** A plan of `n` anchors (one level, 1 x n) and `c` columns, with the given rows. */
function rowsCase(
  spec: PostprocessSpec,
  c: number,
  scores: number[][],
  boxes: number[][],
): { plan: EmitPlan; out: HeadOutputs } {
  const plan = planFor(spec, [{ h: 1, w: scores.length, a: 1, stride: 8 }], c);
  return { plan, out: { scores: Float32Array.from(scores.flat()), boxes: Float32Array.from(boxes.flat()) } };
}

async function graphAndReference(plan: EmitPlan, out: HeadOutputs) {
  const got = (await (await openGraph(plan)).run(out)).detections;
  return { got, want: reference(plan, out), key: got.map((d) => `${d.label}@${d.anchor}`).join(' ') };
}

describe('onnx-nms graph at the semantic boundaries', () => {
  it('a score equal to the threshold is not a candidate, the next float above is', async () => {
    for (const thr of [0.3, 0.1, 0]) {
      const t = f32(thr);
      const at = [t, nextUpF(t), nextDownF(t > 0 ? t : nextUpF(t)), t];
      const { plan, out } = rowsCase(
        boxesSpec({ scoreThreshold: thr }),
        1,
        at.map((s) => [s]),
        at.map((_, i) => [20 * i, 0, 20 * i + 10, 10]),
      );
      const { got, want, key } = await graphAndReference(plan, out);
      expectSameDetections(got, want);
      expect(key).toBe('0@1');
    }
  });

  it('sigmoid logits around the threshold decide exactly as the reference', async () => {
    const spec: PostprocessSpec = {
      ...structuredClone(PRESETS['torchvision-retinanet']!),
      scoreThreshold: 0.3,
      preNmsTopK: 0,
      maxDetections: 1000,
      iouThreshold: 1,
    };
    const plan = planFor(spec);
    const t = f32(0.3);
    const last = lastFloatWhere((x) => sigmoidF(x) <= t); // largest logit the reference rejects
    const o = detectorOutputs(plan, 3, 0);
    for (let i = 0; i < o.scores.length; i++) {
      let x = last;
      const step = i % 2 === 0 ? nextUpF : nextDownF;
      for (let k = 0; k < i % 9; k++) x = step(x);
      o.scores[i] = x;
    }
    const [count] = await check(plan, [o]);
    expect(count).toBeGreaterThan(10);
  });

  it('softmax rows whose foreground probability sits next to the threshold decide as the reference', async () => {
    const spec: PostprocessSpec = {
      ...structuredClone(PRESETS['torchvision-ssd']!),
      scoreThreshold: 0.3,
      iouThreshold: 1,
      maxDetections: 1000,
    };
    const plan = planFor(spec);
    const g = gaussian(mulberry32(23));
    const o = detectorOutputs(plan, 4, 0);
    const logit = Math.log(0.3 / 0.7);
    for (let n = 0; n < numAnchors(plan); n++) {
      for (let j = 0; j < 6; j++) o.scores[n * 6 + j] = j === 0 ? 0 : j === 1 + (n % 5) ? f32(logit + 1e-6 * g()) : -20;
    }
    const [count] = await check(plan, [o]);
    expect(count).toBeGreaterThan(10);
  });

  it('IoU equal to the threshold does not suppress; the next float below the IoU does', async () => {
    // [0,0,2,1] and [0,0,1,1]: IoU = 1 / 2 exactly; per-class: both label 0; agnostic: labels 0 and 1
    for (const nms of ['per-class', 'agnostic'] as const) {
      const second = nms === 'agnostic' ? [0, 0.8] : [0.8, 0];
      const secondKey = nms === 'agnostic' ? '1@1' : '0@1';
      for (const [iou, kept] of [
        [0.5, true],
        [nextDownF(0.5), false],
      ] as const) {
        const { plan, out } = rowsCase(
          boxesSpec({ nms, iouThreshold: iou }),
          2,
          [[0.9, 0], second],
          [
            [0, 0, 2, 1],
            [0, 0, 1, 1],
          ],
        );
        const { got, want, key } = await graphAndReference(plan, out);
        expectSameDetections(got, want);
        expect(key).toBe(kept ? `0@0 ${secondKey}` : '0@0');
      }
    }
  });

  it('equal scores in one class: NMS visits them by anchor, whatever order the op pops ties in', async () => {
    // a chain of boxes where each overlaps the next (IoU 7/13) but not the one after (IoU 4/16): visiting by anchor
    // keeps 0, 2, 4, ...; any other visiting order keeps another set
    for (const nms of ['per-class', 'agnostic'] as const) {
      const n = 24;
      const rows = Array.from({ length: n }, () => [0.5]);
      const boxes = Array.from({ length: n }, (_, i) => [3 * i, 0, 3 * i + 10, 10]);
      const { plan, out } = rowsCase(boxesSpec({ nms }), 1, rows, boxes);
      const { got, want, key } = await graphAndReference(plan, out);
      expectSameDetections(got, want);
      expect(key).toBe(Array.from({ length: n / 2 }, (_, i) => `0@${2 * i}`).join(' '));
    }
  });

  it('quantised scores and boxes: many exact ties in NMS, in the top-k cut and in the output order', async () => {
    for (const nms of ['per-class', 'agnostic'] as const) {
      for (const preNmsTopK of [0, 30]) {
        const spec = boxesSpec({
          scoreThreshold: 0,
          nms,
          preNmsTopK,
          topKScope: 'per-level',
          iouThreshold: 0.4,
          maxDetections: 60,
        });
        const plan = planFor(
          spec,
          [
            { h: 6, w: 8, a: 3, stride: 8 },
            { h: 3, w: 4, a: 2, stride: 16 },
          ],
          4,
        );
        const rand = mulberry32(5 + preNmsTopK);
        const out = detectorOutputs(plan, 40, 0);
        for (let i = 0; i < out.scores.length; i++) out.scores[i] = (1 + Math.floor(rand() * 8)) / 8;
        for (let i = 0; i < out.boxes.length; i++) out.boxes[i] = Math.round(out.boxes[i]! / 4) * 4;
        const [count] = await check(plan, [out]);
        expect(count).toBeGreaterThan(10);
      }
    }
  });

  it('saturated sigmoid scores (exactly 1) order by anchor, then label', async () => {
    const spec: PostprocessSpec = {
      ...structuredClone(PRESETS['mmdet-retinanet']!),
      iouThreshold: 0.9,
      maxDetections: 300,
    };
    const plan = planFor(spec);
    const out = detectorOutputs(plan, 13, 20);
    const rand = mulberry32(13);
    for (let i = 0; i < out.scores.length; i += 3) if (rand() < 0.3) out.scores[i] = 20 + 20 * rand();
    expect(sigmoidF(20)).toBe(1);
    const [count] = await check(plan, [out]);
    expect(count).toBeGreaterThan(20);
  });

  it('NaN and infinite logits and probabilities, infinite dw/dh, give the reference result', async () => {
    const specs: PostprocessSpec[] = [
      { ...structuredClone(PRESETS['torchvision-ssd']!), scoreThreshold: 0.3 },
      { ...structuredClone(PRESETS['torchvision-retinanet']!), scoreThreshold: 0.3 },
      { ...structuredClone(PRESETS.ultraface!), scoreThreshold: 0.3 },
      { ...structuredClone(PRESETS['tflite-ssd']!), scoreThreshold: 0.3 },
    ];
    for (const spec of specs) {
      const plan = planFor(spec);
      const rand = mulberry32(17);
      const outputs = [0, 1, 2].map((s) => {
        const o = detectorOutputs(plan, 60 + s, 10);
        const specials = [NaN, Infinity, -Infinity, Infinity];
        for (let i = 0; i < 25; i++) o.scores[Math.floor(rand() * o.scores.length)] = specials[i % 4]!;
        // +-Inf in dw/dh (columns 2, 3 for every decoder): boxes of infinite or zero size, never NaN coordinates (those
        // are the documented difference below)
        for (let i = 0; i < 6; i++)
          o.boxes[4 * Math.floor(rand() * numAnchors(plan)) + 2 + (i % 2)] = i % 3 ? Infinity : -Infinity;
        // a row of +Inf, a row of -Inf, a row with +Inf and NaN
        const c = plan.numClasses;
        const r = Math.floor(rand() * (numAnchors(plan) - 20));
        o.scores.fill(Infinity, r * c, r * c + c);
        o.scores.fill(-Infinity, (r + 7) * c, (r + 7) * c + c);
        o.scores[(r + 13) * c + 1] = Infinity;
        o.scores[(r + 13) * c + 2] = NaN;
        return o;
      });
      expect(Math.max(...(await check(plan, outputs)))).toBeGreaterThan(0);
    }
  });

  it('agnostic NMS over pairs keeps an anchor once per label where the reference does (iou_thr 1, zero-area boxes)', async () => {
    // anchor 0 scores two labels; with iou_thr = 1 its own box (IoU 1) does not suppress the second label
    const one = rowsCase(
      boxesSpec({ nms: 'agnostic', iouThreshold: 1 }),
      3,
      [
        [0.9, 0.8, 0],
        [0, 0, 0.7],
      ],
      [
        [0, 0, 10, 10],
        [0, 0, 10, 10],
      ],
    );
    let r = await graphAndReference(one.plan, one.out);
    expectSameDetections(r.got, r.want);
    expect(r.key).toBe('0@0 1@0 2@1');
    // a zero-area box (clipped to the image edge) overlaps nothing, itself included
    const flat = rowsCase(
      boxesSpec({ nms: 'agnostic', iouThreshold: 0.5, clip: [50, 50] }),
      2,
      [
        [0.9, 0.6],
        [0.8, 0],
      ],
      [
        [60, 0, 70, 10],
        [0, 0, 10, 10],
      ],
    );
    r = await graphAndReference(flat.plan, flat.out);
    expectSameDetections(r.got, r.want);
    expect(r.key).toBe('0@0 0@1 1@0');
    expect(r.got[0]!.box).toEqual([50, 0, 50, 10]);
  });

  it('equal scores across classes come out by anchor, then label', async () => {
    const s = 0.625;
    const { plan, out } = rowsCase(
      boxesSpec(),
      5,
      [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, s, 0, 0, s],
        [0, 0, 0, 0, 0],
        [0, 0, s, 0, 0],
      ],
      Array.from({ length: 6 }, (_, i) => [20 * i, 0, 20 * i + 10, 10]),
    );
    const { got, want, key } = await graphAndReference(plan, out);
    expectSameDetections(got, want);
    expect(key).toBe('1@3 4@3 2@5');
  });

  it('documented difference: a box with x2 < x1 overlaps in the graph (the op orders corners), not in the reference', async () => {
    const { plan, out } = rowsCase(
      boxesSpec({ iouThreshold: 0.5 }),
      1,
      [[0.9], [0.8]],
      [
        [0, 0, 10, 10],
        [10, 0, 0, 10],
      ],
    );
    const { got, want, key } = await graphAndReference(plan, out);
    expect(want.map((d) => d.anchor)).toEqual([0, 1]); // width -10 counts as 0: IoU 0
    expect(key).toBe('0@0'); // onnxruntime reads it as [0, 0, 10, 10]: IoU 1
    expect(got[0]).toEqual(want[0]);
  });

  it("a kept box with NaN x coordinates suppresses nothing, in the reference as in onnxruntime's NMS", async () => {
    // min/max alone would pick the candidate's x1, x2 over NaN (IoU 100 / 20 = 5); the rule is IoU 0 for NaN boxes
    const { plan, out } = rowsCase(
      boxesSpec({ iouThreshold: 0.5 }),
      1,
      [[0.9], [0.8], [0.7]],
      [
        [NaN, 0, NaN, 10],
        [0, 0, 10, 12],
        [NaN, 30, 5, 40],
      ],
    );
    const { got, want, key } = await graphAndReference(plan, out);
    expect(want.map((d) => d.anchor)).toEqual([0, 1, 2]);
    expect(key).toBe('0@0 0@1 0@2');
    expect(got).toEqual(want);
  });

  it('expf of the graph is the reference expF bit for bit (float ops only), at every optimisation level', async () => {
    const b = new GraphBuilder();
    const ops = new Ops(b, 13, '');
    const x = b.input('x', DataType.FLOAT, [200_000]);
    b.output(ops.expF(x));
    const bytes = modelToBytes(finishModel(b.graph));
    const g = gaussian(mulberry32(99));
    const E = EXP_CONST;
    const edges = [
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      E.lo,
      nextDownF(E.lo),
      nextUpF(E.lo),
      E.hi,
      nextUpF(E.hi),
      nextDownF(E.hi),
      1e-30,
      -1e-30,
      0.5,
      -0.5,
    ];
    const data = Float32Array.from({ length: 200_000 }, (_, i) =>
      i < edges.length ? edges[i]! : i % 2 ? 30 * g() : 95 * (2 * (i / 200_000) - 1),
    );
    for (const opt of ['disabled', 'all'] as const) {
      const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: opt, logSeverityLevel: 3 });
      const y = Object.values(await s.run({ x: new ort.Tensor('float32', data, [data.length]) }))[0]!
        .data as Float32Array;
      let differ = 0;
      data.forEach((v, i) => {
        if (!Object.is(y[i], expF(v))) differ++;
      });
      expect(differ).toBe(0);
    }
  });
});
