// Load-time validation (src/onnx/validate.ts): every class of malformed model the loader refuses, each a crafted
// mutation of a valid fixture, refused at load with one PrunedetError naming the tensor or node; and the Tensor
// invariant behind it (no view past a tensor's bytes).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { InternalError, PrunedetError } from '../../src/errors';
import { decodeMessage, encodeMessage, type ProtoMessage } from '../../src/onnx/codec';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes, saveModel } from '../../src/onnx/save';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';

const base = modelToBytes(buildFixture('ssdlite', { outputs: 'concat' }));
const dir = mkdtempSync(join(tmpdir(), 'pd-validate-'));
mkdirSync(join(dir, 'a-folder'));
writeFileSync(join(dir, 'm.data'), new Uint8Array(64));

const G = (m: ProtoMessage) => m.graph as ProtoMessage;
const nodes = (m: ProtoMessage) => G(m).node as ProtoMessage[];
const inits = (m: ProtoMessage) => G(m).initializer as ProtoMessage[];
const firstConv = (m: ProtoMessage) => nodes(m).find((n) => n.op_type === 'Conv')!;
const convWeight = (m: ProtoMessage) => inits(m).find((t) => t.name === (firstConv(m).input as string[])[1])!;
const biased = (m: ProtoMessage) => nodes(m).find((n) => n.op_type === 'Conv' && (n.input as string[]).length > 2)!;
const external = (t: ProtoMessage, entries: [string, string][]) => {
  delete t.raw_data;
  t.data_location = 1;
  t.external_data = entries.map(([key, value]) => ({ key, value }));
};

const toDouble = (t: ProtoMessage) => {
  t.data_type = DataType.DOUBLE;
  t.raw_data = new Uint8Array(Float64Array.from(new Float32Array((t.raw_data as Uint8Array).slice().buffer)).buffer);
};

/** Write the mutated model next to m.data and a-folder, and load it from its path. */
function load(mutate: (m: ProtoMessage) => void): unknown {
  const m = decodeMessage('onnx.ModelProto', base);
  mutate(m);
  const path = join(dir, 'm.onnx');
  writeFileSync(path, encodeMessage('onnx.ModelProto', m));
  try {
    loadModel(path);
  } catch (e) {
    return e;
  }
  return undefined;
}

// [what, mutation, error code, message pattern naming the tensor or node]
const CASES: [string, (m: ProtoMessage) => void, string, RegExp][] = [
  // tensor byte length = dims x dtype size, whatever field holds the data
  [
    'raw_data shorter than its dims',
    (m) => {
      const w = convWeight(m);
      w.raw_data = (w.raw_data as Uint8Array).subarray(8);
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight is float32\[8,3,3,3\], which needs 864 bytes of raw_data, but it holds 856/,
  ],
  [
    'raw_data longer than its dims',
    (m) => {
      const w = convWeight(m);
      w.raw_data = new Uint8Array((w.raw_data as Uint8Array).length + 4);
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight .* holds 868/,
  ],
  [
    'a bias one byte short',
    (m) => {
      const b = inits(m).find((t) => t.name === (biased(m).input as string[])[2])!;
      b.raw_data = (b.raw_data as Uint8Array).subarray(1);
    },
    'E_ONNX_INVALID',
    /initializer \S+ is float32\[\d+\], which needs \d+ bytes of raw_data/,
  ],
  [
    'float_data with fewer entries than its dims',
    (m) => {
      const w = convWeight(m);
      delete w.raw_data;
      w.float_data = new Float32Array(5);
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight is float32\[8,3,3,3\], which needs 216 entries in float_data, but it holds 5/,
  ],
  [
    'int64_data with more entries than its dims',
    (m) => {
      inits(m).push({ name: 'extra_i64', data_type: 7, dims: [2], int64_data: [1, 2, 3] });
    },
    'E_ONNX_INVALID',
    /initializer extra_i64 is int64\[2\], which needs 2 entries in int64_data, but it holds 3/,
  ],
  [
    'a typed field that cannot hold the type',
    (m) => {
      inits(m).push({ name: 'wrong_field', data_type: 7, dims: [2], float_data: new Float32Array(2) });
    },
    'E_ONNX_INVALID',
    /initializer wrong_field is int64 but holds its values in float_data/,
  ],
  [
    'dims with no data',
    (m) => {
      delete convWeight(m).raw_data;
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight is float32\[8,3,3,3\] but holds no data/,
  ],
  // known dtypes, non-negative dims
  [
    'data_type 999',
    (m) => {
      convWeight(m).data_type = 999;
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight has data type 999, which ONNX does not define/,
  ],
  [
    'data_type 0 (undefined)',
    (m) => {
      convWeight(m).data_type = 0;
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight has data type 0/,
  ],
  [
    'a negative dim',
    (m) => {
      convWeight(m).dims = [-16, 3, 3, 3];
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight has dims \[-16,3,3,3\]; dims are whole numbers >= 0/,
  ],
  [
    'dims beyond 2^53 elements',
    (m) => {
      convWeight(m).dims = [2 ** 30, 2 ** 30, 2 ** 30];
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight has dims .*more elements than any file can hold/,
  ],
  [
    'a string tensor with raw_data',
    (m) => {
      convWeight(m).data_type = DataType.STRING;
    },
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight is a string tensor with raw_data/,
  ],
  [
    'an attribute tensor of a Constant node, short',
    (m) => {
      nodes(m).unshift({
        op_type: 'Constant',
        name: 'const_short',
        output: ['c_out'],
        attribute: [{ name: 'value', type: 4, t: { data_type: 1, dims: [4], raw_data: new Uint8Array(8) } }],
      });
    },
    'E_ONNX_INVALID',
    /attribute value of node const_short \(Constant\) is float32\[4\], which needs 16 bytes/,
  ],
  [
    'a Constant inside a local function, short',
    (m) => {
      m.functions = [
        {
          name: 'Helper',
          domain: 'local',
          input: ['x'],
          output: ['y'],
          node: [
            {
              op_type: 'Constant',
              name: 'fconst',
              output: ['y'],
              attribute: [{ name: 'value', type: 4, t: { data_type: 7, dims: [3], raw_data: new Uint8Array(16) } }],
            },
          ],
        },
      ];
    },
    'E_ONNX_INVALID',
    /attribute value of node fconst \(Constant\) \(in local function Helper\) is int64\[3\], which needs 24 bytes/,
  ],
  // external data: keys, ranges, files
  [
    'external offset "abc"',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['offset', 'abc'],
      ]),
    'E_EXTERNAL_DATA',
    /initializer backbone\.0\.weight has external-data offset "abc", which is not a whole number of bytes/,
  ],
  [
    'external length "-4"',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['length', '-4'],
      ]),
    'E_EXTERNAL_DATA',
    /external-data length "-4"/,
  ],
  [
    'external offset 1.5',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['offset', '1.5'],
      ]),
    'E_EXTERNAL_DATA',
    /external-data offset "1\.5"/,
  ],
  [
    'an unknown external-data key',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['offest', '0'],
      ]),
    'E_EXTERNAL_DATA',
    /external-data key 'offest', which ONNX does not define/,
  ],
  [
    'an external location that is a folder',
    (m) => external(convWeight(m), [['location', 'a-folder']]),
    'E_EXTERNAL_DATA',
    /external data "a-folder" of initializer backbone\.0\.weight in m\.onnx is a folder/,
  ],
  [
    'an external range past the file',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['offset', '32'],
        ['length', '864'],
      ]),
    'E_EXTERNAL_DATA',
    /needs bytes 32\.\.896 of "m\.data", which has 64/,
  ],
  [
    'an external range of the wrong length',
    (m) =>
      external(convWeight(m), [
        ['location', 'm.data'],
        ['length', '64'],
      ]),
    'E_ONNX_INVALID',
    /initializer backbone\.0\.weight is float32\[8,3,3,3\], which needs 864 bytes, but its external data holds 64/,
  ],
  [
    'an external file that is missing',
    (m) => external(convWeight(m), [['location', 'absent.data']]),
    'E_EXTERNAL_DATA',
    /external data file "absent\.data" of initializer backbone\.0\.weight is missing/,
  ],
  [
    'an external location leaving the folder',
    (m) => external(convWeight(m), [['location', '../m.data']]),
    'E_PATH_ESCAPES',
    /escapes the model's folder/,
  ],
  // opsets
  [
    'no opset_import',
    (m) => {
      delete m.opset_import;
    },
    'E_ONNX_INVALID',
    /m\.onnx imports no opset for the default ONNX domain \(opset_import is empty\)/,
  ],
  [
    'only a custom domain imported',
    (m) => {
      m.opset_import = [{ domain: 'com.example', version: 1 }];
    },
    'E_ONNX_INVALID',
    /imports no opset for the default ONNX domain \(opset_import lists only 'com\.example'\)/,
  ],
  [
    'ir_version 0',
    (m) => {
      m.ir_version = 0;
    },
    'E_ONNX_INVALID',
    /m\.onnx declares ir_version 0/,
  ],
  // graph structure
  [
    'a node input that names nothing',
    (m) => {
      (nodes(m)[3]!.input as string[])[0] = 'ghost_value';
    },
    'E_ONNX_INVALID',
    /node \S+ \(\w+\) reads ghost_value, which is no graph input, initializer or node output/,
  ],
  [
    'a graph output that nothing computes',
    (m) => {
      (G(m).output as ProtoMessage[])[0]!.name = 'ghost_out';
    },
    'E_ONNX_INVALID',
    /graph output ghost_out is computed by no node/,
  ],
  [
    'a cycle',
    (m) => {
      const ns = nodes(m);
      (ns[1]!.input as string[])[0] = (ns[5]!.output as string[])[0]!;
    },
    'E_ONNX_INVALID',
    /the graph has a cycle through node \S+ \(\w+\)/,
  ],
  [
    'a node without an op type',
    (m) => {
      delete nodes(m)[2]!.op_type;
    },
    'E_ONNX_INVALID',
    /node \S+ \(\?\) has no op type/,
  ],
  // Conv attributes against its weight
  [
    'a Conv kernel_shape that disagrees with its weight',
    (m) => {
      const c = firstConv(m);
      c.attribute = [
        ...((c.attribute as ProtoMessage[]) ?? []).filter((a) => a.name !== 'kernel_shape'),
        { name: 'kernel_shape', type: 7, ints: [5, 5] },
      ];
    },
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) declares kernel_shape \[5,5\] but its weight backbone\.0\.weight is \[8,3,3,3\]/,
  ],
  [
    'a Conv weight of rank 2',
    (m) => {
      convWeight(m).dims = [8, 27];
    },
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) has weight backbone\.0\.weight of shape \[8,27\]/,
  ],
  [
    'a DOUBLE Conv weight beside a float32 bias',
    (m) => toDouble(convWeight(m)),
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) has a float32 bias backbone\.0\.bias and a float64 weight backbone\.0\.weight/,
  ],
  [
    'a DOUBLE Conv weight and bias in a float32 network',
    (m) => {
      toDouble(convWeight(m));
      toDouble(inits(m).find((t) => t.name === (firstConv(m).input as string[])[2])!);
    },
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) reads a float32 input input with a float64 weight backbone\.0\.weight/,
  ],
  [
    'an int64 Conv weight',
    (m) => {
      const w = convWeight(m);
      w.data_type = DataType.INT64;
      w.raw_data = new Uint8Array(216 * 8);
    },
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) has a int64 weight/,
  ],
  [
    'a Conv group that does not divide the channels',
    (m) => {
      firstConv(m).attribute = [
        ...((firstConv(m).attribute as ProtoMessage[]) ?? []).filter((a) => a.name !== 'group'),
        { name: 'group', type: 2, i: 5 },
      ];
    },
    'E_ONNX_INVALID',
    /node backbone\.0 \(Conv\) has group 5, which does not divide the 8 output channels/,
  ],
  [
    'a Conv bias of the wrong length',
    (m) => {
      const b = inits(m).find((t) => t.name === (biased(m).input as string[])[2])!;
      const d = b.dims as number[];
      b.dims = [d[0]! - 1];
      b.raw_data = (b.raw_data as Uint8Array).subarray(4);
    },
    'E_ONNX_INVALID',
    /has bias \S+ of shape \[\d+\], but its weight \S+ makes \d+ output channels/,
  ],
];

describe('load-time validation refuses malformed models, naming the tensor or node', () => {
  it('the unmutated fixture loads', () => {
    expect(load(() => undefined)).toBeUndefined();
  });
  for (const [what, mutate, code, pattern] of CASES) {
    it(what, () => {
      const e = load(mutate);
      expect(e, 'the model was accepted').toBeInstanceOf(PrunedetError);
      expect((e as PrunedetError).code).toBe(code);
      expect((e as PrunedetError).message).toMatch(pattern);
      expect((e as PrunedetError).oneLine()).not.toMatch(/\n/);
    });
  }

  it('external data given as bytes is refused at load, naming the tensor', () => {
    const m = decodeMessage('onnx.ModelProto', base);
    external(convWeight(m), [['location', 'm.data']]);
    expect(() => loadModel(encodeMessage('onnx.ModelProto', m))).toThrow(
      /tensor backbone\.0\.weight keeps its data in external file "m\.data", but the model was given as bytes/,
    );
  });

  it('a valid external-data model lists its data file among the files read', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pd-validate-ext-'));
    saveModel(buildFixture('ssdlite', { outputs: 'concat' }), join(d, 'x.onnx'), {
      externalData: 'external',
      location: 'w.bin',
    });
    const { loadModelWithInfo } = await import('../../src/onnx/load');
    expect(loadModelWithInfo(join(d, 'x.onnx')).files).toEqual([join(d, 'x.onnx'), join(d, 'w.bin')]);
  });
});

describe('a Tensor never views past its own bytes', () => {
  it('refuses raw bytes or typed entries that disagree with its dims (a bug if reached past the loader)', () => {
    expect(() => new Tensor(DataType.FLOAT, [2, 3], { kind: 'raw', bytes: new Uint8Array(20) })).toThrow(InternalError);
    expect(() => new Tensor(DataType.FLOAT, [2, 3], { kind: 'float_data', data: new Float32Array(5) })).toThrow(
      /holds 5 entries in float_data, its dims need 6/,
    );
    expect(() => new Tensor(DataType.FLOAT, [-1, 3], { kind: 'raw', bytes: new Uint8Array(0) })).toThrow(InternalError);
    const t = new Tensor(DataType.FLOAT, [4], {
      kind: 'external',
      location: 'x',
      offset: 0,
      length: 8,
      read: () => new Uint8Array(8),
    });
    expect(() => t.float32()).toThrow(/holds 8 bytes of data, its dims need 16/);
  });

  it('views of a weight inside the file end at the weight: a float32() view of a sliced buffer is exactly its size', () => {
    const buf = new Uint8Array(64).fill(0x7f); // bytes after the tensor would read as 3.4e38
    const t = new Tensor(DataType.FLOAT, [2], { kind: 'raw', bytes: buf.subarray(8, 16) });
    const v = t.float32();
    expect(v.length).toBe(2);
    expect(v.byteOffset + v.byteLength).toBe(16);
  });
});
