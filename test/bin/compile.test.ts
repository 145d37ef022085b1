import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { buildVariant } from '../../fixtures/variants';
import { saveTemp, tempDir } from '../_support/compile';
import { expectUserError, prunedet, sha256 } from '../_support/cli';

const ssd = saveTemp(buildFixture('ssd300', { outputs: 'decoded' }));
const small = saveTemp(buildVariant('landmark-heads'));

describe('prunedet compile', () => {
  it('prints the before/after table and writes model.onnx and report.json', () => {
    const out = join(tempDir(), 'a');
    const r = prunedet(['compile', ssd, '--config', 'configs/ssd300/config_a.py', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/head MACs\s+4,231,319,040\s+3,607,764,480/);
    expect(r.stdout).toMatch(/boxes\s+8,732\s+7,814/);
    expect(r.stdout).toMatch(/removed anchors \{5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28\}/);
    expect(readdirSync(out).sort()).toEqual(['.prunedet-output', 'model.onnx', 'report.json']);
  });

  it('refuses to write over its input, and leaves it untouched', () => {
    const dir = tempDir();
    const model = join(dir, 'model.onnx');
    copyFileSync(small, model);
    const before = sha256(model);
    expectUserError(
      prunedet(['compile', model, '--remove', '1', '-o', dir]),
      /-o .* holds the input .*model\.onnx; prunedet replaces its output folder as a whole; choose an output folder that holds none of the inputs/,
      expect as never,
    );
    expect(sha256(model)).toBe(before);
  });

  it('a config that does not fit the model: one line, exit 2, nothing written', () => {
    const out = join(tempDir(), 'never');
    expectUserError(
      prunedet(['compile', small, '--config', 'configs/ssd300/config_b.py', '-o', out]),
      /baseline .*configs\/ssd300\/baseline.py has 4,6,6,6,4,4 anchors per level, the model 2,3,2; give the baseline config the model was trained with/,
      expect as never,
    );
    expect(existsSync(out)).toBe(false);
    expectUserError(
      prunedet(['compile', small, '--remove', '3,99', '-o', out]),
      /anchor index 99 is out of range; the baseline \(the model\) has 7 base anchors/,
      expect as never,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--check opens the model in onnxruntime after every pass; --passes picks the pipeline', () => {
    const out = join(tempDir(), 'checked');
    const r = prunedet([
      'compile',
      small,
      '--remove',
      '0,3',
      '-o',
      out,
      '--check',
      '--passes',
      'prune-anchors,eliminate-dead',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.passes.map((p: { pass: string }) => p.pass)).toEqual(['prune-anchors', 'eliminate-dead']);
    expect(report.after.anchorsPerLevel).toEqual([1, 2, 2]);
    expectUserError(
      prunedet(['compile', small, '--remove', '0', '-o', out, '--passes', 'prune-anchors,frobnicate']),
      /unknown pass "frobnicate"; choose from prune-anchors, eliminate-dead/,
      expect as never,
    );
  });

  it('needs a config', () => {
    expectUserError(
      prunedet(['compile', small, '-o', tempDir()]),
      /give --config FILE or --remove LIST/,
      expect as never,
    );
  });

  it('a non-detector gets "no detection head found"', async () => {
    const { GraphBuilder, finishModel } = await import('../../src/ir/builder');
    const { DataType } = await import('../../src/ir/dtype');
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
    b.output(b.op('GlobalAveragePool', [x], [], 'pooled'));
    const path = saveTemp(finishModel(b.graph));
    expectUserError(
      prunedet(['compile', path, '--remove', '0', '-o', join(tempDir(), 'x')]),
      /no detection head found in model\.onnx: outputs pooled \(from pooled \(GlobalAveragePool\)\)/,
      expect as never,
    );
  });
});

describe('compile --emit takes one comma list', () => {
  it('`--emit c MODEL` leaves MODEL to the positional; `--emit c,onnx-nms` and a repeated --emit both work', () => {
    const model = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));
    const out = join(tempDir(), 'before');
    const r = prunedet([
      'compile',
      '--emit',
      'c',
      model,
      '--config',
      'configs/ssd300/config_b.py',
      '--postprocess',
      'mmdet-ssd300',
      '-o',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['postprocess.c', 'model.onnx']));
    for (const emit of [
      ['--emit', 'c,onnx-nms'],
      ['--emit', 'c', '--emit', 'onnx-nms'],
    ]) {
      const o = join(tempDir(), 'list');
      const s = prunedet([
        'compile',
        model,
        ...emit,
        '--config',
        'configs/ssd300/config_b.py',
        '--postprocess',
        'mmdet-ssd300',
        '-o',
        o,
        '--json',
      ]);
      expect(s.code, s.stderr).toBe(0);
      expect(JSON.parse(s.stdout).files).toEqual(
        expect.arrayContaining(['postprocess.c', 'postprocess.onnx', 'model_nms.onnx']),
      );
    }
  });
});
