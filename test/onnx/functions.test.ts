// Inlining model-local functions at load: the cases exporters produce, each checked by running the inlined graph
// against the function model in onnxruntime (which executes functions itself).
import { describe, expect, it } from 'vitest';
import { encodeMessage, type ProtoMessage } from '../../src/onnx/codec';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes } from '../../src/onnx/save';
import { ATTRIBUTE_TYPE } from '../../src/onnx/attribute-type';
import { run } from '../_support/ort';

const FLOAT = 1;
const vi = (name: string, dims: number[]) => ({
  name,
  type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } },
});
const node = (op: string, input: string[], output: string[], extra: ProtoMessage = {}) => ({
  op_type: op,
  input,
  output,
  ...extra,
});

/** y = LeakyRel(x) twice through a nested custom function, with an attribute reference and a default. */
function functionModel(opts: { callerAlpha?: number; passthrough?: boolean } = {}): Uint8Array {
  const leaky = {
    name: 'leaky',
    domain: 'pkg.lib',
    input: ['self'],
    output: ['out'],
    attribute: [],
    opset_import: [{ domain: '', version: 18 }],
    attribute_proto: [{ name: 'slope', type: ATTRIBUTE_TYPE.float, f: 0.25 }],
    node: [
      node('LeakyRelu', ['self'], ['out'], {
        name: 'inner',
        attribute: [{ name: 'alpha', type: ATTRIBUTE_TYPE.float, ref_attr_name: 'slope' }],
      }),
    ],
  };
  const block = {
    name: 'Block',
    domain: 'pkg.torch.test',
    input: ['x'],
    output: ['y', ...(opts.passthrough ? ['x'] : [])],
    attribute: ['alpha'],
    opset_import: [
      { domain: '', version: 18 },
      { domain: 'pkg.lib', version: 1 },
    ],
    node: [
      node('Neg', ['x'], ['tmp'], { name: 'n' }),
      node('leaky', ['tmp'], ['y'], {
        domain: 'pkg.lib',
        name: 'call',
        attribute:
          opts.callerAlpha !== undefined ? [{ name: 'slope', type: ATTRIBUTE_TYPE.float, ref_attr_name: 'alpha' }] : [],
      }),
    ],
  };
  const callAttr =
    opts.callerAlpha !== undefined ? [{ name: 'alpha', type: ATTRIBUTE_TYPE.float, f: opts.callerAlpha }] : [];
  const graph = {
    name: 'g',
    node: [
      // two calls of one function: its internal names (tmp, n, call) must stay unique after inlining
      node('Block', ['input'], ['mid', ...(opts.passthrough ? ['copy'] : [])], {
        domain: 'pkg.torch.test',
        name: 'b0',
        attribute: callAttr,
      }),
      node('Block', ['mid'], ['output', ...(opts.passthrough ? ['copy2'] : [])], {
        domain: 'pkg.torch.test',
        name: 'b1',
        attribute: callAttr,
      }),
      ...(opts.passthrough ? [node('Add', ['output', 'copy'], ['sum'], { name: 'add' })] : []),
    ],
    input: [vi('input', [2, 3])],
    output: [vi(opts.passthrough ? 'sum' : 'output', [2, 3])],
  };
  return encodeMessage('onnx.ModelProto', {
    ir_version: 10,
    producer_name: 'test',
    graph,
    functions: [leaky, block],
    opset_import: [
      { domain: '', version: 18 },
      { domain: 'pkg.torch.test', version: 1 },
      { domain: 'pkg.lib', version: 1 },
    ],
  });
}

const x = { input: { dims: [2, 3], data: Float32Array.of(-2, -1, 0, 1, 2, 3) } };

describe('model-local functions are inlined at load', () => {
  for (const [name, opts] of [
    ['default attribute', {}],
    ['attribute passed by reference from the caller', { callerAlpha: 0.5 }],
    ['an output that returns an input', { passthrough: true, callerAlpha: 0.1 }],
  ] as const) {
    it(`${name}: the inlined graph computes what onnxruntime computes with the functions`, async () => {
      const bytes = functionModel(opts);
      const m = loadModel(bytes);
      expect(m.extra.functions).toBeUndefined();
      expect(m.graph.nodes.every((n) => n.domain === '')).toBe(true);
      expect(new Set(m.graph.nodes.flatMap((n) => n.outputs.map((o) => o!.name))).size).toBe(
        m.graph.nodes.reduce((s, n) => s + n.outputs.length, 0),
      );
      const alphas = m.graph.nodes.filter((n) => n.opType === 'LeakyRelu').map((n) => n.getFloat('alpha'));
      expect(alphas).toEqual([opts.callerAlpha ?? 0.25, opts.callerAlpha ?? 0.25].map(Math.fround));
      // onnxruntime refuses a function returning its input; that case is checked against the model without it
      const want = await run('passthrough' in opts ? functionModel({ callerAlpha: opts.callerAlpha }) : bytes, x);
      const got = await run(modelToBytes(m), x);
      const value = 'passthrough' in opts ? got.sum!.data.map((v, i) => v - x.input.data[i]!) : got.output!.data;
      value.forEach((v, i) => expect(v).toBeCloseTo(want.output!.data[i]!, 6));
      expect(m.opset('pkg.lib')).toBeUndefined();
    });
  }

  it('a function calling itself is refused in one line', () => {
    const self = {
      name: 'loop',
      domain: 'pkg.x',
      input: ['a'],
      output: ['b'],
      opset_import: [{ domain: 'pkg.x', version: 1 }],
      node: [node('loop', ['a'], ['b'], { domain: 'pkg.x' })],
    };
    const bytes = encodeMessage('onnx.ModelProto', {
      ir_version: 10,
      graph: {
        node: [node('loop', ['input'], ['output'], { domain: 'pkg.x' })],
        input: [vi('input', [1])],
        output: [vi('output', [1])],
      },
      functions: [self],
      opset_import: [
        { domain: '', version: 18 },
        { domain: 'pkg.x', version: 1 },
      ],
    });
    expect(() => loadModel(bytes)).toThrow(/model-local function pkg\.x::loop calls itself/);
  });
});
