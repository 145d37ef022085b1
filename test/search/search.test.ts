// End to end on the synthetic SSD300 (no ../shared needed): outputs, configs compile can resolve, costs, scores the
// reference post-processing reproduces, resuming, a damaged cache, COCO mode with annotations in photo pixels.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveJsonConfig } from '../../src/anchors/config/json-config';
import { prepareGroundTruth } from '../../src/eval/coco-eval';
import type { CocoDetection, CocoGroundTruth } from '../../src/eval/coco-data';
import type { PostprocessInput } from '../../src/postprocess/reference';
import type { ResizeGeometry } from '../../src/image/preprocess';
import { DYNAMIC_BATCH, forEachHeadOutput } from '../../src/search/infer';
import { buildFixture } from '../../fixtures/index';
import { DataType } from '../../src/ir/dtype';
import { saveModel } from '../../src/onnx/save';
import { declaredType, setDeclaredType } from '../../src/onnx/value-info';
import { toImageXywh } from '../../src/image/inputs';
import { oracleDetections } from '../../src/search/oracle';
import { candidateCost } from '../../src/search/cost';
import { keptOf } from '../../src/search/output';
import {
  evaluateCandidate,
  prepareSearch,
  search,
  type PreparedSearch,
  type SearchResult,
} from '../../src/jobs/search/index';
import { fidelityMetric, scoreDetections } from '../../src/eval/metric';
import { recordExpectation } from '../../src/search/sparse-cache';
import { readSparseRecord } from '../../src/search/sparse-record';
import { SYNTH_POSTPROCESS, makeProject, type Project } from './project';

const root = mkdtempSync(join(tmpdir(), 'pd-search-e2e-'));
let project: Project;
let first: SearchResult;
const out = join(root, 'out');

beforeAll(async () => {
  project = makeProject(root);
  first = await search({
    model: project.model,
    images: project.images,
    postprocess: SYNTH_POSTPROCESS,
    outDir: out,
    maxCandidates: 60,
    workers: 2,
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Scores removed sets the slow, independent way: the model run again on every photo (no cache), the reference
 * post-processing with the removed anchors suppressed, COCOeval against the full model's own detections (fidelity).
 */
async function referenceScorer(p: PreparedSearch): Promise<(removed: number[]) => number> {
  const inputs: PostprocessInput[] = [];
  const geometry: ResizeGeometry[] = [];
  const run = await forEachHeadOutput(
    { modelPath: project.model, model: p.det.model, det: p.det.spec, images: p.images, preprocess: p.preprocess },
    (img) => {
      inputs[img.index] = img.input;
      geometry[img.index] = img.geometry;
    },
  );
  expect(run.computed).toBe(project.photos.length);
  const ctx = { anchors: p.pp.anchors, levels: p.pp.levels, numClasses: p.pp.numClasses };
  const cocoOf = (removed: number[]): CocoDetection[] =>
    p.images.flatMap((_, i) =>
      oracleDetections(p.pp.spec, inputs[i]!, ctx, removed).map((d) => ({
        image_id: p.imageIds[i]!,
        category_id: d.label + 1,
        bbox: toImageXywh(d.box, p.units, geometry[i]!),
        score: d.score,
      })),
    );
  const metric = fidelityMetric(cocoOf([]), p.imageIds, p.foreground);
  const gt = prepareGroundTruth(metric.gt);
  return (removed) => scoreDetections(metric, cocoOf(removed), gt);
}

/** The status of the cache record `file` as the prepared search reads it. */
function recordStatus(p: PreparedSearch, dir: string, file: string): string {
  return readSparseRecord(dir, file.replace(/\.bin$/, ''), recordExpectation(p.pp.spec, p.pp.numClasses, p.pp.levels))
    .status;
}

/** Global base-anchor index of an anchor on the anchor axis. */
function baseOf(p: PreparedSearch, anchor: number): number {
  let base = 0;
  for (const l of p.det.spec.levels) {
    if (anchor < l.anchorOffset + l.boxes) return base + ((anchor - l.anchorOffset) % l.anchorsPerLocation);
    base += l.anchorsPerLocation;
  }
  throw new Error(`anchor ${anchor} out of range`);
}

describe('search on the synthetic SSD300 (fidelity mode)', () => {
  it('writes pareto.json, one resolvable config per point, the report and the cache', () => {
    const file = JSON.parse(readFileSync(join(out, 'pareto.json'), 'utf8'));
    expect(file.points).toEqual(first.points);
    expect(file.stats.candidates).toBe(60);
    expect(first.stats.exhausted).toBe(true);
    const full = first.points[0]!;
    expect(full).toMatchObject({
      removed: [],
      keptPerLevel: [4, 6, 6, 6, 4, 4],
      map: 1,
      boxes: 8732,
      headMacs: 4_231_319_040,
      config: 'configs/point-000.json',
    });
    expect(first.points.length).toBeGreaterThan(1);
    const counts = full.keptPerLevel;
    for (const p of first.points) {
      const resolved = resolveJsonConfig(join(out, p.config), { counts });
      expect(resolved.kept).toEqual(keptOf(counts, p.removed));
      expect(p.keptPerLevel).toEqual(resolved.kept.map((k) => k.length));
    }
    expect(readdirSync(join(out, 'configs')).sort()).toEqual(
      first.points.map((p) => p.config.slice('configs/'.length)).sort(),
    );
    expect(readFileSync(join(out, 'report.html'), 'utf8').match(/class="front-point/g)).toHaveLength(
      first.points.length,
    );
    const records = readdirSync(join(out, 'cache'));
    expect(records).toHaveLength(project.photos.length);
    expect(existsSync(join(out, 'search-state.json'))).toBe(true);
  });

  it('front points: non-dominated, costs from the cost model, ordered by decreasing MACs', () => {
    const front = first.points.slice(1);
    const counts = first.points[0]!.keptPerLevel;
    for (const p of front) {
      expect(front.some((q) => q !== p && q.map >= p.map && q.headMacs <= p.headMacs)).toBe(false);
      expect(p.map).toBeGreaterThanOrEqual(0.5); // default min mAP of fidelity mode
      expect(p.removed.length).toBeGreaterThan(0);
      expect(p.keptPerLevel.reduce((a, b) => a + b, 0)).toBe(counts.reduce((a, b) => a + b, 0) - p.removed.length);
    }
    for (let i = 1; i < first.points.length; i++)
      expect(first.points[i]!.headMacs).toBeLessThan(first.points[i - 1]!.headMacs);
  });

  it("each point's score is what the reference post-processing gives with the removed anchors suppressed", async () => {
    const p = await prepareSearch({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: out,
    });
    expect(p.cache.hits).toBe(project.photos.length);
    const referenceScore = await referenceScorer(p);
    for (const point of first.points) {
      expect(referenceScore(point.removed)).toBe(point.map);
      const e = evaluateCandidate(p, point.removed);
      expect(e.map).toBe(point.map);
      expect(e.detections).toHaveLength(project.photos.length);
      expect(e.detections.flat().every((d) => !point.removed.includes(baseOf(p, d.anchor)))).toBe(true);
      expect(candidateCost(p.det.spec, keptOf(p.counts, point.removed), p.det.shapes)).toMatchObject({
        headMacs: point.headMacs,
        boxes: point.boxes,
      });
    }
  });

  it('resumes: a run stopped at 25 candidates and continued to 60 ends where the uninterrupted run did', async () => {
    const dir = join(root, 'resume');
    const a = await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
      maxCandidates: 25,
      workers: 1,
    });
    expect(a.stats).toMatchObject({ candidates: 25, evaluatedThisRun: 25, resumed: 0, exhausted: true });
    const b = await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
      maxCandidates: 60,
      workers: 1,
    });
    expect(b.stats).toMatchObject({ candidates: 60, evaluatedThisRun: 35, resumed: 25 });
    expect(b.points).toEqual(first.points);
    // a rerun with nothing new to do evaluates nothing
    const c = await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
      maxCandidates: 60,
      workers: 1,
    });
    expect(c.stats.evaluatedThisRun).toBe(0);
    expect(c.cache).toMatchObject({ hits: project.photos.length, computed: 0 });
    // a journal for other inputs is set aside, not reused
    const d = await search({
      model: project.model,
      images: project.images,
      postprocess: `${SYNTH_POSTPROCESS},iou_thr=0.5`,
      outDir: dir,
      maxCandidates: 10,
      workers: 1,
    });
    expect(d.stats.resumed).toBe(0);
    expect(d.journalDiscarded).toMatch(/other inputs/);
  });

  it('detects a damaged cache record, recomputes it and gets the same front', async () => {
    const dir = join(root, 'damaged');
    await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
      maxCandidates: 60,
      workers: 1,
    });
    const cacheDir = join(dir, 'cache');
    const [victim] = readdirSync(cacheDir).sort();
    const bytes = readFileSync(join(cacheDir, victim!));
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0xff;
    writeFileSync(join(cacheDir, victim!), bytes);
    rmSync(join(dir, 'search-state.json'));
    const again = await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
      maxCandidates: 60,
      workers: 1,
    });
    expect(again.cache).toMatchObject({ hits: project.photos.length - 1, computed: 1, rebuilt: 1 });
    expect(again.points).toEqual(first.points);
    const p = await prepareSearch({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: dir,
    });
    expect(recordStatus(p, cacheDir, victim!)).toBe('hit');
  });

  it('layer-wise respects --anchors-per-level; shared refuses levels with different anchor counts', async () => {
    const r = await search({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'layer'),
      strategy: 'layerwise',
      anchorsPerLevel: 2,
      maxCandidates: 40,
      workers: 1,
    });
    const counts = r.points[0]!.keptPerLevel;
    for (const p of r.points) expect(p.keptPerLevel.every((k, l) => counts[l]! - k <= 2)).toBe(true);
    await expect(
      search({
        model: project.model,
        images: project.images,
        postprocess: SYNTH_POSTPROCESS,
        outDir: join(root, 'shared'),
        strategy: 'shared',
      }),
    ).rejects.toThrow(
      /--strategy shared removes the same anchor on every level, but the levels have 4, 6, 6, 6, 4, 4 anchors/,
    );
  });
});

describe('a model with a dynamic batch dimension', () => {
  it('runs the photos in batches and gets the same head outputs as one photo at a time', async () => {
    const m = buildFixture('ssd300', { backbone: 'tiny', outputs: 'concat', seed: 1, reshape: 'shape' });
    const input = m.graph.inputs.find((v) => !v.initializer)!;
    setDeclaredType(input, DataType.FLOAT, ['N', 3, 300, 300]);
    for (const o of m.graph.outputs) setDeclaredType(o, DataType.FLOAT, ['N', ...declaredType(o)!.shape!.slice(1)]);
    const dyn = join(root, 'dynamic.onnx');
    saveModel(m, dyn, { externalData: 'inline' });
    const images = join(root, 'three');
    mkdirSync(images);
    for (const ph of project.photos.slice(0, 3)) copyFileSync(join(project.images, ph.name), join(images, ph.name));
    const b = await prepareSearch({ model: dyn, images, postprocess: SYNTH_POSTPROCESS, outDir: join(root, 'dyn') });
    const a = await prepareSearch({ model: project.model, images, postprocess: SYNTH_POSTPROCESS, outDir: out });
    expect(b.cache).toMatchObject({ batch: DYNAMIC_BATCH, computed: 3 });
    expect(a.cache).toMatchObject({ batch: 1, hits: 3 });
    // the same records, bit for bit (pairs, scores, box values), under each model's own keys
    const expectation = recordExpectation(a.pp.spec, a.pp.numClasses, a.pp.levels);
    b.cacheKeys.forEach((key, i) => {
      const rb = readSparseRecord(b.cacheDir, key, expectation),
        ra = readSparseRecord(a.cacheDir, a.cacheKeys[i]!, expectation);
      if (rb.status !== 'hit' || ra.status !== 'hit') throw new Error('records missing');
      expect(rb.record.score.length).toBeGreaterThan(100);
      expect({ ...rb.record, key: '' }).toEqual({ ...ra.record, key: '' });
    });
  });
});

describe('search with COCO annotations', () => {
  it('maps boxes to photo pixels: the full model scores on its own detections as annotations what fidelity scores it', async () => {
    const p = await prepareSearch({
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: out,
    });
    // the random-weight model clips many boxes to zero width, so its self-score is below 1 (fidelity divides by it)
    expect(p.metric.divisor).toBeLessThan(0.99);
    const dets = evaluateCandidate(p, []).detections;
    const [H, W] = p.det.spec.imageSize;
    /** The full model's detections as annotations, mapped to photo pixels by plain arithmetic (stretch resize). */
    const annotations = (scale: boolean): string => {
      const gt: CocoGroundTruth = {
        images: project.photos.map((ph, i) => ({ id: 500 + i, file_name: `some/folder/${ph.name}` })),
        annotations: [],
        categories: Array.from({ length: 80 }, (_, k) => ({ id: k + 1 })),
      };
      dets.forEach((list, i) => {
        const sx = scale ? project.photos[i]!.width / W : 1,
          sy = scale ? project.photos[i]!.height / H : 1;
        const perClass = new Map<number, number>();
        for (const d of list) {
          const n = perClass.get(d.label) ?? 0;
          perClass.set(d.label, n + 1);
          if (n >= 100) continue; // COCOeval reads 100 per image and class
          const [x1, y1, x2, y2] = d.box;
          const bbox = [x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy];
          gt.annotations.push({
            id: gt.annotations.length + 1,
            image_id: 500 + i,
            category_id: d.label + 1,
            bbox,
            area: bbox[2]! * bbox[3]!,
            iscrowd: 0,
          });
        }
      });
      expect(gt.annotations.length).toBeGreaterThan(10);
      const file = join(root, scale ? 'ann.json' : 'ann-unscaled.json');
      writeFileSync(file, JSON.stringify(gt));
      return file;
    };
    const good = await search({
      model: project.model,
      images: project.images,
      annotations: annotations(true),
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'coco'),
      maxCandidates: 15,
      workers: 1,
    });
    expect(good.metric).toBe('coco-map');
    expect(good.points[0]!.map).toBeCloseTo(p.metric.divisor, 9);
    // the same annotations left in network-input pixels do not match the photos
    const bad = await search({
      model: project.model,
      images: project.images,
      annotations: annotations(false),
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'coco-bad'),
      maxCandidates: 2,
      workers: 1,
    });
    expect(bad.points[0]!.map).toBeLessThan(0.5 * p.metric.divisor);
  });
});
