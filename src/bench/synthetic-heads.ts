// Head outputs shaped like a trained detector's, for benchmarking post-processing on models with random weights:
// a few objects per image; anchors overlapping an object (IoU > 0.5) score high for its class, the rest favour the
// background. Used by `prunedet bench` (and verify's extra C-module input) where no real photos or weights exist.
import { anchorsCenterSize } from '../postprocess/reference';
import { backgroundColumn, foregroundCount, labelColumn, type PostprocessSpec } from '../postprocess/spec';
import { gaussian, mulberry32 } from '../prng';

export interface SyntheticHeads {
  /** [N, C] score columns (logits, or probabilities when the spec says so). */
  scores: Float32Array;
  /** [N, 4] deltas (or decoded xyxy boxes for decoder 'none'). */
  boxes: Float32Array;
  /** The planted objects: x1, y1, x2, y2 (anchor units) and label. */
  objects: [number, number, number, number, number][];
}

function iou(a: ArrayLike<number>, ai: number, b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[ai + 2]!, b[2]!) - Math.max(a[ai]!, b[0]!));
  const iy = Math.max(0, Math.min(a[ai + 3]!, b[3]!) - Math.max(a[ai + 1]!, b[1]!));
  const inter = ix * iy;
  const ua = (a[ai + 2]! - a[ai]!) * (a[ai + 3]! - a[ai + 1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return ua > 0 ? inter / ua : 0;
}

/**
 * Seeded synthetic head outputs for anchors `anchors` ([N, 4] in spec.anchorFormat) and `numClasses` columns: `objects`
 * objects centred near random anchors, or, given a list of anchor indices, one object near each of them (verify plants
 * objects on every level this way, so that every level's anchors detect something).
 */
export function syntheticHeadOutputs(spec: PostprocessSpec, numClasses: number, anchors: Float32Array, seed: number, objects: number | readonly number[] = 5): SyntheticHeads {
  const rand = mulberry32(seed);
  const gauss = gaussian(rand);
  const n = anchors.length / 4;
  const c = numClasses;
  const labels = foregroundCount(spec, c);
  const cs = anchorsCenterSize(anchors, spec.anchorFormat);
  const xyxy = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [cx, cy, w, h] = [cs[4 * i]!, cs[4 * i + 1]!, cs[4 * i + 2]!, cs[4 * i + 3]!];
    xyxy.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 4 * i);
  }
  const planted: [number, number, number, number, number][] = [];
  const count = typeof objects === 'number' ? objects : objects.length;
  for (let o = 0; o < count && n > 0; o++) {
    const i = typeof objects === 'number' ? Math.floor(rand() * n) : objects[o]!;
    const [cx, cy, w, h] = [cs[4 * i]!, cs[4 * i + 1]!, cs[4 * i + 2]! * (0.85 + 0.3 * rand()), cs[4 * i + 3]! * (0.85 + 0.3 * rand())];
    const dx = (rand() - 0.5) * 0.2 * w;
    const dy = (rand() - 0.5) * 0.2 * h;
    planted.push([cx + dx - w / 2, cy + dy - h / 2, cx + dx + w / 2, cy + dy + h / 2, Math.floor(rand() * labels)]);
  }
  const sigmoidLike = spec.scores === 'sigmoid' || (spec.scores === 'probabilities' && spec.background === 'none');
  const bg = backgroundColumn(spec, c);
  const logits = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let label = -1;
    for (const p of planted) {
      const v = iou(xyxy, 4 * i, p);
      if (v > best) {
        best = v;
        label = p[4];
      }
    }
    const matched = best > 0.5;
    for (let j = 0; j < c; j++) logits[i * c + j] = sigmoidLike ? -6 + 0.8 * gauss() : j === bg ? 6 + 0.5 * gauss() : -1 + 0.8 * gauss();
    if (matched) {
      logits[i * c + labelColumn(spec, label)] = (sigmoidLike ? 0 : 6) + 8 * (best - 0.5) + 0.5 * gauss();
      if (bg >= 0) logits[i * c + bg] = 1 + 0.5 * gauss();
    }
  }
  let scores = logits;
  if (spec.scores === 'probabilities') {
    scores = new Float32Array(n * c);
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let j = 0; j < c; j++) m = Math.max(m, logits[i * c + j]!);
      let sum = 0;
      for (let j = 0; j < c; j++) sum += Math.exp(logits[i * c + j]! - m);
      for (let j = 0; j < c; j++) {
        const z = logits[i * c + j]!;
        scores[i * c + j] = sigmoidLike ? 1 / (1 + Math.exp(-z)) : Math.exp(z - m) / sum;
      }
    }
  }
  const boxes = new Float32Array(n * 4);
  if (spec.decoder.type === 'none') {
    for (let i = 0; i < n; i++) {
      const s = 0.05 * (xyxy[4 * i + 2]! - xyxy[4 * i]!);
      for (let k = 0; k < 4; k++) boxes[4 * i + k] = xyxy[4 * i + k]! + s * gauss();
    }
  } else {
    for (let i = 0; i < 4 * n; i++) boxes[i] = 0.3 * gauss();
  }
  return { scores, boxes, objects: planted };
}

/** Concatenated [N, C] / [N, 4] outputs -> per-level NCHW maps (channel a*K + k), levels finest first. */
export function perLevelMaps(levels: readonly { h: number; w: number; anchorsPerLocation: number }[], numClasses: number, scores: Float32Array, boxes: Float32Array): { cls: Float32Array; reg: Float32Array }[] {
  let off = 0;
  return levels.map((l) => {
    const hw = l.h * l.w;
    const A = l.anchorsPerLocation;
    const cls = new Float32Array(A * numClasses * hw);
    const reg = new Float32Array(A * 4 * hw);
    for (let p = 0; p < hw; p++) {
      for (let a = 0; a < A; a++) {
        const n = off + p * A + a;
        for (let k = 0; k < numClasses; k++) cls[(a * numClasses + k) * hw + p] = scores[n * numClasses + k]!;
        for (let j = 0; j < 4; j++) reg[(a * 4 + j) * hw + p] = boxes[n * 4 + j]!;
      }
    }
    off += hw * A;
    return { cls, reg };
  });
}
