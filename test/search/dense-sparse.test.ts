// The proof that the sparse cache and streamed evaluation change nothing: search run end to end both ways on real
// model outputs (onnxruntime), the dense path (the model run again, every pair of every photo in memory: what search
// did before the cache) against the streamed one (records read a chunk of photos at a time, batches split over
// photos between worker threads): every candidate evaluated, its mAP and its detection fingerprint, bit for bit, and
// the same front, on every strategy, in fidelity and COCO mode, concatenated and per-level head outputs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import type { CocoGroundTruth } from '../../src/eval/coco-data';
import { saveModel } from '../../src/onnx/save';
import { evaluateCandidate, prepareSearch, search, type SearchOptions } from '../../src/jobs/search/index';
import { mulberry32 } from '../_support/prng';
import { SYNTH_POSTPROCESS, makeProject, type Project } from './project';

const root = mkdtempSync(join(tmpdir(), 'pd-dense-sparse-'));
let project: Project;
let retinanet: string;
let annotations: string;
beforeAll(async () => {
  project = makeProject(root, 6);
  retinanet = join(root, 'retinanet.onnx');
  // per-level raw maps, sigmoid scores, 9 anchors on every level (what the shared strategy needs)
  saveModel(buildFixture('retinanet', { outputs: 'raw', inputSize: [128, 160], seed: 2 }), retinanet, {
    externalData: 'inline',
  });
  // COCO annotations near the full model's detections, image ids not in photo order
  const p = await prepareSearch({
    model: project.model,
    images: project.images,
    postprocess: SYNTH_POSTPROCESS,
    outDir: join(root, 'prep'),
    evaluation: 'dense',
  });
  const dets = evaluateCandidate(p, []).detections;
  const r = mulberry32(9);
  const ids = project.photos.map((_, i) => 900 - 13 * i);
  const gt: CocoGroundTruth = {
    images: project.photos.map((ph, i) => ({ id: ids[i]!, file_name: ph.name })),
    annotations: [],
    categories: Array.from({ length: 80 }, (_, k) => ({ id: k + 1 })),
  };
  dets.forEach((list, i) => {
    const sx = project.photos[i]!.width / 300,
      sy = project.photos[i]!.height / 300;
    for (const d of list.slice(0, 60)) {
      if (r() < 0.4) continue;
      const [x1, y1, x2, y2] = d.box;
      const bbox = [x1 * sx + 2 * r(), y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy + 3 * r()];
      gt.annotations.push({
        id: gt.annotations.length + 1,
        image_id: ids[i]!,
        category_id: d.label + 1,
        bbox,
        area: bbox[2]! * bbox[3]!,
        iscrowd: r() < 0.05 ? 1 : 0,
      });
    }
  });
  annotations = join(root, 'ann.json');
  writeFileSync(annotations, JSON.stringify(gt));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every candidate the journal holds (removed set -> [mAP, fingerprint]), in the order evaluated. */
const journal = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'search-state.json'), 'utf8')).results as Record<string, [number, string]>;

async function bothWays(name: string, o: Omit<SearchOptions, 'outDir'>): Promise<void> {
  const dense = await search({ ...o, outDir: join(root, `${name}-dense`), evaluation: 'dense', workers: 1 });
  const stream = await search({ ...o, outDir: join(root, `${name}-stream`), workers: 2, photoChunk: 2 });
  const a = journal(join(root, `${name}-dense`)),
    b = journal(join(root, `${name}-stream`));
  expect(Object.entries(b)).toEqual(Object.entries(a));
  expect(stream.points).toEqual(dense.points);
  expect(stream.stats.candidates).toBe(dense.stats.candidates);
  // a comparison that compared something: candidates with different detections and scores, a front beyond the root
  expect(Object.keys(a).length).toBeGreaterThan(15);
  expect(new Set(Object.values(a).map((v) => v[1])).size).toBeGreaterThan(3);
  expect(new Set(Object.values(a).map((v) => v[0])).size).toBeGreaterThan(3);
  expect(dense.points.length).toBeGreaterThan(1);
}

describe('search: streamed sparse path = dense path, bit for bit', () => {
  it('pareto, fidelity (SSD300, softmax, concatenated outputs)', async () => {
    await bothWays('pareto', {
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      strategy: 'pareto',
      maxCandidates: 60,
    });
  });

  it('layerwise, fidelity, at most 2 anchors per level', async () => {
    await bothWays('layerwise', {
      model: project.model,
      images: project.images,
      postprocess: SYNTH_POSTPROCESS,
      strategy: 'layerwise',
      anchorsPerLevel: 2,
      maxCandidates: 50,
    });
  });

  it('pareto, COCO mode (annotations with image ids out of photo order, crowds)', async () => {
    await bothWays('coco', {
      model: project.model,
      images: project.images,
      annotations,
      postprocess: SYNTH_POSTPROCESS,
      strategy: 'pareto',
      minMap: 0,
      maxCandidates: 40,
    });
  });

  it('shared, fidelity (RetinaNet, sigmoid, per-level maps)', async () => {
    await bothWays('shared', {
      model: retinanet,
      images: project.images,
      postprocess: 'mmdet-retinanet,score_thr=0.011',
      strategy: 'shared',
      maxCandidates: 40,
    });
  });
});
