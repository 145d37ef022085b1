import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { inferShapes } from '../../src/shape/infer';
import { nodeMacs, summarizeCost } from '../../src/cost/macs';
import { GraphBuilder } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';

describe("cost model (the paper's MAC convention)", () => {
  it('SSD300: the 12 head convs sum to 4,231,319,040 MACs', () => {
    const model = buildFixture('ssd300', { outputs: 'concat' });
    const shapes = inferShapes(model);
    const head = model.graph.nodes.filter((n) => n.opType === 'Conv' && n.name.startsWith('bbox_head.'));
    expect(head).toHaveLength(12);
    expect(head.reduce((s, n) => s + nodeMacs(n, shapes)!, 0)).toBe(4_231_319_040);
  });

  it('RetinaNet at 800x1200: towers on 5 levels + output convs sum to 129,318,147,072 MACs', () => {
    const model = buildFixture('retinanet', { outputs: 'raw' });
    const shapes = inferShapes(model);
    const head = model.graph.nodes.filter((n) => n.opType === 'Conv' && n.name.startsWith('bbox_head.'));
    expect(head).toHaveLength(5 * (8 + 2));
    // shared towers: one set of initializers read by every level's convs
    expect(new Set(head.map((n) => n.inputs[1]!.name)).size).toBe(10);
    expect(head.reduce((s, n) => s + nodeMacs(n, shapes)!, 0)).toBe(129_318_147_072);
  });

  it('counts grouped convs by Cin/groups and a Gemm as M*N*K, and parameters of float initializers', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 8, 10, 10]);
    const dw = b.conv(x, b.init('w', Tensor.fromFloat32([8, 1, 3, 3], new Float32Array(72))), undefined, {
      group: 8,
      pad: 1,
    });
    const f = b.op('Flatten', [dw]);
    const g = b.op('Gemm', [f, b.init('fc', Tensor.fromFloat32([800, 5], new Float32Array(4000)))]);
    b.output(g);
    const shapes = inferShapes(b.graph);
    const cost = summarizeCost(b.graph, shapes);
    expect(cost.perNode.get(dw.producer!)).toBe(10 * 10 * 8 * 1 * 9);
    expect(cost.perNode.get(g.producer!)).toBe(5 * 800);
    expect(cost.totalMacs).toBe(7200 + 4000);
    expect(cost.params).toBe(72 + 4000);
  });
});
