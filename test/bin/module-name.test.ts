// compile --name: the emitted C module's symbols and file names come from NAME, verify finds the files through
// report.json, and a NAME that is no C identifier is refused with one line.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { verify } from '../../src/jobs/verify/index';
import { saveTemp, tempDir } from '../_support/compile';
import { expectUserError, prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';

const model = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192] }));
const args = [
  'compile',
  model,
  '--config',
  'configs/retinanet/pruned.py',
  '--emit',
  'c',
  '--postprocess',
  'mmdet-retinanet',
];

describe('compile --name', () => {
  it('names the symbols pd_NAME_ and the files NAME.c / NAME.h; report.json records them; verify builds them', async () => {
    const out = join(tempDir(), 'named');
    const r = prunedet([...args, '--name', 'face_det', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual([
      '.prunedet-output',
      'CMakeLists.txt',
      'Makefile',
      'face_det.c',
      'face_det.h',
      'model.onnx',
      'report.json',
    ]);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.postprocess.symbolPrefix).toBe('pd_face_det_');
    expect(report.postprocess.cFiles).toEqual({ header: 'face_det.h', source: 'face_det.c' });
    expect(report.files).toEqual(expect.arrayContaining(['face_det.c', 'face_det.h']));
    expect(readFileSync(join(out, 'face_det.h'), 'utf8')).toMatch(/\bpd_face_det_run\(/);
    expect(readFileSync(join(out, 'face_det.c'), 'utf8')).toMatch(/^#include "face_det\.h"$/m);
    expect(readFileSync(join(out, 'CMakeLists.txt'), 'utf8')).toMatch(/add_library\(pd_face_det STATIC face_det\.c\)/);
    if (!hasGcc) return;
    execFileSync('make', ['-s'], { cwd: out, stdio: 'pipe' });
    expect(existsSync(join(out, 'libpd_face_det.a'))).toBe(true);
    const v = await verify({ original: model, outDir: out, samples: 2 });
    expect(v.checks.cModule.status).toBe('pass');
    expect(v.checks.cModule.runs).toBeGreaterThan(0);
  });

  it('without --name: postprocess.c/.h and symbols from the model file name, as before', () => {
    const out = join(tempDir(), 'plain');
    expect(prunedet([...args, '-o', out]).code).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['postprocess.c', 'postprocess.h']));
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).postprocess.symbolPrefix).toBe('pd_model_');
  });

  it('a NAME that is not a C identifier, or with nothing emitted: one line, exit 2, nothing written', () => {
    const out = join(tempDir(), 'never');
    for (const bad of ['9lives', 'face-det', 'a b', '_x', 'x__y', '../up', 'x'.repeat(49), '']) {
      expectUserError(
        prunedet([...args, '--name', bad, '-o', out]),
        /--name .* is not a C identifier prunedet can name a module by; use letters, digits and single underscores, starting with a letter/,
        expect as never,
      );
    }
    expectUserError(
      prunedet(['compile', model, '--config', 'configs/retinanet/pruned.py', '--name', 'ok', '-o', out]),
      /--name ok names the emitted C module, and none is emitted; add --emit c/,
      expect as never,
    );
    expect(existsSync(out)).toBe(false);
  });
});
