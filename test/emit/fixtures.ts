// Synthetic post-processing plans and seeded head outputs for the emitted-C tests: anchors on a grid in the spec's
// format, and logits shaped like a trained detector's (a few objects with confident anchors, the rest background).
import type { EmitPlan } from '../../src/emit/c/plan';
import { f32, sigmoidF } from '../../src/postprocess/float32';
import { PRESETS } from '../../src/postprocess/presets';
import { scoreAnchor, type PostprocessContext, type PostprocessInput } from '../../src/postprocess/reference';
import { foregroundCount, labelColumn, type PostprocessSpec } from '../../src/postprocess/spec';
import { gaussian, mulberry32 } from '../_support/prng';
import { perLevelMaps } from '../../src/postprocess/synthetic-heads';

export interface LevelDef {
  h: number;
  w: number;
  a: number;
  stride: number;
}

/** SSD300's levels (maps 38..1, 4,6,6,6,4,4 anchors, strides 8..300): 8732 anchors. */
export const SSD300_LEVELS: LevelDef[] = [
  { h: 38, w: 38, a: 4, stride: 8 },
  { h: 19, w: 19, a: 6, stride: 16 },
  { h: 10, w: 10, a: 6, stride: 32 },
  { h: 5, w: 5, a: 6, stride: 64 },
  { h: 3, w: 3, a: 4, stride: 100 },
  { h: 1, w: 1, a: 4, stride: 300 },
];

/** Image size the synthetic anchors cover: the largest map times its stride. */
function imageSize(levels: LevelDef[]): [number, number] {
  const w = Math.max(...levels.map((l) => l.w * l.stride));
  const h = Math.max(...levels.map((l) => l.h * l.stride));
  return [w, h];
}

/** Grid anchors, level-major then y, x, a; sizes grow with the stride and a; normalised when format is cxcywh. */
export function gridAnchors(levels: LevelDef[], format: PostprocessSpec['anchorFormat']): Float32Array {
  const [iw, ih] = imageSize(levels);
  const rows: number[] = [];
  for (const l of levels) {
    for (let y = 0; y < l.h; y++) {
      for (let x = 0; x < l.w; x++) {
        for (let a = 0; a < l.a; a++) {
          const cx = (x + 0.5) * l.stride;
          const cy = (y + 0.5) * l.stride;
          const ratio = [1, 2, 0.5, 3, 1 / 3][a % 5]!;
          const size = l.stride * (4 + 2 * Math.floor(a / 5)) * (a % 2 === 1 ? 1.26 : 1);
          const w = size * Math.sqrt(ratio);
          const h = size / Math.sqrt(ratio);
          if (format === 'xyxy') rows.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
          else rows.push(cx / iw, cy / ih, w / iw, h / ih);
        }
      }
    }
  }
  return Float32Array.from(rows);
}

export interface PlanOptions {
  name?: string;
  spec: PostprocessSpec | keyof typeof PRESETS;
  levels: LevelDef[];
  numClasses: number;
  candidateCap?: number;
  input?: 'concat' | 'per-level';
}

export function makePlan(o: PlanOptions): EmitPlan {
  const spec = typeof o.spec === 'string' ? structuredClone(PRESETS[o.spec]!) : o.spec;
  return {
    name: o.name ?? 'test',
    banner: {
      version: '0.1.0',
      modelFile: 'synthetic.onnx',
      modelSha256: '0123456789abcdef0123',
      config: typeof o.spec === 'string' ? o.spec : 'custom',
    },
    spec,
    input: o.input ?? 'concat',
    levels: o.levels.map((l) => ({ h: l.h, w: l.w, anchorsPerLocation: l.a, stride: [l.stride, l.stride] })),
    numClasses: o.numClasses,
    anchors: gridAnchors(o.levels, spec.anchorFormat),
    candidateCap: o.candidateCap ?? Math.max(spec.preNmsTopK, 64),
  };
}

export function contextOf(plan: EmitPlan, extra: Partial<PostprocessContext> = {}): PostprocessContext {
  return {
    anchors: plan.anchors,
    levels: plan.levels.map((l) => ({ h: l.h, w: l.w, anchorsPerLocation: l.anchorsPerLocation })),
    numClasses: plan.numClasses,
    candidateCap: plan.candidateCap,
    ...extra,
  };
}

export function numAnchors(plan: EmitPlan): number {
  return plan.levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
}

/** (anchor, label) pairs above the score threshold, before any top-k or cap: to prove a cap was hit. */
export function candidatesAbove(plan: EmitPlan, out: HeadOutputs): number {
  const c = plan.numClasses;
  const scores = new Float64Array(foregroundCount(plan.spec, c));
  let count = 0;
  for (let n = 0; n < numAnchors(plan); n++) {
    scoreAnchor(plan.spec, c, (j) => out.scores[n * c + j]!, scores);
    for (const s of scores) if (s > f32(plan.spec.scoreThreshold)) count++;
  }
  return count;
}

/** A class count for the synthetic plans: 5 foreground classes, plus a background column when the spec has one. */
export function classesFor(spec: PostprocessSpec): number {
  return spec.background === 'none' ? 5 : 6;
}

export interface HeadOutputs {
  scores: Float32Array;
  boxes: Float32Array;
}

/**
 * Head outputs of a plausible trained detector: `objects` anchors (and a few neighbours) score high for one class,
 * the rest favour the background; deltas are small. Raw logits for softmax/sigmoid, probabilities otherwise; for
 * decoder none the boxes are the anchors (as xyxy) moved a little.
 */
export function detectorOutputs(plan: EmitPlan, seed: number, objects = 6): HeadOutputs {
  const spec = plan.spec;
  const rand = mulberry32(seed);
  const g = gaussian(rand);
  const n = numAnchors(plan);
  const c = plan.numClasses;
  const k = foregroundCount(spec, c);
  const logits = new Float32Array(n * c);
  const sigmoidLike = spec.scores === 'sigmoid' || (spec.scores === 'probabilities' && spec.background === 'none');
  const bgCol = spec.background === 'first' ? 0 : spec.background === 'last' ? c - 1 : -1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) logits[i * c + j] = sigmoidLike ? -7 + 1.5 * g() : j === bgCol ? 8 + g() : -1 + g();
  }
  for (let o = 0; o < objects; o++) {
    const centre = Math.floor(rand() * n);
    const label = Math.floor(rand() * k);
    for (let d = -3; d <= 3; d++) {
      const i = centre + d * (1 + Math.floor(rand() * 3));
      if (i < 0 || i >= n) continue;
      logits[i * c + labelColumn(spec, label)] = f32((sigmoidLike ? 1.5 : 7) + 2 * g() - Math.abs(d));
      if (bgCol >= 0) logits[i * c + bgCol] = f32(2 * g());
    }
  }
  let scores = logits;
  if (spec.scores === 'probabilities') {
    scores = new Float32Array(n * c);
    for (let i = 0; i < n; i++) {
      if (sigmoidLike) {
        for (let j = 0; j < c; j++) scores[i * c + j] = sigmoidF(logits[i * c + j]!);
      } else {
        let m = -Infinity;
        for (let j = 0; j < c; j++) m = Math.max(m, logits[i * c + j]!);
        let sum = 0;
        for (let j = 0; j < c; j++) sum += Math.exp(logits[i * c + j]! - m);
        for (let j = 0; j < c; j++) scores[i * c + j] = Math.exp(logits[i * c + j]! - m) / sum;
      }
    }
  }
  const boxes = new Float32Array(n * 4);
  if (spec.decoder.type === 'none') {
    const a = plan.anchors;
    for (let i = 0; i < n; i++) {
      const [x1, y1, x2, y2] =
        spec.anchorFormat === 'xyxy'
          ? [a[4 * i]!, a[4 * i + 1]!, a[4 * i + 2]!, a[4 * i + 3]!]
          : [
              a[4 * i]! - a[4 * i + 2]! / 2,
              a[4 * i + 1]! - a[4 * i + 3]! / 2,
              a[4 * i]! + a[4 * i + 2]! / 2,
              a[4 * i + 1]! + a[4 * i + 3]! / 2,
            ];
      const s = (x2 - x1) * 0.1;
      boxes.set([x1 + s * g(), y1 + s * g(), x2 + s * g(), y2 + s * g()], 4 * i);
    }
  } else {
    for (let i = 0; i < 4 * n; i++) boxes[i] = 0.5 * g();
  }
  return { scores, boxes };
}

/**
 * The same outputs in the plan's per-level form: NCHW (channel a·K + k), or NHWC ([H][W][A·K]: a level's rows of the
 * concatenated form, as they are).
 */
export function toPerLevel(plan: EmitPlan, out: HeadOutputs): { cls: Float32Array; reg: Float32Array }[] {
  if (plan.layout !== 'nhwc') return perLevelMaps(plan.levels, plan.numClasses, out.scores, out.boxes);
  let n = 0;
  return plan.levels.map((l) => {
    const count = l.h * l.w * l.anchorsPerLocation;
    const level = {
      cls: out.scores.slice(n * plan.numClasses, (n + count) * plan.numClasses),
      reg: out.boxes.slice(n * 4, (n + count) * 4),
    };
    n += count;
    return level;
  });
}

/** The reference's input for the outputs (per-level maps in NCHW, whatever layout the module reads). */
export function inputOf(plan: EmitPlan, out: HeadOutputs): PostprocessInput {
  return plan.input === 'concat'
    ? { form: 'concat', ...out }
    : { form: 'per-level', levels: perLevelMaps(plan.levels, plan.numClasses, out.scores, out.boxes) };
}
