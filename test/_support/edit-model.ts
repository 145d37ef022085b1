// Tampering with a compiled model in tests: move one weight or bias element of a head conv, to show that verify
// catches it.
import { loadModel } from '../../src/onnx/load';
import { saveModel } from '../../src/onnx/save';
import { analyzeModel } from '../../src/detector/index';
import { Tensor } from '../../src/ir/tensor';
import type { GroupRole } from '../../src/detector/spec';

/** Add `delta` to element `index` of input `slot` (1 weight, 2 bias) of level `level`'s `role` head conv in the model file. */
export function nudgeHeadConv(
  path: string,
  level: number,
  role: GroupRole,
  slot: 1 | 2,
  index: number,
  delta: number,
): void {
  const m = loadModel(path);
  const { spec } = analyzeModel(m);
  const v = spec.levels[level]!.convs.find((c) => c.groups[0]!.role === role)!.node.inputs[slot]!;
  const data = Float32Array.from(v.initializer!.float32());
  data[index] = data[index]! + delta;
  v.initializer = Tensor.fromFloat32([...v.initializer!.dims], data);
  saveModel(m, path);
}
