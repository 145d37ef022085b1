// Scoring candidates from the sparse cache with memory bounded independently of the number of photos: a batch of
// removed sets is evaluated in one pass over the photos, a chunk of photos at a time (records read from the cache
// folder, box decoding done lazily, only for the pairs a walk reaches). Per photo and candidate: the oracle's walk
// (the removed anchors' pairs skipped, per-level / global top-k, greedy NMS in rank order; what oracle.ts's
// selectDetections does on the dense tables, entry for entry), the detection fingerprint, and COCOeval's per-image
// matching (coco-eval.ts matchImage) whose partial statistics accumulate per candidate (coco-accumulate.ts) and are
// merged at the end as COCOeval's accumulate() does. Fidelity mode builds each chunk's ground truth from the full
// model's detections on it (their entries are kept from the calibration pass: <= maxDetections ints per photo).
// Held at once: one chunk of records (+ their decoded boxes) and 33 bytes per kept detection per candidate in flight.
import { PrunedetError } from '../errors';
import type { CocoGroundTruth } from '../eval/coco-data';
import { CocoAccumulator, PreparedGroundTruth, type GroundTruthArrays, type ImageDetections } from '../eval/coco-eval';
import type { AccumulatorRecords } from '../eval/coco-accumulate';
import { A, MAX_DET } from '../eval/coco-params';
import { resizeGeometry, type PreprocessOptions, type ResizeGeometry } from '../image/preprocess';
import { f32 } from '../postprocess/float32';
import { anchorsCenterSize, type LevelShape } from '../postprocess/reference';
import { foregroundCount, type Detection, type PostprocessSpec } from '../postprocess/spec';
import { boxDecoder, type BoxDecoder } from './box-decode';
import { cachePath } from './cache';
import type { CandidateScore } from './evaluator';
import { toImageXywh, type BoxUnits } from '../image/inputs';
import { keptIou, removedLookup, type SelectParams } from './oracle';
import type { PhotoRecord } from './sparse-cache';
import { RecordReader, type RecordExpectation, type SparseRecord } from './sparse-record';

/** How candidates are scored (plain data: it crosses to worker threads). */
export interface StreamMetric {
  kind: 'coco' | 'fidelity';
  /** COCO image id of each photo. */
  imageIds: number[];
  /** COCO category id of each foreground label. */
  categoryIds: number[];
  /** COCO mode: the annotations of the photos. */
  gt?: CocoGroundTruth;
  /** Fidelity mode: raw mAP / divisor (the full model's own raw mAP), capped at 1. */
  divisor: number;
  /** Fidelity mode: the full model's detections, as entries of each photo's pairs (photo i: fullStart[i] ..). */
  fullKept?: Int32Array;
  fullStart?: Float64Array;
}

/** Everything a StreamEvaluator (or a worker) is built from. */
export interface StreamData {
  cacheDir: string;
  photos: PhotoRecord[];
  expect: RecordExpectation;
  spec: PostprocessSpec;
  levels: LevelShape[];
  numClasses: number;
  /** Anchor table in spec.anchorFormat (the post-processing's). */
  anchors: Float32Array;
  preprocess: PreprocessOptions;
  units: BoxUnits;
  select: SelectParams;
  /** Base anchors over all levels. */
  totalBase: number;
  metric: StreamMetric;
  /** Photos held at once (default 16). */
  chunk?: number;
}

export const DEFAULT_PHOTO_CHUNK = 16;

const pos = (v: number) => (v > 0 ? v : 0);

/** One photo of the current chunk: its record (read a block at a time, as far as walks go) and its decoded boxes. */
class LoadedPhoto {
  readonly reader = new RecordReader();
  index = -1;
  /** Pairs above the threshold; entry e of this photo is global entry start + e (the dense tables' numbering). */
  count = 0;
  start = 0;
  geometry!: ResizeGeometry;
  box = new Float32Array(0);
  area = new Float32Array(0);
  decoded = new Uint8Array(0);
  coco = new Float64Array(0);
  cocoDone = new Uint8Array(0);

  get record(): SparseRecord {
    return this.reader.record;
  }

  load(index: number, count: number, start: number, geometry: ResizeGeometry): void {
    this.index = index;
    this.count = count;
    this.start = start;
    this.geometry = geometry;
    const U = this.reader.record.anchors.length;
    if (this.decoded.length < U) {
      const size = Math.max(U, 2 * this.decoded.length);
      this.box = new Float32Array(4 * size);
      this.area = new Float32Array(size);
      this.decoded = new Uint8Array(size);
      this.coco = new Float64Array(4 * size);
      this.cocoDone = new Uint8Array(size);
    }
    this.decoded.fill(0);
    this.cocoDone.fill(0);
  }
}

interface Candidate {
  gone: Uint8Array;
  acc: CocoAccumulator;
  /** Walked on its own on some photo (otherwise it has the batch's common set's detections everywhere). */
  fresh: boolean;
  /** Kept pairs per photo of the range, and the pairs themselves (entries of each photo, concatenated). */
  counts: Int32Array;
  entries: Int32Array;
  nEntries: number;
}

/** One candidate's part of a batch over a range of photos (plain arrays: it crosses from a worker). */
export interface PartialScore {
  counts: Int32Array;
  entries: Int32Array;
  records: AccumulatorRecords;
  /** It has the batch's common set's detections on every photo of the range: its part is PartialBatch.common. */
  same?: boolean;
}

/** A batch evaluated over photos from .. to - 1. */
export interface PartialBatch {
  from: number;
  to: number;
  parts: PartialScore[];
  /** The common set's part, when some candidate is `same`. */
  common?: PartialScore;
  /** Non-ignored ground truths per (category, area) of these photos (COCO mode: of all photos). */
  npig: Int32Array;
  gtObjects: number;
}

const EMPTY_RECORDS: AccumulatorRecords = {
  n: 0,
  areas: 1,
  imageRank: new Int32Array(0),
  score: new Float64Array(0),
  category: new Int32Array(0),
  rank: new Uint8Array(0),
  codes: new Uint32Array(0),
};

/** True when none of `extra` is marked in `touched`. */
function untouched(extra: readonly number[], touched: Uint8Array): boolean {
  for (const b of extra) if (touched[b]) return false;
  return true;
}

/** A candidate's part of a batch: its own, or the batch's common part when it is the same. */
export function partOf(b: PartialBatch, c: number): PartialScore {
  const p = b.parts[c]!;
  return p.same ? b.common! : p;
}

/** Note a candidate's kept pairs on photo `local` of its range. */
function keep(c: Candidate, local: number, entries: Int32Array, n: number): void {
  c.counts[local] = n;
  if (c.nEntries + n > c.entries.length) {
    const grown = new Int32Array(Math.max(c.nEntries + n, 2 * c.entries.length));
    grown.set(c.entries.subarray(0, c.nEntries));
    c.entries = grown;
  }
  c.entries.set(entries.subarray(0, n), c.nEntries);
  c.nEntries += n;
}

/** Scores batches of removed sets over the cache; grow-only scratch, so one instance per thread. */
export class StreamEvaluator {
  private readonly centers: Float32Array;
  private readonly decodeBox: BoxDecoder;
  private readonly anchorLevel: Int32Array;
  private readonly anchorBase: Int32Array;
  private readonly labels: number;
  private readonly starts: Float64Array;
  private readonly chunk: number;
  private readonly gt: PreparedGroundTruth | undefined;
  /** Photo -> its image's position among the sorted ground-truth ids (COCO mode), or the photo index (fidelity). */
  private readonly imageRank: Int32Array;
  /** Label -> category index of the ground truth. */
  private readonly labelCategory: Int32Array;
  private readonly loaded: LoadedPhoto[] = [];
  private readonly accs: CocoAccumulator[] = [];
  private commonAcc: CocoAccumulator | undefined;
  private commonAll: CocoAccumulator | undefined;
  private mergeAcc: CocoAccumulator | undefined;
  private readonly gtBuf = new GroundTruthBuffer();
  private readonly perLabel: Int32Array;
  // walk scratch
  private readonly out: Int32Array;
  private readonly outSlot: Int32Array;
  private readonly chainNext: Int32Array;
  private readonly labelHead: Int32Array;
  private readonly perLevel: Int32Array;
  private readonly none: Uint8Array;
  private dets: ImageDetections = {
    n: 0,
    category: new Int32Array(0),
    score: new Float64Array(0),
    box: new Float64Array(0),
  };

  constructor(readonly data: StreamData) {
    const { spec, levels } = data;
    this.centers = spec.decoder.type === 'none' ? data.anchors : anchorsCenterSize(data.anchors, spec.anchorFormat);
    this.decodeBox = boxDecoder(spec);
    const N = data.expect.anchorCount;
    this.anchorLevel = new Int32Array(N);
    this.anchorBase = new Int32Array(N);
    let n = 0,
      b = 0;
    levels.forEach((l, li) => {
      for (let p = 0; p < l.h * l.w * l.anchorsPerLocation; p++, n++) {
        this.anchorLevel[n] = li;
        this.anchorBase[n] = b + (p % l.anchorsPerLocation);
      }
      b += l.anchorsPerLocation;
    });
    this.labels = foregroundCount(spec, data.numClasses);
    this.starts = new Float64Array(data.photos.length + 1);
    data.photos.forEach((p, i) => (this.starts[i + 1] = this.starts[i]! + p.pairs));
    this.chunk = Math.max(1, data.chunk ?? DEFAULT_PHOTO_CHUNK);
    const m = data.metric;
    this.imageRank = new Int32Array(data.photos.length);
    this.labelCategory = new Int32Array(this.labels);
    if (m.kind === 'coco') {
      if (!m.gt) throw new PrunedetError('E_ANNOTATIONS', 'COCO mode without annotations', 'pass --annotations');
      this.gt = new PreparedGroundTruth(m.gt);
      m.imageIds.forEach((id, i) => (this.imageRank[i] = this.gt!.indexOfImage(id) ?? -1));
      for (let k = 0; k < this.labels; k++) this.labelCategory[k] = this.gt.indexOfCategory(m.categoryIds[k]!) ?? -1;
    } else {
      this.gt = undefined;
      for (let i = 0; i < this.imageRank.length; i++) this.imageRank[i] = i;
      for (let k = 0; k < this.labels; k++) this.labelCategory[k] = k;
    }
    const M = data.select.maxDetections;
    this.out = new Int32Array(Math.max(1, M));
    this.outSlot = new Int32Array(Math.max(1, M));
    this.chainNext = new Int32Array(Math.max(1, M));
    this.labelHead = new Int32Array(Math.max(1, this.labels));
    this.perLevel = new Int32Array(levels.length);
    this.perLabel = new Int32Array(Math.max(1, this.labels));
    this.none = new Uint8Array(data.totalBase);
  }

  /** What this evaluator holds of the photos: record holders (at most the chunk) and their pair and slot capacity. */
  held(): { photos: number; pairs: number; slots: number } {
    let pairs = 0,
      slots = 0;
    for (const ph of this.loaded) {
      pairs += ph.record.score.length;
      slots += Math.max(ph.record.anchors.length, ph.decoded.length);
    }
    return { photos: this.loaded.length, pairs, slots };
  }

  /** Map and fingerprint of each removed set (fidelity: divided by the metric's divisor, capped at 1). */
  evaluateBatch(sets: readonly (readonly number[])[]): CandidateScore[] {
    return this.merge([this.partial(sets, 0, this.data.photos.length)], sets.length);
  }

  /**
   * Scores from the parts of one batch evaluated over consecutive photo ranges (by threads), in photo order: each
   * candidate's detections merged as COCOeval's accumulate() does, its fingerprint chained over the photos in order.
   */
  merge(batches: readonly PartialBatch[], count: number): CandidateScore[] {
    const { npig } = this.totals(batches);
    const memo = new Map<string, CandidateScore>();
    return Array.from({ length: count }, (_, c) => {
      // candidates with the common set's detections everywhere are scored once
      const key = batches.every((b) => b.parts[c]!.same) ? 'common' : `${c}`;
      let s = memo.get(key);
      if (!s)
        memo.set(
          key,
          (s = this.score(
            this.rawMap(
              batches.map((b) => partOf(b, c).records),
              npig,
            ),
            this.fingerprint(batches, c),
          )),
        );
      return s;
    });
  }

  /** The candidate score of a raw mAP (fidelity: divided by the divisor, capped at 1). */
  score(raw: number, fingerprint: string): CandidateScore {
    const m = this.data.metric;
    return { map: m.kind === 'fidelity' ? Math.min(1, raw / m.divisor) : raw, fingerprint };
  }

  /** Ground-truth totals of a batch's parts (which must cover every photo, in order). */
  totals(batches: readonly PartialBatch[]): { npig: Int32Array; gtObjects: number } {
    const m = this.data.metric;
    const npig = new Int32Array(m.categoryIds.length * A);
    let gtObjects = 0;
    let next = 0;
    for (const b of batches) {
      if (b.from !== next) throw new Error(`batch parts cover photos from ${b.from}, expected ${next}`);
      next = b.to;
      if (m.kind === 'coco') npig.set(b.npig);
      else for (let q = 0; q < npig.length; q++) npig[q]! += b.npig[q]!;
      gtObjects += b.gtObjects;
    }
    if (next !== this.data.photos.length)
      throw new Error(`batch parts end at photo ${next} of ${this.data.photos.length}`);
    return { npig, gtObjects };
  }

  /** COCOeval's accumulate() over one candidate's detections (its parts in photo order): the raw mAP. */
  rawMap(parts: readonly AccumulatorRecords[], npig: Int32Array): number {
    const acc = (this.mergeAcc ??= new CocoAccumulator(1));
    acc.reset();
    for (const p of parts) acc.append(p);
    return acc.map(npig, this.data.metric.categoryIds.length);
  }

  /** The dense evaluator's fingerprint of candidate c: per photo its count, then the global entry of every kept pair. */
  fingerprint(batches: readonly PartialBatch[], c: number): string {
    let h1 = 0x811c9dc5 | 0,
      h2 = 0x9e3779b9 | 0;
    for (const b of batches) {
      const part = partOf(b, c);
      let o = 0;
      for (let i = b.from; i < b.to; i++) {
        const n = part.counts[i - b.from]!,
          start = this.starts[i]!;
        h1 = Math.imul(h1 ^ (n + 0x1000 * i), 0x01000193);
        h2 = Math.imul(h2 ^ (n * 31 + i), 0x5bd1e995);
        for (let q = 0; q < n; q++) {
          const e = start + part.entries[o++]!;
          h1 = Math.imul(h1 ^ e, 0x01000193);
          h2 = Math.imul(h2 ^ (e + 0x632be5ab), 0x5bd1e995);
          h2 ^= h2 >>> 15;
        }
      }
    }
    return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  }

  /**
   * Fidelity mode: one pass with the full model that finds its detections on every photo (the ground truth) and its
   * raw mAP against them (the divisor). Returns both and the number of ground-truth objects.
   */
  calibrate(): { raw: number; fullKept: Int32Array; fullStart: Float64Array; gtObjects: number } {
    const photos = this.data.photos.length;
    const fullStart = new Float64Array(photos + 1);
    const kept: number[] = [];
    const part = this.partial([[]], 0, photos, (i, entries) => {
      for (const e of entries) kept.push(e);
      fullStart[i + 1] = kept.length;
    });
    const { npig, gtObjects } = this.totals([part]);
    return { raw: this.rawMap([part.parts[0]!.records], npig), fullKept: Int32Array.from(kept), fullStart, gtObjects };
  }

  /** Per photo, the detections of a removed set (boxes in the model's units), as the reference gives them. */
  detections(removed: readonly number[]): Detection[][] {
    const gone = removedLookup(removed, this.data.totalBase);
    const out: Detection[][] = [];
    this.forEachChunk(0, this.data.photos.length, (photos) => {
      for (const ph of photos) {
        const n = this.walk(ph, gone);
        const dets: Detection[] = [];
        for (let q = 0; q < n; q++) {
          const e = this.out[q]!,
            s = this.outSlot[q]!;
          dets.push({
            box: [ph.box[4 * s]!, ph.box[4 * s + 1]!, ph.box[4 * s + 2]!, ph.box[4 * s + 3]!],
            score: ph.record.score[e]!,
            label: ph.record.label[e]!,
            anchor: ph.record.anchors[s]!,
          });
        }
        out.push(dets);
      }
    });
    return out;
  }

  /** Detections per level of a removed set, summed over the photos (counted, not kept). */
  detectionsPerLevel(removed: readonly number[]): number[] {
    const gone = removedLookup(removed, this.data.totalBase);
    const out = new Array<number>(this.data.levels.length).fill(0);
    this.forEachChunk(0, this.data.photos.length, (photos) => {
      for (const ph of photos) {
        const n = this.walk(ph, gone);
        for (let q = 0; q < n; q++) out[this.anchorLevel[ph.record.anchors[this.outSlot[q]!]!]!]!++;
      }
    });
    return out;
  }

  /**
   * One pass over the photos for a batch of removed sets. The batch's common part: when every set is the common
   * anchors plus extra ones (children of one node, as the strategies evaluate them), the common set is walked once per
   * photo, noting the base anchors of the pairs its walk counts; a set whose extra anchors are all among the others
   * has exactly the common set's detections on that photo (its walk skips only pairs the common walk never counted,
   * so it takes the same steps), and reuses them: walk, matching and all. Exact, and most (set, photo) pairs.
   */
  partial(
    sets: readonly (readonly number[])[],
    from: number,
    to: number,
    onFull?: (photo: number, entries: Int32Array) => void,
  ): PartialBatch {
    const m = this.data.metric;
    const total = this.data.totalBase;
    while (this.accs.length < sets.length) this.accs.push(new CocoAccumulator(1));
    const M = Math.max(1, this.data.select.maxDetections);
    const cands: Candidate[] = sets.map((removed, c) => {
      const acc = this.accs[c]!;
      acc.reset();
      return {
        gone: removedLookup(removed, total),
        acc,
        fresh: false,
        counts: new Int32Array(to - from),
        entries: new Int32Array(Math.min(1 << 16, M * (to - from))),
        nEntries: 0,
      };
    });
    const inAll = new Set(sets[0] ?? []);
    for (const set of sets) for (const b of [...inAll]) if (!set.includes(b)) inAll.delete(b);
    const shared = sets.length >= 2 && sets.every((set) => set.length > inAll.size);
    const commonGone = removedLookup(inAll, total);
    const extras = sets.map((set) => set.filter((b) => !inAll.has(b)));
    const touched = new Uint8Array(total);
    const commonOut = new Int32Array(M),
      commonSlot = new Int32Array(M);
    const commonAcc = (this.commonAcc ??= new CocoAccumulator(1));
    // The common set's own part (complete whenever a candidate uses it on every photo: it is then matched everywhere).
    const common: Candidate = {
      gone: commonGone,
      acc: (this.commonAll ??= new CocoAccumulator(1)),
      fresh: false,
      counts: new Int32Array(to - from),
      entries: new Int32Array(0),
      nEntries: 0,
    };
    common.acc.reset();

    const npig = m.kind === 'coco' ? this.gt!.npig : new Int32Array(this.data.metric.categoryIds.length * A);
    let gtObjects = 0;
    this.forEachChunk(from, to, (photos) => {
      let gt = this.gt;
      if (m.kind === 'fidelity') {
        const chunkGt = this.fidelityGroundTruth(photos, onFull);
        gt = chunkGt;
        for (let q = 0; q < npig.length; q++) npig[q]! += chunkGt.npig[q]!;
        gtObjects += chunkGt.objects;
      }
      for (let li = 0; li < photos.length; li++) {
        const ph = photos[li]!;
        const gtImage = m.kind === 'fidelity' ? li : this.imageRank[ph.index]!;
        let commonN = -1;
        let commonMatched = false;
        if (shared) {
          touched.fill(0);
          commonN = this.walk(ph, commonGone, touched);
          commonOut.set(this.out.subarray(0, commonN));
          commonSlot.set(this.outSlot.subarray(0, commonN));
        }
        for (let ci = 0; ci < cands.length; ci++) {
          const c = cands[ci]!;
          if (shared && untouched(extras[ci]!, touched)) {
            if (!commonMatched) {
              commonAcc.reset();
              this.matchPhoto(ph, commonOut, commonSlot, commonN, gt!, gtImage, commonAcc);
              commonMatched = true;
              keep(common, ph.index - from, commonOut, commonN);
              common.acc.append(commonAcc);
            }
            keep(c, ph.index - from, commonOut, commonN);
            c.acc.append(commonAcc);
            continue;
          }
          c.fresh = true;
          const n = this.walk(ph, c.gone);
          keep(c, ph.index - from, this.out, n);
          this.matchPhoto(ph, this.out, this.outSlot, n, gt!, gtImage, c.acc);
        }
      }
    });
    const part = (c: Candidate): PartialScore => ({
      counts: c.counts,
      entries: c.entries.slice(0, c.nEntries),
      records: c.acc.export(),
    });
    const anySame = shared && cands.some((c) => !c.fresh);
    return {
      from,
      to,
      npig,
      gtObjects,
      parts: cands.map((c) =>
        anySame && !c.fresh
          ? { same: true, counts: new Int32Array(0), entries: new Int32Array(0), records: EMPTY_RECORDS }
          : part(c),
      ),
      ...(anySame ? { common: part(common) } : {}),
    };
  }

  /** Read photos from .. to - 1 a chunk at a time, in photo order. */
  private forEachChunk(from: number, to: number, visit: (photos: LoadedPhoto[]) => void): void {
    const { photos, cacheDir, expect, preprocess } = this.data;
    for (let c0 = from; c0 < to; c0 += this.chunk) {
      const c1 = Math.min(to, c0 + this.chunk);
      const batch: LoadedPhoto[] = [];
      for (let i = c0; i < c1; i++) {
        const p = photos[i]!;
        const slot = (this.loaded[i - c0] ??= new LoadedPhoto());
        const read = slot.reader.open(cacheDir, p.key, expect);
        if (
          read.status !== 'hit' ||
          slot.record.score.length < p.pairs ||
          slot.record.width !== p.width ||
          slot.record.height !== p.height
        ) {
          const why =
            read.status === 'hit' ? 'it holds other pairs' : read.status === 'missing' ? 'it is gone' : read.reason;
          throw new PrunedetError(
            'E_OUTPUT',
            `cache record ${cachePath(cacheDir, p.key)} changed during the search (${why})`,
            'rerun the search; do not rebuild a cache folder while a search reads it',
          );
        }
        slot.load(i, p.pairs, this.starts[i]!, resizeGeometry(p.width, p.height, preprocess));
        batch.push(slot);
      }
      try {
        visit(batch);
      } finally {
        for (const ph of batch) ph.reader.close();
      }
    }
  }

  /** The oracle's walk over one photo's pairs (oracle.ts selectDetections, entry for entry): kept entries in this.out. */
  private walk(ph: LoadedPhoto, gone: Uint8Array, touched?: Uint8Array): number {
    const p = this.data.select;
    const K = p.preNmsTopK;
    const perLevelCut = K > 0 && p.topKScope === 'per-level';
    const globalCut = K > 0 && p.topKScope === 'global';
    const perLevel = this.perLevel,
      labelHead = this.labelHead,
      chainNext = this.chainNext,
      out = this.out,
      outSlot = this.outSlot;
    if (perLevelCut) perLevel.fill(0);
    labelHead.fill(-1);
    const reader = ph.reader,
      rec = reader.record,
      slots = rec.slot,
      labels = rec.label,
      anchors = rec.anchors;
    const box = ph.box,
      area = ph.area,
      decoded = ph.decoded;
    const level = this.anchorLevel,
      base = this.anchorBase;
    const thr = p.iouThreshold,
      agnostic = p.agnostic,
      max = p.maxDetections;
    let taken = 0;
    let kept = 0;
    for (let i = 0; i < ph.count && kept < max; i++) {
      if (i >= reader.loaded) reader.ensure(i + 1);
      const s = slots[i]!;
      const anchor = anchors[s]!;
      if (gone[base[anchor]!]) continue;
      if (perLevelCut) {
        const l = level[anchor]!;
        if (perLevel[l]! >= K) continue;
        perLevel[l]!++;
      } else if (globalCut) {
        if (taken >= K) break;
        taken++;
      }
      if (touched) touched[base[anchor]!] = 1;
      if (!decoded[s]) this.decode(ph, s);
      // Greedy NMS: i survives iff no kept box of the same label (any label when agnostic) has IoU > thr with it.
      const chain = agnostic ? 0 : labels[i]!;
      let suppressed = false;
      for (let q = labelHead[chain]!; q >= 0; q = chainNext[q]!) {
        const j = outSlot[q]!;
        if (keptIou(box, area, j, s) > thr) {
          suppressed = true;
          break;
        }
      }
      if (suppressed) continue;
      out[kept] = i;
      outSlot[kept] = s;
      chainNext[kept] = labelHead[chain]!;
      labelHead[chain] = kept;
      kept++;
    }
    return kept;
  }

  /** Decode slot s's box (the reference's decodeBox, clip included) and its area as iouF computes it. */
  private decode(ph: LoadedPhoto, s: number): void {
    const d = ph.record.deltas,
      a = ph.record.anchors[s]!,
      box = ph.box;
    this.decodeBox(d[4 * s]!, d[4 * s + 1]!, d[4 * s + 2]!, d[4 * s + 3]!, this.centers, 4 * a, box, 4 * s);
    ph.area[s] = f32(pos(f32(box[4 * s + 2]! - box[4 * s]!)) * pos(f32(box[4 * s + 3]! - box[4 * s + 1]!)));
    ph.decoded[s] = 1;
  }

  /** Slot s's box as COCO [x, y, w, h] in photo pixels (stored at ph.coco[4s..]). */
  private cocoBox(ph: LoadedPhoto, s: number): void {
    if (ph.cocoDone[s]) return;
    const c = toImageXywh(ph.box.subarray(4 * s, 4 * s + 4), this.data.units, ph.geometry);
    ph.coco[4 * s] = c[0];
    ph.coco[4 * s + 1] = c[1];
    ph.coco[4 * s + 2] = c[2];
    ph.coco[4 * s + 3] = c[3];
    ph.cocoDone[s] = 1;
  }

  /** A walk's detections (kept pairs `entries`, their slots `slots`) matched against the photo's ground truth into `acc`. */
  private matchPhoto(
    ph: LoadedPhoto,
    entries: Int32Array,
    slots: Int32Array,
    n: number,
    gt: PreparedGroundTruth,
    gtImage: number,
    acc: CocoAccumulator,
  ): void {
    const d = this.ensureDets(n);
    const rec = ph.record;
    for (let q = 0; q < n; q++) {
      const e = entries[q]!,
        s = slots[q]!;
      this.cocoBox(ph, s);
      const x = ph.coco[4 * s]!,
        y = ph.coco[4 * s + 1]!,
        w = ph.coco[4 * s + 2]!,
        h = ph.coco[4 * s + 3]!;
      const score = rec.score[e]!;
      if (
        !Number.isFinite(score) ||
        !Number.isFinite(x) ||
        !Number.isFinite(y) ||
        !Number.isFinite(w) ||
        !Number.isFinite(h)
      ) {
        throw new PrunedetError(
          'E_ANNOTATIONS',
          `a detection on image ${ph.index + 1} (image_id ${this.data.metric.imageIds[ph.index]}) has a non-finite score or bbox`,
          'emit finite [x, y, w, h] boxes and scores',
        );
      }
      d.category[q] = this.labelCategory[rec.label[e]!]!;
      d.score[q] = score;
      d.box[4 * q] = x;
      d.box[4 * q + 1] = y;
      d.box[4 * q + 2] = w;
      d.box[4 * q + 3] = h;
    }
    d.n = n;
    if (gtImage < 0)
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `image_id ${this.data.metric.imageIds[ph.index]} is not in the ground-truth images`,
        'evaluate on the images the ground truth lists',
      );
    gt.matchImage(gtImage, this.imageRank[ph.index]!, d, acc, 1);
  }

  private ensureDets(n: number): ImageDetections {
    if (this.dets.category.length < n)
      this.dets = { n: 0, category: new Int32Array(n), score: new Float64Array(n), box: new Float64Array(4 * n) };
    return this.dets;
  }

  /**
   * Fidelity ground truth of a chunk: the full model's detections on each photo (from the calibration pass, or walked
   * now when calibrating), the first 100 per (photo, label) as non-crowd objects of area w*h (detectionsAsGroundTruth).
   */
  private fidelityGroundTruth(
    photos: LoadedPhoto[],
    onFull?: (photo: number, entries: Int32Array) => void,
  ): PreparedGroundTruth & { objects: number } {
    const m = this.data.metric;
    const perLabel = this.perLabel;
    const g = this.gtBuf;
    let n = 0;
    photos.forEach((ph, li) => {
      let entries: Int32Array;
      if (m.fullKept && m.fullStart) {
        entries = m.fullKept.subarray(m.fullStart[ph.index]!, m.fullStart[ph.index + 1]!);
      } else {
        const k = this.walk(ph, this.none);
        entries = this.out.slice(0, k);
        onFull?.(ph.index, entries);
      }
      if (entries.length > 0) ph.reader.ensure(entries[entries.length - 1]! + 1); // entries ascend (rank order)
      g.ensure(n + entries.length);
      perLabel.fill(0);
      for (const e of entries) {
        const label = ph.record.label[e]!;
        if (perLabel[label]!++ >= MAX_DET) continue;
        const s = ph.record.slot[e]!;
        if (!ph.decoded[s]) this.decode(ph, s);
        this.cocoBox(ph, s);
        const w = ph.coco[4 * s + 2]!,
          h = ph.coco[4 * s + 3]!;
        g.image[n] = li;
        g.category[n] = label;
        g.bbox[4 * n] = ph.coco[4 * s]!;
        g.bbox[4 * n + 1] = ph.coco[4 * s + 1]!;
        g.bbox[4 * n + 2] = w;
        g.bbox[4 * n + 3] = h;
        g.area[n] = w * h;
        n++;
      }
    });
    const arrays: GroundTruthArrays = {
      imageIds: photos.map((ph) => m.imageIds[ph.index]!),
      categoryIds: m.categoryIds,
      n,
      image: g.image,
      category: g.category,
      bbox: g.bbox,
      area: g.area,
      crowd: g.zero,
      idZero: g.zero,
    };
    return Object.assign(new PreparedGroundTruth(arrays), { objects: n });
  }
}

/** Grow-only arrays of a chunk's fidelity ground truth (every object non-crowd, ids from 1). */
class GroundTruthBuffer {
  image = new Int32Array(0);
  category = new Int32Array(0);
  bbox = new Float64Array(0);
  area = new Float64Array(0);
  zero = new Uint8Array(0);

  ensure(n: number): void {
    if (this.image.length >= n) return;
    const size = Math.max(n, 2 * this.image.length, 1024);
    const grow = <T extends Int32Array | Float64Array>(a: T, make: (k: number) => T, k: number): T => {
      const b = make(k);
      b.set(a);
      return b;
    };
    this.image = grow(this.image, (k) => new Int32Array(k), size);
    this.category = grow(this.category, (k) => new Int32Array(k), size);
    this.bbox = grow(this.bbox, (k) => new Float64Array(k), 4 * size);
    this.area = grow(this.area, (k) => new Float64Array(k), size);
    this.zero = new Uint8Array(size);
  }
}
