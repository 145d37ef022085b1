// The default onnx-nms graph uses onnxruntime's own Softmax, Sigmoid and Exp (the bit-exact variant is
// onnx-nms-exact, tested in nms-graph.test.ts and semantics.test.ts). Its decisions are the reference's wherever no
// score or coordinate sits within an ulp or two of a threshold or a tie: here every preset and bench's loads from
// light to heavy give the reference's detections (labels, anchors, order), scores and boxes within 1e-5.
import { describe, expect, it } from 'vitest';
import { buildPostprocessGraph } from '../../src/emit/onnx';
import { loadHeadOutputs, SYNTHETIC_LOADS } from '../../src/postprocess/loads';
import { PRESETS, TENSOR_PRESETS } from '../../src/postprocess/presets';
import { detectorOutputs } from '../emit/fixtures';
import { expectSameDetections, openGraph, paramsOf, planFor, reference, SSD300_LEVELS } from './support';

describe("onnx-nms (the runtime's activations and exp)", () => {
  it("is built from Softmax / Sigmoid / Exp, without the exact exp's power-of-two table", () => {
    for (const name of ['mmdet-ssd300', 'mmdet-retinanet'] as const) {
      const plan = planFor(structuredClone(PRESETS[name]!));
      const ops = buildPostprocessGraph(paramsOf(plan, { exact: false })).graph.nodes.map((n) => n.opType);
      expect(ops).toContain(name === 'mmdet-ssd300' ? 'Softmax' : 'Sigmoid');
      expect(ops).toContain('Exp');
      const exact = buildPostprocessGraph(paramsOf(plan)).graph.nodes.map((n) => n.opType);
      expect(exact).not.toContain('Exp');
      expect(ops.length).toBeLessThan(exact.length / 2);
    }
  });

  it('gives the reference detections on every preset', async () => {
    for (const name of TENSOR_PRESETS) {
      const plan = planFor(structuredClone(PRESETS[name]!));
      const g = await openGraph(plan, buildPostprocessGraph(paramsOf(plan, { exact: false })));
      let total = 0;
      for (const seed of [1, 2, 3]) {
        const out = detectorOutputs(plan, seed * 101 + name.length);
        const want = reference(plan, out);
        expectSameDetections((await g.run(out)).detections, want, false);
        total += want.length;
      }
      expect(total, name).toBeGreaterThan(0);
    }
  });

  it("gives the reference detections on bench's loads, light to heavy (SSD300, mmdet-ssd300)", async () => {
    const plan = planFor(structuredClone(PRESETS['mmdet-ssd300']!), SSD300_LEVELS, 81);
    const g = await openGraph(plan, buildPostprocessGraph(paramsOf(plan, { exact: false })));
    for (const load of SYNTHETIC_LOADS) {
      const out = loadHeadOutputs(load, plan.spec, plan.numClasses, plan.anchors);
      const want = reference(plan, out);
      expect(want.length, load).toBeGreaterThan(0);
      expectSameDetections((await g.run(out)).detections, want, false);
    }
  });
});
