// Filling the search cache: for each photo (or a shard of them, `--build-cache-only --shard i/n`) its key, a valid
// record if one is there (sparse-record.ts; a stale or damaged one is rebuilt), else the model runs on it and its
// record is written at once, so an interrupted build keeps what it finished and several processes (or machines on a
// shared folder) can fill one cache together: records are keyed and written atomically.
import { mkdirSync } from 'node:fs';
import { PrunedetError } from '../errors';
import type { Model } from '../ir/graph';
import type { DetectorSpec } from '../detector/spec';
import type { PreprocessOptions } from '../image/preprocess';
import { f32 } from '../postprocess/float32';
import type { LevelShape, PostprocessInput } from '../postprocess/reference';
import type { PostprocessSpec } from '../postprocess/spec';
import { cacheKey, sha256Hex } from './cache';
import { forEachHeadOutput } from './infer';
import {
  buildSparseRecord,
  PairScratch,
  pairsAbove,
  readSparseRecord,
  recordScoring,
  writeSparseRecord,
  type RecordExpectation,
  type SparseRecord,
} from './sparse-record';

export interface CacheStats {
  /** Photos whose valid record was found. */
  hits: number;
  /** Photos the model ran on (records written). */
  computed: number;
  /** Of those, records that were there but stale (older format, other scores, higher threshold) or damaged. */
  rebuilt: number;
  /** Inference batch size. */
  batch: number;
  /** Bytes of the records of these photos. */
  bytes: number;
  /** Pairs above the search's threshold over these photos. */
  pairs: number;
}

/** What evaluation needs of one photo's record. */
export interface PhotoRecord {
  key: string;
  width: number;
  height: number;
  /** Pairs above the search's score threshold (a prefix of the record's). */
  pairs: number;
}

export interface CacheBuildOptions {
  modelPath: string;
  /** The model file's bytes (hashed into the key). */
  modelBytes: Uint8Array;
  model: Model;
  det: DetectorSpec;
  images: string[];
  preprocess: PreprocessOptions;
  cacheDir: string;
  /** The post-processing: its score function and threshold decide the record. */
  spec: PostprocessSpec;
  classes: number;
  levels: LevelShape[];
  /** The photos to cover (indices into images); default all. */
  indices?: readonly number[];
  onProgress?: (p: { done: number; total: number; computed: number }) => void;
  /** Told each computed photo's dense outputs and record (search checks the first against the reference). */
  onComputed?: (index: number, input: PostprocessInput, record: SparseRecord) => void;
  /** YOLO heads: the run's rows -> scores and boxes, and what that depends on (hashed into the key). */
  yolo?: { toInput: (x: PostprocessInput) => PostprocessInput; cacheTag: string };
}

export function recordExpectation(
  spec: PostprocessSpec,
  classes: number,
  levels: readonly LevelShape[],
): RecordExpectation {
  const anchorCount = levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
  return { ...recordScoring(spec, classes, anchorCount), threshold: f32(spec.scoreThreshold) };
}

/** Make sure every covered photo has a valid record; returns the stats and, per covered photo, its record's facts. */
export async function buildCache(
  o: CacheBuildOptions,
): Promise<{ stats: CacheStats; photos: (PhotoRecord | undefined)[] }> {
  mkdirSync(o.cacheDir, { recursive: true });
  const modelSha256 = sha256Hex(o.modelBytes);
  const inputShape = [1, ...o.det.input.shape.slice(1)];
  const outputs = o.det.outputs.map((x) => x.name).sort();
  const expect = recordExpectation(o.spec, o.classes, o.levels);
  const scoring = recordScoring(o.spec, o.classes, expect.anchorCount);
  const stats: CacheStats = { hits: 0, computed: 0, rebuilt: 0, batch: 0, bytes: 0, pairs: 0 };
  const photos: (PhotoRecord | undefined)[] = new Array(o.images.length);
  const keys = new Map<number, string>();
  const stale = new Set<number>();
  const scratch = new PairScratch();
  let computed = 0;
  const run = await forEachHeadOutput(
    {
      modelPath: o.modelPath,
      model: o.model,
      det: o.det,
      images: o.images,
      preprocess: o.preprocess,
      ...(o.indices ? { indices: o.indices } : {}),
      ...(o.yolo ? { toInput: o.yolo.toInput } : {}),
      onProgress: (p) => o.onProgress?.({ ...p, computed }),
      want: (index, bytes) => {
        const key = cacheKey({
          modelSha256,
          imageSha256: sha256Hex(bytes),
          preprocess: o.preprocess,
          inputShape,
          outputs,
          ...(o.yolo ? { yolo: o.yolo.cacheTag } : {}),
        });
        const read = readSparseRecord(o.cacheDir, key, expect);
        if (read.status === 'hit') {
          stats.hits++;
          stats.bytes += read.bytes;
          const pairs = pairsAbove(read.record, expect.threshold);
          stats.pairs += pairs;
          photos[index] = { key, width: read.record.width, height: read.record.height, pairs };
          return false;
        }
        keys.set(index, key);
        if (read.status !== 'missing') stale.add(index);
        return true;
      },
    },
    (img) => {
      const key = keys.get(img.index)!;
      const record = buildSparseRecord(
        o.spec,
        o.classes,
        o.levels,
        img.input,
        { key, width: img.geometry.imageWidth, height: img.geometry.imageHeight },
        scratch,
      );
      stats.bytes += writeSparseRecord(o.cacheDir, record, scoring);
      stats.computed++;
      computed++;
      if (stale.has(img.index)) stats.rebuilt++;
      stats.pairs += record.score.length;
      photos[img.index] = { key, width: record.width, height: record.height, pairs: record.score.length };
      o.onComputed?.(img.index, img.input, record);
    },
  );
  stats.batch = run.batch;
  return { stats, photos };
}

/** `2/4` -> { index: 2, count: 4 }; anything else is a usage error. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN,
    count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 1 && index <= count && count <= 100_000)) {
    throw new PrunedetError(
      'E_USAGE',
      `--shard "${text}" is not i/n with 1 <= i <= n`,
      'write it as --shard 2/4 (the second of four slices of the photos)',
    );
  }
  return { index, count };
}

/** `--shard i/n` (1-based): photos i-1, i-1+n, i-1+2n, ... of the sorted list. */
export function shardIndices(count: number, shard: { index: number; count: number }): number[] {
  const out: number[] = [];
  for (let i = shard.index - 1; i < count; i += shard.count) out.push(i);
  return out;
}
