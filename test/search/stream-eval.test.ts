// The streamed evaluator (sparse records read a chunk of photos at a time) against the dense one (every photo's
// candidate list in memory): the same detections, mAP and fingerprint, bit for bit, for every score function,
// decoder, cut, NMS mode and input form, in fidelity and COCO mode, whatever the chunk size, however a batch is split
// over photo ranges (workers), and whether or not a batch shares a common parent (the reuse path).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CocoGroundTruth } from '../../src/eval/coco-data';
import { resizeGeometry } from '../../src/image/preprocess';
import { f32 } from '../../src/postprocess/float32';
import { parsePostprocess } from '../../src/postprocess/presets';
import type { LevelShape, PostprocessInput } from '../../src/postprocess/reference';
import { foregroundCount, type PostprocessSpec } from '../../src/postprocess/spec';
import { CandidateEvaluator, packTables, type MetricSpec } from '../../src/search/evaluator';
import { toImageXywh } from '../../src/image/inputs';
import { cocoMetric, fidelityMetric } from '../../src/eval/metric';
import { buildCandidateList, oracleModel, selectParams } from '../../src/search/oracle';
import { buildSparseRecord, pairsAbove, recordScoring, writeSparseRecord } from '../../src/search/sparse-record';
import { StreamEvaluator, type StreamData, type StreamMetric } from '../../src/search/stream-eval';
import { mulberry32 } from '../_support/prng';
import {
  LEVELS,
  POSTPROCESS_CASES,
  synthAnchors,
  synthInput,
  type PostprocessCase,
  type SynthLevel,
} from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'pd-stream-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const W = 64,
  H = 48;
const BIG: SynthLevel[] = [
  { h: 24, w: 32, anchorsPerLocation: 3, stride: 2 },
  { h: 6, w: 8, anchorsPerLocation: 2, stride: 8 },
];

interface Paths {
  dense: CandidateEvaluator;
  sparse: (chunk: number) => StreamEvaluator;
  total: number;
  photos: number;
}

/** Both evaluators over the same synthetic photos: dense tables from the inputs, sparse records in a cache folder. */
function bothPaths(
  name: string,
  spec: PostprocessSpec,
  classes: number,
  levels: SynthLevel[],
  inputs: PostprocessInput[],
  coco: boolean,
  recordThreshold = spec.scoreThreshold,
): Paths {
  const anchors = synthAnchors(levels, spec.anchorFormat);
  const ctx = { anchors, levels: levels as LevelShape[], numClasses: classes };
  const units = 'input-pixels' as const;
  const g = resizeGeometry(W, H, { size: [W, H] });
  const lists = inputs.map((input) => buildCandidateList(oracleModel(spec, ctx), input));
  const cocoBoxes = lists.map((l) => {
    const out = new Float64Array(l.box.length);
    for (let i = 0; i < l.anchor.length; i++) out.set(toImageXywh(l.box.subarray(4 * i, 4 * i + 4), units, g), 4 * i);
    return out;
  });
  const total = levels.reduce((s, l) => s + l.anchorsPerLocation, 0);
  const K = foregroundCount(spec, classes);
  const base = { tables: packTables(lists, cocoBoxes), select: selectParams(spec, levels.length), totalBase: total };
  // COCO mode: image ids out of photo order (the accumulate merges images in id order), objects near detections.
  const imageIds = inputs.map((_, i) => (coco ? 1000 - 7 * i : i + 1));
  const categoryIds = Array.from({ length: K }, (_, k) => k + 1);
  let metric: MetricSpec;
  if (coco) {
    const r = mulberry32(5);
    const gt: CocoGroundTruth = {
      images: imageIds.map((id) => ({ id })),
      categories: categoryIds.map((id) => ({ id })),
      annotations: [],
    };
    const full = new CandidateEvaluator(base).cocoDetections([], imageIds, categoryIds);
    for (const d of full) {
      if (r() < 0.5) continue;
      const [x, y, w, h] = d.bbox as number[];
      gt.annotations.push({
        id: gt.annotations.length + 1,
        image_id: d.image_id,
        category_id: d.category_id,
        bbox: [x! + r() * 3, y!, w!, h! + r() * 2],
        area: w! * h! * (r() < 0.2 ? 40 : 1),
        iscrowd: r() < 0.05 ? 1 : 0,
      });
    }
    metric = cocoMetric(gt, imageIds, K, 'synthetic');
  } else {
    metric = fidelityMetric(new CandidateEvaluator(base).cocoDetections([], imageIds, categoryIds), imageIds, K);
  }
  const dense = new CandidateEvaluator({ ...base, metric });

  const dir = join(root, name);
  const recordSpec = { ...spec, scoreThreshold: recordThreshold };
  const anchorCount = levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
  const photos = inputs.map((input, i) => {
    const record = buildSparseRecord(recordSpec, classes, levels, input, { key: `photo${i}`, width: W, height: H });
    writeSparseRecord(dir, record, recordScoring(spec, classes, anchorCount));
    return { key: record.key, width: W, height: H, pairs: pairsAbove(record, f32(spec.scoreThreshold)) };
  });
  const data = (m: StreamMetric, chunk: number): StreamData => ({
    cacheDir: dir,
    photos,
    expect: { ...recordScoring(spec, classes, anchorCount), threshold: f32(spec.scoreThreshold) },
    spec,
    levels,
    numClasses: classes,
    anchors,
    preprocess: { size: [W, H], mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb', resize: 'bilinear' },
    units,
    select: base.select,
    totalBase: total,
    metric: m,
    chunk,
  });
  let streamMetric: StreamMetric = {
    kind: metric.kind,
    imageIds,
    categoryIds,
    divisor: 1,
    ...(coco ? { gt: metric.gt } : {}),
  };
  if (!coco) {
    const cal = new StreamEvaluator(data(streamMetric, 3)).calibrate();
    expect(cal.raw).toBe(metric.divisor);
    streamMetric = { ...streamMetric, divisor: cal.raw, fullKept: cal.fullKept, fullStart: cal.fullStart };
  }
  return { dense, sparse: (chunk) => new StreamEvaluator(data(streamMetric, chunk)), total, photos: inputs.length };
}

/** Removed sets: singles, random sets, and batches of children of one node (the shared-walk path). */
function batches(total: number, seed: number): number[][][] {
  const r = mulberry32(seed);
  const out: number[][][] = [[[]], [[0], [total - 1]]];
  for (let q = 0; q < 4; q++)
    out.push(Array.from({ length: 3 }, () => Array.from({ length: total }, (_, i) => i).filter(() => r() < 0.35)));
  for (let q = 0; q < 4; q++) {
    const node = Array.from({ length: total }, (_, i) => i).filter(() => r() < 0.2);
    const children = Array.from({ length: total }, (_, b) => b)
      .filter((b) => !node.includes(b))
      .map((b) => [...node, b].sort((x, y) => x - y));
    for (let i = 0; i < children.length; i += 8) out.push(children.slice(i, i + 8));
  }
  return out;
}

const CASES: (PostprocessCase & { levels?: SynthLevel[]; recordThreshold?: number })[] = [
  ...POSTPROCESS_CASES,
  { name: 'tflite decoder, softmax, background first', text: 'tflite-ssd,score_thr=0.1,top_k=20', classes: 4 },
  {
    name: 'records made at a lower threshold (the pairs above the search threshold are a prefix)',
    text: 'mmdet-ssd300,score_thr=0.3,top_k=10',
    classes: 4,
    recordThreshold: 0.02,
  },
  {
    name: 'thousands of pairs per photo (several record blocks)',
    text: 'mmdet-ssd300,score_thr=0.01,top_k=400,max_det=150',
    classes: 6,
    levels: BIG,
  },
];

describe('streamed evaluation equals the dense path', () => {
  for (const c of CASES) {
    for (const coco of [false, true]) {
      it(`${c.name} (${coco ? 'COCO' : 'fidelity'})`, () => {
        const spec = parsePostprocess(c.text);
        const levels = c.levels ?? LEVELS;
        const inputs = Array.from({ length: 7 }, (_, i) =>
          synthInput({
            levels,
            numClasses: c.classes,
            spec,
            seed: 100 + i,
            ...(c.form ? { form: c.form } : {}),
            ...(c.quantize ? { quantize: c.quantize } : {}),
            integerBoxes: c.integer === true,
          }),
        );
        const p = bothPaths(
          `${c.name}-${coco}`.replace(/[^a-z0-9]+/gi, '-'),
          spec,
          c.classes,
          levels,
          inputs,
          coco,
          c.recordThreshold,
        );
        let changed = 0;
        for (const chunk of [1, 16]) {
          const sparse = p.sparse(chunk);
          for (const batch of batches(p.total, chunk)) {
            const want = p.dense.evaluateBatch(batch);
            expect(sparse.evaluateBatch(batch), `chunk ${chunk}, batch ${JSON.stringify(batch)}`).toEqual(want);
            // split over photo ranges as the worker pool does, merged in photo order
            const cut = 1 + (batch.length % (p.photos - 1));
            expect(
              sparse.merge([sparse.partial(batch, 0, cut), sparse.partial(batch, cut, p.photos)], batch.length),
            ).toEqual(want);
            changed += want.filter((s) => s.fingerprint !== want[0]!.fingerprint).length;
          }
          for (const removed of [[], [1], [0, 2, p.total - 1]])
            expect(sparse.detections(removed)).toEqual(p.dense.detections(removed));
        }
        // the cases exercise something: removals change the detections and the score
        expect(changed).toBeGreaterThan(10);
      });
    }
  }
});

describe('streamed evaluation memory', () => {
  it('holds one chunk of photos, each at most its own record, however many photos there are', () => {
    const c = CASES[0]!;
    const spec = parsePostprocess(c.text);
    const held = (count: number) => {
      const inputs = Array.from({ length: count }, (_, i) =>
        synthInput({ levels: LEVELS, numClasses: c.classes, spec, seed: 300 + i }),
      );
      const p = bothPaths(`memory-${count}`, spec, c.classes, LEVELS, inputs, false);
      const ev = p.sparse(3);
      for (const batch of batches(p.total, 4)) ev.evaluateBatch(batch);
      return { held: ev.held(), maxPairs: Math.max(...ev.data.photos.map((ph) => ph.pairs)) };
    };
    const few = held(6),
      many = held(30);
    expect(few.held.photos).toBe(3);
    expect(many.held.photos).toBe(3);
    // grow-only buffers: each holder is sized by the largest record it read, not by the number of photos
    expect(many.held.pairs).toBeLessThanOrEqual(3 * 2 * many.maxPairs);
    expect(many.held.pairs).toBeGreaterThan(0);
  });
});
