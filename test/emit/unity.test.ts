// Several emitted modules (different prefixes) in ONE translation unit: every file-scope name and macro of
// postprocess.c carries the module's prefix (or is #undef'd at its end), so a unity build compiles cleanly with
// -Wall -Wextra -Werror, and each module still gives the reference's detections.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitPostprocessC, type EmitPlan } from '../../src/emit/c';
import { cNames } from '../../src/emit/c/names';
import { TENSOR_PRESETS } from '../../src/postprocess/presets';
import { postprocess } from '../../src/postprocess/reference';
import { compile, hasGcc, O2_FLAGS, run, SANITIZE_FLAGS, tempDir } from '../_support/gcc';
import { contextOf, detectorOutputs, inputOf, makePlan, SSD300_LEVELS } from './fixtures';
import { expectSameDetections, harnessInput, harnessRunner, parseHarnessOutput } from './harness';

/** One module per preset, alternating the input form; 21 columns (>= 16 labels: bit masks, per-label NMS lists). */
const PLANS: EmitPlan[] = TENSOR_PRESETS.map((preset, i) =>
  makePlan({
    name: `m${i}_${preset}`,
    spec: preset,
    levels: SSD300_LEVELS.slice(2),
    numClasses: preset === 'ultraface' ? 2 : 21,
    candidateCap: 1000,
    input: i % 2 === 0 ? 'concat' : 'per-level',
  }),
);

/** The module files in m<i>/, and one C file that #includes every module's postprocess.c, the runners and main(). */
function unityProgram(dir: string, plans: EmitPlan[]): string {
  plans.forEach((plan, i) => {
    mkdirSync(join(dir, `m${i}`));
    for (const f of emitPostprocessC(plan).files) writeFileSync(join(dir, `m${i}`, f.name), f.text);
  });
  return [
    '#include <stdio.h>',
    '#include <stdlib.h>',
    ...plans.map((_, i) => `#include "m${i}/postprocess.c"`),
    ...plans.map((p) => harnessRunner(p)),
    'int main(int argc, char **argv) {',
    `    if (argc != ${plans.length + 1}) return 2;`,
    ...plans.map(
      (p, i) => `    if (${cNames(p.name).prefix}harness(argv[${i + 1}]) != 0) return 5;\n    printf("--\\n");`,
    ),
    '    return 0;',
    '}',
    '',
  ].join('\n');
}

const dirs: (() => void)[] = [];
afterAll(() => dirs.forEach((d) => d()));

describe.skipIf(!hasGcc)('emitted modules share one translation unit', () => {
  it(`${PLANS.length} modules (every preset, both input forms) #included into one C file build warning-free and match the reference`, () => {
    const t = tempDir();
    dirs.push(t.dispose);
    writeFileSync(join(t.dir, 'unity.c'), unityProgram(t.dir, PLANS));
    const outputs = PLANS.map((p, i) => detectorOutputs(p, 71 + i));
    const inputs = PLANS.map((p, i) => {
      const file = join(t.dir, `in-${i}.bin`);
      writeFileSync(file, harnessInput(p, outputs[i]!));
      return file;
    });
    const texts = [
      run(compile(t.dir, ['unity.c'], 'unity_o2', O2_FLAGS), inputs),
      run(compile(t.dir, ['unity.c'], 'unity_san', [...SANITIZE_FLAGS, '-DPD_PORTABLE']), inputs),
    ];
    expect(texts[1]).toBe(texts[0]);
    const parts = texts[0]!.split('--\n');
    expect(parts).toHaveLength(PLANS.length + 1);
    let total = 0;
    PLANS.forEach((plan, i) => {
      const got = parseHarnessOutput(parts[i]!);
      expect(got.status).toBe(0);
      const want = postprocess(plan.spec, inputOf(plan, outputs[i]!), contextOf(plan));
      expectSameDetections(got.detections, want);
      total += want.length;
    });
    expect(total).toBeGreaterThan(PLANS.length);
  });
});
