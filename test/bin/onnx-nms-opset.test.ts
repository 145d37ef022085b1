// --emit onnx-nms on a model below opset 13: the standalone postprocess.onnx (its own opset 13 graph) is written and
// model_nms.onnx is not, with a note saying so; the C module asked for in the same command is still emitted; no
// "C workspace NaN bytes" when no C module was asked for.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { decodeMessage } from '../../src/onnx/codec';
import { saveTemp, tempDir } from '../_support/compile';
import { prunedet } from '../_support/cli';

const model = buildFixture('ssd300', { outputs: 'concat' });
model.extra.opset_import = [{ domain: '', version: 11 }];
const old = saveTemp(model, 'old.onnx');
const args = ['compile', old, '--config', 'configs/ssd300/config_b.py', '--postprocess', 'mmdet-ssd300'];

describe('--emit onnx-nms on an opset-11 model', () => {
  it('with c: the C module and postprocess.onnx are written, model_nms.onnx is not, and the output says why', () => {
    const out = join(tempDir(), 'both');
    const r = prunedet([...args, '--emit', 'c,onnx-nms', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['postprocess.c', 'postprocess.h', 'postprocess.onnx']));
    expect(existsSync(join(out, 'model_nms.onnx'))).toBe(false);
    expect(r.stdout).toMatch(/^post-processing: .*; C workspace [\d,]+ bytes \(cap \d+ candidates\)$/m);
    expect(r.stdout).toMatch(
      /^note: model_nms\.onnx not written: old\.onnx imports ai\.onnx opset 11 and the appended post-processing needs 13; run postprocess\.onnx \(opset 13, a separate graph\) on model\.onnx's scores and boxes outputs/m,
    );
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.postprocess.onnxNms).toEqual({ standalone: 'postprocess.onnx', appended: null });
    expect(report.files).not.toContain('model_nms.onnx');
    const pp = decodeMessage('onnx.ModelProto', readFileSync(join(out, 'postprocess.onnx')));
    expect(String((pp.opset_import as { domain?: string; version: unknown }[]).find((o) => !o.domain)!.version)).toBe(
      '13',
    );
  });

  it('alone: no C figures at all (never "NaN")', () => {
    const out = join(tempDir(), 'alone');
    const r = prunedet([...args, '--emit', 'onnx-nms', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/NaN|undefined/);
    expect(r.stdout).toMatch(/^post-processing: decoder=[^;\n]*$/m);
    expect(r.stdout).toMatch(/^note: model_nms\.onnx not written/m);
  });

  it('on an opset-13 model, onnx-nms alone: both graphs, and no C figures', () => {
    const out = join(tempDir(), 'new');
    const r = prunedet([
      'compile',
      saveTemp(buildFixture('ssd300', { outputs: 'concat' })),
      '--config',
      'configs/ssd300/config_b.py',
      '--postprocess',
      'mmdet-ssd300',
      '--emit',
      'onnx-nms',
      '-o',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/NaN|undefined|note:/);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['postprocess.onnx', 'model_nms.onnx']));
  });
});
