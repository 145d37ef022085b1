// The dense path, kept as the reference the streamed one (stream-eval.ts) is proven against: scoring one candidate
// over every image from the oracle's candidate lists of all images packed into shared memory (so worker threads read
// them without copies), the walk that applies a removed set (oracle.ts), and the metric: COCO mAP@[.5:.95] against
// annotations, or fidelity against the full model's own detections. Memory grows with the photos (every pair above
// the threshold of every photo, 76 bytes each): search uses it only when asked (SearchOptions.evaluation 'dense').
import type { Detection } from '../postprocess/spec';
import type { CocoDetection, CocoGroundTruth } from '../eval/coco-data';
import { prepareGroundTruth, type PreparedGroundTruth } from '../eval/coco-eval';
import { scoreDetections } from '../eval/metric';
import { removedLookup, selectDetections, type CandidateList, type SelectParams } from './oracle';

/** Candidate lists of all images in shared memory (CandidateList's arrays, concatenated); image i's entries are start[i] .. start[i+1] - 1. */
export interface PackedTables extends CandidateList {
  images: number;
  start: Int32Array;
  /** Per entry the box as COCO [x, y, w, h] in the photo's pixels. */
  coco: Float64Array;
}

function shared<T extends Int32Array | Float64Array | Float32Array>(
  Ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  n: number,
): T {
  return new Ctor(new SharedArrayBuffer(Math.max(1, n) * Ctor.BYTES_PER_ELEMENT));
}

/** Pack per-image lists (and their COCO boxes) into SharedArrayBuffer-backed arrays. */
export function packTables(lists: readonly CandidateList[], coco: readonly Float64Array[]): PackedTables {
  const start = shared(Int32Array, lists.length + 1);
  lists.forEach((l, i) => (start[i + 1] = start[i]! + l.anchor.length));
  const n = start[lists.length]!;
  const t: PackedTables = {
    images: lists.length,
    start,
    anchor: shared(Int32Array, n),
    label: shared(Int32Array, n),
    level: shared(Int32Array, n),
    base: shared(Int32Array, n),
    score: shared(Float64Array, n),
    box: shared(Float32Array, 4 * n),
    area: shared(Float32Array, n),
    coco: shared(Float64Array, 4 * n),
  };
  lists.forEach((l, i) => {
    const o = start[i]!;
    t.anchor.set(l.anchor, o);
    t.label.set(l.label, o);
    t.level.set(l.level, o);
    t.base.set(l.base, o);
    t.score.set(l.score, o);
    t.box.set(l.box, 4 * o);
    t.area.set(l.area, o);
    t.coco.set(coco[i]!, 4 * o);
  });
  return t;
}

/** How candidates are scored. fidelity: raw mAP / divisor (the full model's own raw mAP), capped at 1. */
export interface MetricSpec {
  kind: 'coco' | 'fidelity';
  gt: CocoGroundTruth;
  /** COCO image id of each image index. */
  imageIds: number[];
  /** COCO category id of each foreground label. */
  categoryIds: number[];
  divisor: number;
}

export interface EvaluatorData {
  tables: PackedTables;
  select: SelectParams;
  /** Base anchors over all levels. */
  totalBase: number;
  metric?: MetricSpec;
}

export interface CandidateScore {
  map: number;
  fingerprint: string;
}

/** Evaluates removed sets against one set of tables; keeps grow-only scratch, so one instance per thread. */
export class CandidateEvaluator {
  private readonly gt: PreparedGroundTruth | undefined;
  private readonly kept: Int32Array;
  private readonly count: Int32Array;
  private readonly perLevel: Int32Array;

  constructor(readonly data: EvaluatorData) {
    this.gt = data.metric ? prepareGroundTruth(data.metric.gt) : undefined;
    this.kept = new Int32Array(Math.max(1, data.tables.images * data.select.maxDetections));
    this.count = new Int32Array(data.tables.images);
    this.perLevel = new Int32Array(data.select.levels);
  }

  /** Run the walk for every image; results in this.kept / this.count. */
  private select(removed: readonly number[]): void {
    const { tables: t, select: p } = this.data;
    const gone = removedLookup(removed, this.data.totalBase);
    const M = p.maxDetections;
    for (let i = 0; i < t.images; i++) {
      this.count[i] = selectDetections(
        t,
        t.start[i]!,
        t.start[i + 1]!,
        gone,
        p,
        this.kept.subarray(i * M, (i + 1) * M),
        this.perLevel,
      );
    }
  }

  /** Per image, the candidate's detections (the reference's Detection objects, boxes in model units). */
  detections(removed: readonly number[]): Detection[][] {
    this.select(removed);
    const t = this.data.tables,
      M = this.data.select.maxDetections;
    return Array.from({ length: t.images }, (_, i) =>
      Array.from(this.kept.subarray(i * M, i * M + this.count[i]!), (e) => ({
        box: [t.box[4 * e]!, t.box[4 * e + 1]!, t.box[4 * e + 2]!, t.box[4 * e + 3]!] as [
          number,
          number,
          number,
          number,
        ],
        score: t.score[e]!,
        label: t.label[e]!,
        anchor: t.anchor[e]!,
      })),
    );
  }

  /** The candidate's detections as COCO results (photo pixels), for the given image and category ids. */
  cocoDetections(
    removed: readonly number[],
    imageIds: readonly number[],
    categoryIds: readonly number[],
  ): CocoDetection[] {
    this.select(removed);
    return this.collect(imageIds, categoryIds);
  }

  private collect(imageIds: readonly number[], categoryIds: readonly number[]): CocoDetection[] {
    const t = this.data.tables,
      M = this.data.select.maxDetections;
    const out: CocoDetection[] = [];
    for (let i = 0; i < t.images; i++) {
      for (let q = 0; q < this.count[i]!; q++) {
        const e = this.kept[i * M + q]!;
        out.push({
          image_id: imageIds[i]!,
          category_id: categoryIds[t.label[e]!]!,
          bbox: [t.coco[4 * e]!, t.coco[4 * e + 1]!, t.coco[4 * e + 2]!, t.coco[4 * e + 3]!],
          score: t.score[e]!,
        });
      }
    }
    return out;
  }

  /** Identity of the current selection: a 64-bit hash of (image, entry) of every detection, as hex. */
  private fingerprint(): string {
    const M = this.data.select.maxDetections;
    let h1 = 0x811c9dc5 | 0,
      h2 = 0x9e3779b9 | 0;
    for (let i = 0; i < this.count.length; i++) {
      const c = this.count[i]!;
      h1 = Math.imul(h1 ^ (c + 0x1000 * i), 0x01000193);
      h2 = Math.imul(h2 ^ (c * 31 + i), 0x5bd1e995);
      for (let q = 0; q < c; q++) {
        const e = this.kept[i * M + q]!;
        h1 = Math.imul(h1 ^ e, 0x01000193);
        h2 = Math.imul(h2 ^ (e + 0x632be5ab), 0x5bd1e995);
        h2 ^= h2 >>> 15;
      }
    }
    return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  }

  /** evaluate() of each removed set. */
  evaluateBatch(sets: readonly (readonly number[])[]): CandidateScore[] {
    return sets.map((r) => this.evaluate(r));
  }

  /** mAP (COCO or fidelity) and detection fingerprint of a removed set. */
  evaluate(removed: readonly number[]): CandidateScore {
    const m = this.data.metric;
    if (!m || !this.gt) throw new Error('CandidateEvaluator.evaluate needs a metric');
    this.select(removed);
    const fingerprint = this.fingerprint();
    return { map: scoreDetections(m, this.collect(m.imageIds, m.categoryIds), this.gt), fingerprint };
  }
}
