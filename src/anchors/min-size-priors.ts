// SSD "min-size" priors as the Ultra-Light-Fast-Generic-Face-Detector generates them (one square box per min size,
// centre-size form, normalized, clamped), expressed as an AnchorSet plus the encoded table models embed.
import { PrunedetError } from '../errors';
import { allGridAnchorsF64, centeredAnchor, encodeAnchors } from './grid';
import type { AnchorLevel, AnchorSet, FeatureMap } from './types';

export interface MinSizePriorOptions {
  /** Input image [W, H] (Ultra-Light 320: [320, 240]). */
  imageSize: [number, number];
  /** Nominal stride per level (8, 16, 32, 64); feature map = ceil(image / stride) per axis. */
  strides: number[];
  /** Box sizes in pixels per level (Ultra-Light: [[10,16,24],[32,48],[64,96],[128,192,256]]). */
  minBoxes: number[][];
  /** [H, W] per level when the model's maps are known and differ from ceil(image / stride). */
  featureMaps?: FeatureMap[];
  /** Clamp the centre-size numbers to [0, 1] (default true, as generate_priors does). */
  clamp?: boolean;
}

export interface MinSizePriors {
  set: AnchorSet;
  /** [H, W] per level. */
  featureMaps: FeatureMap[];
  /** cx, cy, w, h per prior, normalized by the image, order (level, y, x, box). */
  priors: Float32Array;
}

/**
 * Ultra-Light generate_priors: centre ((i + 0.5) / W_l, (j + 0.5) / H_l), size (m / W_img, m / H_img). The centres
 * divide by the feature-map size, not by image/stride: on 240 px with stride 32 the map is 8 rows, so the effective
 * row step is 240/8 = 30 px (rows centred at 15, 45, ... 225), which is what the shipped models embed.
 */
export function ssdMinSizePriors(o: MinSizePriorOptions): MinSizePriors {
  const [W, H] = o.imageSize;
  const n = o.strides.length;
  if (o.minBoxes.length !== n) {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `min-size priors have ${n} strides but ${o.minBoxes.length} min-box lists`,
      'give one min-box list per stride',
    );
  }
  if (o.featureMaps && o.featureMaps.length !== n) {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `min-size priors have ${n} strides but ${o.featureMaps.length} feature maps`,
      'give one feature map per stride',
    );
  }
  const featureMaps: FeatureMap[] = o.featureMaps ?? o.strides.map((s) => [Math.ceil(H / s), Math.ceil(W / s)]);
  const levels = o.minBoxes.map((boxes, l): AnchorLevel => {
    const [fh, fw] = featureMaps[l]!;
    const stride: [number, number] = [W / fw, H / fh];
    return { stride, base: boxes.map((m) => centeredAnchor(stride[0] / 2, stride[1] / 2, m, m)) };
  });
  const set: AnchorSet = { levels, source: 'Ultra-Light min-size priors' };
  const priors = encodeAnchors(allGridAnchorsF64(set, featureMaps), {
    format: 'cxcywh',
    normalizeBy: [W, H],
    clamp: o.clamp ?? true,
  });
  return { set, featureMaps, priors };
}
