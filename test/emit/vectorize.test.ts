// The hot loops of the emitted C are written for gcc's -O2 vectorizer (gcc >= 12 vectorizes at -O2 with its
// "very-cheap" cost model: constant trip counts that are a multiple of the vector width, restrict-qualified rows, no
// branch left after if-conversion). This checks gcc's own report (-fopt-info-vec-optimized) for every such loop, on the
// plain C99 path at the baseline ISA (-DPD_PORTABLE), as shipped (x86-64 Linux: target_clones variants too) and for
// this machine (-march=native).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitPostprocessC, type EmitPlan } from '../../src/emit/c';
import { PRESETS } from '../../src/postprocess/presets';
import { hasGcc, STRICT_FLAGS, tempDir, writeFiles } from '../_support/gcc';
import { makePlan, SSD300_LEVELS } from './fixtures';

const gccMajor = hasGcc
  ? Number(spawnSync('gcc', ['-dumpversion'], { encoding: 'utf8' }).stdout.trim().split('.')[0])
  : 0;
if (hasGcc && gccMajor < 12)
  console.warn(`[prunedet tests] gcc ${gccMajor} does not vectorize at -O2: the vectorization report test is skipped`);

/** Loops (by a fragment of their body) that must be vectorized, per plan. */
const CASES: { name: string; plan: EmitPlan; loops: string[] }[] = [
  {
    name: 'softmax with a background column (mmdet-ssd300, 81 columns)',
    plan: makePlan({ name: 'ssd', spec: 'mmdet-ssd300', levels: SSD300_LEVELS, numClasses: 81, candidateCap: 6000 }),
    loops: [
      'hit |= !((row[k] - bgl) <= margin);', // the row reject every anchor pays
      'const uint32_t u = pd_ssd_float_key(d) | (0u - (uint32_t)(d != d)); hi = u > hi ? u : hi;', // a row's bound (NaN: the largest key)
      'u ^= (u >> 31) ? 0xffffffffu : 0x80000000u; hi = u > hi ? u : hi;', // the row max, over integer keys
      'e[r][j] = pd_ssd_expf_neg(x[j] - mr);', // the row's exponentials
      'any |= (uint32_t)(er[q] > lim);', // does any label pass its cheap test
      'bits |= pd_ssd_bit16[q] & (0u - (uint32_t)(er[q] > lim));', // which labels pass
    ],
  },
  {
    name: 'sigmoid (mmdet-retinanet, 80 columns)',
    plan: makePlan({
      name: 'retina',
      spec: 'mmdet-retinanet',
      levels: SSD300_LEVELS.slice(0, 3),
      numClasses: 80,
      candidateCap: 3000,
    }),
    loops: ['hit |= x[j] > bound;', 'bits |= pd_retina_bit16[q] & (0u - (uint32_t)(row[q] > pool->reject));'],
  },
  {
    name: 'probabilities with a background column (tflite-ssd, 91 columns)',
    plan: makePlan({
      name: 'tfl',
      spec: { ...PRESETS['tflite-ssd']!, scoreThreshold: 0.3 },
      levels: SSD300_LEVELS.slice(1, 3),
      numClasses: 91,
      candidateCap: 2048,
    }),
    loops: [
      'hit |= (int32_t)(x[j] > bound) & pd_tfl_block_label[j];',
      'hit |= (int32_t)(uni > 0.0f) & (int32_t)(v > 0.6f);', // agnostic NMS: a candidate against 16 kept boxes at once
    ],
  },
  {
    name: 'per-class NMS with one label (ultraface)',
    plan: makePlan({
      name: 'uf',
      spec: 'ultraface',
      levels: SSD300_LEVELS.slice(0, 2),
      numClasses: 2,
      candidateCap: 200,
    }),
    loops: ['hit |= (int32_t)(uni > 0.0f) & (int32_t)(v > 0.5f) & (int32_t)(klab[i] == label);'],
  },
];

describe.skipIf(!hasGcc || gccMajor < 12)('the emitted C vectorizes at -O2', () => {
  for (const { name, plan, loops } of CASES) {
    it(name, () => {
      const t = tempDir();
      try {
        const files = emitPostprocessC(plan).files;
        writeFiles(t.dir, files);
        const lines = files.find((f) => f.name === 'postprocess.c')!.text.split('\n');
        for (const march of [['-DPD_PORTABLE'], [], ['-march=native']]) {
          const r = spawnSync(
            'gcc',
            [
              ...STRICT_FLAGS,
              '-O2',
              ...march,
              '-fopt-info-vec-optimized',
              '-c',
              'postprocess.c',
              '-o',
              join(t.dir, 'p.o'),
            ],
            { cwd: t.dir, encoding: 'utf8' },
          );
          expect(r.status, r.stderr).toBe(0);
          const vectorized = new Set(
            [...r.stderr.matchAll(/postprocess\.c:(\d+):\d+: optimized: loop vectorized/g)].map((m) => Number(m[1])),
          );
          for (const loop of loops) {
            const at = lines.findIndex((l) => l.includes(loop));
            expect(at, `no loop "${loop}" in the source`).toBeGreaterThanOrEqual(0);
            // gcc reports a loop at its `for` line: this one, or the nearest above for a multi-line body
            let head = at;
            while (head > 0 && !lines[head]!.includes('for (')) head--;
            expect(
              vectorized.has(head + 1),
              `${march.join(' ') || 'as shipped'}: not vectorized: ${lines[at]!.trim()}`,
            ).toBe(true);
          }
        }
      } finally {
        t.dispose();
      }
    });
  }
});
