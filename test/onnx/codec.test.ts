import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/onnx/codec';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes } from '../../src/onnx/save';
import { buildFixture } from '../../fixtures/index';

/** A protobuf field by hand: tag varint + payload. */
function field(id: number, wire: number, payload: number[]): number[] {
  return [(id << 3) | wire, ...payload];
}

describe('codec', () => {
  it('keeps fields unknown to the schema, in order, through decode and encode', () => {
    const m = modelToBytes(buildFixture('ssdlite', { outputs: 'raw' }));
    // field 99 (varint 5) and field 100 (bytes "hi") on the ModelProto
    const extra = Uint8Array.from([0x98, 0x06, 5, 0xa2, 0x06, 2, 0x68, 0x69]);
    const withExtra = new Uint8Array(m.length + extra.length);
    withExtra.set(m);
    withExtra.set(extra, m.length);
    const decoded = decodeMessage('onnx.ModelProto', withExtra);
    expect(decoded.$unknown?.map((u) => Array.from(u))).toEqual([
      [0x98, 0x06, 5],
      [0xa2, 0x06, 2, 0x68, 0x69],
    ]);
    const again = encodeMessage('onnx.ModelProto', decoded);
    expect(Array.from(again.slice(again.length - extra.length))).toEqual(Array.from(extra));
    // and through the IR: the model's extra fields carry them
    const saved = modelToBytes(loadModel(withExtra));
    expect(decodeMessage('onnx.ModelProto', saved).$unknown?.length).toBe(2);
  });

  it('reads IR 10 fields that onnx-proto (IR 8) does not know: node metadata_props, function overload', () => {
    const node = {
      op_type: 'Relu',
      input: ['x'],
      output: ['y'],
      overload: 'v2',
      metadata_props: [{ key: 'k', value: 'v' }],
    };
    const bytes = encodeMessage('onnx.NodeProto', node);
    const back = decodeMessage('onnx.NodeProto', bytes);
    expect(back.overload).toBe('v2');
    expect(back.metadata_props).toEqual([{ key: 'k', value: 'v' }]);
    expect(back.$unknown).toBeUndefined();
  });

  it('keeps int64 values beyond 2^53 exact (Slice ends of INT64_MAX)', () => {
    const big = 9223372036854775807n;
    const bytes = encodeMessage('onnx.AttributeProto', { name: 'ends', type: 7, ints: [big, -1, 5] });
    expect(decodeMessage('onnx.AttributeProto', bytes).ints).toEqual([big, -1, 5]);
  });

  it('reads repeated numbers both packed and unpacked', () => {
    // dims of a TensorProto: field 1, unpacked varints 2 and 3, then a packed run [4, 5]
    const bytes = Uint8Array.from([...field(1, 0, [2]), ...field(1, 0, [3]), ...field(1, 2, [2, 4, 5])]);
    expect(decodeMessage('onnx.TensorProto', bytes).dims).toEqual([2, 3, 4, 5]);
  });

  it('leaves raw_data as a view over the input bytes (no copy of weights)', () => {
    const bytes = modelToBytes(buildFixture('ssdlite', { outputs: 'raw' }));
    const model = loadModel(bytes);
    const w = model.graph.initializers.find((v) => v.initializer!.size > 1000)!.initializer!;
    expect(w.source.kind).toBe('raw');
    expect((w.bytes().buffer as ArrayBuffer) === (bytes.buffer as ArrayBuffer)).toBe(true);
  });

  it('rejects a message whose length runs past the end', () => {
    expect(() => decodeMessage('onnx.ModelProto', Uint8Array.from([0x3a, 0x20, 0x0a]))).toThrow(/out of range/);
  });
});
