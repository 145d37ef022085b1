// The shipped build files build libpd_<name>.a, and the usage example in the header compiles and runs against it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitPostprocessC, type EmitPlan } from '../../src/emit/c';
import { compile, hasGcc, O2_FLAGS, run, tempDir, writeFiles } from '../_support/gcc';
import { makePlan } from './fixtures';

const has = (tool: string) => spawnSync(tool, ['--version'], { encoding: 'utf8' }).status === 0;
const hasMake = hasGcc && has('make');
const hasCmake = hasGcc && has('cmake');
if (!hasMake) console.warn('[prunedet tests] make (or gcc) not found: the Makefile build test is skipped');
if (!hasCmake) console.warn('[prunedet tests] cmake (or gcc) not found: the CMakeLists.txt build test is skipped');

const PLAN: EmitPlan = makePlan({
  name: 'Demo-Net',
  spec: 'mmdet-retinanet',
  levels: [
    { h: 4, w: 4, a: 3, stride: 8 },
    { h: 2, w: 2, a: 3, stride: 16 },
  ],
  numClasses: 3,
});

const dirs: (() => void)[] = [];
afterAll(() => dirs.forEach((d) => d()));

function moduleDir(plan: EmitPlan): string {
  const t = tempDir();
  dirs.push(t.dispose);
  writeFiles(t.dir, emitPostprocessC(plan).files);
  return t.dir;
}

/** The header's example, wrapped into a program that feeds all-zero head outputs. */
function exampleProgram(plan: EmitPlan, header: string): string {
  const doc = header.slice(header.indexOf(' * Example:'), header.indexOf(' */', header.indexOf(' * Example:')));
  const body = doc
    .split('\n')
    .slice(2)
    .map((l) => l.replace(/^ \*( {4})?/, ''))
    .join('\n');
  const inputs =
    plan.input === 'concat'
      ? 'static const float scores[4096], boxes[4096];'
      : 'static const float zeros[4096];\nstatic const float *const cls_maps[8] = { zeros, zeros, zeros, zeros, zeros, zeros, zeros, zeros };\nstatic const float *const reg_maps[8] = { zeros, zeros, zeros, zeros, zeros, zeros, zeros, zeros };';
  return `#include <stdio.h>
#include "postprocess.h"
${inputs}
static void draw(const float *box, float score, uint32_t label) { printf("%g %g %lu\\n", (double)box[0], (double)score, (unsigned long)label); }
int main(void) {
${body}
    printf("n=%lu\\n", (unsigned long)n);
    return 0;
}
`;
}

describe('build files', () => {
  it.skipIf(!hasMake)('make builds libpd_<name>.a; the header example links against it and runs', () => {
    for (const input of ['concat', 'per-level'] as const) {
      const plan = { ...PLAN, input };
      const dir = moduleDir(plan);
      const r = spawnSync('make', [], { cwd: dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(join(dir, 'libpd_demo_net.a'))).toBe(true);
      const header = emitPostprocessC(plan).files[0]!.text;
      writeFiles(dir, [{ name: 'example.c', text: exampleProgram(plan, header) }]);
      const exe = compile(dir, ['example.c', 'libpd_demo_net.a'], 'example', O2_FLAGS);
      // zero logits: every sigmoid score is 0.5 > 0.05, so NMS decides; the example reaches its loop
      const out = run(exe, []);
      const n = Number(out.match(/n=(\d+)\n$/)![1]);
      expect(n).toBeGreaterThan(0);
      expect(out.split('\n')).toHaveLength(n + 2);
    }
  });

  it.skipIf(!hasCmake)('CMakeLists.txt builds the same static library', () => {
    const dir = moduleDir(PLAN);
    const cfg = spawnSync('cmake', ['-S', '.', '-B', 'build', '-DCMAKE_BUILD_TYPE=Release'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(cfg.status, cfg.stderr).toBe(0);
    const b = spawnSync('cmake', ['--build', 'build'], { cwd: dir, encoding: 'utf8' });
    expect(b.status, b.stderr + b.stdout).toBe(0);
    expect(existsSync(join(dir, 'build', 'libpd_demo_net.a'))).toBe(true);
  });
});
