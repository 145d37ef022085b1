// Quantized head outputs into the emitted C (issue 16 item 2): int8/uint8 scores and boxes, one scale and zero point
// per tensor, calibrated on bench's loads; and NHWC per-level maps (item 3). On every load (light to heavy), for
// softmax, sigmoid and probability presets, in the concatenated form and per-level NCHW and NHWC maps, the module's
// detections equal the reference run on the dequantised tensors, bit for bit, built -O2 and with ASan/UBSan
// (-DPD_PORTABLE); float NHWC maps give the reference's detections on the float tensors. The score tests run on
// integers.
import { afterAll, describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { emitPostprocessC, layoutPlan } from '../../src/emit/c';
import { loadHeadOutputs, SYNTHETIC_LOADS } from '../../src/postprocess/loads';
import { postprocess } from '../../src/postprocess/reference';
import { PRESETS } from '../../src/postprocess/presets';
import { dequantize, quantize, quantRange, type QuantParams, type QuantType } from '../../src/postprocess/quant';
import { f32 } from '../../src/postprocess/float32';
import { hasGcc } from '../_support/gcc';
import { candidatesAbove, contextOf, inputOf, makePlan, SSD300_LEVELS, type LevelDef } from './fixtures';
import { buildModule, type BuiltModule } from './harness';
import type { Detection } from '../../src/postprocess/spec';

/** Detections as one text (label, anchor, score and box bits): equal texts are bit-identical detections. */
function detText(d: Detection[]): string {
  const bits = (x: number) => (Object.is(x, NaN) ? 'nan' : new Uint32Array(Float32Array.of(x).buffer)[0]!.toString(16));
  return d.map((x) => `${x.label}@${x.anchor}:${bits(x.score)}:${x.box.map(bits).join(',')}`).join('\n');
}

function expectSameDetections(got: Detection[], want: Detection[]): void {
  expect(detText(got)).toBe(detText(want));
}

const RETINA_LEVELS: LevelDef[] = [
  { h: 25, w: 20, a: 8, stride: 16 },
  { h: 13, w: 10, a: 8, stride: 32 },
  { h: 7, w: 5, a: 8, stride: 64 },
];

/** Asymmetric per-tensor parameters covering [min, max] of the values (as a calibration over the loads would). */
function calibrate(type: QuantType, values: Float32Array[]): QuantParams {
  let lo = 0;
  let hi = 0;
  for (const v of values) for (const x of v) if (Number.isFinite(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  const [qmin, qmax] = quantRange(type);
  const scale = f32((hi - lo) / (qmax - qmin));
  return { type, scale, zeroPoint: Math.min(qmax, Math.max(qmin, Math.round(qmin - lo / scale))) };
}

const CASES: { name: string; plan: EmitPlan; types: [QuantType, QuantType] }[] = [
  {
    name: 'SSD300 levels 2-4 (softmax, background last; uint8 scores, int8 deltas)',
    plan: makePlan({
      name: 'qssd',
      spec: 'mmdet-ssd300',
      levels: SSD300_LEVELS.slice(1, 4),
      numClasses: 81,
      candidateCap: 3000,
    }),
    types: ['uint8', 'int8'],
  },
  {
    name: 'RetinaNet-like (sigmoid; uint8 scores, int8 deltas)',
    plan: makePlan({
      name: 'qret',
      spec: 'mmdet-retinanet',
      levels: RETINA_LEVELS,
      numClasses: 80,
      candidateCap: 3000,
    }),
    types: ['uint8', 'int8'],
  },
  {
    name: 'TFLite SSD (probabilities, background first, no suppression; int8 scores, uint8 deltas)',
    plan: makePlan({
      name: 'qtfl',
      // no suppression and 1000 detections: on the light and real loads every candidate is output, so a label lost at
      // the threshold would show
      spec: { ...PRESETS['tflite-ssd']!, scoreThreshold: 0.02, iouThreshold: 1, maxDetections: 1000 },
      levels: RETINA_LEVELS.slice(1),
      numClasses: 91,
      candidateCap: 20_000,
    }),
    types: ['int8', 'uint8'],
  },
];

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

describe.skipIf(!hasGcc)('quantized head outputs into the C module', () => {
  for (const { name, plan: floatPlan, types } of CASES) {
    it(`${name}: light to heavy, concat, NCHW and NHWC, equal to the reference on the dequantised tensors`, () => {
      const loads = SYNTHETIC_LOADS.map((l) =>
        loadHeadOutputs(l, floatPlan.spec, floatPlan.numClasses, floatPlan.anchors),
      );
      const quant = {
        scores: calibrate(
          types[0],
          loads.map((o) => o.scores),
        ),
        boxes: calibrate(
          types[1],
          loads.map((o) => o.boxes),
        ),
      };
      const plan: EmitPlan = { ...floatPlan, quant };
      // the score tests are integer comparisons: no float bound is left in the module's reject tables
      const L = layoutPlan(plan);
      expect(L.quant.scores!.bounds.every(Number.isInteger)).toBe(true);
      const src = emitPostprocessC(plan).files.find((f) => f.name === 'postprocess.c')!.text;
      expect(src).toContain(`const ${types[0]}_t *`);
      const concat = buildModule(plan);
      // the sanitizer builds of the concat and NHWC modules cover the quantized paths; the others are built -O2 only
      const perLevel = buildModule({ ...plan, input: 'per-level' }, { sanitize: false });
      const nhwc = buildModule({ ...plan, input: 'per-level', layout: 'nhwc' });
      const floatNhwc = buildModule(
        { ...floatPlan, name: `${floatPlan.name}f`, input: 'per-level', layout: 'nhwc' },
        { sanitize: false },
      );
      built.push(concat, perLevel, nhwc, floatNhwc);
      const above: number[] = [];
      let total = 0;
      for (const out of loads) {
        const q = { scores: quantize(quant.scores, out.scores), boxes: quantize(quant.boxes, out.boxes) };
        const deq = { scores: dequantize(quant.scores, q.scores), boxes: dequantize(quant.boxes, q.boxes) };
        above.push(candidatesAbove(plan, deq));
        const want = postprocess(plan.spec, inputOf(plan, deq), contextOf(plan));
        for (const m of [concat, perLevel, nhwc]) {
          const got = m.run(q);
          expect(got.status).toBe(0);
          expectSameDetections(got.detections, want);
        }
        const wantFloat = postprocess(plan.spec, inputOf(plan, out), contextOf(plan));
        expectSameDetections(floatNhwc.run(out).detections, wantFloat);
        total += want.length;
      }
      // the quantized loads still sweep from light to heavy
      expect(above[0]!).toBeLessThan(above[3]!);
      expect(above[1]!).toBeLessThan(above[3]!);
      expect(total).toBeGreaterThan(0);
    });
  }
});

describe('quantized inputs: usage', () => {
  it('refuses a zero scale and a zero point out of the type range', () => {
    const plan = CASES[1]!.plan;
    expect(() => layoutPlan({ ...plan, quant: { scores: { type: 'int8', scale: 0, zeroPoint: 0 } } })).toThrow(
      /scale 0/,
    );
    expect(() => layoutPlan({ ...plan, quant: { boxes: { type: 'uint8', scale: 0.1, zeroPoint: -1 } } })).toThrow(
      /zero point -1/,
    );
  });
});
