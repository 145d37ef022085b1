import { describe, expect, it } from 'vitest';
import { A, GraphBuilder } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';

function smallGraph() {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const w = b.init('w', Tensor.fromFloat32([1, 4], Float32Array.from([1, 2, 3, 4])));
  const y = b.op('Mul', [x, w], [], 'y');
  const z = b.op('Relu', [y], [], 'z');
  const u = b.op('Add', [z, w], [], 'u');
  b.output(u);
  return { b, g: b.graph, x, w, y, z, u };
}

describe('graph IR', () => {
  it('keeps producers and uses in sync through setInput and removeNode', () => {
    const { g, w, y, z } = smallGraph();
    expect(w.uses.map((u) => u.node.opType)).toEqual(['Mul', 'Add']);
    expect(y.producer?.opType).toBe('Mul');
    const relu = z.producer!;
    relu.setInput(0, w);
    expect(y.uses).toHaveLength(0);
    expect(w.uses).toHaveLength(3);
    g.removeNode(relu);
    expect(z.producer).toBeUndefined();
    expect(w.uses).toHaveLength(2);
    expect(g.nodes.map((n) => n.opType)).toEqual(['Mul', 'Add']);
  });

  it('replaceAllUsesWith rewires node inputs and graph outputs', () => {
    const { g, y, z, u } = smallGraph();
    g.replaceAllUsesWith(z, y);
    expect(u.producer!.inputs[0]).toBe(y);
    g.replaceAllUsesWith(u, y);
    expect(g.outputs).toEqual([y]);
  });

  it('sorts topologically, stably, and reports a cycle by node', () => {
    const { g } = smallGraph();
    g.nodes.reverse();
    expect(g.topoOrder().map((n) => n.opType)).toEqual(['Mul', 'Relu', 'Add']);
    const mul = g.nodes.find((n) => n.opType === 'Mul')!;
    const add = g.nodes.find((n) => n.opType === 'Add')!;
    mul.setInput(0, add.output());
    expect(() => g.topoOrder()).toThrow(/cycle through node/);
  });

  it('clones a shared initializer so the copies can diverge', () => {
    const { g, w } = smallGraph();
    const add = w.uses.find((u) => u.node.opType === 'Add')!.node;
    const c = g.cloneInitializer(w);
    add.setInput(1, c);
    c.initializer = Tensor.fromFloat32([1, 2], c.initializer!.float32().slice(0, 2));
    expect(Array.from(w.initializer!.float32())).toEqual([1, 2, 3, 4]);
    expect(w.uses).toHaveLength(1);
    expect(g.initializers).toContain(c);
    expect(c.name).not.toBe(w.name);
  });

  it('reads attributes with typed accessors and defaults', () => {
    const { b } = smallGraph();
    const v = b.op(
      'Conv',
      [],
      [A.int('group', 2), A.ints('pads', [1, 1, 1, 1]), A.str('auto_pad', 'VALID'), A.float('alpha', 0.5)],
    );
    const n = v.producer!;
    expect(n.getInt('group', 1)).toBe(2);
    expect(n.getInt('missing', 7)).toBe(7);
    expect(n.getInts('pads')).toEqual([1, 1, 1, 1]);
    expect(n.getString('auto_pad')).toBe('VALID');
    expect(n.getFloat('alpha')).toBe(0.5);
    expect(() => n.getInts('group')).toThrow(/not a list of ints/);
  });
});
