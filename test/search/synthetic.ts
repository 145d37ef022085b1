// Seeded synthetic head outputs for the search tests: a few objects per image, each lighting up the anchors near it
// with a confident class and nearby boxes (so score cuts, top-k and NMS all have work), the rest background.
import type { LevelShape, PostprocessInput } from '../../src/postprocess/reference';
import type { PostprocessSpec } from '../../src/postprocess/spec';
import { labelColumn, foregroundCount } from '../../src/postprocess/spec';
import { gaussian, mulberry32 } from '../_support/prng';
import { perLevelMaps } from '../../src/postprocess/synthetic-heads';

export interface SynthLevel extends LevelShape {
  stride: number;
}

export const LEVELS: SynthLevel[] = [
  { h: 6, w: 8, anchorsPerLocation: 3, stride: 8 },
  { h: 3, w: 4, anchorsPerLocation: 2, stride: 16 },
  { h: 2, w: 2, anchorsPerLocation: 4, stride: 32 },
];

export function anchorCount(levels: LevelShape[]): number {
  return levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
}

/** Grid anchors in the spec's format: xyxy pixels, or cxcywh normalised by the 64x48 image. */
export function synthAnchors(levels: SynthLevel[], format: PostprocessSpec['anchorFormat']): Float32Array {
  const W = 64,
    H = 48;
  const rows: number[] = [];
  for (const l of levels) {
    for (let y = 0; y < l.h; y++) {
      for (let x = 0; x < l.w; x++) {
        for (let a = 0; a < l.anchorsPerLocation; a++) {
          const cx = (x + 0.5) * l.stride,
            cy = (y + 0.5) * l.stride;
          const s = l.stride * (1.5 + 0.5 * a);
          const w = s * (a % 2 ? 1.4 : 1),
            h = s * (a % 2 ? 0.7 : 1);
          if (format === 'xyxy') rows.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
          else rows.push(cx / W, cy / H, w / W, h / H);
        }
      }
    }
  }
  return Float32Array.from(rows);
}

export interface SynthOptions {
  levels?: SynthLevel[];
  numClasses: number;
  spec: PostprocessSpec;
  form?: 'concat' | 'per-level';
  seed: number;
  /** Round logits to this step so scores tie (exercises the anchor tie-break). */
  quantize?: number;
  /** Decoded boxes on whole pixels (so IoU lands exactly on thresholds like 0.5). */
  integerBoxes?: boolean;
}

/** One image's head outputs in the reference's input form. */
export function synthInput(o: SynthOptions): PostprocessInput {
  const levels = o.levels ?? LEVELS;
  const rnd = mulberry32(o.seed);
  const g = gaussian(rnd);
  const C = o.numClasses;
  const N = anchorCount(levels);
  const K = foregroundCount(o.spec, C);
  const scores = new Float32Array(N * C);
  const boxes = new Float32Array(N * 4);
  const objects = Array.from({ length: 3 }, () => ({ x: rnd() * 64, y: rnd() * 48, label: Math.floor(rnd() * K) }));
  let n = 0;
  for (const l of levels) {
    for (let y = 0; y < l.h; y++) {
      for (let x = 0; x < l.w; x++) {
        for (let a = 0; a < l.anchorsPerLocation; a++, n++) {
          const cx = (x + 0.5) * l.stride,
            cy = (y + 0.5) * l.stride;
          for (let j = 0; j < C; j++) scores[n * C + j] = g() - 1;
          for (const ob of objects) {
            const d = Math.hypot(ob.x - cx, ob.y - cy) / l.stride;
            if (d < 1.5) scores[n * C + labelColumn(o.spec, ob.label)] = 4 - d + 0.5 * g();
          }
          if (o.spec.background !== 'none') scores[n * C + (o.spec.background === 'first' ? 0 : C - 1)] = 1 + 0.3 * g();
          if (o.quantize)
            for (let j = 0; j < C; j++) scores[n * C + j] = Math.round(scores[n * C + j]! / o.quantize) * o.quantize;
          if (o.spec.decoder.type === 'none') {
            const w = l.stride * (1 + a),
              h = l.stride * (1 + 0.5 * a);
            const jx = o.integerBoxes ? Math.round(2 * g()) : g(),
              jy = o.integerBoxes ? Math.round(2 * g()) : g();
            boxes.set([cx - w / 2 + jx, cy - h / 2 + jy, cx + w / 2 + jx, cy + h / 2 + jy], 4 * n);
          } else {
            boxes.set([0.3 * g(), 0.3 * g(), 0.2 * g(), 0.2 * g()], 4 * n);
          }
        }
      }
    }
  }
  if (o.spec.scores === 'probabilities') {
    // softmax the rows, as a graph with the activation inside would
    for (let i = 0; i < N; i++) {
      const row = scores.subarray(i * C, (i + 1) * C);
      const m = Math.max(...row);
      const e = Array.from(row, (v) => Math.exp(v - m));
      const s = e.reduce((p, q) => p + q, 0);
      e.forEach((v, j) => (row[j] = o.quantize ? Math.round(v / s / o.quantize) * o.quantize : v / s));
    }
  }
  if ((o.form ?? 'concat') === 'concat') return { form: 'concat', scores, boxes };
  // per-level NCHW maps, channel c = a*K + k
  return { form: 'per-level', levels: perLevelMaps(levels, C, scores, boxes) };
}

/** Post-processing cases the oracle and the streamed evaluator are both proven on (preset text, classes, input form). */
export interface PostprocessCase {
  name: string;
  text: string;
  classes: number;
  form?: 'concat' | 'per-level';
  quantize?: number;
  integer?: boolean;
}

export const POSTPROCESS_CASES: PostprocessCase[] = [
  {
    name: 'softmax, background last, per-level top-k, per-class NMS, clip',
    text: 'mmdet-ssd300,score_thr=0.05,top_k=12,max_det=30,clip=64/48',
    classes: 5,
  },
  {
    name: 'probabilities, background first, global top-k, ssd decoder (ultraface)',
    text: 'ultraface,score_thr=0.3,top_k=25',
    classes: 3,
  },
  {
    name: 'sigmoid, agnostic NMS, no top-k, max_det 4 (early stop)',
    text: 'mmdet-retinanet,score_thr=0.2,top_k=0,nms=agnostic,max_det=4',
    classes: 4,
  },
  {
    name: 'per-level maps, torchvision decoder, global top-k',
    text: 'torchvision-retinanet,score_thr=0.1,top_k=30,top_k_scope=global,iou_thr=0.3',
    classes: 3,
    form: 'per-level',
  },
  {
    name: 'boxes decoded in the graph, tied scores',
    text: 'mmdet-ssd300,decoder=none,score_thr=0.1,top_k=15,iou_thr=0.4',
    classes: 4,
    quantize: 0.25,
  },
  {
    name: 'whole-pixel boxes with IoU exactly at the threshold (suppress only when >)',
    text: 'mmdet-ssd300,decoder=none,score_thr=0.1,top_k=0,iou_thr=0.5',
    classes: 3,
    integer: true,
  },
  {
    name: 'probabilities with tied scores, per-level cut',
    text: 'ultraface,score_thr=0.2,top_k=6,top_k_scope=per-level,iou_thr=0.45',
    classes: 3,
    quantize: 0.05,
  },
];
