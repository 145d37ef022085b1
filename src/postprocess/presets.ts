// Named post-processing presets (the values the original projects use) and the one-line text form
// `preset,key=value,...` used on the command line and in reports. Semantics are in reference.ts.
import { PrunedetError } from '../errors';
import {
  ANCHOR_FORMATS,
  BACKGROUND_POSITIONS,
  DECODER_TYPES,
  NMS_MODES,
  SCORE_MODES,
  TOP_K_SCOPES,
  validatePostprocessSpec,
  type Decoder,
  type DecoderType,
  type PostprocessSpec,
} from './spec';

/** |log(16/1000)| = log(1000/16): the dw/dh clamp of mmdetection (both sides) and torchvision (upper side only). */
export const LOG_1000_OVER_16 = Math.log(1000 / 16);

// YOLOv5 (ultralytics utils/general.py non_max_suppression defaults): sigmoid objectness and classes, score =
// objectness x class; a box needs objectness > conf_thres=0.25 first, then its best class's product > 0.25
// (multi_label=False; labels=all gives val.py's multi_label=True pairs); max_nms=30000 highest-scoring candidates
// (global top-k) into NMS at iou_thres=0.45 per class (the reference offsets boxes by class x max_wh 7680: the same
// set for boxes inside 7680 px, prunedet compares labels instead), max_det=300. Boxes xywh centre, decoded
// xy = (2σ - 0.5 + grid)·stride, wh = (2σ)²·anchor; no clipping (detect.py clips after scaling to the image).
// Anchor rows are (grid x, grid y, anchor w, anchor h) pixels: the graph's anchor_grid or the preset's anchors.
const YOLOV5_NMS: PostprocessSpec = {
  decoder: { type: 'yolov5' },
  anchorFormat: 'cxcywh',
  scores: 'sigmoid',
  background: 'none',
  scoreThreshold: 0.25,
  preNmsTopK: 30000,
  topKScope: 'global',
  nms: 'per-class',
  iouThreshold: 0.45,
  maxDetections: 300,
  objectness: true,
  bestLabel: true,
};

/**
 * Presets. Where prunedet's fixed semantics (strict `>`, ties by anchor index, (anchor, class) candidates) differ from
 * the project, the comment says how.
 */
export const PRESETS: Readonly<Record<string, PostprocessSpec>> = {
  // mmdetection configs/_base_/models/ssd300.py: DeltaXYWHBBoxCoder means 0 stds (0.1, 0.1, 0.2, 0.2); softmax with the
  // background as the last column; test_cfg nms_pre=1000 (per level, over (anchor, class) pairs above score_thr),
  // score_thr=0.02, nms iou_threshold=0.45 (batched = per class), max_per_img=200; boxes clipped to the 300x300 input.
  'mmdet-ssd300': {
    decoder: { type: 'mmdet-delta-xywh', means: [0, 0, 0, 0], stds: [0.1, 0.1, 0.2, 0.2], clamp: LOG_1000_OVER_16 },
    anchorFormat: 'xyxy',
    scores: 'softmax',
    background: 'last',
    scoreThreshold: 0.02,
    preNmsTopK: 1000,
    topKScope: 'per-level',
    nms: 'per-class',
    iouThreshold: 0.45,
    maxDetections: 200,
    clip: [300, 300],
  },
  // mmdetection configs/_base_/models/retinanet_r50_fpn.py: stds 1, sigmoid (no background column), nms_pre=1000 per
  // level, score_thr=0.05, nms iou 0.5 per class, max_per_img=100. mmdet clips to the (variable) image size: add clip=w/h.
  'mmdet-retinanet': {
    decoder: { type: 'mmdet-delta-xywh', means: [0, 0, 0, 0], stds: [1, 1, 1, 1], clamp: LOG_1000_OVER_16 },
    anchorFormat: 'xyxy',
    scores: 'sigmoid',
    background: 'none',
    scoreThreshold: 0.05,
    preNmsTopK: 1000,
    topKScope: 'per-level',
    nms: 'per-class',
    iouThreshold: 0.5,
    maxDetections: 100,
  },
  // torchvision ssd300_vgg16: BoxCoder weights (10, 10, 5, 5), clamp log(1000/16) on dw/dh from above; softmax with the
  // background first; score_thresh=0.01, nms_thresh=0.45 per class, detections_per_img=200, boxes clipped to 300x300.
  // torchvision keeps topk_candidates=400 per *class*; prunedet has no per-class cap, so this preset has none
  // (pre_nms_top_k=0): a superset of torchvision's candidates. Set top_k= (global) to bound the work instead.
  'torchvision-ssd': {
    decoder: { type: 'torchvision', weights: [10, 10, 5, 5], clamp: LOG_1000_OVER_16 },
    anchorFormat: 'xyxy',
    scores: 'softmax',
    background: 'first',
    scoreThreshold: 0.01,
    preNmsTopK: 0,
    topKScope: 'global',
    nms: 'per-class',
    iouThreshold: 0.45,
    maxDetections: 200,
    clip: [300, 300],
  },
  // torchvision retinanet_resnet50_fpn: weights (1, 1, 1, 1), sigmoid, score_thresh=0.05, topk_candidates=1000 per level
  // over (anchor, class) pairs, nms_thresh=0.5 per class, detections_per_img=300. Clipping is to the variable image size.
  'torchvision-retinanet': {
    decoder: { type: 'torchvision', weights: [1, 1, 1, 1], clamp: LOG_1000_OVER_16 },
    anchorFormat: 'xyxy',
    scores: 'sigmoid',
    background: 'none',
    scoreThreshold: 0.05,
    preNmsTopK: 1000,
    topKScope: 'per-level',
    nms: 'per-class',
    iouThreshold: 0.5,
    maxDetections: 300,
  },
  // Ultra-Light-Fast-Generic-Face-Detector-1MB ONNX demos (detect_imgs_onnx.py): priors center-size, normalised;
  // variances 0.1/0.2; the exported `scores` are already softmaxed (Softmax node before the output), background first;
  // prob_threshold 0.7 (strict >), predict()'s default iou_threshold 0.5, hard_nms candidate_size 200 per class (= global
  // with its single foreground class), top_k -1 (no output cap: 200 candidates bound it).
  ultraface: {
    decoder: { type: 'ssd', variances: [0.1, 0.2] },
    anchorFormat: 'cxcywh',
    scores: 'probabilities',
    background: 'first',
    scoreThreshold: 0.7,
    preNmsTopK: 200,
    topKScope: 'global',
    nms: 'per-class',
    iouThreshold: 0.5,
    maxDetections: 200,
  },
  // TF Object Detection API SSD exported for TFLite (export_tflite_ssd_graph defaults + ssd_mobilenet_v1 config):
  // scales y,x,h,w = 10,10,5,5; anchors center-size normalised; the score converter (sigmoid) runs in the graph before
  // the op; background column first; nms_score_threshold 1e-8, nms_iou_threshold 0.6, max_detections 10, fast NMS with
  // max_classes_per_detection 1 (= class-agnostic NMS over pairs: a pair's own anchor at IoU 1 suppresses its other
  // classes). TFLite keeps scores >= thr; prunedet keeps > thr.
  'tflite-ssd': {
    decoder: { type: 'tflite', scales: [10, 10, 5, 5] },
    anchorFormat: 'cxcywh',
    scores: 'probabilities',
    background: 'first',
    scoreThreshold: 1e-8,
    preNmsTopK: 0,
    topKScope: 'global',
    nms: 'agnostic',
    iouThreshold: 0.6,
    maxDetections: 10,
  },
  yolov5: { ...YOLOV5_NMS, decoder: { type: 'yolov5' } },
  // YOLOv7 (WongKinYiu/yolov7 utils/general.py): the same decode and non_max_suppression defaults as YOLOv5.
  yolov7: { ...YOLOV5_NMS, decoder: { type: 'yolov5' } },
  // YOLOv3 (darknet decode, as ultralytics/yolov3 and the paper write it): xy = (σ + grid)·stride, wh = exp·anchor,
  // sigmoid objectness and classes; ultralytics/yolov3's non_max_suppression has YOLOv5's defaults (0.25, 0.45, 300).
  yolov3: { ...YOLOV5_NMS, decoder: { type: 'yolov3' } },
};

/** Presets whose rows are YOLO rows (box 4, objectness 1, classes). */
export const YOLO_PRESETS = ['yolov5', 'yolov7', 'yolov3'] as const;

/** Presets that read separate score and box tensors (concatenated rows or per-level maps): every other one. */
export const TENSOR_PRESETS: readonly string[] = Object.keys(PRESETS).filter(
  (n) => !(YOLO_PRESETS as readonly string[]).includes(n),
);

/** Default parameters when `decoder=<type>` switches the decoder. */
const DECODER_DEFAULTS: Record<DecoderType, Decoder> = {
  none: { type: 'none' },
  ssd: { type: 'ssd', variances: [0.1, 0.2] },
  'mmdet-delta-xywh': { type: 'mmdet-delta-xywh', means: [0, 0, 0, 0], stds: [1, 1, 1, 1], clamp: LOG_1000_OVER_16 },
  torchvision: { type: 'torchvision', weights: [1, 1, 1, 1], clamp: LOG_1000_OVER_16 },
  tflite: { type: 'tflite', scales: [10, 10, 5, 5] },
  xywh: { type: 'xywh' },
  yolov5: { type: 'yolov5' },
  yolov3: { type: 'yolov3' },
};

type Partial2 = Partial<Omit<PostprocessSpec, 'clip'>> & { clip?: [number, number] | undefined };

interface KeyDef {
  names: string[];
  /** What the value looks like, for error messages. */
  form: string;
  apply(spec: Partial2, value: string, key: string): void;
  format(spec: PostprocessSpec): string | undefined;
}

function bad(key: string, value: string, form: string): never {
  throw new PrunedetError(
    'E_POSTPROCESS',
    `post-processing option ${key}=${value} is not ${form}`,
    `write ${key}=<${form}>`,
  );
}

function num(key: string, value: string): number {
  const v = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(v)) bad(key, value, 'a number');
  return v;
}

function int(key: string, value: string): number {
  const v = num(key, value);
  if (!Number.isInteger(v) || v < 0) bad(key, value, 'a whole number');
  return v;
}

function list<N extends number>(key: string, value: string, n: N): number[] {
  const parts = value.split('/');
  if (parts.length !== n) bad(key, value, `${n} numbers separated by /`);
  return parts.map((p) => num(key, p));
}

function pick<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `post-processing option ${key}=${value} is unknown`,
      `use one of ${allowed.join(', ')}`,
    );
  }
  return value as T;
}

/** Set a parameter of the current decoder, refusing parameters of other decoders. */
function decoderParam(type: DecoderType, field: string, n: number) {
  return (spec: Partial2, value: string, key: string): void => {
    const d = spec.decoder;
    if (!d || d.type !== type) {
      throw new PrunedetError(
        'E_POSTPROCESS',
        `post-processing option ${key} applies to decoder=${type}, but the decoder is ${d ? d.type : 'not set'}`,
        `put decoder=${type} before ${key}=`,
      );
    }
    const v = n === 1 ? num(key, value) : list(key, value, n);
    spec.decoder = { ...d, [field]: v } as Decoder;
  };
}

function fmt(v: number | number[]): string {
  return Array.isArray(v) ? v.map(String).join('/') : String(v);
}

const KEYS: KeyDef[] = [
  {
    names: ['decoder'],
    form: DECODER_TYPES.join('|'),
    apply: (s, v, k) => void (s.decoder = structuredClone(DECODER_DEFAULTS[pick(k, v, DECODER_TYPES)])),
    format: (s) => s.decoder.type,
  },
  {
    names: ['variances'],
    form: 'v0/v1',
    apply: decoderParam('ssd', 'variances', 2),
    format: (s) => (s.decoder.type === 'ssd' ? fmt(s.decoder.variances) : undefined),
  },
  {
    names: ['means'],
    form: 'm0/m1/m2/m3',
    apply: decoderParam('mmdet-delta-xywh', 'means', 4),
    format: (s) => (s.decoder.type === 'mmdet-delta-xywh' ? fmt(s.decoder.means) : undefined),
  },
  {
    names: ['stds'],
    form: 's0/s1/s2/s3',
    apply: decoderParam('mmdet-delta-xywh', 'stds', 4),
    format: (s) => (s.decoder.type === 'mmdet-delta-xywh' ? fmt(s.decoder.stds) : undefined),
  },
  {
    names: ['weights'],
    form: 'wx/wy/ww/wh',
    apply: decoderParam('torchvision', 'weights', 4),
    format: (s) => (s.decoder.type === 'torchvision' ? fmt(s.decoder.weights) : undefined),
  },
  {
    names: ['scales'],
    form: 'y/x/h/w',
    apply: decoderParam('tflite', 'scales', 4),
    format: (s) => (s.decoder.type === 'tflite' ? fmt(s.decoder.scales) : undefined),
  },
  {
    names: ['clamp'],
    form: 'a number',
    apply: (s, v, k) => {
      const t = s.decoder?.type;
      if (t !== 'mmdet-delta-xywh' && t !== 'torchvision') {
        throw new PrunedetError(
          'E_POSTPROCESS',
          `post-processing option ${k} applies to decoder=mmdet-delta-xywh or torchvision, but the decoder is ${t ?? 'not set'}`,
          'put decoder= before clamp=',
        );
      }
      decoderParam(t, 'clamp', 1)(s, v, k);
    },
    format: (s) =>
      s.decoder.type === 'mmdet-delta-xywh' || s.decoder.type === 'torchvision' ? fmt(s.decoder.clamp) : undefined,
  },
  {
    names: ['anchor_format'],
    form: ANCHOR_FORMATS.join('|'),
    apply: (s, v, k) => void (s.anchorFormat = pick(k, v, ANCHOR_FORMATS)),
    format: (s) => s.anchorFormat,
  },
  {
    names: ['scores'],
    form: SCORE_MODES.join('|'),
    apply: (s, v, k) => void (s.scores = pick(k, v, SCORE_MODES)),
    format: (s) => s.scores,
  },
  {
    names: ['background'],
    form: BACKGROUND_POSITIONS.join('|'),
    apply: (s, v, k) => void (s.background = pick(k, v, BACKGROUND_POSITIONS)),
    format: (s) => s.background,
  },
  {
    names: ['score_thr', 'score_threshold'],
    form: 'a number',
    apply: (s, v, k) => void (s.scoreThreshold = num(k, v)),
    format: (s) => fmt(s.scoreThreshold),
  },
  {
    names: ['top_k', 'pre_nms_top_k', 'nms_pre'],
    form: 'a whole number',
    apply: (s, v, k) => void (s.preNmsTopK = int(k, v)),
    format: (s) => fmt(s.preNmsTopK),
  },
  {
    names: ['top_k_scope'],
    form: TOP_K_SCOPES.join('|'),
    apply: (s, v, k) => void (s.topKScope = pick(k, v, TOP_K_SCOPES)),
    format: (s) => s.topKScope,
  },
  {
    names: ['nms'],
    form: NMS_MODES.join('|'),
    apply: (s, v, k) => void (s.nms = pick(k, v, NMS_MODES)),
    format: (s) => s.nms,
  },
  {
    names: ['iou_thr', 'iou_threshold'],
    form: 'a number',
    apply: (s, v, k) => void (s.iouThreshold = num(k, v)),
    format: (s) => fmt(s.iouThreshold),
  },
  {
    names: ['max_det', 'max_detections'],
    form: 'a whole number',
    apply: (s, v, k) => void (s.maxDetections = int(k, v)),
    format: (s) => fmt(s.maxDetections),
  },
  {
    names: ['objectness'],
    form: 'on|off',
    apply: (s, v, k) => void (s.objectness = pick(k, v, ['on', 'off'] as const) === 'on'),
    format: (s) => (s.objectness === undefined ? undefined : s.objectness ? 'on' : 'off'),
  },
  {
    names: ['labels'],
    form: 'best|all',
    apply: (s, v, k) => void (s.bestLabel = pick(k, v, ['best', 'all'] as const) === 'best'),
    format: (s) => (s.bestLabel === undefined ? undefined : s.bestLabel ? 'best' : 'all'),
  },
  {
    names: ['clip'],
    form: 'w/h or none',
    apply: (s, v, k) => void (s.clip = v === 'none' ? undefined : (list(k, v, 2) as [number, number])),
    format: (s) => (s.clip ? fmt(s.clip) : 'none'),
  },
];

/** Fields a spec must have, with the option that sets each. */
const REQUIRED: [keyof PostprocessSpec, string][] = [
  ['decoder', 'decoder'],
  ['anchorFormat', 'anchor_format'],
  ['scores', 'scores'],
  ['background', 'background'],
  ['scoreThreshold', 'score_thr'],
  ['preNmsTopK', 'top_k'],
  ['topKScope', 'top_k_scope'],
  ['nms', 'nms'],
  ['iouThreshold', 'iou_thr'],
  ['maxDetections', 'max_det'],
];

function keyDef(key: string): KeyDef {
  const def = KEYS.find((d) => d.names.includes(key));
  if (!def) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `unknown post-processing option "${key}"`,
      `known options: ${KEYS.map((d) => d.names[0]).join(', ')}`,
    );
  }
  return def;
}

/**
 * Parse `preset[,key=value...]` or `key=value,...` (then every field must be given). Keys are snake_case
 * (`score_thr`, `iou_thr`, `max_det`, `top_k`, `top_k_scope`, `nms`, `background`, `scores`, `anchor_format`, `clip`,
 * `decoder` and its parameters); lists use `/` (`clip=300/300`, `variances=0.1/0.2`). The result is validated.
 */
export function parsePostprocess(text: string): PostprocessSpec {
  const tokens = text.split(',').map((t) => t.trim());
  let spec: Partial2 = {};
  let first = 0;
  if (tokens[0] !== undefined && !tokens[0].includes('=')) {
    const preset = PRESETS[tokens[0]];
    if (!preset) {
      throw new PrunedetError(
        'E_POSTPROCESS',
        `unknown post-processing preset "${tokens[0]}"`,
        `use one of ${Object.keys(PRESETS).join(', ')}, or key=value options`,
      );
    }
    spec = structuredClone(preset);
    first = 1;
  }
  for (const token of tokens.slice(first)) {
    const eq = token.indexOf('=');
    if (eq <= 0) {
      throw new PrunedetError(
        'E_POSTPROCESS',
        `post-processing option "${token}" is not key=value`,
        'separate options with commas: preset,key=value,key=value',
      );
    }
    const key = token.slice(0, eq).trim();
    keyDef(key).apply(spec, token.slice(eq + 1).trim(), key);
  }
  const names = REQUIRED.filter(([field]) => spec[field] === undefined).map(([, key]) => key);
  if (names.length > 0) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `post-processing spec "${text}" leaves ${names.join(', ')} unset`,
      `start from a preset (${Object.keys(PRESETS).join(', ')}) or give every option`,
    );
  }
  const full = spec as PostprocessSpec;
  if (full.clip === undefined) delete full.clip;
  if (full.objectness === undefined) delete full.objectness;
  if (full.bestLabel === undefined) delete full.bestLabel;
  validatePostprocessSpec(full);
  return full;
}

/** The full `key=value,...` form of a spec; `parsePostprocess(formatPostprocess(s))` equals `s`. */
export function formatPostprocess(spec: PostprocessSpec): string {
  const parts: string[] = [];
  for (const def of KEYS) {
    const v = def.format(spec);
    if (v !== undefined) parts.push(`${def.names[0]}=${v}`);
  }
  return parts.join(',');
}
