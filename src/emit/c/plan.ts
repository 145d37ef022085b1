// EmitPlan (what the C emitter is asked to generate) and PlanLayout (everything derived from it once: names, level
// offsets, candidate capacities, workspace regions, float constants and prefilter bounds). Emitters only print a layout.
import { PrunedetError } from '../../errors';
import { barBounds, softmaxRejectMargin, sigmoidRejectLogit } from '../../postprocess/bounds';
import { f32 } from '../../postprocess/float32';
import { anchorsCenterSize, levelOffsets } from '../../postprocess/reference';
import {
  backgroundColumn,
  foregroundCount,
  isDecodedInput,
  isYoloDecoder,
  labelColumn,
  validatePostprocessSpec,
  type PostprocessSpec,
} from '../../postprocess/spec';
import { cNames, type CNames } from './names';
import { firstBitDifference, runtimeCenters, type RuntimeAnchors } from '../../anchors/runtime';
import {
  diffIntBound,
  identityScore,
  scoreIntBound,
  sigmoidScore,
  validateQuant,
  type InputQuant,
  type QuantParams,
} from '../../postprocess/quant';

export interface EmitPlan {
  /** Symbol stem; sanitised to [a-z0-9_]: functions pd_<name>_, macros PD_<NAME>_. */
  name: string;
  /** Stem of the header and source file names (default `postprocess`: postprocess.h, postprocess.c). */
  fileStem?: string;
  banner: { version: string; modelFile: string; modelSha256: string; config: string };
  spec: PostprocessSpec;
  /**
   * concat: scores [N][C] + boxes [N][4]; per-level: maps per level (see layout); yolo: per level rows
   * [A][H][W][4 + C] (objectness).
   */
  input: 'concat' | 'per-level' | 'yolo';
  /**
   * Per-level form only: the maps' layout, NCHW (default: cls[l] is [A*C][H][W]) or NHWC (the TFLite / MCU layout:
   * [H][W][A*C], so each anchor's C values are contiguous, as in the concatenated form).
   */
  layout?: 'nchw' | 'nhwc';
  /** Levels finest first; a level may have 0 anchors (h·w·A = 0). */
  /** Strides are [h, w] in input pixels. */
  levels: { h: number; w: number; anchorsPerLocation: number; stride: [number, number] }[];
  /** Score columns C, background included. */
  numClasses: number;
  /** [N, 4] in spec.anchorFormat, N = sum h·w·A. */
  anchors: Float32Array;
  /** Most candidates the workspace holds before NMS (>= preNmsTopK when that is set). */
  candidateCap: number;
  /**
   * --anchors runtime: generate each anchor from these per-level parameters instead of compiling in the table (whose
   * values they must reproduce bit for bit; layoutPlan checks). Absent: the table (--anchors table).
   */
  runtimeAnchors?: RuntimeAnchors;
  /**
   * Quantized head outputs (int8/uint8, one scale and zero point per tensor, shared by the levels of the per-level
   * form): the run function takes int8_t/uint8_t pointers; absent: float.
   */
  quant?: InputQuant;
}

/** Quantized scores: the integer bounds of the cheap tests (entry i for the pool bar's entry i; one for probabilities). */
export interface ScoreQuantLayout {
  params: QuantParams;
  /**
   * sigmoid / probabilities: reject q <= bounds[i] (proven: every such q scores <= bar score i); softmax: reject a row
   * whose integer differences q_k - q_r are all <= bounds[i] (proven over every pair for the margin of entry i).
   */
  bounds: number[];
  /** sigmoid / probabilities: whether q > bounds[0] alone decides the threshold (every such q passes). */
  exact: boolean;
}

/** Bytes of one workspace candidate: a 64-bit rank key (score bits, anchor * labels + label). */
export const CANDIDATE_BYTES = 8;
/** Bytes of one NMS index (a label's first kept box, a kept box's next, or a kept box's label). */
export const LINK_BYTES = 4;
/** Per-class NMS with at least this many labels chains each label's kept boxes; below it (and agnostic) it scans all. */
export const SCAN_MAX_LABELS = 16;
/** Slack for aligning the 8-byte keys inside a workspace the API only asks to be 4-byte aligned. */
export const ALIGN_SLACK = 4;

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
  /** Candidates kept for NMS = min(candidateCap, anchors x labels, global top-k); the pool holds twice as many. */
  cap: number;
  /** Per-level top-k (0 = no per-level pool). */
  levelK: number;
  maxDetections: number;
  /**
   * Byte offsets after the 8-byte alignment: candidate pool at 0, then the level pool, the softmax row order
   * (orderRows keys), the label heads, the links.
   */
  workspace: {
    levelPoolOffset: number;
    orderOffset: number;
    orderRows: number;
    /** The kept boxes (x1, y1, x2, y2, area), keptPad floats each, then the NMS index region (labels, or lists). */
    keptOffset: number;
    keptPad: number;
    nmsOffset: number;
    size: number;
    formula: string;
  };
  /**
   * How NMS finds the kept boxes a candidate is compared with: 'lists' (per-class NMS with many labels: each label's
   * kept boxes chained, compared one by one) or 'scan' (agnostic NMS or few labels: every kept box, 16 at a time in a
   * vectorized loop, the label compared lane by lane).
   */
  nmsScan: 'lists' | 'scan';
  /** Float constants, already rounded to float32. */
  scoreThreshold: number;
  iouThreshold: number;
  /** sigmoid: skip logits <= this; softmax: skip an anchor when (max fg logit - best other logit) <= reject. */
  reject: number;
  /** The reject bound for rising pool bars (bounds.ts barBounds); empty when the mode has no reject bound. */
  bar: { score: number[]; reject: number[] };
  /** Center-size anchor rows (cx, cy, w, h) as the C table holds them; undefined for decoder none. */
  centers: Float32Array | undefined;
  /** --anchors runtime: the parameters anchor_at() generates the rows from (proven equal to `centers`). */
  runtimeAnchors: RuntimeAnchors | undefined;
  /** Quantized inputs (plan.quant) and the score tests' integer bounds. */
  quant: { scores?: ScoreQuantLayout; boxes?: QuantParams };
  /** yolov5 / yolov3 decoders: the kept anchors' (w, h) per level, float (the table rows they are proven to give). */
  yolo: { anchors: [number, number][][] } | undefined;
}

/**
 * The per-level anchor sizes of a grid decoder's table, proven to give it bit for bit: row n (level l, position p,
 * anchor a) must be (p % W, floor(p / W), w_la, h_la). Fails naming the first row that does not fit.
 */
function yoloAnchorSizes(plan: EmitPlan, offsets: number[]): [number, number][][] {
  return plan.levels.map((l, li) => {
    const sizes: [number, number][] = [];
    for (let a = 0; a < l.anchorsPerLocation; a++) {
      const n = offsets[li]! + a;
      sizes.push([plan.anchors[n * 4 + 2]!, plan.anchors[n * 4 + 3]!]);
    }
    for (let p = 0; p < l.h * l.w; p++) {
      for (let a = 0; a < l.anchorsPerLocation; a++) {
        const n = offsets[li]! + p * l.anchorsPerLocation + a;
        const want = [p % l.w, Math.floor(p / l.w), sizes[a]![0], sizes[a]![1]];
        if (want.some((v, j) => !Object.is(Math.fround(v), plan.anchors[n * 4 + j]))) {
          fail(
            `anchor ${n} is (${Array.from(plan.anchors.subarray(n * 4, n * 4 + 4)).join(', ')}), not the grid row (${want.join(', ')})`,
            'give yolov5/yolov3 anchor rows as (grid x, grid y, anchor w, anchor h)',
          );
        }
      }
    }
    return sizes;
  });
}

function quantLayout(plan: EmitPlan, thr: number, bar: { score: number[]; reject: number[] }): PlanLayout['quant'] {
  const q = plan.quant ?? {};
  if (q.scores) validateQuant(q.scores, 'quantized scores');
  if (q.boxes) validateQuant(q.boxes, 'quantized boxes');
  if (!q.scores) return { ...(q.boxes ? { boxes: q.boxes } : {}) };
  const p = q.scores;
  const mode = plan.spec.scores;
  let scores: ScoreQuantLayout;
  if (mode === 'softmax') {
    scores = { params: p, bounds: bar.reject.map((m) => diffIntBound(p, m)), exact: false };
  } else {
    const score = mode === 'sigmoid' ? sigmoidScore : identityScore;
    const levels = mode === 'sigmoid' ? bar.score : [thr];
    const at = levels.map((t) => scoreIntBound(p, t, score));
    scores = { params: p, bounds: at.map((b) => b.bound), exact: at[0]!.exact };
  }
  return { scores, ...(q.boxes ? { boxes: q.boxes } : {}) };
}

function fail(what: string, hint: string): never {
  throw new PrunedetError('E_POSTPROCESS', `C emit plan: ${what}`, hint);
}

/** --anchors runtime must give the table's anchors bit for bit, level by level; else the plan cannot be emitted. */
function checkRuntimeAnchors(plan: EmitPlan, r: RuntimeAnchors, centers: Float32Array | undefined): void {
  if (!centers)
    fail('--anchors runtime, but the boxes arrive decoded: the module reads no anchors', 'use --anchors table');
  const shapes = r.levels.map((l) => `${l.h}x${l.w}x${l.base.length}`).join(',');
  const want = plan.levels.map((l) => `${l.h}x${l.w}x${l.anchorsPerLocation}`).join(',');
  if (shapes !== want) fail(`runtime anchor levels ${shapes} do not match the plan's ${want}`, 'use --anchors table');
  const bad = firstBitDifference(runtimeCenters(r), centers);
  if (bad >= 0) {
    fail(
      `anchor ${Math.floor(bad / 4)} generated at run time differs from the table's (value ${bad % 4})`,
      'use --anchors table',
    );
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** Whether each anchor's values are contiguous in its input (concatenated rows, or NHWC per-level maps). */
export function rowMajor(plan: Pick<EmitPlan, 'input' | 'layout'>): boolean {
  return plan.input === 'concat' || plan.layout === 'nhwc';
}

/** Validate a plan and derive its layout; throws PrunedetError E_POSTPROCESS for plans that cannot be emitted. */
export function layoutPlan(plan: EmitPlan): PlanLayout {
  const names = cNames(plan.name);
  const spec = plan.spec;
  validatePostprocessSpec(spec, plan.numClasses);
  if (plan.input !== 'concat' && plan.input !== 'per-level' && plan.input !== 'yolo')
    fail(`input is "${String(plan.input)}"`, 'use concat, per-level or yolo');
  if (plan.layout !== undefined && plan.layout !== 'nchw' && plan.layout !== 'nhwc')
    fail(`layout is "${String(plan.layout)}"`, 'use nchw or nhwc');
  if (plan.layout === 'nhwc' && plan.input !== 'per-level')
    fail('layout nhwc is for per-level maps', 'use input per-level, or no layout for concatenated rows');
  if (plan.input === 'yolo' && (plan.quant?.scores || plan.quant?.boxes))
    fail('quantized inputs with YOLO rows', 'give the YOLO rows as float (quantized YOLO rows are not supported yet)');
  if ((plan.input === 'yolo') !== !!spec.objectness)
    fail(`input ${plan.input} with objectness ${spec.objectness ? 'on' : 'off'}`, 'YOLO rows go with objectness=on');
  if (isYoloDecoder(spec.decoder) && plan.input !== 'yolo')
    fail(`decoder ${spec.decoder.type} on ${plan.input} input`, 'the grid decoders read YOLO rows (input yolo)');
  if (!Array.isArray(plan.levels) || plan.levels.length === 0) fail('no levels', 'give at least one level');
  plan.levels.forEach((l, i) => {
    if (!isCount(l.h) || !isCount(l.w) || !isCount(l.anchorsPerLocation))
      fail(`level ${i} has h=${l.h} w=${l.w} A=${l.anchorsPerLocation}`, 'sizes must be whole numbers >= 0');
  });
  const offsets = levelOffsets(plan.levels);
  const numAnchors = offsets[offsets.length - 1]!;
  if (numAnchors === 0) fail('every level has 0 anchors', 'keep at least one anchor');
  if (numAnchors > 0xffffffff) fail(`${numAnchors} anchors`, 'the C module indexes anchors with uint32_t');
  if (numAnchors * foregroundCount(spec, plan.numClasses) > 0xffffffff) {
    fail(
      `${numAnchors} anchors x ${foregroundCount(spec, plan.numClasses)} labels is more than 2^32 (anchor, label) pairs`,
      'the C module indexes pairs with uint32_t; prune anchors or split the model',
    );
  }
  if (plan.anchors.length !== numAnchors * 4)
    fail(
      `anchor table has ${plan.anchors.length} values, expected ${numAnchors} x 4`,
      'pass the anchors of the kept levels in level order',
    );
  const centers =
    isDecodedInput(spec.decoder) || isYoloDecoder(spec.decoder)
      ? undefined
      : anchorsCenterSize(plan.anchors, spec.anchorFormat);
  const yolo = isYoloDecoder(spec.decoder) ? { anchors: yoloAnchorSizes(plan, offsets) } : undefined;
  if (plan.runtimeAnchors) checkRuntimeAnchors(plan, plan.runtimeAnchors, centers);
  if (!isCount(plan.candidateCap) || plan.candidateCap < 1)
    fail(`candidateCap is ${plan.candidateCap}`, 'use a whole number >= 1');
  const numLabels = foregroundCount(spec, plan.numClasses);
  const pairs = numAnchors * numLabels;
  // A cap below the top-k would silently change the semantics (more than the cap can pass top-k).
  const neededCap = Math.min(spec.preNmsTopK, pairs);
  if (spec.preNmsTopK > 0 && plan.candidateCap < neededCap) {
    fail(
      `candidateCap ${plan.candidateCap} is below pre_nms_top_k ${spec.preNmsTopK}`,
      `raise candidateCap to at least ${neededCap}`,
    );
  }

  const levels = plan.levels.map((l, i) => ({
    h: l.h,
    w: l.w,
    a: l.anchorsPerLocation,
    stride: l.stride,
    offset: offsets[i]!,
    count: offsets[i + 1]! - offsets[i]!,
  }));
  const largestLevel = Math.max(...levels.map((l) => l.count));
  const topK = spec.preNmsTopK;
  const cap = Math.min(plan.candidateCap, pairs, spec.topKScope === 'global' && topK > 0 ? topK : Infinity);
  const levelK = spec.topKScope === 'per-level' && topK > 0 ? Math.min(topK, largestLevel * numLabels) : 0;
  const maxDetections = Math.min(spec.maxDetections, cap);
  const perClass = spec.nms === 'per-class';
  const levelPoolOffset = 2 * cap * CANDIDATE_BYTES;
  const orderOffset = levelPoolOffset + 2 * levelK * CANDIDATE_BYTES;
  // softmax scores the rows of one range (a level, or all anchors) best bound first: one key per row of the largest range
  const ranges = levelK > 0 || plan.input === 'per-level';
  const orderRows = spec.scores === 'softmax' ? (ranges ? largestLevel : numAnchors) : 0;
  const keptOffset = orderOffset + orderRows * CANDIDATE_BYTES;
  const keptPad = Math.ceil(maxDetections / 16) * 16;
  const nmsOffset = keptOffset + 5 * keptPad * 4;
  const nmsScan: PlanLayout['nmsScan'] = perClass && numLabels >= SCAN_MAX_LABELS ? 'lists' : 'scan';
  const nmsBytes = nmsScan === 'lists' ? (numLabels + maxDetections) * LINK_BYTES : keptPad * LINK_BYTES;
  const size = ALIGN_SLACK + nmsOffset + nmsBytes;
  const capWhy = [
    `candidate_cap ${plan.candidateCap}`,
    `anchors x labels ${pairs}`,
    ...(spec.topKScope === 'global' && topK > 0 ? [`top_k ${topK}`] : []),
  ];
  const formula = [
    `${ALIGN_SLACK} (8-byte alignment) + 2 * CAP * ${CANDIDATE_BYTES} (candidate pool: 64-bit rank keys)`,
    ...(levelK > 0 ? [`+ 2 * LEVEL_K * ${CANDIDATE_BYTES} (per-level top-k pool)`] : []),
    ...(orderRows > 0
      ? [
          `+ ${orderRows} rows * ${CANDIDATE_BYTES} (softmax rows of ${ranges ? 'the largest level' : 'all anchors'}, ordered by their bound)`,
        ]
      : []),
    `+ 5 * ${keptPad} * 4 (the kept boxes and their areas, MAX_DETECTIONS ${maxDetections} rounded up to 16)`,
    nmsScan === 'lists'
      ? `+ ${numLabels} labels * ${LINK_BYTES} + MAX_DETECTIONS ${maxDetections} * ${LINK_BYTES} (each label's kept boxes, chained)`
      : `+ ${keptPad} * ${LINK_BYTES} (the kept boxes' labels)`,
    `CAP = min(${capWhy.join(', ')}) = ${cap}`,
    ...(levelK > 0
      ? [`LEVEL_K = min(top_k ${topK}, largest level ${largestLevel} x ${numLabels} labels) = ${levelK}`]
      : []),
  ].join('\n');

  const thr = f32(spec.scoreThreshold);
  const rejectBound = (t: number): number =>
    spec.scores === 'sigmoid'
      ? sigmoidRejectLogit(t)
      : spec.scores === 'softmax'
        ? softmaxRejectMargin(t, plan.numClasses)
        : -Infinity;
  const bar =
    spec.scores === 'probabilities' || spec.objectness ? { score: [], reject: [] } : barBounds(thr, rejectBound);
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
    maxDetections,
    workspace: { levelPoolOffset, orderOffset, orderRows, keptOffset, keptPad, nmsOffset, size, formula },
    nmsScan,
    scoreThreshold: thr,
    iouThreshold: f32(spec.iouThreshold),
    reject: rejectBound(thr),
    bar,
    centers,
    runtimeAnchors: plan.runtimeAnchors,
    quant: quantLayout(plan, thr, bar),
    yolo,
  };
}
