// Running the onnx-nms post-processing graph in onnxruntime-node and comparing it with the TypeScript reference.
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { buildPostprocessGraph, type PostprocessGraphParams } from '../../src/emit/onnx';
import type { Model } from '../../src/ir/graph';
import { postprocess, type PostprocessContext } from '../../src/postprocess/reference';
import type { Detection, PostprocessSpec } from '../../src/postprocess/spec';
import { session } from '../_support/ort';
import { classesFor, contextOf, makePlan, numAnchors, type HeadOutputs, type LevelDef } from '../emit/fixtures';

/** Levels with the awkward cases: a level with 0 anchors per location and one with an empty map. */
export const LEVELS: LevelDef[] = [
  { h: 6, w: 8, a: 3, stride: 8 },
  { h: 3, w: 4, a: 0, stride: 16 },
  { h: 3, w: 4, a: 2, stride: 16 },
  { h: 0, w: 0, a: 4, stride: 32 },
  { h: 1, w: 1, a: 5, stride: 64 },
];

export { SSD300_LEVELS } from '../emit/fixtures';

export function planFor(spec: PostprocessSpec, levels: LevelDef[] = LEVELS, numClasses = classesFor(spec)): EmitPlan {
  return makePlan({ spec, levels, numClasses });
}

/** Graph parameters of a plan; the bit-exact variant unless `extra` says otherwise (these tests check exactness). */
export function paramsOf(plan: EmitPlan, extra: Partial<PostprocessGraphParams> = {}): PostprocessGraphParams {
  return {
    spec: plan.spec,
    anchors: plan.anchors,
    levels: contextOf(plan).levels,
    numClasses: plan.numClasses,
    exact: true,
    ...extra,
  };
}

/** The reference's context for the graph: no candidate cap (a C workspace notion the graph does not have). */
export function contextNoCap(plan: EmitPlan): PostprocessContext {
  return { ...contextOf(plan), candidateCap: undefined };
}

export function reference(plan: EmitPlan, out: HeadOutputs): Detection[] {
  return postprocess(plan.spec, { form: 'concat', scores: out.scores, boxes: out.boxes }, contextNoCap(plan));
}

export interface GraphRun {
  detections: Detection[];
  /** Output dims and element types by output name. */
  dims: Record<string, number[]>;
  types: Record<string, string>;
}

export interface GraphRunner {
  run(out: HeadOutputs): Promise<GraphRun>;
}

/** Open the graph (a Model, bytes, or built from the plan) once; run it on head outputs of `n` anchors. */
export async function openGraph(
  plan: EmitPlan,
  model?: Model | Uint8Array,
  names = { scores: 'scores', boxes: 'boxes' },
): Promise<GraphRunner> {
  const s = await session(model ?? buildPostprocessGraph(paramsOf(plan)));
  const n = numAnchors(plan);
  return {
    async run(out) {
      const res = await s.run({
        [names.scores]: new ort.Tensor('float32', out.scores, [1, n, plan.numClasses]),
        [names.boxes]: new ort.Tensor('float32', out.boxes, [1, n, 4]),
      });
      return toRun(res);
    },
  };
}

export function toRun(res: Record<string, ort.Tensor>): GraphRun {
  const get = (name: string) => {
    const t = res[name];
    if (!t) throw new Error(`no output ${name}`);
    return t;
  };
  const boxes = get('det_boxes').data as Float32Array;
  const scores = get('det_scores').data as Float32Array;
  const labels = get('det_labels').data as BigInt64Array;
  const anchors = get('det_anchors').data as BigInt64Array;
  const detections: Detection[] = Array.from(scores, (score, i) => ({
    box: [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!],
    score,
    label: Number(labels[i]),
    anchor: Number(anchors[i]),
  }));
  const dims: Record<string, number[]> = {};
  const types: Record<string, string> = {};
  for (const [k, t] of Object.entries(res)) {
    dims[k] = [...t.dims];
    types[k] = t.type;
  }
  return { detections, dims, types };
}

/**
 * Same detections: count, labels, anchors and order exactly; scores and boxes equal (`exact`: the graph repeats the
 * reference's float arithmetic), or within 1e-5 (relative for boxes) for the runtime's own activations and exp.
 */
export function expectSameDetections(got: Detection[], want: Detection[], exact = true): void {
  const key = (d: Detection[]) => d.map((x) => `${x.label}@${x.anchor}`).join(' ');
  expect(key(got)).toBe(key(want));
  got.forEach((d, i) => {
    const w = want[i]!;
    if (exact) expect(d.score).toBe(w.score);
    else expect(Math.abs(d.score - w.score)).toBeLessThanOrEqual(1e-5);
    d.box.forEach((v, j) => {
      const r = w.box[j]!;
      if (!Number.isFinite(r)) expect(v).toBe(r);
      else if (exact) expect(v).toBe(r);
      else expect(Math.abs(v - r)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(r)));
    });
  });
}

/** Run the graph and the reference on each output set; they must agree; returns the detection counts. */
export async function check(plan: EmitPlan, outputs: HeadOutputs[], runner?: GraphRunner): Promise<number[]> {
  const g = runner ?? (await openGraph(plan));
  const counts: number[] = [];
  for (const out of outputs) {
    const got = await g.run(out);
    const want = reference(plan, out);
    expectSameDetections(got.detections, want);
    counts.push(want.length);
  }
  return counts;
}
