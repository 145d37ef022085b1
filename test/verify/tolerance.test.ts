// The derived tolerances (src/jobs/verify/tolerance.ts): 0 where no rounding change reaches, and, where one does, bounds
// that hold: the head conv's bound covers the true difference its input difference makes, and the interval evaluation
// of the head region covers every output reachable from head values within their radii.
import { describe, expect, it } from 'vitest';
import { A, GraphBuilder, finishModel } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';
import type { Model, Value } from '../../src/ir/graph';
import { inferShapes } from '../../src/shape/infer';
import { findRegion, runRegion } from '../../src/detector/region';
import type { Arr } from '../../src/detector/layout-eval';
import { RoundingPlan, ToleranceModel, headConvTolerance, U } from '../../src/jobs/verify/tolerance';
import { convWeight, prng, uniform } from '../../fixtures/random';

const C = 4;
const K = 3;
const HW = [5, 6];

/** x[1,C,H,W] -> Conv 1x1 (K·2 channels) -> Transpose -> Reshape [1, -1, K] -> decode-like arithmetic and a Softmax. */
function headModel(): Model {
  const r = prng(7);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, C, ...HW]);
  const feat = b.relu(
    b.conv(x, b.init('w0', convWeight(r, C, C, 3)), b.init('b0', uniform(r, [C], -1, 1)), { pad: 1, name: 'backbone' }),
    'feat',
  );
  const head = b.conv(feat, b.init('wh', convWeight(r, 2 * K, C, 1)), b.init('bh', uniform(r, [2 * K], -1, 1)), {
    name: 'head',
  });
  const rows = b.reshape(b.transpose(head, [0, 2, 3, 1]), b.constInts([1, -1, K]), 'rows');
  b.output(b.op('Softmax', [rows], [A.int('axis', -1)], 'scores'));
  const scale = b.constant(Tensor.fromFloat32([K], Float32Array.from([0.1, 0.2, 0.3])));
  b.output(b.op('Add', [b.op('Exp', [b.op('Mul', [rows, scale])]), b.op('Mul', [rows, rows])], [], 'boxes'));
  return finishModel(b.graph);
}

function setup(changes: { value: string; how: 'batchnorm-folded' | 'constant-folded' }[]) {
  const model = headModel();
  const g = model.graph;
  const shapes = inferShapes(model);
  const outs = ['scores', 'boxes'].map((n) => g.values.get(n)!);
  const plan = new RoundingPlan(g, shapes, changes);
  const tm = new ToleranceModel(plan, shapes, findRegion(g, shapes, outs), outs, () => undefined);
  return { model, g, shapes, plan, tm, outs };
}

describe('RoundingPlan', () => {
  it('no rounding change: every value has budget 0 and the model is compared bit for bit', () => {
    const { g, plan, tm } = setup([]);
    for (const v of g.values.values()) expect(plan.budget(v)).toBe(0);
    expect(tm.exact).toBe(true);
    expect(tm.taps()).toEqual([]);
    expect(tm.origin('scores')).toBeUndefined();
  });

  it('a folded backbone conv: a budget downstream of it only, quadrature over the layers that follow', () => {
    const { g, plan, tm } = setup([
      {
        value: headModel()
          .graph.nodes.find((n) => n.name === 'backbone')!
          .output().name,
        how: 'batchnorm-folded',
      },
    ]);
    const backbone = g.nodes.find((n) => n.name === 'backbone')!;
    const head = g.nodes.find((n) => n.name === 'head')!;
    expect(plan.budget(g.inputs[0])).toBe(0);
    const b0 = plan.budget(backbone.output());
    expect(b0).toBeCloseTo(2 * Math.sqrt(C * 9) + 2, 10); // one dot product of C·3·3 terms
    expect(plan.budget(head.inputs[0])).toBe(b0); // Relu adds nothing
    expect(plan.budget(head.output())).toBeCloseTo(Math.hypot(b0, 2 * Math.sqrt(C) + 2), 10);
    expect(tm.exact).toBe(false);
    expect(
      tm
        .taps()
        .map((v: Value) => v.name)
        .sort(),
    ).toEqual([head.inputs[0]!.name, head.output().name].sort());
    expect(tm.origin('scores')).toMatch(/^fold-batchnorm re-rounded 1 conv: per head-conv channel.*through Softmax$/);
    expect(tm.origin('boxes')).toMatch(/through Mul, Exp, Add$/);
  });
});

describe('head conv bound and region propagation are sound', () => {
  const { model, g, shapes, plan, tm } = setup([
    {
      value: headModel()
        .graph.nodes.find((n) => n.name === 'backbone')!
        .output().name,
      how: 'batchnorm-folded',
    },
  ]);
  const head = g.nodes.find((n) => n.name === 'head')!;
  const w = head.inputs[1]!.constant()!.float32();
  const bias = head.inputs[2]!.constant()!.float32();
  const hw = HW[0]! * HW[1]!;
  const conv = (x: Float32Array) => {
    const y = new Float64Array(2 * K * hw);
    for (let c = 0; c < 2 * K; c++)
      for (let p = 0; p < hw; p++) {
        let s = bias[c]!;
        for (let i = 0; i < C; i++) s += w[c * C + i]! * x[i * hw + p]!;
        y[c * hw + p] = s;
      }
    return y;
  };
  const r = prng(11);
  const xo = Float32Array.from({ length: C * hw }, () => Math.max(0, r() * 4 - 1));
  const xc = xo.map((v) => v + (r() - 0.5) * 1e-4);

  it('tol_c covers the exact difference of the head conv outputs an input difference makes', () => {
    const tol = headConvTolerance(plan, { conv: head, value: head.inputs[0]! }, xc, xo)!;
    const [yc, yo] = [conv(xc), conv(xo)];
    for (let c = 0; c < 2 * K; c++) {
      let d = 0;
      for (let p = 0; p < hw; p++) d = Math.max(d, Math.abs(yc[c * hw + p]! - yo[c * hw + p]!));
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(tol[c]!);
      expect(tol[c]!).toBeLessThan(100 * d + 1e-3); // and it is not vacuous
    }
    // identical inputs and an unfolded conv: nothing to allow
    const exact = new RoundingPlan(g, shapes, []);
    expect(Array.from(headConvTolerance(exact, { conv: head, value: head.inputs[0]! }, xo, xo)!)).toEqual(
      new Array(2 * K).fill(0),
    );
  });

  it('every output reachable from head values within their radii stays within the propagated radius', () => {
    const y = Float32Array.from(conv(xc));
    const dims = [1, 2 * K, ...HW];
    const tapped = {
      [head.inputs[0]!.name]: { data: xc, dims: [1, C, ...HW] },
      [head.output().name]: { data: y, dims },
    };
    const radii = tm.radii(tapped, { [head.inputs[0]!.name]: { data: xo, dims: [1, C, ...HW] } });
    const tol = headConvTolerance(plan, { conv: head, value: head.inputs[0]! }, xc, xo)!;
    const region = findRegion(
      g,
      shapes,
      ['scores', 'boxes'].map((n) => g.values.get(n)!),
    );
    const evalAt = (head: Float32Array) => {
      const env = new Map<Value, Arr>([
        [g.nodes.find((n) => n.name === 'head')!.output(), { shape: dims, data: head }],
      ]);
      runRegion(region, shapes, env, 'value');
      return ['scores', 'boxes'].map((n) => env.get(g.values.get(n)!)!.data as Float32Array);
    };
    const base = evalAt(y);
    let worst = 0;
    for (let trial = 0; trial < 50; trial++) {
      const moved = y.map(
        (v, i) => v + (trial % 2 ? 1 : r() * 2 - 1) * tol[Math.floor(i / hw)]! * (trial % 3 ? 1 : -1),
      );
      evalAt(moved).forEach((out, o) => {
        const rad = radii.get(['scores', 'boxes'][o]!) as Float32Array;
        out.forEach((v, i) => {
          const d = Math.abs(v - base[o]![i]!);
          worst = Math.max(worst, d / rad[i]!);
          expect(d).toBeLessThanOrEqual(rad[i]! * (1 + 1e-6) + 4 * U * Math.abs(v));
        });
      });
    }
    expect(worst).toBeGreaterThan(0.05); // the radius is reached in part: not an arbitrary huge number
    expect(model.graph.outputs.length).toBe(2);
  });
});
