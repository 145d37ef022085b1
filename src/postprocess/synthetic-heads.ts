// Head outputs shaped like a trained detector's, for benchmarking post-processing on models with random weights:
// a few objects per image; anchors overlapping an object (IoU > 0.5) score high for its class, the rest favour the
// background. Used by `prunedet bench` (the `light` load; loads.ts builds the others on the same pieces) and by
// verify's extra C-module input, where no real photos or weights exist.
import { anchorsCenterSize } from './reference';
import { backgroundColumn, foregroundCount, labelColumn, type PostprocessSpec } from './spec';
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

/** The pieces every synthetic load is built from: the anchors as boxes, the planted objects, which anchors match. */
export interface Scene {
  n: number;
  c: number;
  /** Whether scores behave like independent sigmoids (no softmax competition). */
  sigmoidLike: boolean;
  /** Background column or -1. */
  bg: number;
  xyxy: Float32Array;
  objects: [number, number, number, number, number][];
  /** Per anchor: IoU with its best-matching object when > 0.5, else 0; and that object's label. */
  matchIou: Float64Array;
  matchLabel: Int32Array;
}

/**
 * Anchors as xyxy boxes and planted objects (drawn from `rand`), with each anchor's best match: `objects` of them
 * centred near random anchors, one near each anchor of a list (verify plants objects on every level this way, so that
 * every level's anchors detect something), or as many as it takes (at most 1000) for `{ rows }` anchors to match one.
 */
export function plantScene(
  spec: PostprocessSpec,
  numClasses: number,
  anchors: Float32Array,
  rand: () => number,
  objects: number | readonly number[] | { rows: number },
): Scene {
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
  const best = new Float64Array(n);
  const bestLabel = new Int32Array(n).fill(-1);
  let matched = 0;
  const list = Array.isArray(objects) ? (objects as readonly number[]) : undefined;
  const enough = () =>
    typeof objects === 'number'
      ? planted.length >= objects
      : list
        ? planted.length >= list.length
        : matched >= (objects as { rows: number }).rows || planted.length >= 1000;
  while (n > 0 && !enough()) {
    const i = list ? list[planted.length]! : Math.floor(rand() * n);
    const [cx, cy, w, h] = [
      cs[4 * i]!,
      cs[4 * i + 1]!,
      cs[4 * i + 2]! * (0.85 + 0.3 * rand()),
      cs[4 * i + 3]! * (0.85 + 0.3 * rand()),
    ];
    const dx = (rand() - 0.5) * 0.2 * w;
    const dy = (rand() - 0.5) * 0.2 * h;
    const p: [number, number, number, number, number] = [
      cx + dx - w / 2,
      cy + dy - h / 2,
      cx + dx + w / 2,
      cy + dy + h / 2,
      Math.floor(rand() * labels),
    ];
    planted.push(p);
    // each anchor keeps its best object (the first of equals), as one pass over all objects would
    for (let a = 0; a < n; a++) {
      const v = iou(xyxy, 4 * a, p);
      if (v > best[a]!) {
        if (best[a]! <= 0.5 && v > 0.5) matched++;
        best[a] = v;
        bestLabel[a] = p[4];
      }
    }
  }
  const matchIou = new Float64Array(n);
  const matchLabel = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (best[i]! > 0.5) {
      matchIou[i] = best[i]!;
      matchLabel[i] = bestLabel[i]!;
    }
  }
  const sigmoidLike = spec.scores === 'sigmoid' || (spec.scores === 'probabilities' && spec.background === 'none');
  return { n, c, sigmoidLike, bg: backgroundColumn(spec, c), xyxy, objects: planted, matchIou, matchLabel };
}

/** An anchor matched to an object: its label's logit high (more so the better the match), the background low. */
export function plantedRow(
  spec: PostprocessSpec,
  scene: Scene,
  i: number,
  logits: Float32Array,
  gauss: () => number,
): void {
  const c = scene.c;
  logits[i * c + labelColumn(spec, scene.matchLabel[i]!)] =
    (scene.sigmoidLike ? 0 : 6) + 8 * (scene.matchIou[i]! - 0.5) + 0.5 * gauss();
  if (scene.bg >= 0) logits[i * c + scene.bg] = 1 + 0.5 * gauss();
}

/** Logits -> what the head outputs per spec.scores (probabilities: softmax over the row, or sigmoid). */
export function headScores(spec: PostprocessSpec, scene: Scene, logits: Float32Array): Float32Array {
  if (spec.scores !== 'probabilities') return logits;
  const { n, c } = scene;
  const scores = new Float32Array(n * c);
  for (let i = 0; i < n; i++) probabilityRow(scene.sigmoidLike, logits, i * c, c, scores);
  return scores;
}

/** Probabilities of one row of logits (softmax, or a sigmoid per column) into out at the same offset. */
export function probabilityRow(
  sigmoidLike: boolean,
  logits: Float32Array,
  o: number,
  c: number,
  out: Float32Array,
): void {
  let m = -Infinity;
  for (let j = 0; j < c; j++) m = Math.max(m, logits[o + j]!);
  let sum = 0;
  for (let j = 0; j < c; j++) sum += Math.exp(logits[o + j]! - m);
  for (let j = 0; j < c; j++) {
    const z = logits[o + j]!;
    out[o + j] = sigmoidLike ? 1 / (1 + Math.exp(-z)) : Math.exp(z - m) / sum;
  }
}

/** Box regression outputs: small random deltas, or (decoder none) the anchors as boxes moved a little. */
export function syntheticBoxes(spec: PostprocessSpec, scene: Scene, gauss: () => number): Float32Array {
  const { n, xyxy } = scene;
  const boxes = new Float32Array(n * 4);
  if (spec.decoder.type === 'none') {
    for (let i = 0; i < n; i++) {
      const s = 0.05 * (xyxy[4 * i + 2]! - xyxy[4 * i]!);
      for (let k = 0; k < 4; k++) boxes[4 * i + k] = xyxy[4 * i + k]! + s * gauss();
    }
  } else {
    for (let i = 0; i < 4 * n; i++) boxes[i] = 0.3 * gauss();
  }
  return boxes;
}

/**
 * Seeded synthetic head outputs for anchors `anchors` ([N, 4] in spec.anchorFormat) and `numClasses` columns: `objects`
 * objects centred near random anchors, or one near each anchor of a list (see plantScene).
 */
export function syntheticHeadOutputs(
  spec: PostprocessSpec,
  numClasses: number,
  anchors: Float32Array,
  seed: number,
  objects: number | readonly number[] = 5,
): SyntheticHeads {
  const rand = mulberry32(seed);
  const gauss = gaussian(rand);
  const scene = plantScene(spec, numClasses, anchors, rand, objects);
  const { n, c, bg, sigmoidLike } = scene;
  const logits = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++)
      logits[i * c + j] = sigmoidLike ? -6 + 0.8 * gauss() : j === bg ? 6 + 0.5 * gauss() : -1 + 0.8 * gauss();
    if (scene.matchLabel[i]! >= 0) plantedRow(spec, scene, i, logits, gauss);
  }
  const scores = headScores(spec, scene, logits);
  return { scores, boxes: syntheticBoxes(spec, scene, gauss), objects: scene.objects };
}

/** Concatenated [N, C] / [N, 4] outputs -> per-level NCHW maps (channel a*K + k), levels finest first. */
export function perLevelMaps(
  levels: readonly { h: number; w: number; anchorsPerLocation: number }[],
  numClasses: number,
  scores: Float32Array,
  boxes: Float32Array,
): { cls: Float32Array; reg: Float32Array }[] {
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
