// `prunedet quantize` through the real bin: calibrates on the shared photos, writes a QLinearConv model that inspect
// reports as quantized, leaves its input untouched, and refuses an already-quantized model in one line.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectUserError, prunedet, sha256 } from '../_support/cli';
import { tempDir } from '../_support/compile';
import { FACES, hasShared, ultraface } from '../_support/shared';

describe.skipIf(!hasShared)('prunedet quantize', () => {
  it('QLinearConv from 4 photos; inspect says quantized; quantizing the result again is refused', () => {
    const model = ultraface('version-slim-320_simplified.onnx');
    const before = sha256(model);
    const out = join(tempDir('pd-qcli-'), 'slim-q.onnx');
    const r = prunedet([
      'quantize',
      model,
      '-o',
      out,
      '--images',
      FACES,
      '--samples',
      '4',
      '--postprocess',
      'ultraface',
      '--format',
      'qoperator',
      '--activations',
      'int8',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^wrote .*slim-q\.onnx: QOperator \(QLinearConv\), 42 convs, int8 activations, int8 weights per channel$/m,
    );
    expect(r.stdout).toMatch(/^calibrated on 4 images \(min\/max\)$/m);
    expect(r.stdout).toMatch(/^largest \|quantized - float\| on the first input: scores \S+, boxes \S+$/m);
    expect(sha256(model)).toBe(before);
    const i = prunedet(['inspect', out]);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(
      /^quantized head: QOperator \(QLinearConv\), 8 of 8 head convs, int8 activations, int8 weights per-channel$/m,
    );
    expect(i.stdout).toMatch(/QLinearConv 42/);
    expectUserError(
      prunedet(['quantize', out, '-o', join(tempDir('pd-qcli-'), 'again.onnx')]),
      /is already quantized \(qoperator, 8 head convs\); quantize the float model it came from/,
      expect,
    );
  });
});
