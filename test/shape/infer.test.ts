import { describe, expect, it } from 'vitest';
import { A, GraphBuilder, finishModel } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';
import { inferShapes } from '../../src/shape/infer';
import { sliceArgs } from '../../src/shape/types';
import type { Value } from '../../src/ir/graph';

function infer(build: (b: GraphBuilder, x: Value) => Value, shape: (number | string)[] = [1, 8, 10, 12]) {
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, shape);
  const y = build(b, x);
  return inferShapes(b.graph).get(y);
}
const w = (b: GraphBuilder, dims: number[]) =>
  b.init('w', Tensor.fromFloat32(dims, new Float32Array(dims.reduce((p, q) => p * q, 1))));

describe('shape rules', () => {
  it('Conv: strides, pads, dilations, groups, auto_pad', () => {
    expect(infer((b, x) => b.conv(x, w(b, [16, 8, 3, 3]), undefined, { stride: 2, pad: 1 }))?.shape).toEqual([
      1, 16, 5, 6,
    ]);
    expect(infer((b, x) => b.conv(x, w(b, [8, 1, 3, 3]), undefined, { dilation: 2, group: 8, pad: 2 }))?.shape).toEqual(
      [1, 8, 10, 12],
    );
    expect(
      infer((b, x) =>
        b.op('Conv', [x, w(b, [4, 8, 3, 3])], [A.str('auto_pad', 'SAME_UPPER'), A.ints('strides', [2, 2])]),
      )?.shape,
    ).toEqual([1, 4, 5, 6]);
    expect(infer((b, x) => b.op('Conv', [x, w(b, [4, 8, 3, 3])], [A.str('auto_pad', 'VALID')]))?.shape).toEqual([
      1, 4, 8, 10,
    ]);
  });

  it('MaxPool ceil_mode (SSD300 pool3: 75 -> 38) and the last-window rule', () => {
    const pool = (ceil: number, k: number, s: number, p: number) => (b: GraphBuilder, x: Value) =>
      b.op(
        'MaxPool',
        [x],
        [
          A.int('ceil_mode', ceil),
          A.ints('kernel_shape', [k, k]),
          A.ints('strides', [s, s]),
          A.ints('pads', [p, p, p, p]),
        ],
      );
    expect(infer(pool(1, 2, 2, 0), [1, 256, 75, 75])?.shape).toEqual([1, 256, 38, 38]);
    expect(infer(pool(0, 2, 2, 0), [1, 256, 75, 75])?.shape).toEqual([1, 256, 37, 37]);
    expect(infer(pool(1, 3, 2, 1), [1, 4, 4, 4])?.shape).toEqual([1, 4, 3, 3]);
    // the window that would start in the end padding is dropped: 3 + pads 1+1, k 2, s 2 -> 2, not 3
    expect(infer(pool(1, 2, 2, 1), [1, 4, 3, 3])?.shape).toEqual([1, 4, 2, 2]);
  });

  it('Reshape with 0, -1 and symbolic batch; Shape->Gather->Unsqueeze->Concat targets', () => {
    expect(infer((b, x) => b.reshape(x, b.constInts([0, -1, 4])))?.shape).toEqual([1, 240, 4]);
    const dyn = infer(
      (b, x) => {
        const n = b.op('Gather', [b.op('Shape', [x]), b.constant(Tensor.fromInt64([], [0]))], [A.int('axis', 0)]);
        const t = b.concat([b.op('Unsqueeze', [n, b.constInts([0])]), b.constInts([-1]), b.constInts([4])], 0);
        return b.reshape(x, t);
      },
      ['N', 8, 10, 12],
    );
    expect(dyn?.shape).toEqual(['N', 240, 4]);
  });

  it('Slice and Squeeze/Unsqueeze in attribute and input forms', () => {
    expect(
      infer((b, x) =>
        b.op('Slice', [x], [A.ints('starts', [1]), A.ints('ends', [9223372036854775807n]), A.ints('axes', [1])]),
      )?.shape,
    ).toEqual([1, 7, 10, 12]);
    expect(
      infer((b, x) => b.op('Slice', [x, b.constInts([-4]), b.constInts([100]), b.constInts([3]), b.constInts([2])]))
        ?.shape,
    ).toEqual([1, 8, 10, 2]);
    expect(infer((b, x) => b.op('Squeeze', [x], [A.ints('axes', [0])]))?.shape).toEqual([8, 10, 12]);
    expect(infer((b, x) => b.op('Unsqueeze', [x, b.constInts([0, 5])]))?.shape).toEqual([1, 1, 8, 10, 12, 1]);
  });

  it("sliceArgs: attribute form as given, input form through the caller's reader (inputs 1-4)", () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [4, 6]);
    const attrForm = b.op('Slice', [x], [A.ints('starts', [1]), A.ints('ends', [3]), A.ints('axes', [-1])]).producer!;
    expect(
      sliceArgs(attrForm, () => {
        throw new Error('attribute form reads no input');
      }),
    ).toEqual({ fromAttr: true, starts: [1], ends: [3], axes: [-1], steps: undefined });
    const inputForm = b.op('Slice', [x, b.constInts([0]), b.constInts([2])]).producer!;
    const read: number[] = [];
    const args = sliceArgs(
      inputForm,
      (i) => (read.push(i), i < 3 ? inputForm.inputs[i]!.constant()!.numbers() : undefined),
    );
    expect(read).toEqual([1, 2, 3, 4]);
    expect(args).toEqual({ fromAttr: false, starts: [0], ends: [2], axes: undefined, steps: undefined });
  });

  it('Concat, Split, Transpose, Flatten, Gather, broadcasting', () => {
    expect(infer((b, x) => b.concat([x, x], 1))?.shape).toEqual([1, 16, 10, 12]);
    expect(infer((b, x) => b.node('Split', [x, b.constInts([2, 6])], [A.int('axis', 1)], 'sp', 2)[1]!)?.shape).toEqual([
      1, 6, 10, 12,
    ]);
    expect(infer((b, x) => b.transpose(x, [0, 2, 3, 1]))?.shape).toEqual([1, 10, 12, 8]);
    expect(infer((b, x) => b.op('Flatten', [x], [A.int('axis', 2)]))?.shape).toEqual([8, 120]);
    expect(infer((b, x) => b.op('Gather', [x, b.constInts([0, 2, 3])], [A.int('axis', 1)]))?.shape).toEqual([
      1, 3, 10, 12,
    ]);
    expect(
      infer((b, x) => b.op('Add', [x, b.init('c', Tensor.fromFloat32([8, 1, 1], new Float32Array(8)))]))?.shape,
    ).toEqual([1, 8, 10, 12]);
  });

  it('Resize by scales and by sizes, Upsample, Pad, GlobalAveragePool, Gemm', () => {
    const scales = (b: GraphBuilder) => b.init('s', Tensor.fromFloat32([4], Float32Array.from([1, 1, 2, 2])));
    expect(infer((b, x) => b.op('Resize', [x, undefined, scales(b)]))?.shape).toEqual([1, 8, 20, 24]);
    expect(infer((b, x) => b.op('Resize', [x, undefined, undefined, b.constInts([1, 8, 5, 7])]))?.shape).toEqual([
      1, 8, 5, 7,
    ]);
    expect(infer((b, x) => b.op('Pad', [x, b.constInts([0, 0, 1, 2, 0, 0, 3, 4])]))?.shape).toEqual([1, 8, 14, 18]);
    expect(infer((b, x) => b.op('GlobalAveragePool', [x]))?.shape).toEqual([1, 8, 1, 1]);
    expect(infer((b, x) => b.op('Gemm', [b.op('Flatten', [x]), w(b, [10, 960])], [A.int('transB', 1)]))?.shape).toEqual(
      [1, 10],
    );
  });

  it('records an op it cannot infer, names it when a shape is required, and keeps going', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 8, 10, 12]);
    const y = b.op('MysteryOp', [x], [], 'mystery');
    const z = b.op('Relu', [y]);
    b.output(z);
    const model = finishModel(b.graph);
    const shapes = inferShapes(model);
    expect(shapes.failures.map((f) => f.node.label())).toEqual(['mystery (MysteryOp)']);
    expect(() => shapes.requireStatic(z, 'the head analysis')).toThrow(
      /depends on node mystery \(MysteryOp\): no shape rule for op MysteryOp/,
    );
  });
});

describe('value propagation of small tensors (in-graph preprocessing)', () => {
  it("torchvision's resize scale and pad-to-32: ReduceMin/Max, Reciprocal, Min, Floor, Ceil, Cast, the pads reversed by Slice(step -1)", () => {
    const sizes = infer((b) => {
      const sides = b.constInts([90, 120], 'sides');
      const f = (v: Value) => b.op('Cast', [v], [A.int('to', DataType.FLOAT)]);
      const lo = f(b.op('ReduceMin', [sides], [A.int('keepdims', 0)]));
      const hi = f(b.op('ReduceMax', [sides], [A.int('keepdims', 0)]));
      const scale = b.op('Min', [
        b.op('Mul', [b.op('Reciprocal', [lo]), b.constant(Tensor.fromFloat32([], Float32Array.of(96)))]),
        b.op('Mul', [b.op('Reciprocal', [hi]), b.constant(Tensor.fromFloat32([], Float32Array.of(160)))]),
      ]);
      const h = b.op('Floor', [b.op('Mul', [b.constant(Tensor.fromFloat32([], Float32Array.of(90))), scale])]);
      const padded = b.op('Mul', [
        b.op('Ceil', [b.op('Div', [h, b.constant(Tensor.fromFloat32([], Float32Array.of(32)))])]),
        b.constant(Tensor.fromFloat32([], Float32Array.of(32))),
      ]);
      return b.op(
        'Cast',
        [b.concat([b.op('Unsqueeze', [h, b.constInts([0])]), b.op('Unsqueeze', [padded, b.constInts([0])])], 0)],
        [A.int('to', DataType.INT64)],
      );
    });
    expect(sizes?.value).toEqual([96, 96]);
    const pads = infer((b) => {
      const pairs = b.reshape(b.constInts([1, 2, 3, 4, 0, 0], 'given'), b.constInts([-1, 2]));
      const rev = b.op('Slice', [
        pairs,
        b.constInts([-1]),
        b.constant(Tensor.fromInt64([1], [-9223372036854775807n])),
        b.constInts([0]),
        b.constInts([-1]),
      ]);
      return b.reshape(b.transpose(rev, [1, 0]), b.constInts([-1]));
    });
    expect(pads?.value).toEqual([0, 3, 1, 0, 4, 2]);
  });
});
