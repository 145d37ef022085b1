// Behaviour of the emitted C: compiled with -std=c99 -Wall -Wextra -Werror -pedantic -O2 and again with ASan/UBSan,
// run on seeded head outputs, compared with the reference (same count, labels, anchors, order; coordinates 1e-4).
import { afterAll, describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { f32, nextDownF, nextUpF } from '../../src/postprocess/float32';
import { PRESETS, TENSOR_PRESETS } from '../../src/postprocess/presets';
import { postprocess } from '../../src/postprocess/reference';
import type { PostprocessSpec } from '../../src/postprocess/spec';
import { sigmoidRejectLogit } from '../../src/postprocess/bounds';
import { compile, hasGcc, O2_FLAGS, run as runExe, SANITIZE_FLAGS, tempDir, writeFiles } from '../_support/gcc';
import { gaussian, mulberry32 } from '../_support/prng';
import {
  candidatesAbove,
  classesFor,
  contextOf,
  detectorOutputs,
  inputOf,
  makePlan,
  numAnchors,
  SSD300_LEVELS,
  type HeadOutputs,
  type LevelDef,
} from './fixtures';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';
import { emitPostprocessC } from '../../src/emit/c';
import { cNames } from '../../src/emit/c/names';

/** Levels with the awkward cases: a level with 0 anchors per location and one with an empty map. */
const LEVELS: LevelDef[] = [
  { h: 6, w: 8, a: 3, stride: 8 },
  { h: 3, w: 4, a: 0, stride: 16 },
  { h: 3, w: 4, a: 2, stride: 16 },
  { h: 0, w: 0, a: 4, stride: 32 },
  { h: 1, w: 1, a: 5, stride: 64 },
];

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

function build(plan: EmitPlan): BuiltModule {
  const m = buildModule(plan);
  built.push(m);
  return m;
}

/** C output == reference for each input; returns the detection counts. */
function check(m: BuiltModule, plan: EmitPlan, outputs: HeadOutputs[]): number[] {
  return outputs.map((out) => {
    const got = m.run(out);
    expect(got.status).toBe(0);
    const want = postprocess(plan.spec, inputOf(plan, out), contextOf(plan));
    expectSameDetections(got.detections, want);
    return want.length;
  });
}

describe.skipIf(!hasGcc)('emitted C agrees with the reference', () => {
  for (const name of TENSOR_PRESETS) {
    it(`preset ${name}: trained-detector-like outputs, concat and per-level forms`, () => {
      const spec = structuredClone(PRESETS[name]!);
      const concat = makePlan({
        spec,
        levels: LEVELS,
        numClasses: classesFor(spec),
        candidateCap: 1000,
        input: 'concat',
      });
      const perLevel = { ...concat, input: 'per-level' as const };
      const outputs = [1, 2, 3].map((seed) => detectorOutputs(concat, seed * 101 + name.length));
      const mc = build(concat);
      const mp = build(perLevel);
      const counts = check(mc, concat, outputs);
      expect(counts.some((c) => c > 0)).toBe(true);
      // the same data in either input form gives identical C output
      outputs.forEach((o) => expect(mp.run(o)).toEqual(mc.run(o)));
    });
  }

  it('every candidate above the threshold: the cap keeps the highest ranked (ties by anchor, label)', () => {
    const spec: PostprocessSpec = {
      ...PRESETS['tflite-ssd']!,
      scoreThreshold: 0,
      preNmsTopK: 0,
      nms: 'per-class',
      maxDetections: 40,
      decoder: { type: 'none' },
      anchorFormat: 'xyxy',
    };
    for (const input of ['concat', 'per-level'] as const) {
      const plan = makePlan({ spec, levels: LEVELS, numClasses: 4, candidateCap: 37, input });
      const m = build(plan);
      const rand = mulberry32(5);
      const outputs = [0, 1].map((s) => {
        const o = detectorOutputs(plan, 40 + s);
        // quantised scores: many exact ties, all > 0; quantised boxes: exact IoU ties too
        for (let i = 0; i < o.scores.length; i++) o.scores[i] = (1 + Math.floor(rand() * 8)) / 8;
        for (let i = 0; i < o.boxes.length; i++) o.boxes[i] = Math.round(o.boxes[i]! / 4) * 4;
        return o;
      });
      const counts = check(m, plan, outputs);
      expect(Math.max(...counts)).toBeGreaterThan(3);
      for (const o of outputs) expect(candidatesAbove(plan, o)).toBe(numAnchors(plan) * 3);
    }
  });

  it('per-level top-k with the cap hit, for softmax and sigmoid heads', () => {
    for (const base of ['mmdet-ssd300', 'mmdet-retinanet'] as const) {
      const spec: PostprocessSpec = {
        ...structuredClone(PRESETS[base]!),
        scoreThreshold: 0.001,
        preNmsTopK: 20,
        iouThreshold: 0.3,
      };
      const plan = makePlan({ spec, levels: LEVELS, numClasses: classesFor(spec), candidateCap: 30 });
      const m = build(plan);
      const outputs = [7, 8].map((s) => detectorOutputs(plan, s, 40));
      for (const o of outputs) expect(candidatesAbove(plan, o)).toBeGreaterThan(60);
      check(m, plan, outputs);
    }
  });

  it('no anchor above the threshold gives 0 detections', () => {
    const plan = makePlan({ spec: 'mmdet-ssd300', levels: LEVELS, numClasses: 6, candidateCap: 1000 });
    const m = build(plan);
    const out = detectorOutputs(plan, 9, 0);
    // every row: background logit 10, foreground -5 (probability ~3e-7 < 0.02)
    for (let i = 0; i < out.scores.length; i++) out.scores[i] = i % 6 === 5 ? 10 : -5;
    const got = m.run(out);
    expect(got).toEqual({ status: 0, detections: [] });
    expect(postprocess(plan.spec, inputOf(plan, out), contextOf(plan))).toEqual([]);
  });

  it('NaN and infinite logits, probabilities and deltas are handled as the reference does', () => {
    const specs: PostprocessSpec[] = [
      { ...PRESETS['torchvision-ssd']!, scoreThreshold: 0.3 },
      { ...PRESETS['torchvision-retinanet']!, scoreThreshold: 0.3 },
      { ...PRESETS.ultraface!, scoreThreshold: 0.3 },
    ];
    for (const spec of specs) {
      const plan = makePlan({ spec, levels: LEVELS, numClasses: classesFor(spec), candidateCap: 1000 });
      const m = build(plan);
      const rand = mulberry32(17);
      const outputs = [0, 1, 2].map((s) => {
        const o = detectorOutputs(plan, 60 + s, 10);
        const specials = [NaN, Infinity, -Infinity, Infinity];
        for (let i = 0; i < 25; i++) o.scores[Math.floor(rand() * o.scores.length)] = specials[i % 4]!;
        for (let i = 0; i < 6; i++) o.boxes[Math.floor(rand() * o.boxes.length)] = specials[i % 4]!;
        // one whole row of +Inf and one of -Inf
        const c = plan.numClasses;
        const r1 = Math.floor(rand() * numAnchors(plan));
        const r2 = (r1 + 7) % numAnchors(plan);
        o.scores.fill(Infinity, r1 * c, r1 * c + c);
        o.scores.fill(-Infinity, r2 * c, r2 * c + c);
        return o;
      });
      expect(Math.max(...check(m, plan, outputs))).toBeGreaterThan(0);
    }
  });

  it('rows with +Inf logits in several columns (the background one too) give 1/count to them, as in the reference', () => {
    // fl(x_k - bg) is NaN when both are +Inf: the row bounds must not read that as 'no candidate'
    const specs: PostprocessSpec[] = [
      { ...PRESETS['mmdet-ssd300']!, scoreThreshold: 0.3, clip: undefined },
      { ...PRESETS['torchvision-ssd']!, scoreThreshold: 0.3, clip: undefined },
      { ...PRESETS['torchvision-ssd']!, background: 'none', scoreThreshold: 0.3, clip: undefined },
    ];
    for (const spec of specs) {
      const plan = makePlan({ spec, levels: LEVELS, numClasses: 6, candidateCap: 1000 });
      const m = build(plan);
      const o = detectorOutputs(plan, 31, 0);
      const bg = spec.background === 'first' ? 0 : spec.background === 'last' ? 5 : -1;
      for (let n = 0; n < numAnchors(plan); n += 3) {
        o.scores.fill(-4, n * 6, n * 6 + 6);
        o.scores[n * 6 + (bg >= 0 ? bg : 0)] = Infinity;
        o.scores[n * 6 + 1 + (n % 4)] = Infinity;
      }
      const counts = check(m, plan, [o]);
      expect(counts[0]).toBeGreaterThan(5);
    }
  });

  it('logits at the sigmoid reject bound and softmax rows at the margin are not lost by the prefilter', () => {
    const sig: PostprocessSpec = {
      ...PRESETS['torchvision-retinanet']!,
      scoreThreshold: 0.3,
      preNmsTopK: 0,
      maxDetections: 300,
      iouThreshold: 1,
    };
    const plan = makePlan({ spec: sig, levels: LEVELS, numClasses: 5, candidateCap: 2000 });
    const m = build(plan);
    const L = sigmoidRejectLogit(0.3);
    const o = detectorOutputs(plan, 3, 0);
    const steps = [nextDownF, (x: number) => x, nextUpF];
    for (let i = 0; i < o.scores.length; i++) {
      let x = L;
      for (let k = 0; k < i % 40; k++) x = steps[i % 3]!(x);
      o.scores[i] = x;
    }
    expect(check(m, plan, [o])[0]).toBeGreaterThan(10);

    const soft: PostprocessSpec = {
      ...PRESETS['torchvision-ssd']!,
      scoreThreshold: 0.3,
      iouThreshold: 1,
      maxDetections: 300,
    };
    const sp = makePlan({ spec: soft, levels: LEVELS, numClasses: 6, candidateCap: 2000 });
    const ms = build(sp);
    const g = gaussian(mulberry32(23));
    const so = detectorOutputs(sp, 4, 0);
    const logit = Math.log(0.3 / 0.7);
    for (let n = 0; n < numAnchors(sp); n++) {
      // background 0, one foreground logit right around logit(0.3), the rest far below
      for (let j = 0; j < 6; j++)
        so.scores[n * 6 + j] = j === 0 ? 0 : j === 1 + (n % 5) ? f32(logit + 1e-5 * g()) : -20;
    }
    expect(check(ms, sp, [so])[0]).toBeGreaterThan(10);
  });

  it('an SSD300-sized plan (8732 anchors x 81 classes, per-level top 1000, cap 1000)', () => {
    const plan = makePlan({
      name: 'ssd300',
      spec: 'mmdet-ssd300',
      levels: SSD300_LEVELS,
      numClasses: 81,
      candidateCap: 1000,
    });
    expect(numAnchors(plan)).toBe(8732);
    const m = build(plan);
    const counts = check(m, plan, [detectorOutputs(plan, 1, 30), detectorOutputs(plan, 2, 300)]);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(200); // max detections
  });
});

describe.skipIf(!hasGcc)('emitted C argument checks', () => {
  it('rejects NULL pointers, short capacity and unusable workspaces before touching anything', () => {
    for (const input of ['concat', 'per-level'] as const) {
      const plan = makePlan({ name: 'args', spec: 'ultraface', levels: LEVELS, numClasses: 2, input });
      const N = cNames(plan.name);
      const t = tempDir();
      try {
        const inputs =
          input === 'concat'
            ? 'const float *a = data, *b = data;'
            : `const float *a[${N.numLevels}], *b[${N.numLevels}], *nul[${N.numLevels}]; size_t l;\n    for (l = 0; l < ${N.numLevels}; ++l) { a[l] = data; b[l] = data; nul[l] = NULL; }`;
        const nullLevel =
          input === 'concat'
            ? ''
            : `printf("%d\\n", (int)${N.run}(nul, b, ws, sizeof ws, dets, ${N.maxDetections}, &n));`;
        const main = `#include <stdio.h>
#include "postprocess.h"
static float data[${numAnchors(plan) * 4 + 16}];
static uint32_t ws[(${N.workspaceMacro} + 3u) / 4u + 1u];
static ${N.detection} dets[${N.maxDetections}];
int main(void) {
    size_t n = 7;
    ${inputs}
    int st;
    st = (int)${N.run}(NULL, b, ws, sizeof ws, dets, ${N.maxDetections}, &n);
    printf("%d %lu\\n", st, (unsigned long)n); /* count is zeroed even on error */
    printf("%d\\n", (int)${N.run}(a, NULL, ws, sizeof ws, dets, ${N.maxDetections}, &n));
    printf("%d\\n", (int)${N.run}(a, b, ws, sizeof ws, NULL, ${N.maxDetections}, &n));
    printf("%d\\n", (int)${N.run}(a, b, ws, sizeof ws, dets, ${N.maxDetections} - 1u, &n));
    printf("%d\\n", (int)${N.run}(a, b, ws, sizeof ws, dets, ${N.maxDetections}, NULL));
    printf("%d\\n", (int)${N.run}(a, b, NULL, sizeof ws, dets, ${N.maxDetections}, &n));
    printf("%d\\n", (int)${N.run}(a, b, ws, ${N.workspaceMacro} - 1u, dets, ${N.maxDetections}, &n));
    printf("%d\\n", (int)${N.run}(a, b, (char *)ws + 1, ${N.workspaceMacro}, dets, ${N.maxDetections}, &n));
    ${nullLevel}
    st = (int)${N.run}(a, b, ws, ${N.workspaceMacro}, dets, ${N.maxDetections}, &n);
    printf("%d %lu %lu\\n", st, (unsigned long)n, (unsigned long)${N.workspaceSize}());
    return 0;
}
`;
        writeFiles(t.dir, [...emitPostprocessC(plan).files, { name: 'main.c', text: main }]);
        for (const flags of [O2_FLAGS, SANITIZE_FLAGS]) {
          const out = runExe(compile(t.dir, ['postprocess.c', 'main.c'], 'args', flags), [])
            .trim()
            .split('\n');
          const ws = emitPostprocessC(plan).files[0]!.text.match(new RegExp(`#define ${N.workspaceMacro} (\\d+)u`))![1];
          expect(out).toEqual([
            '1 0',
            '1',
            '1',
            '1',
            '1',
            '2',
            '2',
            '2',
            ...(input === 'concat' ? [] : ['1']),
            `0 0 ${ws}`,
          ]);
        }
      } finally {
        t.dispose();
      }
    }
  });
});
