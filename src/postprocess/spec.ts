// PostprocessSpec: every choice that detector post-processing implementations disagree on, stated as data, plus its
// validation. The semantics live in reference.ts; presets and the text form in presets.ts. Nothing here computes.
import { PrunedetError } from '../errors';

/** How the regression output turns into an xyxy box. Every decoder outputs boxes as (x1, y1, x2, y2). */
export type Decoder =
  /** Boxes already decoded in the graph, xyxy; anchors are not used. */
  | { type: 'none' }
  /** SSD / Caffe / ncnn CENTER_SIZE: deltas (dx, dy, dw, dh); cx = dx·v0·aw + acx, w = exp(dw·v1)·aw. */
  | { type: 'ssd'; variances: [number, number] }
  /** mmdetection DeltaXYWHBBoxCoder: d = delta·std + mean; dw, dh clamped to ±clamp (|log(16/1000)|). */
  | {
      type: 'mmdet-delta-xywh';
      means: [number, number, number, number];
      stds: [number, number, number, number];
      clamp: number;
    }
  /** torchvision BoxCoder: d = delta / weight; dw, dh clamped from above only at clamp (log(1000/16)). */
  | { type: 'torchvision'; weights: [number, number, number, number]; clamp: number }
  /** TFLite detection_postprocess: deltas in (ty, tx, th, tw) order, scales (y, x, h, w); no clamp. */
  | { type: 'tflite'; scales: [number, number, number, number] }
  /** Boxes decoded in the graph as centre-size (cx, cy, w, h), as YOLO exports write them; anchors are not used. */
  | { type: 'xywh' }
  /**
   * YOLOv5 / YOLOv7 grid decode of raw (t_x, t_y, t_w, t_h): xy = (2σ(t) − 0.5 + grid)·stride, wh = (2σ(t))²·anchor.
   * The anchor row is (grid x, grid y, anchor w, anchor h) in cells and pixels; the stride is the level's.
   */
  | { type: 'yolov5' }
  /** YOLOv3 (darknet) grid decode: xy = (σ(t) + grid)·stride, wh = exp(t)·anchor; anchor rows as for yolov5. */
  | { type: 'yolov3' };

export type DecoderType = Decoder['type'];

export interface PostprocessSpec {
  decoder: Decoder;
  /** Layout of the anchor table rows (x first in both). */
  anchorFormat: 'xyxy' | 'cxcywh';
  /** softmax / sigmoid over raw logits; probabilities = activation already applied in the graph. */
  scores: 'softmax' | 'sigmoid' | 'probabilities';
  /** Position of the background column among the C score columns. */
  background: 'first' | 'last' | 'none';
  /** Keep a (anchor, class) pair iff score > thr (strictly); must be >= 0 so a zero score never passes. */
  scoreThreshold: number;
  /** Candidate cap before NMS (0 = none), per level or over all levels. */
  preNmsTopK: number;
  topKScope: 'per-level' | 'global';
  /** per-class: only boxes with the same label suppress each other. */
  nms: 'per-class' | 'agnostic';
  /** Suppress iff IoU > thr. */
  iouThreshold: number;
  /** Output cap (>= 1). */
  maxDetections: number;
  /** Clip decoded boxes to [0, w] x [0, h], in the boxes' units. */
  clip?: [number, number];
  /**
   * YOLO objectness: score column 0 is the objectness o, the labels are columns 1..C-1, and a pair (anchor, label k)
   * is a candidate iff act(o) > thr and act(o)·act(class k) > thr (YOLOv5's non_max_suppression: objectness first,
   * then the product). Needs background none and sigmoid or probabilities scores. Absent = off.
   */
  objectness?: boolean;
  /**
   * With objectness: true = each anchor offers only its best label (highest act(o)·act(class), lowest label on ties;
   * none when a product is NaN), as YOLOv5's non_max_suppression does by default (multi_label=False); false/absent =
   * every (anchor, label) pair above the threshold (multi_label=True, as its val.py runs it).
   */
  bestLabel?: boolean;
}

export interface Detection {
  /** x1, y1, x2, y2 in the units of the anchors (or of the graph's decoded boxes). */
  box: [number, number, number, number];
  score: number;
  /** 0-based foreground label (the background column is not counted). */
  label: number;
  /** Index on the anchor axis (level-major, then y, x, anchor within location). */
  anchor: number;
}

export const DECODER_TYPES: readonly DecoderType[] = [
  'none',
  'ssd',
  'mmdet-delta-xywh',
  'torchvision',
  'tflite',
  'xywh',
  'yolov5',
  'yolov3',
];

/** Decoders of separate box tensors (concatenated rows or per-level maps); the others read YOLO rows. */
export const TENSOR_DECODER_TYPES: readonly DecoderType[] = [
  'none',
  'ssd',
  'mmdet-delta-xywh',
  'torchvision',
  'tflite',
];

/** Decoders that need the level's stride and anchor rows (grid x, grid y, anchor w, anchor h). */
export function isYoloDecoder(d: Decoder): d is { type: 'yolov5' } | { type: 'yolov3' } {
  return d.type === 'yolov5' || d.type === 'yolov3';
}

/** Decoders that read no anchors (the graph decoded the boxes). */
export function isDecodedInput(d: Decoder): d is { type: 'none' } | { type: 'xywh' } {
  return d.type === 'none' || d.type === 'xywh';
}
export const ANCHOR_FORMATS: readonly PostprocessSpec['anchorFormat'][] = ['xyxy', 'cxcywh'];
export const SCORE_MODES: readonly PostprocessSpec['scores'][] = ['softmax', 'sigmoid', 'probabilities'];
export const BACKGROUND_POSITIONS: readonly PostprocessSpec['background'][] = ['first', 'last', 'none'];
export const TOP_K_SCOPES: readonly PostprocessSpec['topKScope'][] = ['per-level', 'global'];
export const NMS_MODES: readonly PostprocessSpec['nms'][] = ['per-class', 'agnostic'];

/** Number of foreground labels for `numClasses` score columns. */
export function foregroundCount(spec: Pick<PostprocessSpec, 'background' | 'objectness'>, numClasses: number): number {
  return spec.background === 'none' && !spec.objectness ? numClasses : numClasses - 1;
}

/** Score column of foreground label k (after the objectness column, when there is one). */
export function labelColumn(spec: Pick<PostprocessSpec, 'background' | 'objectness'>, label: number): number {
  return spec.background === 'first' || spec.objectness ? label + 1 : label;
}

/** Score column of the background, or -1. */
export function backgroundColumn(spec: Pick<PostprocessSpec, 'background'>, numClasses: number): number {
  return spec.background === 'first' ? 0 : spec.background === 'last' ? numClasses - 1 : -1;
}

function fail(what: string, hint: string): never {
  throw new PrunedetError('E_POSTPROCESS', `post-processing spec: ${what}`, hint);
}

function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(`${name} is ${String(v)}, not a finite number`, `give ${name} a finite value`);
  return v;
}

function tuple(name: string, v: unknown, n: number, nonZero: boolean): void {
  if (!Array.isArray(v) || v.length !== n)
    fail(`${name} needs ${n} numbers, got ${JSON.stringify(v)}`, `write ${name} as ${n} numbers separated by /`);
  v.forEach((x, i) => {
    finite(`${name}[${i}]`, x);
    if (nonZero && x === 0) fail(`${name}[${i}] is 0 (it divides or scales a delta)`, `use a non-zero ${name}`);
  });
}

function count(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0xffffffff) {
    fail(`${name} is ${String(v)}, not an integer >= ${min}`, `set ${name} to a whole number >= ${min}`);
  }
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): void {
  if (!allowed.includes(v as T)) fail(`${name} is "${String(v)}"`, `use one of ${allowed.join(', ')}`);
}

/** Check a spec (and, when given, its number of score columns); throws PrunedetError E_POSTPROCESS. */
export function validatePostprocessSpec(spec: PostprocessSpec, numClasses?: number): void {
  const d = spec.decoder as Decoder | undefined;
  if (!d || typeof d !== 'object') fail('decoder is missing', `set decoder to one of ${DECODER_TYPES.join(', ')}`);
  oneOf('decoder', d.type, DECODER_TYPES);
  switch (d.type) {
    case 'none':
    case 'xywh':
    case 'yolov5':
    case 'yolov3':
      break;
    case 'ssd':
      tuple('variances', d.variances, 2, true);
      break;
    case 'mmdet-delta-xywh':
      tuple('means', d.means, 4, false);
      tuple('stds', d.stds, 4, true);
      if (finite('clamp', d.clamp) <= 0)
        fail(`clamp is ${d.clamp}`, 'use a positive clamp such as 4.135166556742356 (|log(16/1000)|)');
      break;
    case 'torchvision':
      tuple('weights', d.weights, 4, true);
      if (finite('clamp', d.clamp) <= 0)
        fail(`clamp is ${d.clamp}`, 'use a positive clamp such as 4.135166556742356 (log(1000/16))');
      break;
    case 'tflite':
      tuple('scales', d.scales, 4, true);
      break;
  }
  oneOf('anchor_format', spec.anchorFormat, ANCHOR_FORMATS);
  oneOf('scores', spec.scores, SCORE_MODES);
  oneOf('background', spec.background, BACKGROUND_POSITIONS);
  if (finite('score_thr', spec.scoreThreshold) < 0) {
    fail(
      `score_thr is ${spec.scoreThreshold}; a negative threshold would let zero scores (and suppressed anchors) pass`,
      'use a threshold >= 0',
    );
  }
  count('pre_nms_top_k', spec.preNmsTopK, 0);
  oneOf('top_k_scope', spec.topKScope, TOP_K_SCOPES);
  oneOf('nms', spec.nms, NMS_MODES);
  const iou = finite('iou_thr', spec.iouThreshold);
  if (iou < 0 || iou > 1) fail(`iou_thr is ${iou}`, 'use an IoU threshold in [0, 1]');
  count('max_det', spec.maxDetections, 1);
  if (spec.clip !== undefined) {
    tuple('clip', spec.clip, 2, false);
    if (!(spec.clip[0] > 0 && spec.clip[1] > 0))
      fail(`clip is ${spec.clip.join('/')}`, 'clip needs a positive width and height, or clip=none');
  }
  if (spec.objectness !== undefined && typeof spec.objectness !== 'boolean')
    fail(`objectness is ${String(spec.objectness)}`, 'use objectness=on or objectness=off');
  if (spec.objectness) {
    if (spec.background !== 'none')
      fail(`objectness with background "${spec.background}"`, 'YOLO heads have no background column: background=none');
    if (spec.scores === 'softmax')
      fail('objectness with softmax scores', 'YOLO scores are sigmoids: scores=sigmoid (or probabilities)');
  }
  if (spec.bestLabel !== undefined && typeof spec.bestLabel !== 'boolean')
    fail(`labels is ${String(spec.bestLabel)}`, 'use labels=best or labels=all');
  if (spec.bestLabel && !spec.objectness) fail('labels=best without objectness', 'labels=best applies to YOLO heads');
  if (isYoloDecoder(spec.decoder) && spec.anchorFormat !== 'cxcywh')
    fail(`decoder ${spec.decoder.type} with anchor_format ${spec.anchorFormat}`, 'its anchor rows are cxcywh');
  if (numClasses !== undefined) {
    count('number of score columns', numClasses, 1);
    if (foregroundCount(spec, numClasses) < 1) {
      fail(
        `${numClasses} score column(s) with background "${spec.background}"${spec.objectness ? ' and an objectness column' : ''} leaves no foreground class`,
        'check background= against the model head (background=none for sigmoid heads)',
      );
    }
  }
}
