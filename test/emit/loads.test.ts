// The emitted C on bench's named loads (src/postprocess/loads.ts), from a confident detector to a cluttered scene: its
// detections equal the reference's bit for bit on every load, in both input forms, built -O2 and with ASan/UBSan. The
// heavy loads drive the fast paths' every branch: pools that overflow and compact, bars that rise and tighten the
// reject bounds, rows scored in two rounds, labels visited through 64-bit masks (80 and 90 labels) and their tail.
import { afterAll, describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { loadHeadOutputs, SYNTHETIC_LOADS } from '../../src/postprocess/loads';
import { layoutPlan } from '../../src/emit/c/plan';
import { postprocess } from '../../src/postprocess/reference';
import { PRESETS } from '../../src/postprocess/presets';
import { hasGcc } from '../_support/gcc';
import { candidatesAbove, contextOf, inputOf, makePlan, numAnchors, SSD300_LEVELS, type LevelDef } from './fixtures';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';

/** A RetinaNet-like head at a small input: 3 levels, 8 anchors per location, 80 sigmoid classes (5,416 anchors). */
const RETINA_LEVELS: LevelDef[] = [
  { h: 25, w: 20, a: 8, stride: 16 },
  { h: 13, w: 10, a: 8, stride: 32 },
  { h: 7, w: 5, a: 8, stride: 64 },
];

/** No suppression and room for every candidate kept: the output is the whole pool, so top-k and the cap show. */
const EXPOSED = { iouThreshold: 1, maxDetections: 100_000 };

const CASES: { name: string; plan: EmitPlan }[] = [
  // SSD300's levels 2-4 (2,916 anchors): enough rows per level for every path, a third of the reference's time
  {
    name: 'SSD300 levels 2-4 (softmax, background last, per-level top 1000)',
    plan: makePlan({
      name: 'ssd',
      spec: 'mmdet-ssd300',
      levels: SSD300_LEVELS.slice(1, 4),
      numClasses: 81,
      candidateCap: 3000,
    }),
  },
  {
    name: 'RetinaNet-like (sigmoid, per-level top 1000)',
    plan: makePlan({
      name: 'retina',
      spec: 'mmdet-retinanet',
      levels: RETINA_LEVELS,
      numClasses: 80,
      candidateCap: 3000,
    }),
  },
  // every kept candidate is output: a pool or a reject bound that lost one ranked near the top-k cut would show
  {
    name: 'SSD300 levels 2-4, whole pool out (top 1000 per level, global cap 2500)',
    plan: makePlan({
      name: 'ssdall',
      spec: { ...PRESETS['mmdet-ssd300']!, ...EXPOSED },
      levels: SSD300_LEVELS.slice(1, 4),
      numClasses: 81,
      candidateCap: 2500,
    }),
  },
  {
    name: 'RetinaNet-like, whole pool out (top 1000 per level, global cap 2500)',
    plan: makePlan({
      name: 'retall',
      spec: { ...PRESETS['mmdet-retinanet']!, ...EXPOSED },
      levels: RETINA_LEVELS,
      numClasses: 80,
      candidateCap: 2500,
    }),
  },
  // (the preset's 1e-8 threshold passes every pair of any load: 0.02 here)
  {
    name: 'TFLite SSD (probabilities, background first, 90 labels, agnostic)',
    plan: makePlan({
      name: 'tfl',
      spec: { ...PRESETS['tflite-ssd']!, scoreThreshold: 0.02 },
      levels: RETINA_LEVELS.slice(1),
      numClasses: 91,
      candidateCap: 2048,
    }),
  },
];

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

describe.skipIf(!hasGcc)("emitted C on bench's loads", () => {
  for (const { name, plan } of CASES) {
    it(`${name}: light to heavy, concat and per-level`, () => {
      const concat = buildModule(plan);
      const perLevel = buildModule({ ...plan, input: 'per-level' });
      built.push(concat, perLevel);
      const L = layoutPlan(plan);
      const pairs = numAnchors(plan) * L.numLabels;
      const above: number[] = [];
      for (const load of SYNTHETIC_LOADS) {
        const out = loadHeadOutputs(load, plan.spec, plan.numClasses, plan.anchors);
        above.push(candidatesAbove(plan, out));
        const want = postprocess(plan.spec, inputOf(plan, out), contextOf(plan));
        for (const [m, p] of [
          [concat, plan],
          [perLevel, { ...plan, input: 'per-level' as const }],
        ] as const) {
          const got = m.run(out);
          expect(got.status).toBe(0);
          expectSameDetections(got.detections, want);
          void p;
        }
        expect(want.length, load).toBeGreaterThan(0);
      }
      // the loads sweep what they say: heavy passes thousands of pairs, more than the pools keep, so they compact
      expect(above[0]!).toBeLessThan(above[1]!);
      expect(above[1]!).toBeLessThan(above[2]!);
      expect(above[2]!).toBeLessThan(above[3]!);
      expect(above[3]! / pairs).toBeGreaterThan(0.04);
      expect(above[3]!).toBeGreaterThan(2 * Math.max(L.levelK, L.cap));
    });
  }
});
