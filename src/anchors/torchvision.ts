// torchvision's anchor generators as pure functions: DefaultBoxGenerator (SSD default boxes, normalized, optionally
// clipped) and AnchorGenerator (RetinaNet/Faster R-CNN cell anchors, rounded to integers as torchvision rounds them).
import { clamp01, configError, pairOf, roundHalfEven } from './common';
import { centeredAnchor } from './grid';
import type { AnchorLevel, AnchorSet, FeatureMap, Stride } from './types';

export interface DefaultBoxOptions {
  /** Per level the extra aspect ratios (w/h); each adds a wide and a tall box: SSD300 [[2],[2,3],[2,3],[2,3],[2],[2]]. */
  aspectRatios: number[][];
  minRatio?: number;
  maxRatio?: number;
  /** One more than the levels (the last only feeds s'_k); torchvision's SSD300: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]. */
  scales?: number[];
  /** Pixel steps per level; without them the cell size is imageSize / featureMaps. */
  steps?: number[];
  /** Clamp the normalized widths and heights to [0, 1] (torchvision default true). */
  clip?: boolean;
  /** Input image [W, H]. */
  imageSize: [number, number];
  /** [H, W] per level; needed only without steps. */
  featureMaps?: FeatureMap[];
}

/**
 * DefaultBoxGenerator: per level (s, s), (s', s') with s' = sqrt(s_k * s_k+1), then per aspect ratio ar the pair
 * (s*sqrt(ar), s/sqrt(ar)) and its transpose, normalized by the image; centres at (i + 0.5) * step. Pairs are
 * relative to the image (scale = sqrt(w*h) in normalized units, ratio = h/w).
 */
export function torchvisionDefaultBoxes(o: DefaultBoxOptions): AnchorSet {
  const n = o.aspectRatios.length;
  const scales = o.scales ?? defaultScales(n, o.minRatio ?? 0.15, o.maxRatio ?? 0.9);
  if (scales.length < n + 1)
    throw configError(`DefaultBoxGenerator needs ${n + 1} scales for ${n} levels, got ${scales.length}`);
  if (o.steps && o.steps.length !== n)
    throw configError(`DefaultBoxGenerator has ${n} aspect-ratio lists but ${o.steps.length} steps`);
  if (!o.steps && o.featureMaps?.length !== n)
    throw configError('DefaultBoxGenerator without steps needs one feature map size per level');
  const [W, H] = o.imageSize;
  const clip = o.clip ?? true;
  const levels = o.aspectRatios.map((ars, k): AnchorLevel => {
    const sk = scales[k]!;
    const sp = Math.sqrt(sk * scales[k + 1]!);
    const wh: [number, number][] = [
      [sk, sk],
      [sp, sp],
    ];
    for (const ar of ars) {
      const q = Math.sqrt(ar);
      wh.push([sk * q, sk / q], [sk / q, sk * q]);
    }
    const stride: [number, number] = o.steps
      ? [o.steps[k]!, o.steps[k]!]
      : [W / o.featureMaps![k]![1], H / o.featureMaps![k]![0]];
    return {
      stride,
      base: wh.map(([w, h]) => {
        const [cw, ch] = clip ? [clamp01(w), clamp01(h)] : [w, h];
        return centeredAnchor(stride[0] / 2, stride[1] / 2, cw * W, ch * H, { scale: Math.sqrt(w * h), ratio: h / w });
      }),
    };
  });
  return { levels, source: 'torchvision DefaultBoxGenerator' };
}

export interface TorchvisionAnchorOptions {
  /** Pixel sizes per level (RetinaNet: torchvisionRetinaSizes()). */
  sizes: number[][];
  /** h/w ratios per level, or one list for every level. */
  aspectRatios: number[][] | number[];
  /** Pixel strides per level (torchvision derives them as image // feature map). */
  strides: Stride[];
  /** Size the pairs' scales are relative to; default the first size of the last level (512 for RetinaNet). */
  pairBase?: number;
}

/**
 * AnchorGenerator: per level ratio-major (all sizes of ratio 0, then ratio 1, ...), centred on 0, each coordinate
 * rounded half-to-even after float32 arithmetic (torch.round on float32 tensors).
 */
export function torchvisionAnchors(o: TorchvisionAnchorOptions): AnchorSet {
  const n = o.sizes.length;
  const ratiosOf = (l: number): number[] =>
    typeof o.aspectRatios[0] === 'number' ? (o.aspectRatios as number[]) : (o.aspectRatios as number[][])[l]!;
  if (typeof o.aspectRatios[0] !== 'number' && o.aspectRatios.length !== n) {
    throw configError(`AnchorGenerator has ${n} size lists but ${o.aspectRatios.length} aspect-ratio lists`);
  }
  if (o.strides.length !== n) throw configError(`AnchorGenerator has ${n} size lists but ${o.strides.length} strides`);
  const last = o.sizes[n - 1]!;
  const pairBase = o.pairBase ?? last[0]!;
  const f = Math.fround;
  const levels = o.sizes.map((sizes, l): AnchorLevel => {
    const base = ratiosOf(l).flatMap((r) => {
      const hr = f(Math.sqrt(f(r)));
      const wr = f(1 / hr);
      return sizes.map((size) => {
        const hw = f(f(wr * f(size)) / 2);
        const hh = f(f(hr * f(size)) / 2);
        return {
          x1: roundHalfEven(-hw),
          y1: roundHalfEven(-hh),
          x2: roundHalfEven(hw),
          y2: roundHalfEven(hh),
          pair: { scale: size / pairBase, ratio: r },
        };
      });
    });
    return { stride: pairOf(o.strides[l]!), base };
  });
  return { levels, source: 'torchvision AnchorGenerator' };
}

/** torchvision RetinaNet's sizes: per level (x, int(x*2^(1/3)), int(x*2^(2/3))) for x in 32..512. */
export function torchvisionRetinaSizes(): number[][] {
  return [32, 64, 128, 256, 512].map((x) => [x, Math.trunc(x * 2 ** (1 / 3)), Math.trunc(x * 2 ** (2 / 3))]);
}

/** torchvision's default scales: min + (max - min) * k / (n - 1) for each level, then 1.0 (n = 1: [min, max]). */
function defaultScales(n: number, min: number, max: number): number[] {
  if (n <= 1) return [min, max];
  return [...Array.from({ length: n }, (_, k) => min + ((max - min) * k) / (n - 1)), 1];
}
