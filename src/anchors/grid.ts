// Tiles an AnchorSet over feature maps in head-channel order and converts the result to the encodings post-processing
// reads (xyxy / cxcywh, pixels or normalized, clamped or not). Generators live in generate.ts; nothing here guesses.
import { InternalError, PrunedetError } from '../errors';
import { clamp01 } from './common';
import type { AnchorLevel, AnchorPair, AnchorSet, BaseAnchor, FeatureMap } from './types';
import { levelName } from '../format/levels';

/** A base anchor of width w and height h centred on (cx, cy). */
export function centeredAnchor(cx: number, cy: number, w: number, h: number, pair?: AnchorPair): BaseAnchor {
  const a: BaseAnchor = { x1: cx - 0.5 * w, y1: cy - 0.5 * h, x2: cx + 0.5 * w, y2: cy + 0.5 * h };
  if (pair) a.pair = pair;
  return a;
}

/** Anchors per cell of each level. */
export function anchorCounts(set: AnchorSet): number[] {
  return set.levels.map((l) => l.base.length);
}

/** Total number of grid anchors of `set` over `featureMaps` ([H, W] per level). */
export function totalAnchors(set: AnchorSet, featureMaps: FeatureMap[]): number {
  checkMaps(set, featureMaps);
  return set.levels.reduce((n, l, i) => n + featureMaps[i]![0] * featureMaps[i]![1] * l.base.length, 0);
}

/** Grid anchors of one level in head-channel order: index = (y*W + x)*A + a; xyxy pixels; length H*W*A*4. */
export function gridAnchors(level: AnchorLevel, featH: number, featW: number): Float32Array {
  const out = new Float32Array(featH * featW * level.base.length * 4);
  fillLevel(level, featH, featW, out, 0);
  return out;
}

/** All levels concatenated (finest first), same order as gridAnchors. */
export function allGridAnchors(set: AnchorSet, featureMaps: FeatureMap[]): Float32Array {
  const out = new Float32Array(totalAnchors(set, featureMaps) * 4);
  fillAll(set, featureMaps, out);
  return out;
}

/**
 * As allGridAnchors but in double precision, for callers that encode the anchors afterwards: rounding to float32 once,
 * at the end, is what the Python generators do (they build the table in float64 and convert it once).
 */
export function allGridAnchorsF64(set: AnchorSet, featureMaps: FeatureMap[]): Float64Array {
  const out = new Float64Array(totalAnchors(set, featureMaps) * 4);
  fillAll(set, featureMaps, out);
  return out;
}

export interface AnchorEncoding {
  format: 'xyxy' | 'cxcywh';
  /** Divide x and w by W and y and h by H (image size [W, H]) to get normalized coordinates. */
  normalizeBy?: [number, number];
  /** Clamp every output number to [0, 1] after encoding (SSD priors clamp the centre-size numbers). */
  clamp?: boolean;
}

/** Convert xyxy pixel anchors (4 numbers each) to `enc`; the result is float32, as models store prior tables. */
export function encodeAnchors(xyxy: Float32Array | Float64Array, enc: AnchorEncoding): Float32Array {
  if (xyxy.length % 4 !== 0) throw new InternalError(`encodeAnchors: ${xyxy.length} numbers is not a multiple of 4`);
  const [nw, nh] = enc.normalizeBy ?? [1, 1];
  if (!(nw > 0 && nh > 0)) throw new InternalError(`encodeAnchors: normalizeBy must be positive, got [${nw}, ${nh}]`);
  const out = new Float32Array(xyxy.length);
  const clamp = enc.clamp ? clamp01 : (v: number) => v;
  for (let i = 0; i < xyxy.length; i += 4) {
    const x1 = xyxy[i]!,
      y1 = xyxy[i + 1]!,
      x2 = xyxy[i + 2]!,
      y2 = xyxy[i + 3]!;
    const v = enc.format === 'cxcywh' ? [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1] : [x1, y1, x2, y2];
    out[i] = clamp(v[0]! / nw);
    out[i + 1] = clamp(v[1]! / nh);
    out[i + 2] = clamp(v[2]! / nw);
    out[i + 3] = clamp(v[3]! / nh);
  }
  return out;
}

/**
 * The baseline set restricted to `kept` (per level, baseline indices ascending): the anchors a pruned model's head
 * produces, in the pruned head's channel order. Build pruned tables from this, not from a config's own pair order.
 */
export function keepAnchors(set: AnchorSet, kept: number[][]): AnchorSet {
  if (kept.length !== set.levels.length) {
    throw new InternalError(`keepAnchors: ${kept.length} kept lists for ${set.levels.length} levels`);
  }
  const levels = set.levels.map((l, i) => ({
    stride: [l.stride[0], l.stride[1]] as [number, number],
    base: kept[i]!.map((k) => {
      const b = l.base[k];
      if (!b) throw new InternalError(`keepAnchors: ${levelName(i)} has no anchor ${k} (it has ${l.base.length})`);
      return b;
    }),
  }));
  return { levels, source: `${set.source}, pruned` };
}

function fillAll(set: AnchorSet, featureMaps: FeatureMap[], out: Float32Array | Float64Array): void {
  let off = 0;
  set.levels.forEach((level, i) => {
    const [h, w] = featureMaps[i]!;
    fillLevel(level, h, w, out, off);
    off += h * w * level.base.length * 4;
  });
}

function fillLevel(
  level: AnchorLevel,
  featH: number,
  featW: number,
  out: Float32Array | Float64Array,
  off: number,
): void {
  if (!Number.isInteger(featH) || !Number.isInteger(featW) || featH < 0 || featW < 0) {
    throw new InternalError(`gridAnchors: feature map ${featH}x${featW} is not a size`);
  }
  const [sw, sh] = level.stride;
  const base = level.base;
  let o = off;
  for (let y = 0; y < featH; y++) {
    const dy = y * sh;
    for (let x = 0; x < featW; x++) {
      const dx = x * sw;
      for (const b of base) {
        out[o++] = b.x1 + dx;
        out[o++] = b.y1 + dy;
        out[o++] = b.x2 + dx;
        out[o++] = b.y2 + dy;
      }
    }
  }
}

function checkMaps(set: AnchorSet, featureMaps: FeatureMap[]): void {
  if (featureMaps.length !== set.levels.length) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `anchors (${set.source}) have ${set.levels.length} levels but the model has ${featureMaps.length} feature maps`,
      'use an anchor configuration with one level per head output',
    );
  }
}
