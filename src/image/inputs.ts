// What search (and verify) feed the model and how its boxes map back to the photos: preprocessing options from a
// preset plus --size/--mean/--std/--bgr/--letterbox, and the box units -> COCO [x, y, w, h] in image pixels.
// Not the pixel work itself (src/image) nor the post-processing (src/postprocess).
import { PrunedetError } from '../errors';
import type { DetectorSpec } from '../detector/spec';
import { ULTRA_LIGHT_FACE_320, boxToImage, type PreprocessOptions, type ResizeGeometry } from './preprocess';
import type { ModelPostprocess } from '../postprocess/for-model';

/** The command-line preprocessing flags, as typed (strings are parsed here so every command reports them alike). */
export interface PreprocessFlags {
  /** `WxH`, e.g. `320x240`; default: the model's input size. */
  size?: string;
  /** `r,g,b` in pixel units. */
  mean?: string;
  std?: string;
  /** Feed planes in B, G, R order. */
  bgr?: boolean;
  /** Keep the aspect ratio and pad (centred). */
  letterbox?: boolean;
}

type Normalisation = Pick<PreprocessOptions, 'mean' | 'std' | 'channelOrder'>;

/**
 * Normalisation each post-processing preset's project uses. ultraface: its demo ((x - 127) / 128, RGB); mmdet-ssd300:
 * mmdetection's ssd300 config (mean 123.675/116.28/103.53, std 1, to_rgb); mmdet-retinanet: the ImageNet mean/std
 * of mmdetection's retinanet configs. Others (torchvision exports normalise inside the graph; TFLite SSDs take
 * (x - 127.5) / 127.5 but vary) default to raw 0..255 RGB: pass --mean/--std when the model expects otherwise.
 */
const PRESET_NORMALISATION: Record<string, Normalisation> = {
  ultraface: { mean: ULTRA_LIGHT_FACE_320.mean, std: ULTRA_LIGHT_FACE_320.std, channelOrder: 'rgb' },
  'mmdet-ssd300': { mean: [123.675, 116.28, 103.53], std: [1, 1, 1], channelOrder: 'rgb' },
  'mmdet-retinanet': { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], channelOrder: 'rgb' },
  'tflite-ssd': { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channelOrder: 'rgb' },
  // YOLOv5 / v7 / v3 (ultralytics): RGB scaled to [0, 1]
  yolov5: { mean: [0, 0, 0], std: [255, 255, 255], channelOrder: 'rgb' },
  yolov7: { mean: [0, 0, 0], std: [255, 255, 255], channelOrder: 'rgb' },
  yolov3: { mean: [0, 0, 0], std: [255, 255, 255], channelOrder: 'rgb' },
};

const RAW: Normalisation = { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' };

/** Throw E_USAGE: a flag or flag combination the user can fix (used by search's option checks too). */
export function usage(message: string, hint: string): never {
  throw new PrunedetError('E_USAGE', message, hint);
}

function triple(flag: string, text: string, nonZero: boolean): [number, number, number] {
  const parts = text.split(',').map((t) => (t.trim() === '' ? NaN : Number(t)));
  if (parts.length === 1 && Number.isFinite(parts[0])) parts.push(parts[0]!, parts[0]!);
  if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v)) || (nonZero && parts.some((v) => v === 0))) {
    usage(
      `${flag} "${text}" is not three ${nonZero ? 'non-zero ' : ''}numbers`,
      `write it as r,g,b in pixel units, e.g. ${flag} ${nonZero ? '128,128,128' : '127,127,127'}`,
    );
  }
  return parts as [number, number, number];
}

/** `320x240` -> [320, 240]. */
export function parseSize(text: string): [number, number] {
  const m = /^\s*(\d+)\s*[x×,]\s*(\d+)\s*$/.exec(text);
  const w = m ? Number(m[1]) : NaN;
  const h = m ? Number(m[2]) : NaN;
  if (!(w >= 1 && h >= 1))
    usage(`--size "${text}" is not a size WxH`, 'write it as width x height in pixels, e.g. --size 320x240');
  return [w, h];
}

/**
 * Preprocessing for `det` under post-processing preset `preset` (`ultraface`, `mmdet-ssd300,score_thr=0.3`, ...) and
 * the flags: the preset's normalisation, the model's input size, overridden field by field by the flags. The size
 * must match the model's input (the network is not resized).
 */
export function preprocessOptionsFor(
  det: DetectorSpec,
  preset: string,
  flags: PreprocessFlags = {},
): PreprocessOptions {
  const name = preset.split(',')[0]!.trim();
  const base = PRESET_NORMALISATION[name] ?? RAW;
  const [H, W] = det.imageSize;
  const size = flags.size !== undefined ? parseSize(flags.size) : ([W, H] as [number, number]);
  if (size[0] !== W || size[1] !== H) {
    usage(
      `--size ${size[0]}x${size[1]} does not match the model's input ${W}x${H}`,
      `pass --size ${W}x${H}, or --input-shape for a model with a dynamic input size`,
    );
  }
  const opts: PreprocessOptions = {
    size,
    mean: flags.mean !== undefined ? triple('--mean', flags.mean, false) : [...base.mean],
    std: flags.std !== undefined ? triple('--std', flags.std, true) : [...base.std],
    channelOrder: flags.bgr ? 'bgr' : base.channelOrder,
    resize: 'bilinear',
  };
  if (flags.letterbox) opts.letterbox = true;
  return opts;
}

/** What a detection's box coordinates are in: fractions of the network input, or its pixels. */
export type BoxUnits = 'normalized' | 'input-pixels';

/**
 * Units of the boxes post-processing produces for this model: the graph's own anchor table says it when the graph
 * decodes; otherwise the anchors do (coordinates within [-2, 2] on an input larger than that are fractions).
 */
export function boxUnitsOf(det: DetectorSpec, pp: Pick<ModelPostprocess, 'spec' | 'anchors'>): BoxUnits {
  if (pp.spec.decoder.type === 'none') return det.anchorTable?.normalized ? 'normalized' : 'input-pixels';
  let max = 0;
  for (let i = 0; i < pp.anchors.length; i++) {
    const v = Math.abs(pp.anchors[i]!);
    if (v > max) max = v;
  }
  return max <= 2 && Math.min(...det.imageSize) > 4 ? 'normalized' : 'input-pixels';
}

/** A box [x1, y1, x2, y2] in the model's units -> COCO [x, y, w, h] in original-image pixels (not clipped). */
export function toImageXywh(
  box: ArrayLike<number>,
  units: BoxUnits,
  g: ResizeGeometry,
): [number, number, number, number] {
  const sx = units === 'normalized' ? g.inputWidth : 1;
  const sy = units === 'normalized' ? g.inputHeight : 1;
  const [x1, y1, x2, y2] = boxToImage([box[0]! * sx, box[1]! * sy, box[2]! * sx, box[3]! * sy], g);
  return [x1, y1, x2 - x1, y2 - y1];
}

/** A one-line description of the preprocessing, for summaries. */
export function describePreprocess(o: PreprocessOptions): string {
  return `${o.size[0]}x${o.size[1]}${o.letterbox ? ' letterboxed' : ''}, (x - ${o.mean.join('/')}) / ${o.std.join('/')}, ${o.channelOrder.toUpperCase()}`;
}
