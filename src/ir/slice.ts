// Taking rows of a constant tensor along one axis (conv output channels, anchor-table rows, BN statistics): the one
// tensor-slicing helper passes share, for any element width.
import { dtypeWidth } from './dtype';
import { Tensor } from './tensor';

/** A new tensor holding `indices` (in that order) along `axis` of `t`. */
export function takeAlongAxis(t: Tensor, axis: number, indices: readonly number[]): Tensor {
  const dims = [...t.dims];
  const width = dtypeWidth(t.dataType);
  if (!Number.isInteger(width)) throw new Error(`cannot slice ${t.describe()}: sub-byte element type`);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1) * width;
  const src = t.bytes();
  const out = new Uint8Array(outer * indices.length * inner);
  const n = dims[axis]!;
  let o = 0;
  for (let b = 0; b < outer; b++) {
    for (const i of indices) {
      if (i < 0 || i >= n) throw new RangeError(`index ${i} out of range for axis ${axis} of size ${n}`);
      const start = (b * n + i) * inner;
      out.set(src.subarray(start, start + inner), o);
      o += inner;
    }
  }
  dims[axis] = indices.length;
  return t.withData(dims, out);
}
