// Quantized models that break quantization's rules, and quantized ops prunedet does not follow on the head path: each
// is refused through the CLI with exit 2 and one line naming the node and the fix. And the proof side: verify fails
// (exit 1) when a compiled quantized model's kept weight, per-channel scale or per-tensor zero point was changed.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildQuantizedFixture } from '../../fixtures/quantized';
import type { Model, Node } from '../../src/ir/graph';
import { Tensor } from '../../src/ir/tensor';
import { DataType } from '../../src/ir/dtype';
import { loadModel } from '../../src/onnx/load';
import { saveModel } from '../../src/onnx/save';
import { analyzeModel } from '../../src/detector/index';
import { verify } from '../../src/jobs/verify/index';
import { compileTemp, saveTemp, tempDir } from '../_support/compile';
import { expectUserError, prunedet, sha256 } from '../_support/cli';

const SIZE: [number, number] = [96, 128];
const REMOVE = '0,9,18,27,36'; // the first anchor of each of RetinaNet's 5 levels
let qdq: string;
let qop: string;

beforeAll(async () => {
  qdq = saveTemp(await buildQuantizedFixture('retinanet', { inputSize: SIZE, format: 'qdq', samples: 2 }));
  qop = saveTemp(
    await buildQuantizedFixture('retinanet', { inputSize: SIZE, format: 'qoperator', activations: 'int8', samples: 2 }),
  );
});

/** A copy of `path` changed by `edit`(model, a level-1 head conv), saved to a new file. */
function edited(path: string, edit: (m: Model, conv: Node) => void): string {
  const m = loadModel(path);
  const { spec } = analyzeModel(m);
  edit(m, spec.levels[1]!.convs[0]!.node);
  const out = join(tempDir('pd-qbad-'), 'model.onnx');
  saveModel(m, out);
  return out;
}

const weightDq = (conv: Node) => conv.inputs[1]!.producer!;
const floats = (dims: number[], values: number[]) => Tensor.fromFloat32(dims, Float32Array.from(values));

describe('quantized bad input: exit 2, one line naming the node and the fix', () => {
  const cases: [string, () => string, RegExp][] = [
    [
      'a per-channel weight scale of the wrong length',
      () =>
        edited(qdq, (_m, conv) => {
          const s = weightDq(conv).inputs[1]!;
          const n = s.initializer!.size;
          s.initializer = floats([n - 1], new Array(n - 1).fill(0.01));
        }),
      /: input has \d+ per-channel scales, but axis 0 of the tensor it quantizes has \d+ channels; give one scale per channel/,
    ],
    [
      'a zero weight scale',
      () =>
        edited(qdq, (_m, conv) => {
          const s = weightDq(conv).inputs[1]!;
          const v = s.initializer!.float32().slice();
          v[3] = 0;
          s.initializer = floats([v.length], [...v]);
        }),
      /DequantizeLinear\): input scale\[3\] is 0; a scale must be positive and finite; re-quantize/,
    ],
    [
      'a NaN QLinearConv y scale',
      () =>
        edited(qop, (_m, conv) => {
          conv.setInput(6, conv.graph.addInitializer('nan_scale', floats([], [NaN])));
        }),
      /QLinearConv\): y scale is NaN; a scale must be positive and finite/,
    ],
    [
      'a weight zero point of the wrong type',
      () =>
        edited(qdq, (_m, conv) => {
          const z = weightDq(conv).inputs[2]!;
          z.initializer = Tensor.fromNumbers(
            DataType.UINT8,
            z.initializer!.dims,
            new Array(z.initializer!.size).fill(0),
          );
        }),
      /input zero point is uint8, but the tensor it quantizes is int8; give the zero point the quantized tensor type/,
    ],
    [
      'a QLinearConv w_zero_point of the wrong length',
      () =>
        edited(qop, (_m, conv) => {
          const n = conv.inputs[4]!.initializer!.size;
          conv.setInput(
            5,
            conv.graph.addInitializer('short_zp', Tensor.fromNumbers(DataType.INT8, [n - 1], new Array(n - 1).fill(0))),
          );
        }),
      /QLinearConv\): w has \d+ zero points for \d+ scales; give one zero point per scale/,
    ],
    [
      'ConvInteger as a head conv',
      () =>
        edited(qop, (_m, conv) => {
          conv.opType = 'ConvInteger';
        }),
      /quantized op .* \(ConvInteger\) sits between the head convs and the outputs; prunedet follows QuantizeLinear, DequantizeLinear and QLinearConv only; quantize the head in QDQ form/,
    ],
    [
      'a com.microsoft DequantizeLinear on the head path',
      () =>
        edited(qop, (m, conv) => {
          conv.output().uses[0]!.node.extra.domain = 'com.microsoft';
          (m.extra.opset_import as unknown[]).push({ domain: 'com.microsoft', version: 1 });
        }),
      /quantized op .* \(DequantizeLinear\) of domain com\.microsoft sits between the head convs and the outputs/,
    ],
  ];
  it.each(cases)('%s', (_what, make, pattern) => {
    const path = make();
    const before = sha256(path);
    const out = join(tempDir('pd-qbad-out-'), 'out');
    expectUserError(prunedet(['compile', path, '--remove', REMOVE, '-o', out]), pattern, expect);
    expect(sha256(path)).toBe(before);
  });
});

describe('verify on a compiled quantized model fails when a kept quantized parameter changed', () => {
  const compiled = new Map<string, string>();
  beforeAll(async () => {
    for (const src of [qdq, qop]) compiled.set(src, (await compileTemp(src, { remove: REMOVE })).outDir);
  });

  async function tampered(src: string, edit: (conv: Node) => void): Promise<{ dir: string; first: string }> {
    const outDir = join(tempDir('pd-qtamper-'), 'out');
    cpSync(compiled.get(src)!, outDir, { recursive: true });
    const path = join(outDir, 'model.onnx');
    const m = loadModel(path);
    edit(analyzeModel(m).spec.levels[1]!.convs[0]!.node);
    saveModel(m, path);
    const r = await verify({ original: src, outDir, samples: 1, skipC: true, postprocess: 'mmdet-retinanet' });
    expect(r.status).toBe('mismatch');
    return { dir: outDir, first: r.checks.tensors.parameters.first ?? '' };
  }

  it('a per-channel weight scale of a kept channel (QDQ): the parameter check names it; the CLI exits 1', async () => {
    const { dir, first } = await tampered(qdq, (conv) => {
      const s = weightDq(conv).inputs[1]!;
      const v = s.initializer!.float32().slice();
      v[2] = v[2]! * 1.5;
      s.initializer = floats([v.length], [...v]);
    });
    expect(first).toMatch(
      /^level \d head conv .*: weight scales of compiled channel 2 \(original channel \d+\) is \S+, the original's \S+: slicing cannot explain it$/,
    );
    const r = prunedet(['verify', qdq, dir, '--samples', '1', '--skip-c', '--postprocess', 'mmdet-retinanet']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/verify: MISMATCH/);
  });

  it('a per-tensor y zero point (QLinearConv)', async () => {
    const { first } = await tampered(qop, (conv) => {
      const z = conv.inputs[7]!.initializer!;
      conv.setInput(
        7,
        conv.graph.addInitializer('moved_zp', Tensor.fromNumbers(DataType.INT8, z.dims, [z.numbers()[0]! + 1])),
      );
    });
    expect(first).toMatch(
      /y zero point 0 is -?\d+, the original's -?\d+: pruning never changes a per-tensor parameter$/,
    );
  });

  it('one int8 weight (QLinearConv)', async () => {
    const { first } = await tampered(qop, (conv) => {
      const w = conv.inputs[3]!.initializer!;
      const q = Int8Array.from(w.numbers());
      q[5] = q[5]! > 0 ? q[5]! - 1 : q[5]! + 1;
      conv.setInput(
        3,
        conv.graph.addInitializer(
          'moved_w',
          new Tensor(DataType.INT8, w.dims, { kind: 'raw', bytes: new Uint8Array(q.buffer) }),
        ),
      );
    });
    expect(first).toMatch(
      /weight 5 of compiled channel 0 \(original channel \d+\) is -?\d+, the original's -?\d+: slicing cannot explain it$/,
    );
  });
});
