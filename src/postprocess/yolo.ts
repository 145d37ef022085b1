// YOLO rows for the post-processing: the anchor rows the grid decoders read ((grid x, grid y, anchor w, anchor h) per
// anchor, prunedet's (level, y, x, a) order), the presets' standard anchor sizes, and seeded synthetic YOLO rows
// (light to heavy loads) for tests and benchmarks.
import { PrunedetError } from '../errors';
import { f32 } from './float32';
import {
  decodeBox,
  levelOffsets as levelOffsetsOf,
  objectnessScores,
  type LevelShape,
  type PostprocessInput,
} from './reference';
import type { PostprocessSpec } from './spec';
import type { DetectorSpec, OutputBinding } from '../detector/spec';

/** Anchor sizes [w, h] in pixels per level (P3, P4, P5), as the projects' model configs give them. */
/** yolov5s.yaml .. yolov5x.yaml's P3-P5 anchors [w, h]; yolov3.cfg / ultralytics yolov3.yaml list the same nine. */
const V5_ANCHORS: readonly (readonly [number, number])[][] = [
  [
    [10, 13],
    [16, 30],
    [33, 23],
  ],
  [
    [30, 61],
    [62, 45],
    [59, 119],
  ],
  [
    [116, 90],
    [156, 198],
    [373, 326],
  ],
];

/** Anchor sizes [w, h] in pixels per level (P3, P4, P5), as the projects' model configs give them. */
export const YOLO_STANDARD_ANCHORS: Readonly<Record<string, readonly (readonly [number, number])[][]>> = {
  yolov5: V5_ANCHORS,
  yolov3: V5_ANCHORS,
  // yolov7.yaml
  yolov7: [
    [
      [12, 16],
      [19, 36],
      [40, 28],
    ],
    [
      [36, 75],
      [76, 55],
      [72, 146],
    ],
    [
      [142, 110],
      [192, 243],
      [459, 401],
    ],
  ],
};

/**
 * The grid decoders' anchor table: row n = (level l, position p = y·W + x, anchor a) is (x, y, w_la, h_la), float.
 * `sizes[l][a]` are the kept anchors' [w, h] of level l, in the order the head lists them.
 */
export function yoloAnchorRows(
  levels: readonly LevelShape[],
  sizes: readonly (readonly (readonly [number, number])[])[],
): Float32Array {
  if (sizes.length !== levels.length || levels.some((l, i) => sizes[i]!.length !== l.anchorsPerLocation)) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `the YOLO anchor sizes (${sizes.map((s) => s.length).join(',')} per level) do not fit the head (${levels.map((l) => l.anchorsPerLocation).join(',')})`,
      'give one [w, h] per kept anchor of every level',
    );
  }
  const n = levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
  const out = new Float32Array(n * 4);
  let o = 0;
  levels.forEach((l, li) => {
    for (let y = 0; y < l.h; y++)
      for (let x = 0; x < l.w; x++)
        for (const [w, h] of sizes[li]!) {
          out[o++] = x;
          out[o++] = y;
          out[o++] = w;
          out[o++] = h;
        }
  });
  return out;
}

/**
 * Seeded YOLO rows per level [A, H, W, 5 + C] like a trained head's: background rows with low objectness logits,
 * `objects` objects each lighting up a few neighbouring rows of one level with high objectness and one dominant class
 * (plus a few runner-up classes near the threshold). `decoded` gives the probabilities-and-pixels form a decoded
 * export outputs (sigmoid applied, boxes xywh centre in pixels). Load: more objects = more candidates.
 */
export function syntheticYoloRows(
  levels: readonly LevelShape[],
  classes: number,
  o: { seed: number; objects: number; decoded?: boolean; background?: number; at?: readonly number[] },
): Float32Array[] {
  let s = o.seed >>> 0 || 1;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const K = 5 + classes;
  const bg = o.background ?? -6;
  const rows = levels.map((l) => {
    const r = new Float32Array(l.h * l.w * l.anchorsPerLocation * K);
    for (let i = 0; i < r.length; i += K) {
      for (let j = 0; j < 4; j++) r[i + j] = f32((rand() - 0.5) * 2);
      r[i + 4] = f32(bg + (rand() - 0.5) * 4);
      for (let j = 5; j < K; j++) r[i + j] = f32(-4 + (rand() - 0.5) * 6);
    }
    return r;
  });
  const live = levels.map((l, i) => [i, l] as const).filter(([, l]) => l.h * l.w * l.anchorsPerLocation > 0);
  for (let k = 0; k < o.objects && live.length; k++) {
    const [li, l] = live[Math.floor(rand() * live.length)]!;
    const cls = Math.floor(rand() * classes);
    const cx = Math.floor(rand() * l.w);
    const cy = Math.floor(rand() * l.h);
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= l.w || y >= l.h) continue;
        const a = Math.floor(rand() * l.anchorsPerLocation);
        const i = ((a * l.h + y) * l.w + x) * K;
        const r = rows[li]!;
        r[i + 4] = f32(1 + rand() * 4);
        r[i + 5 + cls] = f32(1 + rand() * 4);
        for (let m = 0; m < 3; m++) r[i + 5 + Math.floor(rand() * classes)] = f32(-1.5 + rand() * 2);
      }
  }
  // objects at given anchors (prunedet's (level, y, x, a) index): confident objectness and one class
  let first = 0;
  levels.forEach((l, li) => {
    const count = l.h * l.w * l.anchorsPerLocation;
    for (const n of o.at ?? []) {
      if (n < first || n >= first + count) continue;
      const p = Math.floor((n - first) / l.anchorsPerLocation);
      const a = (n - first) % l.anchorsPerLocation;
      const i = (a * l.h * l.w + p) * K;
      rows[li]![i + 4] = f32(2 + rand() * 3);
      rows[li]![i + 5 + ((n * 7 + o.seed) % classes)] = f32(2 + rand() * 3);
    }
    first += count;
  });
  if (o.decoded) {
    const sig = (x: number) => f32(1 / (1 + Math.exp(-x)));
    levels.forEach((l, li) => {
      const r = rows[li]!;
      const stride = l.pixelStride ?? [8, 8];
      for (let i = 0; i < r.length; i += K) {
        const p = (i / K) % (l.h * l.w);
        r[i] = f32(((p % l.w) + 0.5 + r[i]!) * stride[1]);
        r[i + 1] = f32((Math.floor(p / l.w) + 0.5 + r[i + 1]!) * stride[0]);
        r[i + 2] = f32(stride[1] * (3 + 2 * r[i + 2]!));
        r[i + 3] = f32(stride[0] * (3 + 2 * r[i + 3]!));
        for (let j = 4; j < K; j++) r[i + j] = sig(r[i + j]!);
      }
    });
  }
  return rows;
}

/** Whether `det`'s outputs are YOLO rows: (a, y, x) rows holding box 4 + objectness 1 + classes. */
export function yoloRowOutputs(det: DetectorSpec): OutputBinding[] | undefined {
  const rows = det.outputs.filter((o) => o.kind === 'rows' && o.rowOrder === 'anchor-major');
  const yolo = (o: OutputBinding) =>
    o.columns.some((c) => c.role === 'boxes' && c.offset === 0 && c.size === 4) &&
    o.columns.some((c) => c.role === 'objectness' && c.offset === 4 && c.size === 1) &&
    o.columns.some((c) => c.role === 'scores' && c.offset === 5);
  if (rows.length === 0 || !rows.every(yolo)) return undefined;
  return rows.sort((a, b) => (a.levels[0] ?? 0) - (b.levels[0] ?? 0));
}

/** Whether the graph decodes the YOLO boxes itself (arithmetic between the head conv and the rows output). */
export function yoloDecodedInGraph(outs: readonly OutputBinding[]): boolean {
  return outs.some((o) => o.ops.some((op) => ['Sigmoid', 'Mul', 'Add', 'Pow', 'Exp'].includes(op)));
}

/**
 * The kept anchors' sizes per level: the graph's anchor_grid (analysis) when it has one, else the preset's standard
 * anchors (the baseline's, restricted to `kept`).
 */
export function yoloAnchorSizesFor(
  det: DetectorSpec,
  presetName: string,
  kept: readonly (readonly number[])[],
): { sizes: [number, number][][]; source: string; standard: boolean } {
  if (det.yoloAnchors)
    return {
      sizes: det.yoloAnchors.sizes.map((l) => l.map(([w, h]) => [w, h])),
      source: det.yoloAnchors.source,
      standard: false,
    };
  const std = YOLO_STANDARD_ANCHORS[presetName];
  if (!std || std.length !== kept.length || kept.some((k, l) => k.some((a) => a >= std[l]!.length))) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `the model's raw YOLO rows need anchor sizes: its graph has no anchor_grid and ${std ? `preset ${presetName}'s ${std.length} levels x 3 standard anchors do not fit its ${kept.length} levels` : `preset ${presetName} has no standard anchors`}`,
      'use the preset the model was trained with (yolov5, yolov7, yolov3), or export it with the decode in the graph',
    );
  }
  return {
    sizes: kept.map((k, l) => k.map((a) => [std[l]![a]![0], std[l]![a]![1]] as [number, number])),
    source: `preset ${presetName}'s standard anchors`,
    standard: true,
  };
}

/** The reference's YOLO input from a run: per level the rows of the model's outputs (a fused output split by level). */
export function yoloInput(
  det: DetectorSpec,
  outs: readonly OutputBinding[],
  outputs: Record<string, { data: Float32Array }>,
  levels: readonly LevelShape[],
  k: number,
): PostprocessInput {
  const parts: Float32Array[] = [];
  for (const o of outs) {
    const got = outputs[o.name];
    if (!got)
      throw new PrunedetError(
        'E_POSTPROCESS',
        `the head output ${o.name} is missing from the run`,
        'run the whole model',
      );
    let off = 0;
    for (const l of o.levels) {
      const n = det.levels[l]!.boxes * k;
      parts.push(got.data.subarray(off, off + n));
      off += n;
    }
  }
  let next = 0;
  return {
    form: 'yolo',
    levels: levels.map((l) => (l.h * l.w * l.anchorsPerLocation === 0 ? new Float32Array(0) : parts[next++]!)),
  };
}

/** YOLO rows of the kept anchors only (per level, the kept anchors' planes in order). */
export function gatherKeptYolo(
  x: Extract<PostprocessInput, { form: 'yolo' }>,
  levels: readonly LevelShape[],
  kept: readonly (readonly number[])[],
  k: number,
): PostprocessInput {
  return {
    form: 'yolo',
    levels: x.levels.map((rows, l) => {
      const plane = levels[l]!.h * levels[l]!.w * k;
      const out = new Float32Array(kept[l]!.length * plane);
      kept[l]!.forEach((a, j) => out.set(rows.subarray(a * plane, (a + 1) * plane), j * plane));
      return out;
    }),
  };
}

/** A flat YOLO input (levels one after another) split back into levels. */
export function splitYoloRows(x: Float32Array, levels: readonly LevelShape[], k: number): PostprocessInput {
  let off = 0;
  return {
    form: 'yolo',
    levels: levels.map((l) => x.subarray(off, (off += l.h * l.w * l.anchorsPerLocation * k))),
  };
}

/**
 * The same post-processing on precomputed (scores, boxes): for search, whose evaluators read concatenated rows. Each
 * anchor's label scores are act(o)·act(class), 0 where the objectness rule or labels=best excludes the pair (0 never
 * passes a threshold >= 0), and its box decoded (unclipped: decoder none clips as the YOLO decoders would). The
 * result's detections equal the YOLO post-processing's on every input and every suppressed-anchor mask.
 */
export function yoloAsScoresAndBoxes(pp: {
  spec: PostprocessSpec;
  anchors: Float32Array;
  levels: LevelShape[];
  numClasses: number;
}): {
  spec: PostprocessSpec;
  numClasses: number;
  toInput: (x: PostprocessInput) => PostprocessInput;
} {
  const src = pp.spec;
  const k = pp.numClasses - 1;
  const spec: PostprocessSpec = { ...src, decoder: { type: 'none' }, scores: 'probabilities', anchorFormat: 'xyxy' };
  delete spec.objectness;
  delete spec.bestLabel;
  const noClip: PostprocessSpec = { ...src };
  delete noClip.clip;
  const thr = f32(src.scoreThreshold);
  const toInput = (x: PostprocessInput): PostprocessInput => {
    if (x.form !== 'yolo') throw new PrunedetError('E_POSTPROCESS', 'expected YOLO rows', 'run a YOLO preset');
    const offsets = levelOffsetsOf(pp.levels);
    const n = offsets.at(-1)!;
    const scores = new Float32Array(n * k);
    const boxes = new Float32Array(n * 4);
    const K = pp.numClasses + 4;
    pp.levels.forEach((l, li) => {
      const hw = l.h * l.w;
      const rows = x.levels[li]!;
      for (let p = 0; p < hw; p++)
        for (let a = 0; a < l.anchorsPerLocation; a++) {
          const anchor = offsets[li]! + p * l.anchorsPerLocation + a;
          const base = (a * hw + p) * K;
          const col = (j: number) => rows[base + 4 + j]!;
          for (const c of objectnessScores(src, col, k, thr)) scores[anchor * k + c.label] = c.score;
          const d = [rows[base]!, rows[base + 1]!, rows[base + 2]!, rows[base + 3]!] as [
            number,
            number,
            number,
            number,
          ];
          boxes.set(decodeBox(noClip, d, pp.anchors.subarray(anchor * 4, anchor * 4 + 4), l.pixelStride), anchor * 4);
        }
    });
    return { form: 'concat', scores, boxes };
  };
  return { spec, numClasses: k, toInput };
}
