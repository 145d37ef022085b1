// EmitPlan (what the C emitter is asked to generate) and PlanLayout (everything derived from it once: names, level
// offsets, candidate capacities, workspace regions, float constants and prefilter bounds). Emitters only print a layout.
import { PrunedetError } from '../../errors';
import { softmaxRejectMargin, softmaxSkipLogit, sigmoidRejectLogit } from '../../postprocess/bounds';
import { f32 } from '../../postprocess/float32';
import { anchorsCenterSize, levelOffsets } from '../../postprocess/reference';
import { backgroundColumn, foregroundCount, labelColumn, validatePostprocessSpec, type PostprocessSpec } from '../../postprocess/spec';
import { cNames, type CNames } from './names';

export interface EmitPlan {
  /** Symbol stem; sanitised to [a-z0-9_]: functions pd_<name>_, macros PD_<NAME>_. */
  name: string;
  banner: { version: string; modelFile: string; modelSha256: string; config: string };
  spec: PostprocessSpec;
  input: 'concat' | 'per-level';
  /** Levels finest first; a level may have 0 anchors (h·w·A = 0). */
  /** Strides are [h, w] in input pixels. */
  levels: { h: number; w: number; anchorsPerLocation: number; stride: [number, number] }[];
  /** Score columns C, background included. */
  numClasses: number;
  /** [N, 4] in spec.anchorFormat, N = sum h·w·A. */
  anchors: Float32Array;
  /** Most candidates the workspace holds before NMS (>= preNmsTopK when that is set). */
  candidateCap: number;
}

/** Bytes of one workspace candidate: float score, uint32 anchor, uint32 label. */
export const CANDIDATE_BYTES = 12;
/** Bytes of one decoded box: 4 floats. */
export const BOX_BYTES = 16;

export interface LevelLayout {
  h: number;
  w: number;
  a: number;
  stride: [number, number];
  offset: number;
  count: number;
}

export interface PlanLayout {
  plan: EmitPlan;
  names: CNames;
  numAnchors: number;
  numClasses: number;
  numLabels: number;
  /** Score column of label 0. */
  firstLabelColumn: number;
  /** Background column or -1. */
  backgroundColumn: number;
  levels: LevelLayout[];
  /** Candidate heap capacity = min(candidateCap, anchors x labels, global top-k). */
  cap: number;
  /** Per-level top-k heap capacity (0 = no per-level heap). */
  levelK: number;
  maxDetections: number;
  workspace: { levelHeapOffset: number; boxesOffset: number; flagsOffset: number; size: number; formula: string };
  /** Float constants, already rounded to float32. */
  scoreThreshold: number;
  iouThreshold: number;
  /** sigmoid: skip logits <= this; softmax: skip an anchor when (max fg logit - best other logit) <= reject. */
  reject: number;
  /** softmax: skip a class when (logit - row max) <= skip. */
  skip: number;
  /** Center-size anchor rows (cx, cy, w, h) as the C table holds them; undefined for decoder none. */
  centers: Float32Array | undefined;
}

function fail(what: string, hint: string): never {
  throw new PrunedetError('E_POSTPROCESS', `C emit plan: ${what}`, hint);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** Validate a plan and derive its layout; throws PrunedetError E_POSTPROCESS for plans that cannot be emitted. */
export function layoutPlan(plan: EmitPlan): PlanLayout {
  const names = cNames(plan.name);
  const spec = plan.spec;
  validatePostprocessSpec(spec, plan.numClasses);
  if (plan.input !== 'concat' && plan.input !== 'per-level') fail(`input is "${String(plan.input)}"`, 'use concat or per-level');
  if (!Array.isArray(plan.levels) || plan.levels.length === 0) fail('no levels', 'give at least one level');
  plan.levels.forEach((l, i) => {
    if (!isCount(l.h) || !isCount(l.w) || !isCount(l.anchorsPerLocation)) fail(`level ${i} has h=${l.h} w=${l.w} A=${l.anchorsPerLocation}`, 'sizes must be whole numbers >= 0');
  });
  const offsets = levelOffsets(plan.levels);
  const numAnchors = offsets[offsets.length - 1]!;
  if (numAnchors === 0) fail('every level has 0 anchors', 'keep at least one anchor');
  if (numAnchors > 0xffffffff) fail(`${numAnchors} anchors`, 'the C module indexes anchors with uint32_t');
  if (plan.anchors.length !== numAnchors * 4) fail(`anchor table has ${plan.anchors.length} values, expected ${numAnchors} x 4`, 'pass the anchors of the kept levels in level order');
  if (!isCount(plan.candidateCap) || plan.candidateCap < 1) fail(`candidateCap is ${plan.candidateCap}`, 'use a whole number >= 1');
  const numLabels = foregroundCount(spec, plan.numClasses);
  const pairs = numAnchors * numLabels;
  // A cap below the top-k would silently change the semantics (more than the cap can pass top-k).
  const neededCap = Math.min(spec.preNmsTopK, pairs);
  if (spec.preNmsTopK > 0 && plan.candidateCap < neededCap) {
    fail(`candidateCap ${plan.candidateCap} is below pre_nms_top_k ${spec.preNmsTopK}`, `raise candidateCap to at least ${neededCap}`);
  }

  const levels = plan.levels.map((l, i) => ({ h: l.h, w: l.w, a: l.anchorsPerLocation, stride: l.stride, offset: offsets[i]!, count: offsets[i + 1]! - offsets[i]! }));
  const largestLevel = Math.max(...levels.map((l) => l.count));
  const topK = spec.preNmsTopK;
  const cap = Math.min(plan.candidateCap, pairs, spec.topKScope === 'global' && topK > 0 ? topK : Infinity);
  const levelK = spec.topKScope === 'per-level' && topK > 0 ? Math.min(topK, largestLevel * numLabels) : 0;
  const levelHeapOffset = cap * CANDIDATE_BYTES;
  const boxesOffset = levelHeapOffset + levelK * CANDIDATE_BYTES;
  const flagsOffset = boxesOffset + cap * BOX_BYTES;
  const size = flagsOffset + cap;
  const capWhy = [`candidate_cap ${plan.candidateCap}`, `anchors x labels ${pairs}`, ...(spec.topKScope === 'global' && topK > 0 ? [`top_k ${topK}`] : [])];
  const formula = [
    `CAP * ${CANDIDATE_BYTES} (candidate heap: score, anchor, label)`,
    ...(levelK > 0 ? [`+ LEVEL_K * ${CANDIDATE_BYTES} (per-level top-k heap)`] : []),
    `+ CAP * ${BOX_BYTES} (decoded boxes) + CAP (NMS flags)`,
    `CAP = min(${capWhy.join(', ')}) = ${cap}`,
    ...(levelK > 0 ? [`LEVEL_K = min(top_k ${topK}, largest level ${largestLevel} x ${numLabels} labels) = ${levelK}`] : []),
  ].join('\n');

  const thr = f32(spec.scoreThreshold);
  return {
    plan,
    names,
    numAnchors,
    numClasses: plan.numClasses,
    numLabels,
    firstLabelColumn: labelColumn(spec, 0),
    backgroundColumn: backgroundColumn(spec, plan.numClasses),
    levels,
    cap,
    levelK,
    maxDetections: Math.min(spec.maxDetections, cap),
    workspace: { levelHeapOffset, boxesOffset, flagsOffset, size, formula },
    scoreThreshold: thr,
    iouThreshold: f32(spec.iouThreshold),
    reject: spec.scores === 'sigmoid' ? sigmoidRejectLogit(thr) : spec.scores === 'softmax' ? softmaxRejectMargin(thr, plan.numClasses) : -Infinity,
    skip: spec.scores === 'softmax' ? softmaxSkipLogit(thr) : -Infinity,
    centers: spec.decoder.type === 'none' ? undefined : anchorsCenterSize(plan.anchors, spec.anchorFormat),
  };
}
