// Op constructors over the IR, shared by the fixtures (synthetic detectors) and by passes that insert nodes.
import { DataType } from './dtype';
import { Graph, Model, encodeString, type Attribute, type AttrValue, type Dim, type Node, type Value } from './graph';
import { Tensor, type Int64 } from './tensor';
import { setDeclaredType } from '../onnx/value-info';
import { inferShapes } from '../shape/infer';

/** Attribute constructors: `A.int('group', 2)`, `A.ints('pads', [1,1,1,1])`, ... */
export const A = {
  int: (name: string, value: Int64): Attribute => ({ name, value: { type: 'int', value }, extra: {} }),
  ints: (name: string, value: Int64[]): Attribute => ({ name, value: { type: 'ints', value }, extra: {} }),
  float: (name: string, value: number): Attribute => ({ name, value: { type: 'float', value }, extra: {} }),
  floats: (name: string, value: number[]): Attribute => ({ name, value: { type: 'floats', value }, extra: {} }),
  str: (name: string, value: string): Attribute => ({
    name,
    value: { type: 'string', value: encodeString(value) },
    extra: {},
  }),
  tensor: (name: string, value: Tensor): Attribute => ({ name, value: { type: 'tensor', value }, extra: {} }),
};

export type { AttrValue };

export interface ConvOptions {
  kernel?: number;
  stride?: number;
  pad?: number;
  dilation?: number;
  group?: number;
  name?: string;
}

export class GraphBuilder {
  constructor(readonly graph: Graph = new Graph()) {}

  /** A graph input with a declared float/int type. */
  input(name: string, dtype: number, shape: Dim[]): Value {
    const v = this.graph.value(name);
    setDeclaredType(v, dtype, shape);
    this.graph.inputs.push(v);
    return v;
  }

  /** Mark `v` as a graph output (its declared type is filled in by `finishModel`). */
  output(v: Value): Value {
    this.graph.outputs.push(v);
    return v;
  }

  init(name: string, tensor: Tensor): Value {
    return this.graph.addInitializer(name, tensor);
  }

  constant(tensor: Tensor, name = 'const'): Value {
    const out = this.graph.newValue(name);
    this.graph.addNode('Constant', [], [out], { name: `${out.name}_node`, attributes: [A.tensor('value', tensor)] });
    return out;
  }

  constInts(values: number[], name = 'shape'): Value {
    return this.constant(Tensor.fromInt64([values.length], values), name);
  }

  /** Generic node with `outputs` fresh outputs named after `name`. */
  node(opType: string, inputs: (Value | undefined)[], attrs: Attribute[] = [], name?: string, outputs = 1): Value[] {
    const base = name ?? opType.toLowerCase();
    const outs = Array.from({ length: outputs }, (_, i) => this.graph.newValue(outputs === 1 ? base : `${base}_${i}`));
    this.graph.addNode(opType, inputs, outs, { name: this.uniqueNodeName(base), attributes: attrs });
    return outs;
  }

  op(opType: string, inputs: (Value | undefined)[], attrs: Attribute[] = [], name?: string): Value {
    return this.node(opType, inputs, attrs, name)[0]!;
  }

  private nodeNames = new Set<string>();
  private uniqueNodeName(base: string): string {
    let n = base;
    for (let i = 1; this.nodeNames.has(n); i++) n = `${base}_${i}`;
    this.nodeNames.add(n);
    return n;
  }

  conv(x: Value, weight: Value, bias: Value | undefined, o: ConvOptions = {}): Value {
    const k = o.kernel ?? weight.initializer?.dims[2] ?? 1;
    const pad = o.pad ?? 0;
    const attrs = [
      A.ints('dilations', [o.dilation ?? 1, o.dilation ?? 1]),
      A.int('group', o.group ?? 1),
      A.ints('kernel_shape', [k, k]),
      A.ints('pads', [pad, pad, pad, pad]),
      A.ints('strides', [o.stride ?? 1, o.stride ?? 1]),
    ];
    return this.op('Conv', bias ? [x, weight, bias] : [x, weight], attrs, o.name ?? 'conv');
  }

  relu(x: Value, name?: string): Value {
    return this.op('Relu', [x], [], name ?? 'relu');
  }

  transpose(x: Value, perm: number[], name?: string): Value {
    return this.op('Transpose', [x], [A.ints('perm', perm)], name ?? 'transpose');
  }

  reshape(x: Value, shape: Value, name?: string): Value {
    return this.op('Reshape', [x, shape], [], name ?? 'reshape');
  }

  concat(xs: Value[], axis: number, name?: string): Value {
    return this.op('Concat', xs, [A.int('axis', axis)], name ?? 'concat');
  }

  /** Slice along one axis with constant starts/ends (opset >= 10 input form). */
  slice(x: Value, axis: number, start: number, end: number, name?: string): Value {
    return this.op(
      'Slice',
      [x, this.constInts([start], 'starts'), this.constInts([end], 'ends'), this.constInts([axis], 'axes')],
      [],
      name ?? 'slice',
    );
  }
}

/** Wrap a built graph into a model: opset/IR version, producer, declared output types from shape inference. */
export function finishModel(
  graph: Graph,
  opts: { opset?: number; irVersion?: number; producer?: string; docString?: string } = {},
): Model {
  const model = new Model(graph, {
    ir_version: opts.irVersion ?? 8,
    producer_name: opts.producer ?? 'prunedet',
    producer_version: '0.1.0',
    opset_import: [{ domain: '', version: opts.opset ?? 13 }],
    ...(opts.docString ? { doc_string: opts.docString } : {}),
  });
  const shapes = inferShapes(model);
  for (const v of graph.outputs) {
    const i = shapes.get(v);
    if (i) setDeclaredType(v, i.dtype, i.shape);
  }
  graph.sortTopologically();
  return model;
}

export type { Node };
export { DataType, Tensor };
