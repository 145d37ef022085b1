// mmdetection's anchor generators as pure functions: the paper's PreciseAnchorGenerator, the standard AnchorGenerator
// (RetinaNet) and SSDAnchorGenerator (SSD300/512), reproducing mmdetection 2.x/3.x anchor values and order. Reading
// them out of config files is config/mmdet-config.ts's job.
import { configError, pairOf } from './common';
import { centeredAnchor } from './grid';
import type { AnchorLevel, AnchorPair, AnchorSet, BaseAnchor, Stride } from './types';

export interface PreciseOptions {
  strides: Stride[];
  /** anchor_base_size: the size scales are relative to (300 for SSD300, 512 for the paper's RetinaNet). */
  baseSize: number;
  /** Per level the (scale, ratio) pairs in head order; an empty list empties the level. */
  scaleRatios: AnchorPair[][];
  /** Centre of cell (0,0)'s anchors per level, [x, y] pixels. */
  centers?: [number, number][];
  /** Without centers: centre = centerOffset * baseSize (mmdetection default 0). */
  centerOffset?: number;
}

/**
 * PreciseAnchorGenerator (Bonnaerens et al.): per pair h_ratio = sqrt(r), w_ratio = 1/h_ratio, w = base*s*w_ratio,
 * h = base*s*h_ratio, centred on centers[l] or on centerOffset*base.
 */
export function preciseAnchors(o: PreciseOptions): AnchorSet {
  const offset = o.centerOffset ?? 0;
  checkCommon(o.strides, o.scaleRatios.length, 'scale_ratios', o.centers, offset);
  const levels = o.scaleRatios.map((pairs, l): AnchorLevel => {
    const [cx, cy] = o.centers?.[l] ?? [offset * o.baseSize, offset * o.baseSize];
    return {
      stride: pairOf(o.strides[l]!),
      base: pairs.map((p) => sizedAnchor(cx, cy, o.baseSize, p.scale, p.ratio, p.scale)),
    };
  });
  return { levels, source: 'mmdet PreciseAnchorGenerator' };
}

export interface MmdetAnchorOptions {
  strides: Stride[];
  /** h / w ratios, shared by all levels. */
  ratios: number[];
  /** Either scales, or octaveBaseScale + scalesPerOctave (RetinaNet: 4 and 3). */
  scales?: number[];
  octaveBaseScale?: number;
  scalesPerOctave?: number;
  /** Default: the smaller stride of each level. */
  baseSizes?: number[];
  /** mmdetection's flag: true (its default) lists all scales of ratio 0 first, then of ratio 1, ... */
  scaleMajor?: boolean;
  centers?: [number, number][];
  centerOffset?: number;
  /** Size the pairs' scales are relative to; default base size of the last level x smallest scale (512 for RetinaNet). */
  pairBase?: number;
}

/** mmdetection AnchorGenerator (v2.0+: float anchors, no rounding, centre = centerOffset * base size). */
export function mmdetAnchors(o: MmdetAnchorOptions): AnchorSet {
  const scales = anchorScales(o);
  const offset = o.centerOffset ?? 0;
  const baseSizes = o.baseSizes ?? o.strides.map((s) => Math.min(...pairOf(s)));
  checkCommon(o.strides, baseSizes.length, 'base_sizes', o.centers, offset);
  const pairBase = o.pairBase ?? baseSizes[baseSizes.length - 1]! * Math.min(...scales);
  const scaleMajor = o.scaleMajor ?? true;
  const levels = baseSizes.map((size, l): AnchorLevel => {
    const [cx, cy] = o.centers?.[l] ?? [offset * size, offset * size];
    return {
      stride: pairOf(o.strides[l]!),
      base: scaleRatioOrder(scales, o.ratios, scaleMajor).map(([s, r]) =>
        sizedAnchor(cx, cy, size, s, r, (size * s) / pairBase),
      ),
    };
  });
  return { levels, source: 'mmdet AnchorGenerator' };
}

export interface MmdetSsdOptions {
  strides: Stride[];
  /** Per level the extra ratios r; each adds 1/r and r after ratio 1 (SSD300: [[2],[2,3],[2,3],[2,3],[2],[2]]). */
  ratios: number[][];
  basesizeRatioRange?: [number, number];
  inputSize?: number;
  /** Explicit sizes per level (mmdetection >= 2.15) instead of basesizeRatioRange. */
  minSizes?: number[];
  maxSizes?: number[];
  /** mmdetection's default is true, but every SSD config sets scale_major=False; pass what the config says. */
  scaleMajor?: boolean;
  /** Default inputSize. */
  pairBase?: number;
}

/**
 * mmdetection SSDAnchorGenerator: centre stride/2; per level the min size at ratios [1, 1/r1, r1, 1/r2, r2, ...] and
 * sqrt(min*max) at ratio 1, laid out by the generator's index_select [0, R, 1, ..., R-1] over the 2 x R product.
 * With scale_major=False (SSD configs) that is: (min,1) (big,1) (min,1/r1) (min,r1) ...
 */
export function mmdetSsdAnchors(o: MmdetSsdOptions): AnchorSet {
  const inputSize = o.inputSize ?? 300;
  const n = o.strides.length;
  if (o.ratios.length !== n)
    throw configError(`SSDAnchorGenerator has ${n} strides but ${o.ratios.length} ratio lists`);
  const [minSizes, maxSizes] =
    o.minSizes && o.maxSizes ? [o.minSizes, o.maxSizes] : ssdSizes(o.basesizeRatioRange ?? [0.15, 0.9], inputSize, n);
  if (minSizes.length !== n || maxSizes.length !== n) {
    throw configError(
      `SSDAnchorGenerator gives ${minSizes.length} min sizes and ${maxSizes.length} max sizes for ${n} strides`,
    );
  }
  const pairBase = o.pairBase ?? inputSize;
  const scaleMajor = o.scaleMajor ?? true;
  const levels = o.strides.map((st, l): AnchorLevel => {
    const stride = pairOf(st);
    const size = minSizes[l]!;
    const scales = [1, Math.sqrt(maxSizes[l]! / size)];
    const ratios = [1];
    for (const r of o.ratios[l]!) ratios.push(1 / r, r);
    const product = scaleRatioOrder(scales, ratios, scaleMajor);
    const pick = ratios.map((_, i) => i);
    pick.splice(1, 0, ratios.length);
    return {
      stride,
      base: pick.map((i) => {
        const [s, r] = product[i]!;
        return sizedAnchor(stride[0] / 2, stride[1] / 2, size, s, r, (size * s) / pairBase);
      }),
    };
  });
  return { levels, source: 'mmdet SSDAnchorGenerator' };
}

/**
 * SSDAnchorGenerator's min/max sizes from basesize_ratio_range, as mmdetection computes them (integer percent, integer
 * step, integer pixel sizes, then a fixed first level for 300/512 inputs). SSD300 COCO: 21..261 / 45..315.
 */
export function ssdSizes(range: [number, number], inputSize: number, levels: number): [number[], number[]] {
  const lo = Math.trunc(range[0] * 100);
  const hi = Math.trunc(range[1] * 100);
  const step = Math.trunc(Math.floor(hi - lo) / (levels - 2));
  const minSizes: number[] = [];
  const maxSizes: number[] = [];
  for (let r = lo; r <= hi && step > 0; r += step) {
    minSizes.push(Math.trunc((inputSize * r) / 100));
    maxSizes.push(Math.trunc((inputSize * (r + step)) / 100));
  }
  const first: Record<string, [number, number]> = {
    '300:0.15': [7, 15],
    '300:0.2': [10, 20],
    '512:0.1': [4, 10],
    '512:0.15': [7, 15],
  };
  const f = first[`${inputSize}:${range[0]}`];
  if (!f) {
    throw configError(
      `SSDAnchorGenerator supports basesize_ratio_range starting at 0.15 or 0.2 (input 300) or 0.1 or 0.15 (input 512), got ${range[0]} with input ${inputSize}; give min_sizes and max_sizes instead`,
    );
  }
  minSizes.unshift(Math.trunc((inputSize * f[0]) / 100));
  maxSizes.unshift(Math.trunc((inputSize * f[1]) / 100));
  return [minSizes, maxSizes];
}

function anchorScales(o: MmdetAnchorOptions): number[] {
  const octave = o.octaveBaseScale !== undefined && o.scalesPerOctave !== undefined;
  if (octave === (o.scales !== undefined)) {
    throw configError('AnchorGenerator needs either scales or octave_base_scale with scales_per_octave, not both');
  }
  if (o.scales) return o.scales;
  const spo = o.scalesPerOctave!;
  return Array.from({ length: spo }, (_, i) => 2 ** (i / spo) * o.octaveBaseScale!);
}

/**
 * Every (scale, ratio) of the scales x ratios product in mmdetection's order: scale_major makes ratio the outer loop
 * (index = r*S + s); otherwise scale is (index = s*R + r).
 */
function scaleRatioOrder(scales: number[], ratios: number[], scaleMajor: boolean): [number, number][] {
  const order: [number, number][] = [];
  if (scaleMajor) ratios.forEach((r) => scales.forEach((s) => order.push([s, r])));
  else scales.forEach((s) => ratios.forEach((r) => order.push([s, r])));
  return order;
}

/**
 * mmdetection's anchor of size base*scale at ratio h/w = `ratio`, centred on (cx, cy): h_ratio = sqrt(ratio),
 * w = base*scale/h_ratio, h = base*scale*h_ratio; its pair is (pairScale, ratio).
 */
function sizedAnchor(
  cx: number,
  cy: number,
  base: number,
  scale: number,
  ratio: number,
  pairScale: number,
): BaseAnchor {
  const hr = Math.sqrt(ratio);
  const size = base * scale;
  return centeredAnchor(cx, cy, size / hr, size * hr, { scale: pairScale, ratio });
}

function checkCommon(
  strides: Stride[],
  n: number,
  what: string,
  centers: [number, number][] | undefined,
  offset: number,
): void {
  if (strides.length !== n)
    throw configError(`anchor generator has ${strides.length} strides but ${n} ${what} entries`);
  if (centers && centers.length !== n)
    throw configError(`anchor generator has ${n} levels but ${centers.length} centers`);
  if (!(offset >= 0 && offset <= 1)) throw configError(`center_offset must lie in [0, 1], got ${offset}`);
  if (centers && offset !== 0) throw configError('anchor generator sets both centers and a non-zero center_offset');
}
